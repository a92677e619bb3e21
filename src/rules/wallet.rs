//! A customer's points as lots: each credit is a lot with its own activation and expiry, debits
//! consume the nearest-expiring active lots first, and what cannot be covered becomes debt.
//!
//! Invariant: `balance(now) = Σ remaining of unexpired lots − debt`; a lot whose `expires_at` has
//! passed simply stops counting (no clock is read here: everything takes `now`).

use super::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LotSource {
    Welcome,
    Accrual,
    Adjustment,
    /// Points given back because the goods they paid for were returned.
    ReturnRefund,
    Import,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    /// Storage id; 0 for a lot created by this call and not yet stored.
    pub id: i64,
    pub source: LotSource,
    /// The receipt that earned it (accruals) or whose return gave it back.
    pub receipt_id: Option<String>,
    pub points: i64,
    pub remaining: i64,
    pub activates_at: Timestamp,
    /// `None` = never expires.
    pub expires_at: Option<Timestamp>,
}

/// All of one customer's lots plus their debt (points owed after a return or an overdraft).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wallet {
    pub lots: Vec<Lot>,
    /// Points owed, ≥ 0. Later credits pay it off before they become a lot.
    pub debt: i64,
}

impl Wallet {
    /// Σ remaining of unexpired lots − debt (may be negative).
    pub fn balance(&self, now: Timestamp) -> i64 {
        todo!("{now}")
    }
    /// Σ remaining of unexpired lots not active yet.
    pub fn pending(&self, now: Timestamp) -> i64 {
        todo!("{now}")
    }
    /// What can be spent now: active unexpired lots − debt, never below 0.
    pub fn available(&self, now: Timestamp) -> i64 {
        todo!("{now}")
    }

    /// Adds `points` (> 0): first pays off debt, the rest becomes a new lot (id 0).
    pub fn credit(
        &mut self,
        points: i64,
        source: LotSource,
        receipt_id: Option<String>,
        activates_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) {
        todo!("{points}{source:?}{receipt_id:?}{activates_at}{expires_at:?}")
    }

    /// Spends `points` (> 0) from active, unexpired lots, nearest expiry first (never-expiring
    /// last, then oldest first). Whatever the lots cannot cover is added to `debt` — callers
    /// that must not overdraw check `available` first.
    pub fn debit(&mut self, points: i64, now: Timestamp) {
        todo!("{points}{now}")
    }

    /// Takes back `points` (> 0) earned by `receipt_id`: first from that receipt's own lots
    /// (pending ones first), then like `debit` — which may leave debt.
    pub fn take_back_accrual(&mut self, receipt_id: &str, points: i64, now: Timestamp) {
        todo!("{receipt_id}{points}{now}")
    }
}
