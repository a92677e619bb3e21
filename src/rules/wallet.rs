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
    /// The cloud's birthday grant (CONTRACTS.md §campaigns).
    Birthday,
    /// A referral reward, to the referrer or to the friend they brought.
    Referral,
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

impl Lot {
    /// A lot whose `expires_at` has come no longer counts and is never spent.
    fn is_live(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|expires_at| expires_at > now)
    }

    fn is_active(&self, now: Timestamp) -> bool {
        self.activates_at <= now
    }

    /// Debit order: nearest expiry first, never-expiring last, then the oldest activation; the
    /// sort is stable, so equal keys keep their position in the wallet.
    fn spend_order(&self) -> (bool, Option<Timestamp>, Timestamp) {
        (self.expires_at.is_none(), self.expires_at, self.activates_at)
    }

    /// Takes up to `wanted` points from this lot and returns how many it gave.
    fn take(&mut self, wanted: i64) -> i64 {
        let taken = wanted.min(self.remaining).max(0);
        self.remaining -= taken;
        taken
    }
}

// Sums saturate rather than overflow: these methods answer plain numbers, and a wallet whose
// lots add up past i64 is corrupt data that must still not panic the till.
impl Wallet {
    /// Σ remaining of unexpired lots − debt (may be negative).
    pub fn balance(&self, now: Timestamp) -> i64 {
        self.live_sum(now, |_| true).saturating_sub(self.debt)
    }

    /// Σ remaining of unexpired lots not active yet.
    pub fn pending(&self, now: Timestamp) -> i64 {
        self.live_sum(now, |lot| !lot.is_active(now))
    }

    /// What can be spent now: active unexpired lots − debt, never below 0.
    pub fn available(&self, now: Timestamp) -> i64 {
        self.live_sum(now, |lot| lot.is_active(now)).saturating_sub(self.debt).max(0)
    }

    /// The next points to expire: the earliest expiry after `now` among the lots with points
    /// left, and how many points expire then (every lot of that moment). `None` when nothing
    /// will expire. Debt is not taken from it: the points are there until they are spent.
    pub fn next_expiry(&self, now: Timestamp) -> Option<(i64, Timestamp)> {
        let at = self
            .lots
            .iter()
            .filter(|lot| lot.remaining > 0 && lot.is_live(now))
            .filter_map(|lot| lot.expires_at)
            .min()?;
        let points = self
            .lots
            .iter()
            .filter(|lot| lot.remaining > 0 && lot.is_live(now) && lot.expires_at == Some(at))
            .fold(0i64, |sum, lot| sum.saturating_add(lot.remaining));
        Some((points, at))
    }

    /// The next moment after `now` at which the balance, pending or available points change
    /// with time alone (a lot with points left becomes spendable or expires); `None` when no
    /// such moment is ahead. What shows these figures (a wallet card) refreshes then.
    pub fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.lots
            .iter()
            .filter(|lot| lot.remaining > 0 && lot.is_live(now))
            .flat_map(|lot| [Some(lot.activates_at), lot.expires_at])
            .flatten()
            .filter(|at| *at > now)
            .min()
    }

    fn live_sum(&self, now: Timestamp, pick: impl Fn(&Lot) -> bool) -> i64 {
        self.lots
            .iter()
            .filter(|lot| lot.is_live(now) && pick(lot))
            .fold(0i64, |sum, lot| sum.saturating_add(lot.remaining))
    }

    /// Adds `points` (> 0): first pays off debt, the rest becomes a new lot (id 0).
    ///
    /// The new lot's `points` is what is left after the debt, so the lot never claims more than
    /// it added. Zero or negative `points` change nothing.
    pub fn credit(
        &mut self,
        points: i64,
        source: LotSource,
        receipt_id: Option<String>,
        activates_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) {
        if points <= 0 {
            return;
        }
        let repaid = points.min(self.debt.max(0));
        self.debt -= repaid;
        let rest = points - repaid;
        if rest > 0 {
            self.lots.push(Lot { id: 0, source, receipt_id, points: rest, remaining: rest, activates_at, expires_at });
        }
    }

    /// Spends `points` (> 0) from active, unexpired lots, nearest expiry first (never-expiring
    /// last, then oldest first). Whatever the lots cannot cover is added to `debt` — callers
    /// that must not overdraw check `available` first.
    pub fn debit(&mut self, points: i64, now: Timestamp) {
        if points <= 0 {
            return;
        }
        let mut spendable: Vec<&mut Lot> =
            self.lots.iter_mut().filter(|lot| lot.is_live(now) && lot.is_active(now) && lot.remaining > 0).collect();
        spendable.sort_by_key(|lot| lot.spend_order());
        let mut left = points;
        for lot in spendable {
            if left == 0 {
                break;
            }
            left -= lot.take(left);
        }
        self.debt = self.debt.saturating_add(left);
    }

    /// Takes back `points` (> 0) earned by `receipt_id`: first from that receipt's own lots
    /// (pending ones first), then like `debit` — which may leave debt.
    ///
    /// "Own lots" are the receipt's accrual lots only: a `ReturnRefund` lot carries the same
    /// receipt id but holds points the customer spent, not points the receipt earned.
    pub fn take_back_accrual(&mut self, receipt_id: &str, points: i64, now: Timestamp) {
        if points <= 0 {
            return;
        }
        let mut own: Vec<&mut Lot> = self
            .lots
            .iter_mut()
            .filter(|lot| {
                lot.source == LotSource::Accrual
                    && lot.receipt_id.as_deref() == Some(receipt_id)
                    && lot.is_live(now)
                    && lot.remaining > 0
            })
            .collect();
        // Pending points are voided before spendable ones (CONTRACTS.md §returns).
        own.sort_by_key(|lot| (lot.is_active(now), lot.spend_order()));
        let mut left = points;
        for lot in own {
            if left == 0 {
                break;
            }
            left -= lot.take(left);
        }
        self.debit(left, now);
    }
}

impl Wallet {
    /// Folds active, unexpired lots that expire at the same moment (or never) into the first of
    /// them, so a customer's open lots stay few however many receipts earned them — every sale
    /// loads them. Balance, available and pending are unchanged, and so is every later debit
    /// (those lots are spent in one order anyway). Only pending lots keep their receipt: a
    /// return takes back a receipt's own pending points first (CONTRACTS.md §returns); once active, points
    /// are taken back like a debit, which is what a folded lot gets. A stored lot is preferred
    /// as the survivor, so folding rewrites remainders rather than adding rows; folded-away
    /// lots are left with nothing remaining.
    pub fn consolidate(&mut self, now: Timestamp) {
        let mut survivors: Vec<(Option<Timestamp>, usize)> = Vec::new();
        let foldable = |lot: &Lot| lot.is_live(now) && lot.is_active(now) && lot.remaining > 0;
        // Stored lots first, so they survive.
        let mut order: Vec<usize> = (0..self.lots.len()).filter(|&i| foldable(&self.lots[i])).collect();
        order.sort_by_key(|&i| (self.lots[i].id == 0, i));
        for i in order {
            let expires_at = self.lots[i].expires_at;
            match survivors.iter().find(|(at, _)| *at == expires_at) {
                Some(&(_, into)) => {
                    let moved = std::mem::take(&mut self.lots[i].remaining);
                    let survivor = &mut self.lots[into];
                    survivor.remaining = survivor.remaining.saturating_add(moved);
                    survivor.points = survivor.points.saturating_add(moved);
                }
                None => survivors.push((expires_at, i)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::DAY;

    fn lot(
        source: LotSource,
        receipt: Option<&str>,
        points: i64,
        activates_at: Timestamp,
        expires_at: Option<Timestamp>,
    ) -> Lot {
        Lot {
            id: 0,
            source,
            receipt_id: receipt.map(str::to_string),
            points,
            remaining: points,
            activates_at,
            expires_at,
        }
    }

    fn remaining(wallet: &Wallet) -> Vec<i64> {
        wallet.lots.iter().map(|lot| lot.remaining).collect()
    }

    #[test]
    fn the_next_change_is_the_nearest_activation_or_expiry_of_points_left() {
        let now = 10 * DAY;
        let mut spent = lot(LotSource::Accrual, Some("r0"), 40, 0, Some(now + DAY));
        spent.remaining = 0;
        let mut wallet = Wallet {
            lots: vec![
                lot(LotSource::Welcome, None, 100, 0, None),
                spent,
                lot(LotSource::Accrual, Some("r1"), 30, 0, Some(now + 5 * DAY)),
                lot(LotSource::Accrual, Some("r2"), 12, now + 2 * DAY, Some(now + 9 * DAY)),
            ],
            debt: 0,
        };
        // The spent lot's expiry changes nothing; r2 becoming spendable comes first.
        assert_eq!(wallet.next_change(now), Some(now + 2 * DAY));
        assert_eq!(wallet.next_change(now + 2 * DAY), Some(now + 5 * DAY));
        assert_eq!(wallet.next_change(now + 5 * DAY), Some(now + 9 * DAY));
        assert_eq!(wallet.next_change(now + 9 * DAY), None);
        wallet.lots.truncate(1);
        assert_eq!(wallet.next_change(now), None, "points that never expire change nothing");
    }

    #[test]
    fn the_next_expiry_sums_the_earliest_moment_with_points_left() {
        let now = 10 * DAY;
        let mut spent = lot(LotSource::Accrual, Some("r0"), 40, 0, Some(now + DAY));
        spent.remaining = 0;
        let wallet = Wallet {
            lots: vec![
                lot(LotSource::Welcome, None, 100, 0, None),
                spent,
                lot(LotSource::Accrual, Some("gone"), 7, 0, Some(now)),
                lot(LotSource::Accrual, Some("r1"), 30, 0, Some(now + 5 * DAY)),
                lot(LotSource::Accrual, Some("r2"), 12, now + DAY, Some(now + 5 * DAY)),
                lot(LotSource::Accrual, Some("r3"), 9, 0, Some(now + 9 * DAY)),
            ],
            debt: 0,
        };
        // The spent lot and the one expiring right now do not count; pending ones do.
        assert_eq!(wallet.next_expiry(now), Some((42, now + 5 * DAY)));
        assert_eq!(wallet.next_expiry(now + 5 * DAY), Some((9, now + 9 * DAY)));
        assert_eq!(wallet.next_expiry(now + 9 * DAY), None);
    }

    #[test]
    fn pending_points_count_in_the_balance_but_cannot_be_spent() {
        let now = 10 * DAY;
        let wallet = Wallet {
            lots: vec![
                lot(LotSource::Welcome, None, 100, 0, None),
                lot(LotSource::Accrual, Some("r1"), 30, now + DAY, None),
            ],
            debt: 0,
        };
        assert_eq!((wallet.balance(now), wallet.pending(now), wallet.available(now)), (130, 30, 100));
        // Activation is inclusive: at `activates_at` the lot is spendable.
        assert_eq!((wallet.pending(now + DAY), wallet.available(now + DAY)), (0, 130));
    }

    #[test]
    fn expired_lots_stop_counting_at_their_expiry() {
        let wallet = Wallet {
            lots: vec![lot(LotSource::Accrual, Some("r1"), 50, 0, Some(100)), lot(LotSource::Import, None, 7, 0, None)],
            debt: 0,
        };
        assert_eq!((wallet.balance(99), wallet.available(99)), (57, 57));
        assert_eq!((wallet.balance(100), wallet.available(100)), (7, 7));
    }

    #[test]
    fn debit_spends_the_nearest_expiry_first_and_never_expired_or_pending_lots() {
        let mut wallet = Wallet {
            lots: vec![
                lot(LotSource::Welcome, None, 100, 0, None),
                lot(LotSource::Accrual, Some("r1"), 40, 0, Some(500)),
                lot(LotSource::Accrual, Some("r2"), 40, 0, Some(300)),
                lot(LotSource::Accrual, Some("r0"), 40, 0, Some(200)),
                lot(LotSource::Accrual, Some("r3"), 40, 250, Some(900)),
            ],
            debt: 0,
        };
        wallet.debit(60, 220);
        // r0 expired at 200 and r3 activates at 250: both untouched; r2 (300) goes before r1 (500).
        assert_eq!(remaining(&wallet), vec![100, 20, 0, 40, 40]);
        wallet.debit(50, 220);
        assert_eq!(remaining(&wallet), vec![70, 0, 0, 40, 40]);
        assert_eq!(wallet.debt, 0);
    }

    #[test]
    fn equal_expiry_spends_the_oldest_activation_then_position() {
        let mut wallet = Wallet {
            lots: vec![
                lot(LotSource::Accrual, Some("b"), 10, 20, None),
                lot(LotSource::Accrual, Some("a"), 10, 10, None),
                lot(LotSource::Accrual, Some("c"), 10, 20, None),
            ],
            debt: 0,
        };
        wallet.debit(15, 100);
        assert_eq!(remaining(&wallet), vec![5, 0, 10]);
    }

    #[test]
    fn an_overdraft_becomes_debt_that_credits_pay_first() {
        let mut wallet = Wallet { lots: vec![lot(LotSource::Welcome, None, 10, 0, None)], debt: 0 };
        wallet.debit(25, 0);
        assert_eq!((wallet.balance(0), wallet.available(0), wallet.debt), (-15, 0, 15));
        wallet.credit(10, LotSource::Accrual, Some("r9".into()), 0, None);
        assert_eq!((wallet.balance(0), wallet.debt, wallet.lots.len()), (-5, 5, 1));
        wallet.credit(8, LotSource::Accrual, Some("r10".into()), 0, None);
        assert_eq!((wallet.balance(0), wallet.debt), (3, 0));
        let new_lot = wallet.lots.last().expect("a lot for what the debt did not take");
        assert_eq!((new_lot.points, new_lot.remaining, new_lot.id), (3, 3, 0));
        assert_eq!(new_lot.receipt_id.as_deref(), Some("r10"));
    }

    #[test]
    fn non_positive_amounts_change_nothing() {
        let mut wallet = Wallet { lots: vec![lot(LotSource::Welcome, None, 10, 0, None)], debt: 2 };
        let before = wallet.clone();
        wallet.credit(0, LotSource::Adjustment, None, 0, None);
        wallet.credit(-5, LotSource::Adjustment, None, 0, None);
        wallet.debit(-5, 0);
        wallet.take_back_accrual("r1", 0, 0);
        assert_eq!(wallet, before);
    }

    #[test]
    fn take_back_voids_the_receipts_pending_points_first() {
        let now = 5 * DAY;
        let mut wallet = Wallet {
            lots: vec![
                lot(LotSource::Welcome, None, 100, 0, None),
                lot(LotSource::Accrual, Some("r1"), 20, 0, None),
                lot(LotSource::Accrual, Some("r1"), 30, now + DAY, None),
                lot(LotSource::ReturnRefund, Some("r1"), 50, 0, None),
                lot(LotSource::Accrual, Some("r2"), 40, now + DAY, None),
            ],
            debt: 0,
        };
        wallet.take_back_accrual("r1", 40, now);
        // Pending r1 first, then active r1; the refund lot and r2 are not r1's accrual.
        assert_eq!(remaining(&wallet), vec![100, 10, 0, 50, 40]);
        wallet.take_back_accrual("r1", 25, now);
        // 10 from r1, the other 15 like a debit: the refund lot and the welcome lot never expire,
        // so the older position (welcome) pays; pending r2 is not touched.
        assert_eq!(remaining(&wallet), vec![85, 0, 0, 50, 40]);
        assert_eq!(wallet.debt, 0);
    }

    #[test]
    fn take_back_after_spending_leaves_debt() {
        let mut wallet = Wallet { lots: vec![lot(LotSource::Accrual, Some("r1"), 10, 0, None)], debt: 0 };
        wallet.debit(8, 0);
        wallet.take_back_accrual("r1", 10, 0);
        assert_eq!((wallet.balance(0), wallet.debt), (-8, 8));
    }

    #[test]
    fn take_back_skips_expired_own_lots() {
        let mut wallet = Wallet {
            lots: vec![lot(LotSource::Accrual, Some("r1"), 10, 0, Some(50)), lot(LotSource::Import, None, 10, 0, None)],
            debt: 0,
        };
        wallet.take_back_accrual("r1", 4, 60);
        assert_eq!(remaining(&wallet), vec![10, 6]);
        assert_eq!(wallet.balance(60), 6);
    }

    #[test]
    fn corrupt_sums_saturate_instead_of_panicking() {
        let wallet = Wallet {
            lots: vec![
                lot(LotSource::Import, None, i64::MAX, 0, None),
                lot(LotSource::Import, None, i64::MAX, 0, None),
            ],
            debt: 0,
        };
        assert_eq!(wallet.balance(0), i64::MAX);
        let indebted = Wallet { lots: Vec::new(), debt: i64::MAX };
        assert_eq!((indebted.balance(0), indebted.available(0)), (-i64::MAX, 0));
    }

    #[test]
    fn consolidating_keeps_every_figure_and_folds_active_lots_of_one_expiry() {
        let now = 100 * DAY;
        let stored = |id, points, activates_at, expires_at| Lot {
            id,
            ..lot(LotSource::Accrual, Some("r"), points, activates_at, expires_at)
        };
        let mut wallet = Wallet {
            lots: vec![
                lot(LotSource::Accrual, Some("new"), 5, now, None),
                stored(1, 10, 0, None),
                stored(2, 20, DAY, None),
                stored(3, 30, 0, Some(now + DAY)),
                stored(4, 40, DAY, Some(now + DAY)),
                stored(5, 50, now + DAY, None),
                stored(6, 60, 0, Some(now - 1)),
            ],
            debt: 7,
        };
        let before = wallet.clone();
        wallet.consolidate(now);
        for at in [now, now + DAY / 2, now + DAY, now + 2 * DAY] {
            assert_eq!(wallet.balance(at), before.balance(at));
            assert_eq!(wallet.available(at), before.available(at));
            assert_eq!(wallet.pending(at), before.pending(at));
        }
        // Never-expiring active lots went into the first stored one, the two expiring tomorrow
        // into one; the pending and the expired lots are untouched.
        assert_eq!(remaining(&wallet), vec![0, 35, 0, 70, 0, 50, 60]);
        let mut spent = wallet.clone();
        let mut spent_before = before.clone();
        spent.debit(90, now);
        spent_before.debit(90, now);
        for at in [now, now + DAY, now + 2 * DAY] {
            assert_eq!(spent.balance(at), spent_before.balance(at));
            assert_eq!(spent.available(at), spent_before.available(at));
        }
    }
}
