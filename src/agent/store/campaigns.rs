//! The state campaigns need on this till (CONTRACTS.md §campaigns): stamps a customer holds per
//! stamp card, the receipts each campaign applied to (so `limit_per_customer` counts this
//! period's), the points each budgeted campaign gave here, and the stamps every sold line moved
//! (so a return reverses exactly them).
//!
//! [`context`] reads it into the pure rules' [`CampaignContext`]; [`record_sale`] and
//! [`record_return`] change it inside the receipt's or the return's own transaction, so a
//! receipt and what it did to the campaigns are committed together or not at all.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{CustomerRecord, StoreError, StoreSettings};
use crate::rules::{self, BudgetState, CampaignContext, Program, ReturnPlan, SoldStamps};

/// What the stores know about the customer and the program's campaigns for one receipt.
///
/// Budgets: a standalone till is its own authority, so it counts every point it gave against
/// `budget_points`. A connected till cannot see what the other tills gave; it may give
/// `till_allowance_points` (or, without one, `budget_points`) beyond what the cloud has
/// confirmed, that is beyond the points of its sales still in the outbox — an event leaves
/// the outbox only once the cloud has applied it, and the cloud counts the budget from then.
pub(crate) fn context(
    conn: &Connection,
    settings: &StoreSettings,
    program: &Program,
    customer: Option<&CustomerRecord>,
    now: i64,
) -> Result<CampaignContext, StoreError> {
    let mut context = CampaignContext { store: settings.store.clone(), ..CampaignContext::default() };
    // Most programs have no campaigns: then a calculate or commit reads nothing more.
    if program.campaigns.is_empty() {
        return Ok(context);
    }
    if let Some(customer) = customer {
        context.tags = customer.tags.clone();
        if program.campaigns.iter().any(|campaign| campaign.conditions.first_purchase) {
            context.first_purchase = first_purchase(conn, &customer.id)?;
        }
    }
    for campaign in &program.campaigns {
        if let Some(customer) = customer {
            if matches!(campaign.effect.effect(), Some(rules::Effect::StampCard(_))) {
                let held: Option<i64> = conn
                    .prepare_cached("SELECT stamps FROM campaign_stamps WHERE customer_id = ?1 AND campaign_id = ?2")?
                    .query_row(params![customer.id, campaign.id], |row| row.get(0))
                    .optional()?;
                if let Some(held) = held.filter(|&held| held > 0) {
                    context.stamps.insert(campaign.id.clone(), held);
                }
            }
            if let Some(limit) = &campaign.limit_per_customer {
                let since = rules::period_start(&program.time_zone, limit.period, now).unwrap_or(i64::MIN);
                let uses: i64 = conn
                    .prepare_cached(
                        "SELECT COUNT(*) FROM campaign_uses
                          WHERE customer_id = ?1 AND campaign_id = ?2 AND used_at >= ?3",
                    )?
                    .query_row(params![customer.id, campaign.id, since], |row| row.get(0))?;
                // And the customer's uses at other tills, as the cloud last told this one.
                let elsewhere: i64 = if settings.connected {
                    conn.prepare_cached(
                        "SELECT COUNT(*) FROM cloud_campaign_uses
                          WHERE customer_id = ?1 AND campaign_id = ?2 AND used_at >= ?3",
                    )?
                    .query_row(params![customer.id, campaign.id, since], |row| row.get(0))?
                } else {
                    0
                };
                let uses = uses + elsewhere;
                if uses > 0 {
                    context.uses.insert(campaign.id.clone(), uses);
                }
            }
        }
        let Some(budget) = campaign.budget_points else { continue };
        let given_here: i64 = conn
            .prepare_cached("SELECT COALESCE(SUM(points), 0) FROM campaign_points WHERE campaign_id = ?1")?
            .query_row([&campaign.id], |row| row.get(0))?;
        let state = if settings.connected {
            // What the other tills gave, as the cloud last said, and everything given here.
            let given_elsewhere: i64 = conn
                .prepare_cached("SELECT given_elsewhere FROM cloud_campaign_budgets WHERE campaign_id = ?1")?
                .query_row([&campaign.id], |row| row.get(0))
                .optional()?
                .unwrap_or(0);
            let left = budget.saturating_sub(given_elsewhere).saturating_sub(given_here);
            let unconfirmed: i64 = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(points), 0) FROM campaign_points
                      WHERE campaign_id = ?1 AND outbox_seq IN (SELECT seq FROM outbox)",
                )?
                .query_row([&campaign.id], |row| row.get(0))?;
            let allowance = campaign.till_allowance_points.unwrap_or(budget).saturating_sub(unconfirmed);
            if left <= 0 {
                BudgetState::Stopped
            } else {
                BudgetState::Allowance(allowance.min(left))
            }
        } else {
            BudgetState::Allowance(budget.saturating_sub(given_here))
        };
        context.budgets.insert(campaign.id.clone(), state);
    }
    Ok(context)
}

/// A first purchase: no receipt of the customer's on this till, and nothing paid in the
/// cloud's synced figures (a purchase on another till).
fn first_purchase(conn: &Connection, customer_id: &str) -> Result<bool, StoreError> {
    let here: bool = conn.prepare_cached("SELECT 1 FROM receipts WHERE customer_id = ?1")?.exists([customer_id])?;
    if here {
        return Ok(false);
    }
    let elsewhere: bool = conn
        .prepare_cached("SELECT 1 FROM cloud_balances WHERE customer_id = ?1 AND paid_total > 0")?
        .exists([customer_id])?;
    Ok(!elsewhere)
}

/// Records what each campaign did on a committed sale, in the sale's transaction: a use of
/// every campaign that gave something, the stamps each card leaves the customer with, the
/// points a budgeted campaign gave (with the outbox event that carries them), and each line's
/// stamps for its returns.
pub(crate) fn record_sale(
    conn: &Connection,
    program: &Program,
    customer_id: Option<&str>,
    receipt_id: &str,
    outbox_seq: i64,
    calculation: &rules::Calculation,
    now: i64,
) -> Result<(), StoreError> {
    let Some(customer_id) = customer_id else { return Ok(()) };
    for gain in &calculation.campaigns {
        conn.prepare_cached(
            "INSERT OR IGNORE INTO campaign_uses (campaign_id, receipt_id, customer_id, used_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![gain.id, receipt_id, customer_id, now])?;
        if let Some(stamps) = &gain.stamps {
            conn.prepare_cached(
                "INSERT INTO campaign_stamps (customer_id, campaign_id, stamps) VALUES (?1, ?2, ?3)
                 ON CONFLICT (customer_id, campaign_id) DO UPDATE SET stamps = excluded.stamps",
            )?
            .execute(params![customer_id, gain.id, stamps.after])?;
            note_stamp_move(conn, outbox_seq, customer_id, &gain.id, stamps.earned - stamps.used)?;
        }
        let budgeted = program.campaigns.iter().any(|c| c.id == gain.id && c.budget_points.is_some());
        if budgeted && gain.points > 0 {
            conn.prepare_cached(
                "INSERT INTO campaign_points (campaign_id, receipt_id, outbox_seq, points) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![gain.id, receipt_id, outbox_seq, gain.points])?;
        }
    }
    for (line_no, line) in calculation.lines.iter().enumerate() {
        for gain in &line.campaigns {
            let Some(stamps) = &gain.stamps else { continue };
            if stamps.earned == 0 && stamps.used == 0 {
                continue;
            }
            conn.prepare_cached(
                "INSERT INTO receipt_line_stamps (receipt_id, line_no, campaign_id, earned, used)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![receipt_id, line_no as i64, gain.id, stamps.earned, stamps.used])?;
        }
    }
    Ok(())
}

/// The stamps each line of a receipt moved, by line number (none for receipts from before
/// stamp cards, which read as they always did).
pub(crate) fn sold_stamps(conn: &Connection, receipt_id: &str) -> Result<BTreeMap<i64, Vec<SoldStamps>>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT line_no, campaign_id, earned, used, earned_taken_back, used_given_back
           FROM receipt_line_stamps WHERE receipt_id = ?1 ORDER BY line_no, campaign_id",
    )?;
    let mut by_line: BTreeMap<i64, Vec<SoldStamps>> = BTreeMap::new();
    let rows = stmt.query_map([receipt_id], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            SoldStamps {
                campaign_id: row.get(1)?,
                earned: row.get(2)?,
                used: row.get(3)?,
                earned_taken_back: row.get(4)?,
                used_given_back: row.get(5)?,
            },
        ))
    })?;
    for row in rows {
        let (line_no, stamps) = row?;
        by_line.entry(line_no).or_default().push(stamps);
    }
    Ok(by_line)
}

/// Applies a return's stamps, in the return's transaction: what the returned units earned
/// leaves the customer's card, what their free units spent comes back. A card is never left
/// below zero (the customer may have spent the stamps since: the free unit was given).
pub(crate) fn record_return(
    conn: &Connection,
    customer_id: Option<&str>,
    receipt_id: &str,
    outbox_seq: i64,
    plan: &ReturnPlan,
) -> Result<(), StoreError> {
    for line in &plan.lines {
        for back in &line.stamps {
            conn.prepare_cached(
                "UPDATE receipt_line_stamps
                    SET earned_taken_back = earned_taken_back + ?4, used_given_back = used_given_back + ?5
                  WHERE receipt_id = ?1 AND line_no = ?2 AND campaign_id = ?3",
            )?
            .execute(params![
                receipt_id,
                line.line_no as i64,
                back.campaign_id,
                back.earned_back,
                back.used_back
            ])?;
            let Some(customer_id) = customer_id else { continue };
            let change = back.used_back.saturating_sub(back.earned_back);
            if change == 0 {
                continue;
            }
            conn.prepare_cached(
                "INSERT INTO campaign_stamps (customer_id, campaign_id, stamps) VALUES (?1, ?2, MAX(0, ?3))
                 ON CONFLICT (customer_id, campaign_id) DO UPDATE SET stamps = MAX(0, stamps + ?3)",
            )?
            .execute(params![customer_id, back.campaign_id, change])?;
            note_stamp_move(conn, outbox_seq, customer_id, &back.campaign_id, change)?;
        }
    }
    Ok(())
}

/// Remembers a change of a customer's stamps with the outbox event that carries it, for
/// [`apply_cloud_state`].
fn note_stamp_move(
    conn: &Connection,
    outbox_seq: i64,
    customer_id: &str,
    campaign_id: &str,
    change: i64,
) -> Result<(), StoreError> {
    if change != 0 {
        conn.prepare_cached(
            "INSERT INTO stamp_moves (outbox_seq, customer_id, campaign_id, change) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![outbox_seq, customer_id, campaign_id, change])?;
    }
    Ok(())
}

/// Takes in what a pulled balance says of the customer's campaigns, after the balance itself
/// (whose `included_seq` it uses): each card's count is the cloud's plus this till's moves the
/// cloud had not applied yet (moves it did apply are forgotten), and the uses at other tills
/// replace those the cloud sent before. A cloud that sends neither (older) changes nothing.
pub(crate) fn apply_cloud_state(conn: &Connection, balance: &crate::wire::BalanceSnapshot) -> Result<(), StoreError> {
    let customer_id = &balance.customer_id;
    if let Some(stamps) = &balance.stamps {
        let included_seq: i64 = conn
            .prepare_cached("SELECT included_seq FROM cloud_balances WHERE customer_id = ?1")?
            .query_row([customer_id], |row| row.get(0))
            .optional()?
            .unwrap_or(0);
        conn.prepare_cached("DELETE FROM stamp_moves WHERE customer_id = ?1 AND outbox_seq <= ?2")?
            .execute(params![customer_id, included_seq])?;
        // Every card the cloud or this till knows of: a card missing from the cloud's list is at 0.
        let mut cards: BTreeMap<String, i64> = BTreeMap::new();
        {
            let mut known = conn.prepare_cached(
                "SELECT campaign_id FROM campaign_stamps WHERE customer_id = ?1
                 UNION SELECT campaign_id FROM stamp_moves WHERE customer_id = ?1",
            )?;
            for id in known.query_map([customer_id], |row| row.get::<_, String>(0))? {
                cards.insert(id?, 0);
            }
        }
        for held in stamps {
            cards.insert(held.campaign_id.clone(), held.stamps);
        }
        for (campaign_id, cloud) in cards {
            let pending: i64 = conn
                .prepare_cached(
                    "SELECT COALESCE(SUM(change), 0) FROM stamp_moves WHERE customer_id = ?1 AND campaign_id = ?2",
                )?
                .query_row(params![customer_id, campaign_id], |row| row.get(0))?;
            conn.prepare_cached(
                "INSERT INTO campaign_stamps (customer_id, campaign_id, stamps) VALUES (?1, ?2, MAX(0, ?3))
                 ON CONFLICT (customer_id, campaign_id) DO UPDATE SET stamps = excluded.stamps",
            )?
            .execute(params![customer_id, campaign_id, cloud.saturating_add(pending)])?;
        }
    }
    if let Some(uses) = &balance.campaign_uses {
        conn.prepare_cached("DELETE FROM cloud_campaign_uses WHERE customer_id = ?1")?.execute([customer_id])?;
        for used in uses {
            let Some(at) = crate::clock::parse_rfc3339(&used.used_at) else { continue };
            conn.prepare_cached(
                "INSERT INTO cloud_campaign_uses (customer_id, campaign_id, used_at) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![customer_id, used.campaign_id, at])?;
        }
    }
    Ok(())
}

/// What a budgeted campaign gave at the other tills, as the cloud says.
pub(crate) fn apply_budget(conn: &Connection, budget: &crate::wire::CampaignBudgetSnapshot) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO cloud_campaign_budgets (campaign_id, given, given_elsewhere) VALUES (?1, ?2, ?3)
         ON CONFLICT (campaign_id) DO UPDATE SET given = excluded.given, given_elsewhere = excluded.given_elsewhere",
    )?
    .execute(params![budget.campaign_id, budget.given, budget.given_elsewhere])?;
    Ok(())
}

/// A local customer merged into the one the cloud kept: their campaign state goes with them
/// (cards add up).
pub(crate) fn merge_customer(conn: &Connection, from: &str, into: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO campaign_stamps (customer_id, campaign_id, stamps)
         SELECT ?2, campaign_id, stamps FROM campaign_stamps WHERE customer_id = ?1 AND true
         ON CONFLICT (customer_id, campaign_id) DO UPDATE SET stamps = campaign_stamps.stamps + excluded.stamps",
        params![from, into],
    )?;
    conn.execute("DELETE FROM campaign_stamps WHERE customer_id = ?1", [from])?;
    for table in ["campaign_uses", "stamp_moves", "cloud_campaign_uses"] {
        conn.execute(&format!("UPDATE {table} SET customer_id = ?2 WHERE customer_id = ?1"), params![from, into])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::agent::store::{NewCustomer, Store, StoreSettings};
    use crate::rules::Program;
    use crate::wire::{CommitRequest, RequestHash, ReturnRequest};

    /// Tuesday 1 December 2026, 16:30 in Moscow.
    const TUESDAY: i64 = 1_796_131_800;
    const DAY: i64 = 86_400;

    fn program() -> Arc<Program> {
        let mut program: Program = serde_json::from_value(json!({
            "accrual_percent": 5,
            "time_zone": "Europe/Moscow",
            "campaigns": [
                {"id": "coffee-x2", "conditions": {"categories": ["coffee"]}, "effect": {"points_multiplier": 2},
                 "limit_per_customer": {"count": 1, "period": "week"}, "budget_points": 15},
                {"id": "latte-card", "conditions": {"skus": ["LATTE"]}, "effect": {"stamp_card": {"stamps_for_reward": 5}}}
            ]
        }))
        .expect("the test program reads");
        program.version = 1;
        Arc::new(program)
    }

    async fn store() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::tempdir().expect("a temp dir");
        let settings =
            StoreSettings { default_region: "RU".into(), card_prefix: "2700".into(), connected: false, store: None };
        let store = Store::open(&dir.path().join("agent.db"), settings).expect("the store opens");
        let new = NewCustomer {
            phone: "+79997120001".into(),
            name: None,
            email: None,
            card: None,
            birthday: None,
            tags: Vec::new(),
            consents: None,
            source: "till",
        };
        let customer = store.enroll(new, program(), TUESDAY - DAY).await.expect("enrolled");
        (dir, store, customer.id.clone())
    }

    async fn sell(store: &Store, customer: &str, id: &str, lattes: i64, now: i64) -> crate::wire::Calculation {
        let request: CommitRequest = serde_json::from_value(json!({
            "id": id, "customer": {"id": customer},
            "lines": [{"sku": "LATTE", "category": "coffee", "quantity": lattes.to_string(), "price": 20000}],
            "redeem": 0
        }))
        .expect("a commit request");
        let hash = RequestHash::of(&request);
        store.commit_receipt(request, hash, program(), None, now).await.expect("committed")
    }

    fn gained<'a>(receipt: &'a crate::wire::Calculation, id: &str) -> Option<&'a crate::wire::CampaignApplied> {
        receipt.campaigns.iter().find(|gain| gain.id == id)
    }

    /// `limit_per_customer` of once a week: a second receipt that week is `limit_reached`, the
    /// next Monday (local midnight in Moscow) the campaign applies again; and a standalone
    /// till spends the campaign's budget of 15 points and then says `till_allowance_spent`.
    #[tokio::test]
    async fn uses_are_counted_per_local_week_and_a_standalone_till_keeps_to_the_budget() {
        let (_dir, store, customer) = store().await;
        let first = sell(&store, &customer, "r1", 1, TUESDAY).await;
        assert_eq!(gained(&first, "coffee-x2").map(|g| g.points), Some(10), "{first:?}");
        let again = sell(&store, &customer, "r2", 1, TUESDAY + 3 * DAY).await;
        assert_eq!(gained(&again, "coffee-x2"), None);
        let skipped = again.campaigns_not_applied.iter().find(|s| s.id == "coffee-x2").expect("listed");
        assert_eq!(skipped.reason, "limit_reached");
        // Monday 7 December 00:00 in Moscow is Sunday 21:00 UTC.
        let monday = TUESDAY - 16 * 3600 - 30 * 60 + 6 * DAY;
        let last_sunday_minute = sell(&store, &customer, "r3", 1, monday - 60).await;
        assert_eq!(gained(&last_sunday_minute, "coffee-x2"), None, "still the first week");
        let next_week = sell(&store, &customer, "r4", 1, monday).await;
        // The budget had 5 of its 15 points left.
        assert_eq!(gained(&next_week, "coffee-x2").map(|g| g.points), Some(5), "{next_week:?}");
        let spent = sell(&store, &customer, "r5", 1, monday + 7 * DAY).await;
        let skipped = spent.campaigns_not_applied.iter().find(|s| s.id == "coffee-x2").expect("listed");
        assert_eq!(skipped.reason, "till_allowance_spent");
    }

    /// A card of 5: holding 4, two lattes make the fifth stamp and a free one (0 held). A
    /// return of that receipt gives back exactly what it moved (4 held again), and the next
    /// calculation sees the restored count.
    #[tokio::test]
    async fn stamps_are_held_per_customer_and_a_return_reverses_them() {
        let (_dir, store, customer) = store().await;
        let four = sell(&store, &customer, "r1", 4, TUESDAY).await;
        assert_eq!(gained(&four, "latte-card").and_then(|g| g.stamps).map(|s| s.after), Some(4));
        let two = sell(&store, &customer, "r2", 2, TUESDAY + DAY).await;
        let stamps = gained(&two, "latte-card").and_then(|g| g.stamps).expect("stamps moved");
        assert_eq!((stamps.earned, stamps.used, stamps.after), (1, 5, 0));
        assert_eq!(two.lines[0].paid, 20000, "the second latte is free: {two:?}");

        let request: ReturnRequest = serde_json::from_value(json!({"id": "ret-1", "all": true})).expect("a return");
        let hash = RequestHash::of(&request);
        let returned =
            store.return_receipt("r2".into(), request, hash, program(), TUESDAY + 2 * DAY).await.expect("returned");
        let back = &returned.lines[0].stamps;
        assert_eq!(back.len(), 1, "{returned:?}");
        assert_eq!((back[0].earned_back, back[0].used_back), (1, 5));

        let after = sell(&store, &customer, "r3", 1, TUESDAY + 3 * DAY).await;
        let stamps = gained(&after, "latte-card").and_then(|g| g.stamps).expect("stamps moved");
        assert_eq!((stamps.earned, stamps.after), (1, 5), "4 held again, and one more: {after:?}");
    }

    /// A pulled count is the cloud's plus this till's moves the cloud had not applied; the
    /// applied ones are forgotten; a card the cloud no longer lists is at 0 plus what waits.
    #[test]
    fn a_pulled_stamp_count_adds_the_moves_the_cloud_has_not_applied() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("agent.db");
        let settings =
            StoreSettings { default_region: "RU".into(), card_prefix: "2700".into(), connected: true, store: None };
        drop(Store::open(&path, settings).expect("the store opens"));
        let conn = rusqlite::Connection::open(&path).expect("opens");
        conn.execute_batch(
            "INSERT INTO cloud_balances (customer_id, balance, available, pending, paid_total, included_seq)
                  VALUES ('c', 0, 0, 0, 0, 5);
             INSERT INTO campaign_stamps (customer_id, campaign_id, stamps) VALUES ('c', 'card', 6), ('c', 'old', 2);
             INSERT INTO stamp_moves (outbox_seq, customer_id, campaign_id, change)
                  VALUES (4, 'c', 'card', 3), (7, 'c', 'card', 2), (8, 'c', 'old', 1);",
        )
        .expect("seeded");
        let balance = crate::wire::BalanceSnapshot {
            customer_id: "c".into(),
            balance: 0,
            available: 0,
            pending: 0,
            paid_total: 0,
            included_seq: 5,
            next_expiry: None,
            stamps: Some(vec![crate::wire::StampsHeld { campaign_id: "card".into(), stamps: 4 }]),
            campaign_uses: Some(vec![crate::wire::CampaignUse {
                campaign_id: "once".into(),
                used_at: "2026-12-01T10:00:00Z".into(),
            }]),
        };
        super::apply_cloud_state(&conn, &balance).expect("applied");
        let held = |card: &str| -> i64 {
            conn.query_row(
                "SELECT stamps FROM campaign_stamps WHERE customer_id = 'c' AND campaign_id = ?1",
                [card],
                |row| row.get(0),
            )
            .expect("a card")
        };
        assert_eq!(held("card"), 4 + 2, "the cloud's 4 and the move after seq 5");
        assert_eq!(held("old"), 1, "not in the cloud's list: 0 and the move still waiting");
        let moves: i64 = conn.query_row("SELECT COUNT(*) FROM stamp_moves", [], |row| row.get(0)).expect("count");
        assert_eq!(moves, 2, "the move the cloud applied (seq 4) is forgotten");
        let uses: i64 = conn
            .query_row("SELECT COUNT(*) FROM cloud_campaign_uses WHERE campaign_id = 'once'", [], |row| row.get(0))
            .expect("count");
        assert_eq!(uses, 1);

        // An older cloud sends neither: the till's own counts stay.
        let older = crate::wire::BalanceSnapshot { stamps: None, campaign_uses: None, ..balance };
        super::apply_cloud_state(&conn, &older).expect("applied");
        assert_eq!(held("card"), 6);
    }
}
