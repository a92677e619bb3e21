//! Telling subscribers that points will expire, and that they did (issue 13's
//! `points_expiring` and `points_expired`; migration 15).
//!
//! Run by the hourly lifecycle job. A customer's lots that expire at the same moment are one
//! notice (a sale folds new points into the lot expiring with them, so lot ids are not stable
//! keys): `points_expiring` once when that moment comes within `notice_days`, `points_expired`
//! once after it passed with points left. Each notice is a row keyed by customer, moment and
//! kind, written with the webhook in one transaction (`INSERT … ON CONFLICT DO NOTHING` first),
//! so restarts and several processes send each exactly once. Points that expired more than two
//! days before a run are not announced (a first run after an upgrade does not replay history).

use super::{publish, Changes, CloudError, Store};
use crate::rules::{Timestamp, DAY};
use crate::vals;
use crate::wire::WebhookEventType;

/// Notices sent by one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpiryRun {
    pub expiring: i64,
    pub expired: i64,
}

/// How far back an expiry is still announced.
const EXPIRED_LOOKBACK: i64 = 2 * DAY;
/// Notices a transaction writes at most.
const BATCH: i64 = 500;

impl Store {
    /// Sends the due `points_expiring` (expiry within `notice_days`; 0 = none) and
    /// `points_expired` notices. Nothing is read when no webhook subscribes to either.
    pub async fn notify_expiry(&self, now: Timestamp, notice_days: i64) -> Result<ExpiryRun, CloudError> {
        let mut total = ExpiryRun::default();
        loop {
            let (run, more) = self.write(move |sql| notify_batch(sql, now, notice_days)).await?;
            total.expiring += run.expiring;
            total.expired += run.expired;
            if !more {
                return Ok(total);
            }
        }
    }
}

fn notify_batch(
    sql: &mut dyn crate::cloud::db::Sql,
    now: Timestamp,
    notice_days: i64,
) -> Result<(ExpiryRun, bool), CloudError> {
    let mut changes = Changes::heard_by_subscribers(sql)?;
    let mut run = ExpiryRun::default();
    let mut more = false;
    let windows = [
        (WebhookEventType::PointsExpiring, "expiring", now, now.saturating_add(notice_days.max(0) * DAY)),
        (WebhookEventType::PointsExpired, "expired", now - EXPIRED_LOOKBACK, now),
    ];
    for (kind, name, from, to) in windows {
        if !changes.hears(kind) || from >= to {
            continue;
        }
        // `expiring`: from now (exclusive) to the horizon; `expired`: the lookback up to now.
        let rows = sql.query(
            "SELECT l.customer_id, l.expires_at, CAST(SUM(l.remaining) AS BIGINT) FROM point_lots l
              WHERE l.remaining > 0 AND l.expires_at > $1 AND l.expires_at <= $2
                AND NOT EXISTS (SELECT 1 FROM expiry_notices n
                                 WHERE n.customer_id = l.customer_id AND n.expires_at = l.expires_at AND n.kind = $3)
              GROUP BY l.customer_id, l.expires_at ORDER BY l.expires_at, l.customer_id LIMIT $4",
            vals![from, to, name, BATCH + 1],
        )?;
        more |= rows.len() as i64 > BATCH;
        for row in rows.iter().take(BATCH as usize) {
            let (customer_id, expires_at, points) = (row.text(0)?, row.int(1)?, row.int(2)?);
            let inserted = sql.execute(
                "INSERT INTO expiry_notices (customer_id, expires_at, kind, points, sent_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (customer_id, expires_at, kind) DO NOTHING",
                vals![&customer_id, expires_at, name, points, now],
            )?;
            if inserted == 0 {
                continue;
            }
            let data =
                crate::wire::PointsExpiryData { customer_id, points, expires_at: crate::clock::rfc3339(expires_at) };
            changes.webhook(kind, data);
            if name == "expiring" {
                run.expiring += 1;
            } else {
                run.expired += 1;
            }
        }
    }
    publish(sql, &changes, now)?;
    Ok((run, more))
}
