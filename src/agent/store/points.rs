//! A customer's points as the till should show and spend them.
//!
//! Standalone, the local lots are the authority (`rules::Wallet`). Connected to a cloud, the
//! authority is the balance the cloud last sent, plus this till's own movements the cloud has
//! not yet folded into it (CONTRACTS.md §storage): a journal entry leaves that local sum only when a pulled
//! balance says it includes the entry's outbox seq — not when the push was acknowledged, or the
//! customer would briefly have the points twice, or not at all.

use rusqlite::{Connection, OptionalExtension};

use super::records::CustomerRecord;
use super::StoreError;
use crate::wire::PointsBalance;

/// The cloud's last word on a customer's points, and the local movements after it.
#[derive(Debug, Clone, Default)]
pub struct ConnectedPoints {
    pub cloud_balance: i64,
    pub cloud_available: i64,
    pub cloud_pending: i64,
    /// The next points to expire in the cloud's lots, and when (Unix seconds).
    pub cloud_next_expiry: Option<(i64, i64)>,
    /// Movements made on this till that the cloud's figures do not include yet.
    pub unconfirmed: Vec<UnconfirmedEntry>,
}

#[derive(Debug, Clone)]
pub struct UnconfirmedEntry {
    /// The journal's kind: `redemption`, `accrual`, `return_accrual`, …
    pub kind: String,
    pub points: i64,
    /// Set for accruals: until then the points are pending, not spendable.
    pub activates_at: Option<i64>,
    /// How many journal entries this row sums (entries are grouped by kind and delay).
    pub count: i64,
}

impl ConnectedPoints {
    pub fn at(&self, now: i64) -> PointsBalance {
        let local: i64 = self.unconfirmed.iter().map(|e| e.points).sum();
        let local_pending: i64 = self
            .unconfirmed
            .iter()
            .filter(|e| e.points > 0 && e.activates_at.is_some_and(|at| at > now))
            .map(|e| e.points)
            .sum();
        PointsBalance {
            balance: self.cloud_balance.saturating_add(local),
            available: self.cloud_available.saturating_add(local).saturating_sub(local_pending).max(0),
            pending: self.cloud_pending.saturating_add(local_pending),
        }
    }
}

/// The till cannot reach the cloud, so spending points is bounded like a card terminal's floor
/// limit (CONTRACTS.md §sync): the cloud cannot confirm the balance, and another till may be spending
/// the same points right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offline {
    /// When the till last completed a sync (`None`: never, as far as it knows).
    pub last_online: Option<i64>,
}

impl Offline {
    /// How many points the customer may still spend on this till while it is offline, and
    /// which bound decides it.
    pub fn allowance(
        &self,
        program: &crate::rules::Program,
        connected: &ConnectedPoints,
        now: i64,
    ) -> (i64, OfflineBound) {
        let max_age = program.offline_max_age_hours.saturating_mul(3_600);
        let offline_for = self.last_online.map(|at| now.saturating_sub(at));
        if offline_for.is_none_or(|age| age > max_age) {
            return (0, OfflineBound::OfflineTooLong { hours: program.offline_max_age_hours });
        }
        let redemptions = connected.unconfirmed.iter().filter(|e| e.kind == "redemption");
        let (times, spent) = redemptions.fold((0i64, 0i64), |(times, spent), e| {
            (times.saturating_add(e.count), spent.saturating_add(e.points.saturating_neg()))
        });
        if times >= program.offline_max_redemptions {
            return (0, OfflineBound::SpentTooOften { times });
        }
        let left = program.offline_redeem_limit.saturating_sub(spent).max(0);
        (left, OfflineBound::Cap { points: program.offline_redeem_limit })
    }
}

/// Which offline bound limits what a customer may spend; `Display` is the cashier's sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineBound {
    /// Offline longer than the program allows spending for.
    OfflineTooLong { hours: i64 },
    /// The customer spent points on this till this many times since it went offline.
    SpentTooOften { times: i64 },
    /// At most this many points per customer on this till while offline.
    Cap { points: i64 },
}

impl OfflineBound {
    /// The bound's figure under the name the translations use.
    pub fn param(&self) -> (&'static str, String) {
        match self {
            OfflineBound::OfflineTooLong { hours } => ("offline_hours", hours.to_string()),
            OfflineBound::SpentTooOften { times } => ("offline_times", times.to_string()),
            OfflineBound::Cap { points } => ("offline_cap", points.to_string()),
        }
    }
}

impl std::fmt::Display for OfflineBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OfflineBound::OfflineTooLong { hours } => write!(
                f,
                "the till has been offline for more than {hours} hours; no points can be spent until it reconnects"
            ),
            OfflineBound::SpentTooOften { times } => {
                write!(f, "the customer already spent points {times} times on this till while it is offline")
            }
            OfflineBound::Cap { points } => {
                write!(f, "while the till is offline a customer can spend at most {points} points on it")
            }
        }
    }
}

impl CustomerRecord {
    /// Balance, available and pending points at `now`, from whichever source is the authority.
    pub fn points(&self, now: i64) -> PointsBalance {
        match &self.connected {
            Some(connected) => connected.at(now),
            None => PointsBalance {
                balance: self.wallet.balance(now),
                available: self.wallet.available(now),
                pending: self.wallet.pending(now),
            },
        }
    }

    /// The next points to expire and when: the cloud's word on a connected till (once its
    /// moment has passed, nothing until the next snapshot), the local lots standalone.
    pub fn next_expiry(&self, now: i64) -> Option<(i64, i64)> {
        match &self.connected {
            Some(connected) => connected.cloud_next_expiry.filter(|&(points, at)| points > 0 && at > now),
            None => self.wallet.next_expiry(now),
        }
    }
}

/// Loads the cloud's balance row and the local movements it does not include.
///
/// The movements are summed in SQL, grouped by kind and by activation delay: a customer with
/// thousands of unconfirmed sales (a till offline for a long time) still costs one small read.
/// Only accruals that wait for activation stay apart, one row per activation time.
/// The cloud's balance row: balance, available, pending, the seq it includes, and the next
/// points to expire with their time.
type CloudBalanceRow = (i64, i64, i64, i64, Option<(i64, i64)>);

pub(crate) fn load_connected(conn: &Connection, customer_id: &str) -> Result<ConnectedPoints, StoreError> {
    let cloud: Option<CloudBalanceRow> = conn
        .prepare_cached(
            "SELECT balance, available, pending, included_seq, expiring_points, expiring_at
               FROM cloud_balances WHERE customer_id = ?1",
        )?
        .query_row([customer_id], |row| {
            let expiry: (Option<i64>, Option<i64>) = (row.get(4)?, row.get(5)?);
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, expiry.0.zip(expiry.1)))
        })
        .optional()?;
    let (cloud_balance, cloud_available, cloud_pending, included_seq, cloud_next_expiry) =
        cloud.unwrap_or((0, 0, 0, 0, None));
    // Grouped here by kind and delay, not with `GROUP BY`: SQLite re-plans a statement that
    // has `GROUP BY` and an equality on a bound value every time the value changes, and this
    // one runs on every lookup of a connected till (issue 9). Offline, the rows are the
    // customer's movements since the cloud last answered: a few.
    let mut unconfirmed: Vec<UnconfirmedEntry> = Vec::new();
    let mut rows = conn.prepare_cached(
        "SELECT kind, points, CASE WHEN activates_at > created_at THEN activates_at END
             FROM ledger WHERE customer_id = ?1 AND outbox_seq > ?2",
    )?;
    let entries = rows.query_map(rusqlite::params![customer_id, included_seq], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, Option<i64>>(2)?))
    })?;
    for entry in entries {
        let (kind, points, activates_at) = entry?;
        match unconfirmed.iter_mut().find(|e| e.kind == kind && e.activates_at == activates_at) {
            Some(group) => {
                group.points += points;
                group.count += 1;
            }
            None => unconfirmed.push(UnconfirmedEntry { kind, points, activates_at, count: 1 }),
        }
    }
    drop(rows);
    Ok(ConnectedPoints { cloud_balance, cloud_available, cloud_pending, cloud_next_expiry, unconfirmed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_movements_on_top_of_the_cloud() {
        let view = ConnectedPoints {
            cloud_balance: 171,
            cloud_available: 171,
            cloud_pending: 0,
            cloud_next_expiry: None,
            unconfirmed: vec![
                UnconfirmedEntry { kind: "redemption".into(), points: -171, activates_at: None, count: 1 },
                UnconfirmedEntry { kind: "accrual".into(), points: 3, activates_at: Some(1_000), count: 1 },
            ],
        };
        assert_eq!(view.at(999), PointsBalance { balance: 3, available: 0, pending: 3 });
        assert_eq!(view.at(1_000), PointsBalance { balance: 3, available: 3, pending: 0 });
        let overdrawn = ConnectedPoints {
            cloud_balance: 5,
            cloud_available: 5,
            cloud_pending: 0,
            cloud_next_expiry: None,
            unconfirmed: vec![UnconfirmedEntry { kind: "redemption".into(), points: -8, activates_at: None, count: 1 }],
        };
        assert_eq!(overdrawn.at(0), PointsBalance { balance: -3, available: 0, pending: 0 });
    }

    /// Each offline bound names its figure under a name the Russian `offline_limit` sentence
    /// knows, so a cashier reads the bound in either language.
    #[test]
    fn every_offline_bound_reads_in_russian() {
        let bounds = [
            OfflineBound::OfflineTooLong { hours: 24 },
            OfflineBound::SpentTooOften { times: 3 },
            OfflineBound::Cap { points: 500 },
        ];
        for bound in bounds {
            let (name, figure) = bound.param();
            let params = vec![("allowed", "0".to_owned()), ("requested", "10".to_owned()), (name, figure.clone())];
            let russian = crate::http::messages_ru::render("offline_limit", &params).unwrap_or_default();
            assert!(russian.contains(&figure) && russian.contains("10"), "{bound}: {russian:?}");
        }
    }
}
