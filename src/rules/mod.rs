//! The loyalty rules engine: pure functions that price a receipt with points, plan a return,
//! check a promo code and keep a customer's point lots.
//!
//! This module does no I/O, reads no clock and touches no database: every input — the program,
//! the customer's lots, the current time — is an argument. The agent prices receipts with it and
//! the cloud re-checks the same arithmetic with it, so both sides always agree.
//!
//! Money is [`Money`] (integer minor units), quantities are [`Quantity`] (integer thousandths),
//! points are whole `i64`s. No floating point appears anywhere in this module.

mod amount;
mod birthday;
mod calculate;
mod campaign;
#[cfg(test)]
pub(crate) mod campaign_properties;
#[cfg(test)]
mod campaign_tests;
mod campaigns;
mod error;
mod lenient;
mod limits;
mod local_time;
mod program;
mod promo;
#[cfg(test)]
mod properties;
mod returns;
mod spread;
#[cfg(test)]
mod tests;
mod validate;
mod wallet;

pub use amount::{Money, Quantity};
pub use birthday::{
    birthday_due, birthday_expiry, birthday_in, month_days_due, parse_birthday, BirthDate, BirthdayDue,
    MAX_BIRTHDAY_WINDOW_DAYS,
};
pub use calculate::{
    calculate, calculate_booked, AppliedPromo, CalcInput, CalcLine, Calculation, CustomerPoints, LimitApplied,
    LineResult, PointsQuote, Redeem, OVERDRAFT,
};
pub use campaign::{
    Birthday, Campaign, Conditions, CustomerLimit, Effect, EffectSpec, ExtraPoints, LimitPeriod, PointsPer, Referral,
    Schedule, Stacking, StampCard, DEFAULT_TIME_ZONE,
};
pub use campaigns::{
    campaign_dates, BudgetState, CampaignContext, CampaignDates, CampaignGain, CampaignSkipped, StampResult,
};
pub use error::{LineProblem, RulesError};
pub use local_time::{local_timestamp, period_start};
pub use program::{Program, ProgramKind, PromoCode, PromoKind, Settings, Tier};
pub use promo::{check_promo, PromoUsage};
pub use returns::{plan_return, ReturnLineRequest, ReturnPlan, ReturnedLine, SoldLine, SoldStamps, StampsBack};
pub use validate::ProgramProblem;
pub use wallet::{Lot, LotSource, Wallet};

/// Seconds since the Unix epoch (UTC). The rules never read the clock; callers pass `now`.
pub type Timestamp = i64;

/// Seconds in a day, for activation and expiry windows.
pub const DAY: i64 = 86_400;
