//! Gift cards: the rules both ledgers apply to them — what a number is, what a card's state is
//! at a moment, whether a payment can be taken from it. Pure: no I/O, no clock (`now` is an
//! argument); the cloud's and the agent's stores keep the cards, and the MoySklad adapter
//! answers `/giftcard` and takes `giftCards[]` payments through them.
//!
//! All amounts are integer kopecks (minor units). A card is issued with an amount, may expire,
//! may be voided by the office, and loses what each sale paid with it; nothing ever adds to it
//! (MoySklad's protocol has no way to refund onto a card).

use rand::Rng;

/// The digits every number the cloud generates starts with (customer cards are 2799…).
pub const CLOUD_PREFIX: &str = "2999";
/// The digits every number a standalone agent generates starts with (customer cards are 2700…).
pub const AGENT_PREFIX: &str = "2970";
/// The most a card may be issued for: 10,000,000.00 in kopecks.
pub const MAX_AMOUNT: i64 = 1_000_000_000;
/// The shortest and longest number accepted.
const NUMBER_LEN: std::ops::RangeInclusive<usize> = 4..=32;

/// A card's state at a moment, in the order it is decided: a voided card is void even when
/// expired, an expired one is expired even when it still holds money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Issued and untouched.
    Active,
    /// Some of it was spent; the rest can be.
    PartiallyRedeemed,
    /// All of it was spent.
    Redeemed,
    Expired,
    /// Voided by the office: it can never be used again.
    Void,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Active => "active",
            State::PartiallyRedeemed => "partially_redeemed",
            State::Redeemed => "redeemed",
            State::Expired => "expired",
            State::Void => "void",
        }
    }

    /// Whether money can be taken from the card.
    pub fn usable(self) -> bool {
        matches!(self, State::Active | State::PartiallyRedeemed)
    }
}

/// A stored card, as both ledgers keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// A UUID (what MoySklad calls the card's `id`).
    pub id: String,
    pub number: String,
    /// Kopecks issued.
    pub initial: i64,
    /// Kopecks left.
    pub balance: i64,
    /// Unix seconds; the card cannot be used from that moment on.
    pub expires_at: Option<i64>,
    pub voided_at: Option<i64>,
    pub created_at: i64,
}

impl Card {
    pub fn state(&self, now: i64) -> State {
        if self.voided_at.is_some() {
            State::Void
        } else if self.expires_at.is_some_and(|at| at <= now) {
            State::Expired
        } else if self.balance <= 0 {
            State::Redeemed
        } else if self.balance < self.initial {
            State::PartiallyRedeemed
        } else {
            State::Active
        }
    }

    /// Whether `amount` kopecks can be taken from the card now; why not, as an error.
    pub fn check_payment(&self, amount: i64, now: i64) -> Result<(), Refusal> {
        let number = &self.number;
        match self.state(now) {
            State::Void => {
                Err(Refusal::new("gift_card_void", format!("gift card {number} was voided")).with("number", number))
            }
            State::Expired => {
                Err(Refusal::new("gift_card_expired", format!("gift card {number} has expired")).with("number", number))
            }
            State::Redeemed => {
                Err(Refusal::new("gift_card_redeemed", format!("gift card {number} is used up")).with("number", number))
            }
            State::Active | State::PartiallyRedeemed if amount > self.balance => Err(Refusal::new(
                "gift_card_short",
                format!("gift card {number} holds {} kopecks, {amount} were to be paid with it", self.balance),
            )
            .with("number", number)
            .with("balance", self.balance)
            .with("amount", amount)),
            State::Active | State::PartiallyRedeemed => Ok(()),
        }
    }
}

/// Why a gift card payment cannot be taken: a stable code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    /// `gift_card_unknown`, `gift_card_void`, `gift_card_expired`, `gift_card_redeemed`,
    /// `gift_card_short`, `invalid_gift_card`.
    pub code: &'static str,
    pub message: String,
    /// The values `message` names (`number`, `balance`, `amount`, `max`, `input`), for
    /// translations.
    pub values: Vec<(&'static str, String)>,
}

impl Refusal {
    pub fn new(code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal { code, message: message.into(), values: Vec::new() }
    }

    /// Names a value the sentence mentions.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> Refusal {
        self.values.push((name, value.to_string()));
        self
    }

    pub fn unknown(number: &str) -> Refusal {
        Refusal::new("gift_card_unknown", format!("gift card {number} is not known to this program"))
            .with("number", number)
    }
}

/// One card paying part of a sale.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Payment {
    /// The card's number.
    pub number: String,
    /// Kopecks, > 0.
    pub amount: i64,
}

/// A sale's gift card payments, numbers normalised, one entry per card (two lines paying with
/// the same card add up), in number order so the same payments always compare equal. Refuses
/// unreadable numbers and amounts that are not positive.
pub fn merge_payments(payments: &[Payment]) -> Result<Vec<Payment>, Refusal> {
    let mut merged: Vec<Payment> = Vec::with_capacity(payments.len());
    for payment in payments {
        let number = normalize_number(&payment.number).ok_or_else(|| {
            Refusal::new("invalid_gift_card", format!("{:?} is not a gift card number", payment.number))
                .with("input", &payment.number)
        })?;
        if payment.amount <= 0 || payment.amount > MAX_AMOUNT {
            return Err(Refusal::new(
                "invalid_gift_card",
                format!("the payment with gift card {number} must be 1 to {MAX_AMOUNT} kopecks"),
            )
            .with("number", &number)
            .with("max", MAX_AMOUNT));
        }
        match merged.iter_mut().find(|p| p.number == number) {
            Some(existing) => existing.amount = existing.amount.saturating_add(payment.amount),
            None => merged.push(Payment { number, amount: payment.amount }),
        }
    }
    merged.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(merged)
}

/// The canonical form of a gift card number: spaces and dashes dropped, letters upper-cased,
/// then 4 to 32 ASCII letters or digits. `None` for anything else.
pub fn normalize_number(input: &str) -> Option<String> {
    if input.len() > 128 {
        return None;
    }
    let mut number = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            c if c.is_ascii_alphanumeric() => number.push(c.to_ascii_uppercase()),
            '-' => {}
            c if c.is_whitespace() => {}
            _ => return None,
        }
    }
    NUMBER_LEN.contains(&number.len()).then_some(number)
}

/// A new number: `prefix`, ten random digits and a Luhn check digit. Random, not a serial: a
/// gift card number is spendable by whoever knows it, so the next one must not be guessable.
pub fn generate_number(prefix: &str, rng: &mut impl Rng) -> String {
    let serial: u64 = rng.random_range(0..10_000_000_000);
    crate::identity::card_number(prefix, serial, 10)
}

/// What an issue request asks for, checked: `(number if given, amount, expires_at)`.
pub fn check_issue(
    number: Option<&str>,
    amount: i64,
    expires_at: Option<&str>,
    now: i64,
) -> Result<(Option<String>, i64, Option<i64>), Refusal> {
    let number = match number.map(str::trim).filter(|n| !n.is_empty()) {
        Some(text) => Some(normalize_number(text).ok_or_else(|| {
            Refusal::new(
                "invalid_gift_card",
                "number must be 4 to 32 letters or digits (spaces and dashes are dropped)",
            )
        })?),
        None => None,
    };
    if !(1..=MAX_AMOUNT).contains(&amount) {
        return Err(Refusal::new(
            "invalid_amount",
            format!("amount is in kopecks and must be 1 to {MAX_AMOUNT} (10,000,000.00)"),
        )
        .with("max", MAX_AMOUNT));
    }
    let expires_at = match expires_at.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => {
            let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
                .map_err(|_| {
                    Refusal::new("invalid_expires_at", "expires_at must be an RFC 3339 time, e.g. 2027-12-31T23:59:59Z")
                })?
                .unix_timestamp();
            if at <= now {
                return Err(Refusal::new("invalid_expires_at", "expires_at must be in the future"));
            }
            Some(at)
        }
        None => None,
    };
    Ok((number, amount, expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(balance: i64) -> Card {
        Card {
            id: "id".into(),
            number: "1234".into(),
            initial: 1000,
            balance,
            expires_at: Some(100),
            voided_at: None,
            created_at: 0,
        }
    }

    #[test]
    fn states_in_order() {
        assert_eq!(card(1000).state(0), State::Active);
        assert_eq!(card(400).state(0), State::PartiallyRedeemed);
        assert_eq!(card(0).state(0), State::Redeemed);
        assert_eq!(card(400).state(100), State::Expired, "expiry is the moment itself");
        assert_eq!(Card { voided_at: Some(1), ..card(1000) }.state(200), State::Void);
        assert_eq!(Card { expires_at: None, ..card(1000) }.state(i64::MAX), State::Active);
    }

    #[test]
    fn payments_are_checked() {
        assert_eq!(card(400).check_payment(400, 0), Ok(()));
        assert_eq!(card(400).check_payment(401, 0).map_err(|r| r.code), Err("gift_card_short"));
        assert_eq!(card(0).check_payment(1, 0).map_err(|r| r.code), Err("gift_card_redeemed"));
        assert_eq!(card(400).check_payment(1, 100).map_err(|r| r.code), Err("gift_card_expired"));
        let void = Card { voided_at: Some(1), ..card(400) };
        assert_eq!(void.check_payment(1, 0).map_err(|r| r.code), Err("gift_card_void"));
    }

    #[test]
    fn payments_merge_per_card_in_a_stable_order() {
        let pay = |number: &str, amount| Payment { number: number.into(), amount };
        let merged = merge_payments(&[pay("2222", 5), pay("1111-x", 1), pay(" 2222 ", 7)]).expect("merged");
        assert_eq!(merged, vec![pay("1111X", 1), pay("2222", 12)]);
        assert_eq!(merge_payments(&[pay("1111", 0)]).map_err(|r| r.code), Err("invalid_gift_card"));
        assert_eq!(merge_payments(&[pay("1", 5)]).map_err(|r| r.code), Err("invalid_gift_card"));
        assert_eq!(merge_payments(&[pay("12345/6", 5)]).map_err(|r| r.code), Err("invalid_gift_card"));
    }

    #[test]
    fn generated_numbers_carry_the_prefix_and_a_check_digit() {
        let mut rng = rand::rng();
        let number = generate_number(CLOUD_PREFIX, &mut rng);
        assert!(number.starts_with(CLOUD_PREFIX) && number.len() == 15, "{number}");
        assert!(crate::identity::luhn_valid(&number));
        assert_ne!(number, generate_number(CLOUD_PREFIX, &mut rng));
    }

    #[test]
    fn issue_requests_are_checked() {
        assert_eq!(check_issue(None, 100_000, None, 0), Ok((None, 100_000, None)));
        assert_eq!(
            check_issue(Some("12-34 56"), 1, Some("1970-01-01T00:01:40Z"), 0),
            Ok((Some("123456".into()), 1, Some(100)))
        );
        assert_eq!(check_issue(None, 0, None, 0).map_err(|r| r.code), Err("invalid_amount"));
        assert_eq!(check_issue(None, MAX_AMOUNT + 1, None, 0).map_err(|r| r.code), Err("invalid_amount"));
        assert_eq!(check_issue(Some("12"), 1, None, 0).map_err(|r| r.code), Err("invalid_gift_card"));
        assert_eq!(check_issue(None, 1, Some("tomorrow"), 0).map_err(|r| r.code), Err("invalid_expires_at"));
        assert_eq!(
            check_issue(None, 1, Some("1970-01-01T00:00:00Z"), 5).map_err(|r| r.code),
            Err("invalid_expires_at")
        );
    }
}
