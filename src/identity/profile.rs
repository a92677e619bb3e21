//! Who a customer is, as both ledgers keep it, and the one way a customer is shown.
//!
//! The agent's directory and the cloud's hold the same facts about a person (identifiers,
//! name, tags, consents, the total paid that sets the tier); they differ only in how they
//! know the points (the agent may defer to the cloud's balance). Both records embed a
//! [`CustomerProfile`] and show a customer through [`CustomerProfile::to_wire`], so the
//! customer JSON a till and the back office answer cannot drift apart.

use crate::clock::rfc3339;
use crate::rules::{Money, Program};
use crate::wire::{Consents, Customer, NextTier, PointsBalance, PointsExpiry};

/// A customer's identity and history-independent facts: everything but the points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerProfile {
    pub id: String,
    /// E.164.
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub tags: Vec<String>,
    pub consents: Consents,
    /// Cumulative amount paid, which sets the tier.
    pub paid_total: Money,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CustomerProfile {
    /// The customer as the APIs show them: the tier and the distance to the next one under
    /// `program`, with the points and the next expiry the caller's ledger computed.
    pub fn to_wire(&self, program: &Program, points: PointsBalance, next_expiry: Option<(i64, i64)>) -> Customer {
        Customer {
            id: self.id.clone(),
            phone: self.phone.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            card: self.card.clone(),
            birthday: self.birthday.clone(),
            group: program.settings_for(self.paid_total).tier,
            tags: self.tags.clone(),
            consents: self.consents.clone(),
            points,
            paid_total: self.paid_total.0,
            next_tier: NextTier::of(program, self.paid_total),
            next_expiry: next_expiry.map(PointsExpiry::of),
            referral_code: None,
            referred_by: None,
            referral: None,
            created_at: rfc3339(self.created_at),
            updated_at: rfc3339(self.updated_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Tier;

    fn tier(name: &str, threshold: i64) -> Tier {
        Tier {
            name: name.into(),
            threshold: Money(threshold),
            kind: None,
            accrual_percent: None,
            discount_percent: None,
            redeem_cap_percent: None,
        }
    }

    #[test]
    fn a_customer_is_shown_with_the_tier_their_total_reaches_and_the_way_to_the_next() {
        let program = Program { tiers: vec![tier("Silver", 0), tier("Gold", 1_000_000)], ..Program::default() };
        let profile = CustomerProfile {
            id: "c1".into(),
            phone: "+79991234567".into(),
            name: Some("Анна".into()),
            email: None,
            card: "2000000000015".into(),
            birthday: Some("1990-05-01".into()),
            tags: vec!["vip".into()],
            consents: Consents::default(),
            paid_total: Money(880_000),
            created_at: 0,
            updated_at: 86_400,
        };
        let points = PointsBalance { balance: 171, available: 150, pending: 21 };
        let shown = profile.to_wire(&program, points, Some((40, 86_400 * 30)));
        assert_eq!(shown.group.as_deref(), Some("Silver"));
        let next = shown.next_tier.expect("Gold is above");
        assert_eq!((next.name.as_str(), next.remaining), ("Gold", 120_000));
        assert_eq!((shown.points.balance, shown.points.available, shown.points.pending), (171, 150, 21));
        assert_eq!(shown.next_expiry.map(|e| (e.points, e.at)), Some((40, "1970-01-31T00:00:00Z".to_string())));
        assert_eq!(
            (shown.created_at.as_str(), shown.updated_at.as_str()),
            ("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z")
        );
        assert_eq!(shown.paid_total, 880_000);
    }
}
