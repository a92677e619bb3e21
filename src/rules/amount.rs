//! Money and quantity newtypes: exact integers, never floating point.

use serde::{Deserialize, Serialize};

/// An amount of money in minor units (kopecks, cents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

/// A quantity with up to three decimals, held as integer thousandths (`"0.354"` → `Quantity(354)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity(pub i64);

impl Quantity {
    /// One piece.
    pub const ONE: Quantity = Quantity(1000);
    /// The largest quantity a line may carry (one million units); more is an input error.
    pub const MAX: Quantity = Quantity(1_000_000_000);

    /// Parses a decimal text such as `"2"`, `"0.354"` or `"1.5"`.
    /// Errors: empty, not a number, negative or zero, more than three decimals, above [`Quantity::MAX`].
    pub fn parse(text: &str) -> Result<Quantity, crate::rules::RulesError> {
        todo!("{text}")
    }

    /// The canonical decimal text: `Quantity(354)` → `"0.354"`, `Quantity(2000)` → `"2"`, `Quantity(1500)` → `"1.5"`.
    pub fn to_decimal_string(self) -> String {
        todo!()
    }
}

impl Money {
    /// `price × quantity`, rounded half-up to a minor unit. `None` on overflow.
    pub fn times(self, quantity: Quantity) -> Option<Money> {
        todo!("{quantity:?}")
    }
}
