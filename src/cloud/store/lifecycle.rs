//! Lifecycle rewards, which the cloud grants and tills only receive (CONTRACTS.md §campaigns,
//! `birthday` and `referral`): referral codes, referrals and their rewards, and the birthday
//! job's grants. Both kinds of reward are point lots of their own (`LotSource::Referral`,
//! `LotSource::Birthday`), active at once, journalled (`referral`, `birthday`), published as
//! balance changes to the feed and to `balance_changed` webhooks, so a till has them with its
//! next pull and spends them offline like any other points.
//!
//! **Referral codes.** A customer gets one when created (`give_code`, from `customers::insert`);
//! one created without (a bulk import) gets it when the back office first shows them
//! ([`Store::referral_views`]) — nobody can give a code no one has seen.
//!
//! **Referrals.** When a friend is created with a code ([`referred`]: a till's
//! `customer_created` event, where an unknown code is logged and ignored, or the sign-up form,
//! which refused an unknown code before storing anything), a `referrals` row records whose
//! code it was: `pending`, or `refused` at once when the code is the friend's own (`self`) or
//! the phone was referred before (`phone_referred_before`, kept in `referral_phones` whoever
//! holds the phone later). A phone the cloud already knows is not a new customer, so it is not
//! referred at all.
//!
//! **Rewards.** A friend's sale whose subtotal reaches the current program's `min_receipt`
//! ([`after_sale`], one call in `apply::sale`) settles a pending referral: the referrer gets
//! `referrer_points` and the friend `friend_points`, or, if the referrer already has
//! `max_per_referrer` rewarded friends, the referral is `refused` (`limit_reached`). The state
//! moves from `pending` by an `UPDATE … WHERE state = 'pending'` whose row count is checked,
//! so nothing pays twice, and the referrer's row is locked before their rewarded friends are
//! counted, so two processes cannot both pay past the limit.
//!
//! In a push chunk the sales' customers are held in memory (`apply`'s `ChunkCache`) and
//! written once, at the chunk's end. Crediting a held wallet behind the cache's back would be
//! overwritten (its debt) or would miss lots a later sale should spend, so a sale only notes
//! the customer in its [`Changes`] — no query per sale — and the push calls [`settle_noted`]
//! once the held rows are written: the current program and one query find which noted
//! customers are friends with a pending referral, and those are rewarded through the ordinary
//! load-and-save path, in the chunk's transaction. A refused sale drops its `Changes`, notes
//! included. Where nothing is held (a MoySklad sale), the sale settles at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::admin::current_program;
use super::apply::{Applied, ChunkCache, Context};
use super::customers::{load_resolved, points_of, CustomerRecord};
use super::paging::{key_columns, KeyPart, Page, PageQuery, Paged};
use super::{invalid_with, publish, Changes, CloudError, FeedKind, Store};
use crate::clock::rfc3339;
use crate::cloud::db::{Sql, Value};
use crate::cloud::ledger::{self, SaleFigures};
use crate::rules::{self, LotSource, Referral, Timestamp, DAY};
use crate::vals;
use crate::wire::{BalanceChangedData, Consents, ReferralStatus, WebhookEventType};

/// A customer's sale that may be a friend's first qualifying one, waiting for the chunk's held
/// rows to be written.
#[derive(Debug, Clone)]
pub(crate) struct Qualified {
    friend_id: String,
    /// `till_id/receipt_id`.
    receipt: String,
    subtotal: i64,
}

/// Where a referred customer joined.
pub(super) struct Origin<'a> {
    /// `till` or `web`.
    pub source: &'static str,
    pub till_id: Option<&'a str>,
}

/// What [`referred`] made of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Referred {
    /// A referral row now says where it stands (`pending`, or `refused`).
    Recorded { referrer_id: String, state: &'static str },
    /// No customer has this code (or it is not one): nothing recorded.
    UnknownCode,
}

/// A referral code no customer holds yet.
fn fresh_code() -> String {
    crate::cloud::token::referral_code()
}

/// Gives `customer_id` a referral code, or answers the one they have. A code another customer
/// drew first (one chance in billions) is drawn again.
pub(super) fn give_code(sql: &mut dyn Sql, customer_id: &str) -> Result<String, CloudError> {
    for _ in 0..16 {
        let code = fresh_code();
        let added = sql.execute(
            "INSERT INTO referral_codes (code, customer_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vals![&code, customer_id],
        )?;
        if added == 1 {
            return Ok(code);
        }
        // Either the code was taken or the customer has one already (another process gave it).
        if let Some(row) =
            sql.query_opt("SELECT code FROM referral_codes WHERE customer_id = $1", vals![customer_id])?
        {
            return Ok(row.text(0)?);
        }
    }
    Err(crate::cloud::db::DbError::Decode("no free referral code was drawn in 16 tries".into()).into())
}

/// The customer whose code `code` (normalised) is.
pub(super) fn code_holder(sql: &mut dyn Sql, code: &str) -> Result<Option<String>, CloudError> {
    Ok(sql
        .query_opt("SELECT customer_id FROM referral_codes WHERE code = $1", vals![code])?
        .map(|row| row.text(0))
        .transpose()?)
}

/// The sign-up form's refusal of a well-formed code no customer has.
pub(super) fn unknown_code(code: &str) -> CloudError {
    invalid_with(
        "unknown_referral_code",
        format!("no customer has the friend's code {code}; check it with your friend, or leave the field empty"),
        vec![("code", code.to_owned()), ("field", "referral_code".to_owned())],
    )
}

/// Records that `friend`, created just now, joined with `code` (as typed or as a till sent it).
pub(super) fn referred(
    sql: &mut dyn Sql,
    friend: &CustomerRecord,
    code: &str,
    origin: Origin<'_>,
    at: Timestamp,
) -> Result<Referred, CloudError> {
    let Ok(code) = crate::identity::normalize_referral_code(code) else { return Ok(Referred::UnknownCode) };
    let Some(referrer_id) = code_holder(sql, &code)? else { return Ok(Referred::UnknownCode) };
    let referrer_phone = sql
        .query_opt("SELECT phone FROM customers WHERE id = $1", vals![&referrer_id])?
        .map(|row| row.text(0))
        .transpose()?;
    let (state, reason) = if referrer_id == friend.id || referrer_phone.as_deref() == Some(friend.phone.as_str()) {
        ("refused", Some("self"))
    } else if sql.execute(
        "INSERT INTO referral_phones (phone, friend_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        vals![&friend.phone, &friend.id],
    )? == 0
    {
        ("refused", Some("phone_referred_before"))
    } else {
        ("pending", None)
    };
    sql.execute(
        "INSERT INTO referrals (friend_id, referrer_id, code, phone, source, till_id, state, reason, created_at, decided_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
        vals![
            &friend.id,
            &referrer_id,
            &code,
            &friend.phone,
            origin.source,
            origin.till_id,
            state,
            reason,
            at,
            reason.map(|_| at)
        ],
    )?;
    Ok(Referred::Recorded { referrer_id, state })
}

/// Whether the chunk holds its sales' rows and customers for one write at its end (a push),
/// rather than writing each as it goes (a MoySklad sale).
fn holds_rows(cache: &ChunkCache) -> bool {
    cache.mark().is_some()
}

/// Called by `apply::sale` once the customer's wallet is saved. The referral rule is the
/// current program's (the reward is the cloud's, whatever version priced the sale), which a
/// push reads once per chunk: the sale is only noted for [`settle_noted`], at no cost per
/// sale. Where nothing is held, it is settled now.
pub(super) fn after_sale(
    sql: &mut dyn Sql,
    cx: &Context<'_>,
    customer_id: &str,
    figures: &SaleFigures,
    changes: &mut Changes,
) -> Result<(), Applied> {
    let note = Qualified {
        friend_id: customer_id.to_owned(),
        receipt: cx.receipt_key(&figures.receipt_id),
        subtotal: figures.subtotal,
    };
    if holds_rows(cx.cache) {
        changes.qualified.push(note);
        return Ok(());
    }
    settle(sql, vec![note], changes, cx.at).map_err(Applied::from)
}

/// Settles what the chunk's sales noted. The push calls it after writing the held rows and
/// before `publish`.
pub(super) fn settle_noted(sql: &mut dyn Sql, changes: &mut Changes, at: Timestamp) -> Result<(), CloudError> {
    let noted = std::mem::take(&mut changes.qualified);
    settle(sql, noted, changes, at)
}

fn settle(sql: &mut dyn Sql, noted: Vec<Qualified>, changes: &mut Changes, at: Timestamp) -> Result<(), CloudError> {
    if noted.is_empty() {
        return Ok(());
    }
    let program = current_program(sql)?;
    let Some(rule) = program.referral else { return Ok(()) };
    // A friend's first qualifying sale is the one that counts: keep each friend's first note
    // whose subtotal reaches `min_receipt`.
    let mut seen = HashSet::new();
    let firsts: Vec<Qualified> = noted
        .into_iter()
        .filter(|note| note.subtotal >= rule.min_receipt.0 && seen.insert(note.friend_id.clone()))
        .collect();
    let mut pending = HashSet::new();
    for part in firsts.chunks(500) {
        let marks: Vec<String> = (1..=part.len()).map(|i| format!("${i}")).collect();
        let params: Vec<Value> = part.iter().map(|note| Value::from(note.friend_id.as_str())).collect();
        let rows = sql.query(
            &format!("SELECT friend_id FROM referrals WHERE state = 'pending' AND friend_id IN ({})", marks.join(", ")),
            &params,
        )?;
        for row in rows {
            pending.insert(row.text(0)?);
        }
    }
    for note in firsts.iter().filter(|note| pending.contains(&note.friend_id)) {
        reward(sql, note, &rule, program.expiry_days, changes, at)?;
    }
    Ok(())
}

/// Rewards (or refuses past the limit) the pending referral of `note`'s friend. The lots
/// follow the program's `expiry_days`, like an adjustment's.
fn reward(
    sql: &mut dyn Sql,
    note: &Qualified,
    rule: &Referral,
    expiry_days: i64,
    changes: &mut Changes,
    at: Timestamp,
) -> Result<(), CloudError> {
    let Some(row) = sql.query_opt(
        "SELECT referrer_id FROM referrals WHERE friend_id = $1 AND state = 'pending'",
        vals![&note.friend_id],
    )?
    else {
        return Ok(());
    };
    // The referrer's row first: their rewarded friends are counted under its lock.
    let Some(referrer) = load_resolved(sql, &row.text(0)?, true)? else { return Ok(()) };
    if let Some(max) = rule.max_per_referrer {
        let rewarded = sql
            .query_one(
                "SELECT COUNT(*) FROM referrals WHERE referrer_id = $1 AND state = 'rewarded'",
                vals![&referrer.profile.id],
            )?
            .int(0)?;
        if rewarded >= max {
            sql.execute(
                "UPDATE referrals SET state = 'refused', reason = 'limit_reached', receipt = $1, decided_at = $2
                 WHERE friend_id = $3 AND state = 'pending'",
                vals![&note.receipt, at, &note.friend_id],
            )?;
            return Ok(());
        }
    }
    let (referrer_points, friend_points) = (rule.referrer_points.max(0), rule.friend_points.max(0));
    let moved = sql.execute(
        "UPDATE referrals SET state = 'rewarded', receipt = $1, referrer_points = $2, friend_points = $3, decided_at = $4
         WHERE friend_id = $5 AND state = 'pending'",
        vals![&note.receipt, referrer_points, friend_points, at, &note.friend_id],
    )?;
    if moved != 1 {
        return Ok(());
    }
    let reference = format!("referral/{}", note.friend_id);
    let expires = (expiry_days > 0).then(|| at.saturating_add(expiry_days.saturating_mul(DAY)));
    let credit = Credit { source: LotSource::Referral, kind: "referral", reference: &reference, expires_at: expires };
    credit.apply(sql, &referrer, referrer_points, changes, at)?;
    if let Some(friend) = load_resolved(sql, &note.friend_id, true)? {
        credit.apply(sql, &friend, friend_points, changes, at)?;
    }
    Ok(())
}

/// Points the cloud gives on its own (not a till's event): a lot, a journal entry, a balance
/// row for the feed and a `balance_changed` webhook.
struct Credit<'a> {
    source: LotSource,
    /// The journal's kind and the webhook's reason.
    kind: &'static str,
    reference: &'a str,
    expires_at: Option<Timestamp>,
}

impl Credit<'_> {
    fn apply(
        &self,
        sql: &mut dyn Sql,
        customer: &CustomerRecord,
        points: i64,
        changes: &mut Changes,
        at: Timestamp,
    ) -> Result<(), CloudError> {
        if points <= 0 {
            return Ok(());
        }
        let id = &customer.profile.id;
        let mut wallet = customer.wallet.clone();
        // A debt is paid off first, as with any credit; the rest is the lot.
        wallet.credit(points, self.source, None, at, self.expires_at);
        ledger::save_wallet(sql, id, &customer.wallet, &wallet, at)?;
        ledger::journal(sql, id, self.kind, points, None, self.reference, at)?;
        changes.add(FeedKind::Balance, id);
        changes.webhook(
            WebhookEventType::BalanceChanged,
            BalanceChangedData {
                customer_id: id.clone(),
                change: points,
                reason: self.kind.to_owned(),
                till_id: None,
                reference: Some(self.reference.to_owned()),
                points: points_of(&wallet, at),
            },
        );
        Ok(())
    }
}

/// Customers the birthday job looks at per transaction.
const BIRTHDAY_BATCH: i64 = 200;

/// What one run of the birthday job granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct BirthdayRun {
    /// Customers granted now.
    pub granted: i64,
    /// Points granted, in all.
    pub points: i64,
}

/// One batch of the birthday job: customers after `after` (by id) whose birthday's window holds
/// `now` and who have no grant for that birthday's year. Answers what it granted, the last id
/// it looked at, and whether there may be more.
fn grant_birthday_batch(
    sql: &mut dyn Sql,
    now: Timestamp,
    after: Option<&str>,
) -> Result<(BirthdayRun, Option<String>, bool), CloudError> {
    let program = current_program(sql)?;
    let done = (BirthdayRun::default(), None, false);
    let Some(rule) = program.birthday else { return Ok(done) };
    if rule.points <= 0 {
        return Ok(done);
    }
    let mut by_year: BTreeMap<i16, Vec<String>> = BTreeMap::new();
    for (day, year) in rules::month_days_due(&rule, &program.time_zone, now) {
        by_year.entry(year).or_default().push(day);
    }
    if by_year.is_empty() {
        return Ok(done);
    }
    // The last five characters of `YYYY-MM-DD` or `MM-DD` are the day, as the index
    // `customers_birthday_day` has them; per birthday year, the customers without its grant.
    let mut params: Vec<Value> = Vec::new();
    let mark = |params: &mut Vec<Value>, value: Value| {
        params.push(value);
        format!("${}", params.len())
    };
    let mut alternatives = Vec::new();
    for (year, days) in &by_year {
        let marks: Vec<String> = days.iter().map(|day| mark(&mut params, Value::from(day.as_str()))).collect();
        let year_mark = mark(&mut params, Value::Int(i64::from(*year)));
        alternatives.push(format!(
            "(substr(birthday, length(birthday) - 4, 5) IN ({}) AND NOT EXISTS
              (SELECT 1 FROM birthday_grants g WHERE g.customer_id = customers.id AND g.year = {year_mark}))",
            marks.join(", ")
        ));
    }
    let mut query = format!("SELECT id, birthday, consents FROM customers WHERE ({})", alternatives.join(" OR "));
    if let Some(after) = after {
        let after_mark = mark(&mut params, Value::from(after));
        query.push_str(&format!(" AND id > {after_mark}"));
    }
    let limit_mark = mark(&mut params, Value::Int(BIRTHDAY_BATCH));
    query.push_str(&format!(" ORDER BY id LIMIT {limit_mark}"));
    let rows = sql.query(&query, &params)?;
    let more = rows.len() as i64 == BIRTHDAY_BATCH;
    let last = rows.last().map(|row| row.text(0)).transpose()?;
    let mut run = BirthdayRun::default();
    let mut changes = Changes::heard_by_subscribers(sql)?;
    for row in &rows {
        let id = row.text(0)?;
        let Some(due) = row
            .opt_text(1)?
            .as_deref()
            .and_then(rules::parse_birthday)
            .and_then(|birth| rules::birthday_due(birth, &rule, &program.time_zone, now))
        else {
            continue;
        };
        // A customer who withdrew the consent to the processing of their personal data is not
        // congratulated on what it told us; one who never gave or withdrew it (a till's
        // enrolment from before the consent was asked) is.
        let consents: Consents = serde_json::from_str(&row.text(2)?).unwrap_or_default();
        if consents.personal_data.as_ref().is_some_and(|consent| !consent.granted) {
            continue;
        }
        let expires_at = rules::birthday_expiry(&rule, &due, now);
        let year = i64::from(due.year);
        // The grant's key first: a second process (or a rerun) inserts nothing and gives nothing.
        let recorded = sql.execute(
            "INSERT INTO birthday_grants (customer_id, year, points, granted_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            vals![&id, year, rule.points, now, expires_at],
        )?;
        if recorded != 1 {
            continue;
        }
        let Some(customer) = load_resolved(sql, &id, true)? else { continue };
        let reference = format!("birthday/{year}");
        let credit = Credit {
            source: LotSource::Birthday,
            kind: "birthday",
            reference: &reference,
            expires_at: Some(expires_at),
        };
        credit.apply(sql, &customer, rule.points, &mut changes, now)?;
        run.granted += 1;
        run.points += rule.points;
    }
    publish(sql, &changes, now)?;
    Ok((run, last, more))
}

/// A customer's referral code and, when they joined with someone's, that referral.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferralView {
    pub code: Option<String>,
    pub referred_by: Option<String>,
    pub status: Option<ReferralStatus>,
}

/// One friend a customer referred, as the back office lists them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ReferredFriend {
    pub friend_id: String,
    /// `pending`, `rewarded` or `refused`.
    pub state: String,
    /// For `refused`: `self`, `phone_referred_before` or `limit_reached`.
    pub reason: Option<String>,
    /// Where the friend gave the code: `till` or `web`.
    pub source: String,
    pub till_id: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub decided_at: Option<String>,
    /// The friend's qualifying receipt, `till_id/receipt_id`.
    pub receipt: Option<String>,
    /// What the reward gave the referrer and the friend (0 until rewarded).
    pub referrer_points: i64,
    pub friend_points: i64,
}

/// A page of a customer's referred friends.
#[derive(Debug, Clone)]
pub struct ReferredFriends {
    pub page: Paged<ReferredFriend>,
    /// Of all their friends, the rewarded ones (what `max_per_referrer` counts).
    pub rewarded: i64,
    /// The current program's limit, if any.
    pub max_per_referrer: Option<i64>,
}

fn in_marks(count: usize) -> String {
    (1..=count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Referral codes and referrals of `ids`, read (no code is made here).
fn read_views(sql: &mut dyn Sql, ids: &[String]) -> Result<HashMap<String, ReferralView>, CloudError> {
    let mut views: HashMap<String, ReferralView> = HashMap::new();
    for part in ids.chunks(500) {
        let params: Vec<Value> = part.iter().map(|id| Value::from(id.as_str())).collect();
        let marks = in_marks(part.len());
        for row in
            sql.query(&format!("SELECT customer_id, code FROM referral_codes WHERE customer_id IN ({marks})"), &params)?
        {
            views.entry(row.text(0)?).or_default().code = Some(row.text(1)?);
        }
        let rows = sql.query(
            &format!(
                "SELECT friend_id, referrer_id, state, reason, created_at, decided_at, receipt
                 FROM referrals WHERE friend_id IN ({marks})"
            ),
            &params,
        )?;
        for row in rows {
            let view = views.entry(row.text(0)?).or_default();
            view.referred_by = Some(row.text(1)?);
            view.status = Some(ReferralStatus {
                state: row.text(2)?,
                reason: row.opt_text(3)?,
                created_at: rfc3339(row.int(4)?),
                decided_at: row.opt_int(5)?.map(rfc3339),
                receipt: row.opt_text(6)?,
            });
        }
    }
    Ok(views)
}

impl Store {
    /// Runs the birthday job now, at `now`: grants every customer whose birthday's window holds
    /// it and who has no grant for that birthday's year, a batch per transaction. Safe to run
    /// any number of times and in any number of processes at once.
    pub async fn grant_birthdays(&self, now: Timestamp) -> Result<BirthdayRun, CloudError> {
        let mut total = BirthdayRun::default();
        let mut after: Option<String> = None;
        loop {
            let from = after.clone();
            let (run, last, more) = self.write(move |sql| grant_birthday_batch(sql, now, from.as_deref())).await?;
            total.granted += run.granted;
            total.points += run.points;
            if !more || last.is_none() {
                return Ok(total);
            }
            after = last;
        }
    }

    /// The referral code and referral of each customer in `ids` (merged ids already resolved).
    /// A customer without a code (imported in bulk) gets one now: the back office is where a
    /// code is first seen.
    pub async fn referral_views(&self, ids: Vec<String>) -> Result<HashMap<String, ReferralView>, CloudError> {
        let wanted = ids.clone();
        let mut views = self.read(move |sql| read_views(sql, &wanted)).await?;
        let missing: Vec<String> =
            ids.into_iter().filter(|id| views.get(id).is_none_or(|view| view.code.is_none())).collect();
        if missing.is_empty() {
            return Ok(views);
        }
        let made = self
            .write(move |sql| {
                let mut made = Vec::with_capacity(missing.len());
                for id in &missing {
                    // Customers only: an id that names nobody gets no code.
                    if sql.query_opt("SELECT 1 FROM customers WHERE id = $1", vals![id])?.is_some() {
                        made.push((id.clone(), give_code(sql, id)?));
                    }
                }
                Ok(made)
            })
            .await?;
        for (id, code) in made {
            views.entry(id).or_default().code = Some(code);
        }
        Ok(views)
    }

    /// A page of the friends `referrer_id` referred, newest first, with how many were rewarded.
    pub async fn referred_friends(&self, referrer_id: String, page: Page) -> Result<ReferredFriends, CloudError> {
        self.read(move |sql| {
            let after = page.key("referrals", &[KeyPart::Int, KeyPart::Text])?;
            let mut query = PageQuery::new();
            query.filter("referrer_id", referrer_id.as_str()).after(&["created_at", "friend_id"], after, true);
            let clauses = query.clauses("created_at DESC, friend_id DESC", page.fetch());
            let rows = sql.query(
                &format!(
                    "SELECT created_at, friend_id, state, reason, source, till_id, decided_at, receipt,
                            referrer_points, friend_points FROM referrals{clauses}"
                ),
                &query.params,
            )?;
            let page = page.finish("referrals", rows, |row| key_columns(row, &[0, 1])).try_map(|row| {
                Ok::<_, CloudError>(ReferredFriend {
                    created_at: rfc3339(row.int(0)?),
                    friend_id: row.text(1)?,
                    state: row.text(2)?,
                    reason: row.opt_text(3)?,
                    source: row.text(4)?,
                    till_id: row.opt_text(5)?,
                    decided_at: row.opt_int(6)?.map(rfc3339),
                    receipt: row.opt_text(7)?,
                    referrer_points: row.int(8)?,
                    friend_points: row.int(9)?,
                })
            })?;
            let rewarded = sql
                .query_one(
                    "SELECT COUNT(*) FROM referrals WHERE referrer_id = $1 AND state = 'rewarded'",
                    vals![&referrer_id],
                )?
                .int(0)?;
            let max_per_referrer = current_program(sql)?.referral.and_then(|rule| rule.max_per_referrer);
            Ok(ReferredFriends { page, rewarded, max_per_referrer })
        })
        .await
    }
}
