//! What the cloud counts of campaigns (CONTRACTS.md §campaigns; migration 12): each campaign's
//! use on each receipt, what each campaign gave per till (a budget counts the sum), and the
//! stamps each customer holds on each stamp card.
//!
//! The cloud re-prices nothing here either: a sale carries what each campaign gave, computed
//! by the till with the program version the sale names, and `ledger::check_sale` checked
//! that it adds up. What the cloud adds is the view across tills: a budget spent by several
//! offline tills is applied (the sales happened) and listed as a `campaign_budget_exceeded`
//! conflict, and the feed tells every till what the others gave and what the customer holds.

use super::admin::{record_conflict, NewConflict};
use super::apply::{Applied, Context};
use super::{Changes, CloudError, FeedKind, Store};
use crate::cloud::db::{DbError, Sql};
use crate::http::sentence::Sentence;
use crate::rules::{self, Program, Timestamp};
use crate::vals;
use crate::wire::{Calculation, CampaignBudgetSnapshot, CampaignUse, ReturnResult, StampsHeld};
use serde::Serialize;
use utoipa::ToSchema;

/// Records what the campaigns of an applied sale gave: a use of each, its points and discount
/// on its till's figures, the stamps it moved on the customer's card; a budget the sale takes
/// past its end is a conflict. Nothing is read or written for a receipt without campaigns.
pub(super) fn record_sale(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    program: &Program,
    customer_id: Option<&str>,
    receipt_id: &str,
    receipt: &Calculation,
    changes: &mut Changes,
) -> Result<(), Applied> {
    let happened = cx.happened_at();
    for gain in &receipt.campaigns {
        sql.write(
            "INSERT INTO campaign_uses
                 (till_id, receipt_id, campaign_id, customer_id, points, discount, stamps_earned, stamps_used, used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (till_id, receipt_id, campaign_id) DO NOTHING",
            vals![
                cx.till_id,
                receipt_id,
                &gain.id,
                customer_id,
                gain.points,
                gain.discount,
                gain.stamps.map_or(0, |s| s.earned),
                gain.stamps.map_or(0, |s| s.used),
                happened
            ],
        )?;
        sql.write(
            "INSERT INTO campaign_spend (campaign_id, till_id, points, discount, receipts) VALUES ($1, $2, $3, $4, 1)
             ON CONFLICT (campaign_id, till_id) DO UPDATE SET points = campaign_spend.points + excluded.points,
                 discount = campaign_spend.discount + excluded.discount, receipts = campaign_spend.receipts + 1",
            vals![&gain.id, cx.till_id, gain.points, gain.discount],
        )?;
        if let (Some(customer_id), Some(stamps)) = (customer_id, &gain.stamps) {
            move_stamps(sql, customer_id, &gain.id, stamps.earned - stamps.used, cx.at)?;
        }
        let budget = program.campaigns.iter().find(|c| c.id == gain.id).and_then(|c| c.budget_points);
        if let Some(budget) = budget.filter(|_| gain.points > 0) {
            // Every till hears what the campaign has given, so each can stop it at the end.
            changes.add(FeedKind::CampaignBudget, &gain.id);
            let given = given(sql, &gain.id)?;
            if given > budget {
                budget_exceeded(sql, cx, customer_id, receipt_id, gain, budget, given)?;
            }
        }
    }
    Ok(())
}

/// A stamp card never goes below zero: a return may take back stamps the customer has since
/// spent on a free unit (the unit was given).
fn move_stamps(sql: &mut dyn Sql, customer_id: &str, campaign_id: &str, change: i64, at: i64) -> Result<(), DbError> {
    if change == 0 {
        return Ok(());
    }
    sql.write(
        "INSERT INTO campaign_stamps (customer_id, campaign_id, stamps, updated_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (customer_id, campaign_id) DO UPDATE SET updated_at = excluded.updated_at,
             stamps = CASE WHEN campaign_stamps.stamps + $5 < 0 THEN 0 ELSE campaign_stamps.stamps + $5 END",
        vals![customer_id, campaign_id, change.max(0), at, change],
    )
}

/// What a campaign has given on every till.
fn given(sql: &mut dyn Sql, campaign_id: &str) -> Result<i64, DbError> {
    sql.query_one(
        "SELECT COALESCE(CAST(SUM(points) AS BIGINT), 0) FROM campaign_spend WHERE campaign_id = $1",
        vals![campaign_id],
    )?
    .int(0)
}

fn budget_exceeded(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    customer_id: Option<&str>,
    receipt_id: &str,
    gain: &crate::wire::CampaignApplied,
    budget: i64,
    given: i64,
) -> Result<(), DbError> {
    // The part of this receipt's points past the budget (earlier receipts may already be).
    let over = (given - budget).min(gain.points);
    record_conflict(
        sql,
        NewConflict {
            kind: "campaign_budget_exceeded",
            till_id: Some(cx.till_id),
            event: Some(cx.event),
            customer_id,
            receipt_id: Some(receipt_id),
            happened: Sentence::new(
                "conflict_campaign_budget",
                format!(
                    "receipt {receipt_id} gave {} points of campaign «{}» while its budget of {budget} was spent \
                     (given in all: {given}; tills that could not confirm the budget)",
                    gain.points, gain.name
                ),
            )
            .with("receipt", receipt_id)
            .with("campaign", &gain.name)
            .with("points", gain.points)
            .with("budget", budget)
            .with("given", given),
            done: Sentence::new(
                "conflict_campaign_budget_done",
                format!(
                    "applied as the till sold it: {over} points past the budget, within the tills' allowances; \
                     the tills stop the campaign with their next sync"
                ),
            )
            .with("over", over),
            details: serde_json::json!({
                "campaign_id": gain.id, "budget": budget, "given": given, "points": gain.points, "over": over,
            }),
        },
        cx.at,
    )
}

/// Applies a return's stamps: what the returned units earned leaves the card, what their free
/// units used comes back. Returned points stay counted against a budget: it counts what the
/// campaign gave.
pub(super) fn record_return(
    sql: &mut dyn Sql,
    customer_id: &str,
    result: &ReturnResult,
    at: i64,
) -> Result<(), DbError> {
    for line in &result.lines {
        for back in &line.stamps {
            move_stamps(sql, customer_id, &back.campaign_id, back.used_back - back.earned_back, at)?;
        }
    }
    Ok(())
}

/// The stamps a customer holds, card by card (for the feed and the back office).
pub(super) fn stamps_of(sql: &mut dyn Sql, customer_id: &str) -> Result<Vec<StampsHeld>, DbError> {
    sql.query(
        "SELECT campaign_id, stamps FROM campaign_stamps WHERE customer_id = $1 AND stamps > 0 ORDER BY campaign_id",
        vals![customer_id],
    )?
    .iter()
    .map(|row| Ok(StampsHeld { campaign_id: row.text(0)?, stamps: row.int(1)? }))
    .collect()
}

/// The customer's uses at tills other than `till_id` of the program's campaigns that limit
/// uses per customer, each since the start of its limit's current period (the pulling till
/// counts its own).
pub(super) fn uses_elsewhere(
    sql: &mut dyn Sql,
    program: &Program,
    customer_id: &str,
    till_id: &str,
    now: Timestamp,
) -> Result<Vec<CampaignUse>, DbError> {
    let mut uses = Vec::new();
    for campaign in &program.campaigns {
        let Some(limit) = &campaign.limit_per_customer else { continue };
        let since = rules::period_start(&program.time_zone, limit.period, now).unwrap_or(i64::MIN);
        let rows = sql.query(
            "SELECT used_at FROM campaign_uses
              WHERE customer_id = $1 AND campaign_id = $2 AND used_at >= $3 AND till_id <> $4 ORDER BY used_at",
            vals![customer_id, &campaign.id, since, till_id],
        )?;
        for row in rows {
            uses.push(CampaignUse { campaign_id: campaign.id.clone(), used_at: crate::clock::rfc3339(row.int(0)?) });
        }
    }
    Ok(uses)
}

/// What a campaign has given, and how much of it at tills other than `till_id`.
pub(super) fn budget_snapshot(
    sql: &mut dyn Sql,
    campaign_id: &str,
    till_id: &str,
) -> Result<CampaignBudgetSnapshot, DbError> {
    let row = sql.query_one(
        "SELECT COALESCE(CAST(SUM(points) AS BIGINT), 0),
                COALESCE(CAST(SUM(CASE WHEN till_id <> $1 THEN points ELSE 0 END) AS BIGINT), 0)
           FROM campaign_spend WHERE campaign_id = $2",
        vals![till_id, campaign_id],
    )?;
    Ok(CampaignBudgetSnapshot { campaign_id: campaign_id.to_owned(), given: row.int(0)?, given_elsewhere: row.int(1)? })
}

/// A campaign as the back office sees it: the program's terms and what it has given so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignStatus {
    pub id: String,
    pub name: String,
    /// `running`, `scheduled` (before `valid_from`), `ended` (after `valid_until`),
    /// `budget_spent`, or `removed` (no longer in the program; its figures stay).
    pub state: String,
    pub budget_points: Option<i64>,
    pub till_allowance_points: Option<i64>,
    /// Points given on every till's applied sales (returns do not give them back to a budget).
    pub given_points: i64,
    /// What is left of the budget (never below 0; an overshoot is listed as conflicts).
    pub budget_left: Option<i64>,
    /// Minor units of discount given.
    pub discount: i64,
    pub receipts: i64,
    pub customers: i64,
    pub tills: i64,
}

/// `GET /v1/admin/campaigns`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignReport {
    /// The current program's campaigns in its order, then removed ones that gave something.
    pub campaigns: Vec<CampaignStatus>,
    pub program_version: i64,
}

/// One stamp card of a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StampCardView {
    pub campaign_id: String,
    pub name: String,
    pub stamps: i64,
    /// The card's `stamps_for_reward` (0 when the campaign is no longer in the program).
    pub for_reward: i64,
}

/// One receipt a campaign applied to, for a customer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CampaignUseView {
    pub campaign_id: String,
    pub name: String,
    pub till_id: String,
    pub receipt_id: String,
    pub points: i64,
    pub discount: i64,
    /// A stamp card's stamps earned and spent on free units on this receipt.
    pub stamps_earned: i64,
    pub stamps_used: i64,
    pub used_at: String,
}

/// `GET /v1/admin/customers/{id}/campaigns`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerCampaigns {
    pub customer_id: String,
    pub stamps: Vec<StampCardView>,
    /// The latest 50, newest first.
    pub uses: Vec<CampaignUseView>,
}

impl Store {
    /// Every campaign of the current program with what it has given, and the removed ones.
    pub async fn campaign_report(&self) -> Result<CampaignReport, CloudError> {
        self.read(|sql| {
            let program = super::admin::current_program(sql)?;
            let mut figures = figures(sql)?;
            let now = crate::clock::now();
            let mut campaigns = Vec::new();
            for campaign in &program.campaigns {
                let found = figures.iter().position(|f| f.campaign_id == campaign.id).map(|i| figures.remove(i));
                let f = found.unwrap_or_else(|| CampaignFigures::none(&campaign.id));
                let left = campaign.budget_points.map(|budget| (budget - f.points).max(0));
                let state = match rules::campaign_dates(campaign, &program.time_zone, now) {
                    rules::CampaignDates::Before => "scheduled",
                    rules::CampaignDates::After => "ended",
                    rules::CampaignDates::Within if left == Some(0) => "budget_spent",
                    rules::CampaignDates::Within => "running",
                };
                campaigns.push(f.status(
                    campaign.display_name(),
                    state,
                    campaign.budget_points,
                    campaign.till_allowance_points,
                ));
            }
            for f in figures {
                let name = f.campaign_id.clone();
                campaigns.push(f.status(&name, "removed", None, None));
            }
            Ok(CampaignReport { campaigns, program_version: program.version })
        })
        .await
    }

    /// A customer's stamp cards and the latest receipts campaigns applied to.
    pub async fn customer_campaigns(&self, id: String) -> Result<CustomerCampaigns, CloudError> {
        self.read(move |sql| {
            let customer =
                super::customers::load_resolved(sql, &id, false)?.ok_or_else(|| super::customers::not_found(&id))?;
            let id = customer.profile.id;
            let program = super::admin::current_program(sql)?;
            let name = |campaign_id: &str| {
                program
                    .campaigns
                    .iter()
                    .find(|c| c.id == campaign_id)
                    .map_or(campaign_id, |c| c.display_name())
                    .to_owned()
            };
            let stamps = stamps_of(sql, &id)?
                .into_iter()
                .map(|held| {
                    let for_reward = program
                        .campaigns
                        .iter()
                        .find(|c| c.id == held.campaign_id)
                        .and_then(|c| c.effect.stamp_card.map(|card| card.stamps_for_reward))
                        .unwrap_or(0);
                    StampCardView {
                        name: name(&held.campaign_id),
                        campaign_id: held.campaign_id,
                        stamps: held.stamps,
                        for_reward,
                    }
                })
                .collect();
            let rows = sql.query(
                "SELECT campaign_id, till_id, receipt_id, points, discount, stamps_earned, stamps_used, used_at
                   FROM campaign_uses
                  WHERE customer_id = $1 ORDER BY used_at DESC, receipt_id DESC LIMIT 50",
                vals![&id],
            )?;
            let uses = rows
                .iter()
                .map(|row| {
                    let campaign_id = row.text(0)?;
                    Ok(CampaignUseView {
                        name: name(&campaign_id),
                        campaign_id,
                        till_id: row.text(1)?,
                        receipt_id: row.text(2)?,
                        points: row.int(3)?,
                        discount: row.int(4)?,
                        stamps_earned: row.int(5)?,
                        stamps_used: row.int(6)?,
                        used_at: crate::clock::rfc3339(row.int(7)?),
                    })
                })
                .collect::<Result<_, DbError>>()?;
            Ok(CustomerCampaigns { customer_id: id, stamps, uses })
        })
        .await
    }
}

/// Each campaign the cloud has seen on a receipt, with what it gave in all.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CampaignFigures {
    pub campaign_id: String,
    pub receipts: i64,
    pub points: i64,
    pub discount: i64,
    pub customers: i64,
    pub tills: i64,
}

impl CampaignFigures {
    fn none(campaign_id: &str) -> CampaignFigures {
        CampaignFigures {
            campaign_id: campaign_id.to_owned(),
            receipts: 0,
            points: 0,
            discount: 0,
            customers: 0,
            tills: 0,
        }
    }

    fn status(self, name: &str, state: &str, budget: Option<i64>, allowance: Option<i64>) -> CampaignStatus {
        CampaignStatus {
            id: self.campaign_id,
            name: name.to_owned(),
            state: state.to_owned(),
            budget_points: budget,
            till_allowance_points: allowance,
            given_points: self.points,
            budget_left: budget.map(|budget| (budget - self.points).max(0)),
            discount: self.discount,
            receipts: self.receipts,
            customers: self.customers,
            tills: self.tills,
        }
    }
}

fn figures(sql: &mut dyn Sql) -> Result<Vec<CampaignFigures>, CloudError> {
    let rows = sql.query(
        "SELECT s.campaign_id, CAST(SUM(s.receipts) AS BIGINT), CAST(SUM(s.points) AS BIGINT),
                CAST(SUM(s.discount) AS BIGINT), COUNT(*),
                (SELECT COUNT(DISTINCT u.customer_id) FROM campaign_uses u WHERE u.campaign_id = s.campaign_id)
           FROM campaign_spend s GROUP BY s.campaign_id ORDER BY s.campaign_id",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(CampaignFigures {
                campaign_id: row.text(0)?,
                receipts: row.int(1)?,
                points: row.int(2)?,
                discount: row.int(3)?,
                tills: row.int(4)?,
                customers: row.int(5)?,
            })
        })
        .collect::<Result<_, DbError>>()
        .map_err(CloudError::from)
}
