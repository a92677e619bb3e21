//! The finance reports and the dashboard's figures (`docs/CONTRACTS.md` §reports): the points
//! liability at any moment (summed from `lot_moves`, finished days folded into
//! `lot_move_days`), the daily and shift reports (from `till_days`, which the push path keeps),
//! and the dashboard. Every use case takes the caller's [`StoreScope`]: receipts count for the
//! till's store, the liability, expiries and new customers for the customer's home store.
//!
//! Also where the rollups are written: [`bump_day`] from the push path, [`fold_days`] before a
//! report reads the folded days.

use super::{CloudError, Missing, Store, StoreScope};
use crate::cloud::db::{DbError, Mode, Sql, Value};
use crate::reports::{day_start, local_day, ShiftTotals};
use crate::vals;
use std::collections::BTreeMap;

/// `lot_move_days.expires_day` of a lot that never expires.
const NEVER: i64 = 1_000_000_000;

/// The local day expression of a Unix-seconds column (both backends divide integers toward 0;
/// every time here is after 1970).
fn day_of(column: &str) -> String {
    format!("(({column} + {}) / 86400)", crate::reports::UTC_OFFSET_SECONDS)
}

/// Points (or their money) by state at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LiabilityAmounts {
    /// Active, unexpired points.
    pub active: i64,
    /// Points not active yet (and not expired).
    pub pending: i64,
    /// Unexpired points (active or pending) that expire by the end of the 30th local day after.
    pub expiring_30d: i64,
    /// Points customers owe (returns after spending, offline overdrafts).
    pub debt: i64,
}

impl LiabilityAmounts {
    fn add(&mut self, other: &LiabilityAmounts) {
        self.active += other.active;
        self.pending += other.pending;
        self.expiring_30d += other.expiring_30d;
        self.debt += other.debt;
    }

    fn times(&self, value: i64) -> LiabilityAmounts {
        LiabilityAmounts {
            active: self.active.saturating_mul(value),
            pending: self.pending.saturating_mul(value),
            expiring_30d: self.expiring_30d.saturating_mul(value),
            debt: self.debt.saturating_mul(value),
        }
    }
}

/// The points liability at a moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LiabilityReport {
    /// The moment, RFC 3339 (a date is its last second, local time).
    pub at: String,
    /// Customers who had joined by then (in scope: whose home store is in it).
    pub customers: i64,
    pub points: LiabilityAmounts,
    /// `points` × the point value (minor units) of the program version in force then.
    pub money: LiabilityAmounts,
    /// That point value, minor units per point.
    pub point_value: i64,
}

/// One local day of one store.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DailyRow {
    /// `YYYY-MM-DD`, local.
    pub date: String,
    /// The till's store for receipts; the customer's home store for expiries and sign-ups;
    /// "" for the back office's adjustments of customers without one.
    pub store: String,
    pub receipts: i64,
    pub loyalty_receipts: i64,
    pub sales_amount: i64,
    pub points_discount: i64,
    pub points_earned: i64,
    pub points_spent: i64,
    pub points_expired: i64,
    /// Earned points taken back by returns.
    pub points_taken_back: i64,
    /// Spent points given back by returns.
    pub points_given_back: i64,
    pub points_adjusted: i64,
    pub returns: i64,
    pub refund_amount: i64,
    pub new_customers: i64,
}

/// New customers by where they joined.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct NewCustomers {
    pub total: i64,
    pub till: i64,
    pub web: i64,
    pub import: i64,
    pub admin: i64,
    pub moysklad: i64,
    /// Customers from before sources were recorded.
    pub unknown: i64,
}

impl NewCustomers {
    fn add(&mut self, source: Option<&str>, count: i64) {
        self.total += count;
        match source {
            Some("till") => self.till += count,
            Some("web") => self.web += count,
            Some("import") => self.import += count,
            Some("admin") => self.admin += count,
            Some("moysklad") => self.moysklad += count,
            _ => self.unknown += count,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DashboardPoints {
    pub earned: i64,
    pub spent: i64,
    pub expired: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DashboardTills {
    /// Enrolled tills.
    pub total: i64,
    /// Enrolled tills that called within the last hour.
    pub active: i64,
    /// Enrolled tills not seen for over an hour (or never since enrolment).
    pub not_seen_1h: i64,
}

/// One day of the dashboard's chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DashboardDay {
    pub date: String,
    pub receipts: i64,
    pub loyalty_receipts: i64,
    pub points_earned: i64,
    pub points_spent: i64,
    pub points_expired: i64,
    pub new_customers: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Dashboard {
    /// `today`, `7d` or `30d`: that many local days up to and including today.
    pub period: String,
    pub from: String,
    pub to: String,
    pub receipts: i64,
    pub loyalty_receipts: i64,
    /// loyalty_receipts / receipts in basis points (10000 = 100 %), rounded down; 0 without receipts.
    pub loyalty_share_bp: i64,
    pub points: DashboardPoints,
    pub new_customers: NewCustomers,
    pub tills: DashboardTills,
    /// Conflicts not marked handled.
    pub pending_conflicts: i64,
    pub series: Vec<DashboardDay>,
}

/// The shift report of one till and day.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ShiftReport {
    pub till_id: String,
    pub store: String,
    pub date: String,
    #[serde(flatten)]
    pub totals: ShiftTotals,
}

/// Adds a sale's, return's or adjustment's figures to its till's day (`till_id` "" and `store`
/// the customer's home store for the back office; a till's row takes the till's store).
pub(super) fn bump_day(
    sql: &mut dyn Sql,
    day: i64,
    till_id: &str,
    store: &str,
    t: &ShiftTotals,
    adjusted: i64,
) -> Result<(), DbError> {
    sql.write(
        "INSERT INTO till_days (day, till_id, store, receipts, loyalty_receipts, sales_amount, points_discount,
                                points_earned, points_spent, returns, refund_amount, points_taken_back,
                                points_given_back, points_adjusted, first_receipt_at, last_receipt_at)
         VALUES ($1, $2, COALESCE((SELECT store FROM tills WHERE id = $2), $3), $4, $5, $6, $7, $8, $9, $10, $11,
                 $12, $13, $14, $15, $16)
         ON CONFLICT (day, till_id, store) DO UPDATE SET
             receipts = till_days.receipts + excluded.receipts,
             loyalty_receipts = till_days.loyalty_receipts + excluded.loyalty_receipts,
             sales_amount = till_days.sales_amount + excluded.sales_amount,
             points_discount = till_days.points_discount + excluded.points_discount,
             points_earned = till_days.points_earned + excluded.points_earned,
             points_spent = till_days.points_spent + excluded.points_spent,
             returns = till_days.returns + excluded.returns,
             refund_amount = till_days.refund_amount + excluded.refund_amount,
             points_taken_back = till_days.points_taken_back + excluded.points_taken_back,
             points_given_back = till_days.points_given_back + excluded.points_given_back,
             points_adjusted = till_days.points_adjusted + excluded.points_adjusted,
             first_receipt_at = CASE WHEN till_days.first_receipt_at IS NULL
                                       OR excluded.first_receipt_at < till_days.first_receipt_at
                                     THEN excluded.first_receipt_at ELSE till_days.first_receipt_at END,
             last_receipt_at = CASE WHEN till_days.last_receipt_at IS NULL
                                      OR excluded.last_receipt_at > till_days.last_receipt_at
                                    THEN excluded.last_receipt_at ELSE till_days.last_receipt_at END",
        vals![
            day,
            till_id,
            store,
            t.receipts,
            t.loyalty_receipts,
            t.sales_amount,
            t.points_discount,
            t.points_earned,
            t.points_spent,
            t.returns,
            t.refund_amount,
            t.points_taken_back,
            t.points_given_back,
            adjusted,
            t.first_receipt_at,
            t.last_receipt_at
        ],
    )?;
    Ok(())
}

/// Folds the lot moves of finished days (up to the day before yesterday, so no transaction
/// still open can add to them) into `lot_move_days`. The meta row is locked, so two reports
/// never fold the same days twice.
fn fold_days(sql: &mut dyn Sql, now: i64) -> Result<(), CloudError> {
    let target = local_day(now) - 2;
    let row = sql.query_one(
        &format!("SELECT value FROM meta WHERE key = 'lot_moves_folded_through'{}", sql.dialect().for_update()),
        &[],
    )?;
    let folded: i64 = row.text(0)?.parse().unwrap_or(-1);
    if folded >= target {
        return Ok(());
    }
    sql.execute(
        &format!(
            "INSERT INTO lot_move_days (at_day, activates_day, expires_day, kind, points)
             SELECT {}, COALESCE({}, 0), COALESCE({}, {NEVER}), kind, CAST(SUM(points) AS BIGINT)
               FROM lot_moves WHERE at >= $1 AND at < $2
              GROUP BY 1, 2, 3, 4
             ON CONFLICT (at_day, activates_day, expires_day, kind) DO UPDATE
                SET points = lot_move_days.points + excluded.points",
            day_of("at"),
            day_of("activates_at"),
            day_of("expires_at")
        ),
        vals![day_start(folded + 1), day_start(target + 1)],
    )?;
    sql.execute("UPDATE meta SET value = $1 WHERE key = 'lot_moves_folded_through'", vals![target.to_string()])?;
    Ok(())
}

fn folded_through(sql: &mut dyn Sql) -> Result<i64, CloudError> {
    let row = sql.query_opt("SELECT value FROM meta WHERE key = 'lot_moves_folded_through'", &[])?;
    Ok(match row {
        Some(row) => row.text(0)?.parse().unwrap_or(-1),
        None => -1,
    })
}

/// The sums of the `lot_moves` rows `from_where` selects (it names them `m`), classified at
/// moment `t`. `params` must hold `t` and [`horizon`] as `$1` and `$2`.
fn exact_amounts(sql: &mut dyn Sql, from_where: &str, params: &[Value]) -> Result<LiabilityAmounts, CloudError> {
    let row = sql.query_one(
        &format!(
            "SELECT
               COALESCE(CAST(SUM(CASE WHEN m.kind = 'lot' AND m.activates_at <= $1
                                  AND (m.expires_at IS NULL OR m.expires_at > $1) THEN m.points ELSE 0 END) AS BIGINT), 0),
               COALESCE(CAST(SUM(CASE WHEN m.kind = 'lot' AND m.activates_at > $1
                                  AND (m.expires_at IS NULL OR m.expires_at > $1) THEN m.points ELSE 0 END) AS BIGINT), 0),
               COALESCE(CAST(SUM(CASE WHEN m.kind = 'lot' AND m.expires_at > $1 AND m.expires_at < $2
                                 THEN m.points ELSE 0 END) AS BIGINT), 0),
               COALESCE(CAST(SUM(CASE WHEN m.kind = 'debt' THEN m.points ELSE 0 END) AS BIGINT), 0)
             {from_where}"
        ),
        params,
    )?;
    Ok(LiabilityAmounts { active: row.int(0)?, pending: row.int(1)?, expiring_30d: row.int(2)?, debt: row.int(3)? })
}

/// The first second after the 30th local day after `t`'s: the end of `expiring_30d`.
fn horizon(t: i64) -> i64 {
    day_start(local_day(t) + 31)
}

/// Where the moves counted one by one begin: the first day not folded, or `t`'s day if
/// that is earlier (a day's moves can only be classified by the second on that day).
fn exact_from(folded: i64, d: i64) -> i64 {
    day_start((folded + 1).min(d))
}

/// The liability at `t` for the whole chain: folded days classified by day, and exactly the
/// moves the day cannot classify (not folded yet, or made, activating or expiring on `t`'s
/// day). Together they are every move once: a folded day's moves are in `lot_move_days` unless
/// one of their days is `t`'s, and exactly those are read one by one.
fn chain_liability(sql: &mut dyn Sql, t: i64) -> Result<LiabilityAmounts, CloudError> {
    let d = local_day(t);
    let folded = folded_through(sql)?;
    let row = sql.query_one(
        "SELECT
           COALESCE(CAST(SUM(CASE WHEN kind = 'lot' AND activates_day < $1 AND expires_day > $1 THEN points ELSE 0 END) AS BIGINT), 0),
           COALESCE(CAST(SUM(CASE WHEN kind = 'lot' AND activates_day > $1 AND expires_day > $1 THEN points ELSE 0 END) AS BIGINT), 0),
           COALESCE(CAST(SUM(CASE WHEN kind = 'lot' AND expires_day > $1 AND expires_day <= $2 THEN points ELSE 0 END) AS BIGINT), 0),
           COALESCE(CAST(SUM(CASE WHEN kind = 'debt' THEN points ELSE 0 END) AS BIGINT), 0)
         FROM lot_move_days
         WHERE at_day < $1 AND at_day <= $3 AND activates_day <> $1 AND expires_day <> $1",
        vals![d, d + 30, folded],
    )?;
    let mut amounts =
        LiabilityAmounts { active: row.int(0)?, pending: row.int(1)?, expiring_30d: row.int(2)?, debt: row.int(3)? };
    // Each branch is a range on one index; a move in two branches counts once (one statement).
    let exact = exact_amounts(
        sql,
        "FROM lot_moves m WHERE m.at <= $1 AND (m.at >= $3
            OR (m.activates_at >= $4 AND m.activates_at < $5)
            OR (m.expires_at >= $4 AND m.expires_at < $5))",
        vals![t, horizon(t), exact_from(folded, d), day_start(d), day_start(d + 1)],
    )?;
    amounts.add(&exact);
    Ok(amounts)
}

impl Store {
    /// Folds finished days if a day has finished since the last fold (a write only then).
    async fn fold_if_due(&self, now: i64) -> Result<(), CloudError> {
        let folded = self.read(|sql| folded_through(sql)).await?;
        if folded < local_day(now) - 2 {
            self.db.run(Mode::Write, move |sql| fold_days(sql, now)).await?;
        }
        Ok(())
    }

    /// The points liability at moment `t` (CONTRACTS.md §reports).
    pub async fn liability(&self, t: i64, now: i64, scope: StoreScope) -> Result<LiabilityReport, CloudError> {
        self.fold_if_due(now).await?;
        self.read(move |sql| {
            let points = if scope.is_all() {
                chain_liability(sql, t)?
            } else {
                let mut params = vec![Value::Int(t), Value::Int(horizon(t))];
                let condition = scope.condition("c.store", &mut params);
                let from_where = format!(
                    "FROM lot_moves m JOIN customers c ON c.id = m.customer_id WHERE m.at <= $1 AND {condition}"
                );
                exact_amounts(sql, &from_where, &params)?
            };
            let mut params = vec![Value::Int(t)];
            let condition = scope.condition("store", &mut params);
            let customers = sql
                .query_one(&format!("SELECT COUNT(*) FROM customers WHERE created_at <= $1 AND {condition}"), &params)?
                .int(0)?;
            let program = match sql.query_opt(
                "SELECT version, body FROM program_versions WHERE created_at <= $1 ORDER BY version DESC LIMIT 1",
                vals![t],
            )? {
                Some(row) => {
                    let program: crate::rules::Program = serde_json::from_str(&row.text(1)?)?;
                    program
                }
                None => super::admin::current_program(sql)?,
            };
            Ok(LiabilityReport {
                at: crate::clock::rfc3339(t),
                customers,
                money: points.times(program.point_value),
                points,
                point_value: program.point_value,
            })
        })
        .await
    }

    /// The daily report over local days `from..=to`, one row per day and store that has any
    /// figure, ordered by day then store.
    pub async fn daily_report(
        &self,
        from: i64,
        to: i64,
        now: i64,
        scope: StoreScope,
    ) -> Result<Vec<DailyRow>, CloudError> {
        self.read(move |sql| {
            let mut rows: BTreeMap<(i64, String), DailyRow> = BTreeMap::new();
            let mut params = vec![Value::Int(from), Value::Int(to)];
            let condition = scope.condition("store", &mut params);
            for row in sql.query(
                &format!(
                    "SELECT day, store, CAST(SUM(receipts) AS BIGINT), CAST(SUM(loyalty_receipts) AS BIGINT), CAST(SUM(sales_amount) AS BIGINT), CAST(SUM(points_discount) AS BIGINT),
                            CAST(SUM(points_earned) AS BIGINT), CAST(SUM(points_spent) AS BIGINT), CAST(SUM(points_taken_back) AS BIGINT), CAST(SUM(points_given_back) AS BIGINT),
                            CAST(SUM(points_adjusted) AS BIGINT), CAST(SUM(returns) AS BIGINT), CAST(SUM(refund_amount) AS BIGINT)
                       FROM till_days WHERE day >= $1 AND day <= $2 AND {condition} GROUP BY day, store"
                ),
                &params,
            )? {
                let entry = rows.entry((row.int(0)?, row.text(1)?)).or_default();
                entry.receipts = row.int(2)?;
                entry.loyalty_receipts = row.int(3)?;
                entry.sales_amount = row.int(4)?;
                entry.points_discount = row.int(5)?;
                entry.points_earned = row.int(6)?;
                entry.points_spent = row.int(7)?;
                entry.points_taken_back = row.int(8)?;
                entry.points_given_back = row.int(9)?;
                entry.points_adjusted = row.int(10)?;
                entry.returns = row.int(11)?;
                entry.refund_amount = row.int(12)?;
            }
            let mut params = vec![Value::Int(day_start(from)), Value::Int(day_start(to + 1).min(now + 1))];
            let condition = scope.condition("c.store", &mut params);
            for row in sql.query(
                &format!(
                    "SELECT {}, COALESCE(c.store, ''), CAST(SUM(m.points) AS BIGINT)
                       FROM lot_moves m JOIN customers c ON c.id = m.customer_id
                      WHERE m.kind = 'lot' AND m.expires_at >= $1 AND m.expires_at < $2 AND {condition}
                      GROUP BY 1, 2",
                    day_of("m.expires_at")
                ),
                &params,
            )? {
                rows.entry((row.int(0)?, row.text(1)?)).or_default().points_expired = row.int(2)?;
            }
            let mut params = vec![Value::Int(day_start(from)), Value::Int(day_start(to + 1))];
            let condition = scope.condition("store", &mut params);
            for row in sql.query(
                &format!(
                    "SELECT {}, COALESCE(store, ''), COUNT(*) FROM customers
                      WHERE created_at >= $1 AND created_at < $2 AND {condition} GROUP BY 1, 2",
                    day_of("created_at")
                ),
                &params,
            )? {
                rows.entry((row.int(0)?, row.text(1)?)).or_default().new_customers = row.int(2)?;
            }
            Ok(rows
                .into_iter()
                .map(|((day, store), mut row)| {
                    row.date = crate::reports::format_day(day);
                    row.store = store;
                    row
                })
                .collect())
        })
        .await
    }

    /// The dashboard over the last `days` local days up to today.
    pub async fn dashboard(
        &self,
        period: &'static str,
        days: i64,
        now: i64,
        scope: StoreScope,
    ) -> Result<Dashboard, CloudError> {
        self.fold_if_due(now).await?;
        self.read(move |sql| {
            let today = local_day(now);
            let from = today - days + 1;
            let mut series: BTreeMap<i64, DashboardDay> =
                (from..=today).map(|d| (d, DashboardDay::default())).collect();
            let mut params = vec![Value::Int(from), Value::Int(today)];
            let condition = scope.condition("store", &mut params);
            for row in sql.query(
                &format!(
                    "SELECT day, CAST(SUM(receipts) AS BIGINT), CAST(SUM(loyalty_receipts) AS BIGINT), CAST(SUM(points_earned) AS BIGINT), CAST(SUM(points_spent) AS BIGINT)
                       FROM till_days WHERE day >= $1 AND day <= $2 AND {condition} GROUP BY day"
                ),
                &params,
            )? {
                if let Some(day) = series.get_mut(&row.int(0)?) {
                    day.receipts = row.int(1)?;
                    day.loyalty_receipts = row.int(2)?;
                    day.points_earned = row.int(3)?;
                    day.points_spent = row.int(4)?;
                }
            }
            for (day, points) in expired_by_day(sql, from, today, now, &scope)? {
                if let Some(entry) = series.get_mut(&day) {
                    entry.points_expired += points;
                }
            }
            let mut new_customers = NewCustomers::default();
            let mut params = vec![Value::Int(day_start(from))];
            let condition = scope.condition("store", &mut params);
            for row in sql.query(
                &format!(
                    "SELECT {}, source, COUNT(*) FROM customers WHERE created_at >= $1 AND {condition} GROUP BY 1, 2",
                    day_of("created_at")
                ),
                &params,
            )? {
                let count = row.int(2)?;
                new_customers.add(row.opt_text(1)?.as_deref(), count);
                if let Some(day) = series.get_mut(&row.int(0)?) {
                    day.new_customers += count;
                }
            }
            let mut params = vec![Value::Int(now - 3600)];
            let condition = scope.condition("store", &mut params);
            let row = sql.query_one(
                &format!(
                    "SELECT COUNT(*), COALESCE(CAST(SUM(CASE WHEN last_seen_at >= $1 THEN 1 ELSE 0 END) AS BIGINT), 0)
                       FROM tills WHERE token_hash IS NOT NULL AND {condition}"
                ),
                &params,
            )?;
            let tills =
                DashboardTills { total: row.int(0)?, active: row.int(1)?, not_seen_1h: row.int(0)? - row.int(1)? };
            let mut params = Vec::new();
            let pending_conflicts = if scope.is_all() {
                sql.query_one("SELECT COUNT(*) FROM conflicts WHERE handled_at IS NULL", &[])?.int(0)?
            } else {
                let condition = scope.condition("t.store", &mut params);
                sql.query_one(
                    &format!(
                        "SELECT COUNT(*) FROM conflicts k JOIN tills t ON t.id = k.till_id
                          WHERE k.handled_at IS NULL AND {condition}"
                    ),
                    &params,
                )?
                .int(0)?
            };
            let mut dashboard = Dashboard {
                period: period.to_owned(),
                from: crate::reports::format_day(from),
                to: crate::reports::format_day(today),
                new_customers,
                tills,
                pending_conflicts,
                ..Dashboard::default()
            };
            for (day, entry) in series {
                dashboard.receipts += entry.receipts;
                dashboard.loyalty_receipts += entry.loyalty_receipts;
                dashboard.points.earned += entry.points_earned;
                dashboard.points.spent += entry.points_spent;
                dashboard.points.expired += entry.points_expired;
                dashboard.series.push(DashboardDay { date: crate::reports::format_day(day), ..entry });
            }
            if dashboard.receipts > 0 {
                dashboard.loyalty_share_bp = dashboard.loyalty_receipts * 10_000 / dashboard.receipts;
            }
            Ok(dashboard)
        })
        .await
    }

    /// One till's day (`day` local), if the till is in scope.
    pub async fn shift_report(&self, till_id: String, day: i64, scope: StoreScope) -> Result<ShiftReport, CloudError> {
        self.read(move |sql| {
            let store = sql
                .query_opt("SELECT store FROM tills WHERE id = $1", vals![&till_id])?
                .map(|row| row.text(0))
                .transpose()?
                .filter(|store| scope.allows(store))
                .ok_or_else(|| CloudError::NotFound(Missing::Till(till_id.clone())))?;
            let row = sql.query_one(
                "SELECT COALESCE(CAST(SUM(receipts) AS BIGINT), 0), COALESCE(CAST(SUM(loyalty_receipts) AS BIGINT), 0), COALESCE(CAST(SUM(sales_amount) AS BIGINT), 0),
                        COALESCE(CAST(SUM(points_discount) AS BIGINT), 0), COALESCE(CAST(SUM(points_earned) AS BIGINT), 0), COALESCE(CAST(SUM(points_spent) AS BIGINT), 0),
                        COALESCE(CAST(SUM(returns) AS BIGINT), 0), COALESCE(CAST(SUM(refund_amount) AS BIGINT), 0), COALESCE(CAST(SUM(points_taken_back) AS BIGINT), 0),
                        COALESCE(CAST(SUM(points_given_back) AS BIGINT), 0), MIN(first_receipt_at), MAX(last_receipt_at)
                   FROM till_days WHERE till_id = $1 AND day = $2",
                vals![&till_id, day],
            )?;
            let totals = ShiftTotals {
                receipts: row.int(0)?,
                loyalty_receipts: row.int(1)?,
                sales_amount: row.int(2)?,
                points_discount: row.int(3)?,
                points_earned: row.int(4)?,
                points_spent: row.int(5)?,
                returns: row.int(6)?,
                refund_amount: row.int(7)?,
                points_taken_back: row.int(8)?,
                points_given_back: row.int(9)?,
                first_receipt_at: row.opt_int(10)?,
                last_receipt_at: row.opt_int(11)?,
            };
            Ok(ShiftReport { till_id: till_id.clone(), store, date: crate::reports::format_day(day), totals })
        })
        .await
    }
}

/// Points that expired on each local day `from..=today` (never after `now`), by the customer's
/// home store in `scope`. The whole chain reads folded days from `lot_move_days` and only
/// today's and the unfolded moves one by one.
fn expired_by_day(
    sql: &mut dyn Sql,
    from: i64,
    today: i64,
    now: i64,
    scope: &StoreScope,
) -> Result<Vec<(i64, i64)>, CloudError> {
    let mut out = Vec::new();
    if !scope.is_all() {
        let mut params = vec![Value::Int(day_start(from)), Value::Int(now)];
        let condition = scope.condition("c.store", &mut params);
        for row in sql.query(
            &format!(
                "SELECT {}, CAST(SUM(m.points) AS BIGINT) FROM lot_moves m JOIN customers c ON c.id = m.customer_id
                  WHERE m.kind = 'lot' AND m.expires_at >= $1 AND m.expires_at <= $2 AND {condition} GROUP BY 1",
                day_of("m.expires_at")
            ),
            &params,
        )? {
            out.push((row.int(0)?, row.int(1)?));
        }
        return Ok(out);
    }
    let folded = folded_through(sql)?;
    for row in sql.query(
        "SELECT expires_day, CAST(SUM(points) AS BIGINT) FROM lot_move_days
          WHERE kind = 'lot' AND expires_day >= $1 AND expires_day < $2 AND at_day <= $3 GROUP BY expires_day",
        vals![from, today, folded],
    )? {
        out.push((row.int(0)?, row.int(1)?));
    }
    // Today's expiries so far (folded or not), then the unfolded moves expiring before today.
    let unfolded = day_start(folded + 1);
    let row = sql.query_one(
        "SELECT COALESCE(CAST(SUM(points) AS BIGINT), 0) FROM lot_moves WHERE kind = 'lot' AND expires_at >= $1 AND expires_at <= $2",
        vals![day_start(today), now],
    )?;
    out.push((today, row.int(0)?));
    for row in sql.query(
        &format!(
            "SELECT {}, CAST(SUM(points) AS BIGINT) FROM lot_moves
              WHERE kind = 'lot' AND at >= $1 AND expires_at >= $2 AND expires_at < $3 GROUP BY 1",
            day_of("expires_at")
        ),
        vals![unfolded, day_start(from), day_start(today)],
    )? {
        out.push((row.int(0)?, row.int(1)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_moves_read_one_by_one_start_at_the_first_unfolded_day_or_t_s_day() {
        assert_eq!(exact_from(100, 105), day_start(101));
        assert_eq!(exact_from(100, 101), day_start(101));
        assert_eq!(exact_from(104, 101), day_start(101));
        assert_eq!(exact_from(-1, 101), day_start(0));
    }
}
