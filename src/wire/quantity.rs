//! A quantity as a till sends it: `"0.354"`, `2`, or `0.354` — parsed exactly, never through
//! floating-point arithmetic.
//!
//! A JSON number arrives from serde_json as an `f64`; its shortest round-trip decimal text (what
//! `Display` prints) is exactly the literal the till wrote for any number with up to 15
//! significant digits, so we parse that text as a decimal. `0.1` stays `0.1`; `1.0001` is seen as
//! four decimals and refused — nothing is rounded silently.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A quantity, not yet validated: the decimal text the till sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(value_type = String, example = "0.354")]
pub struct QuantityInput(pub String);

impl<'de> Deserialize<'de> for QuantityInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;
        impl Visitor<'_> for QuantityVisitor {
            type Value = QuantityInput;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a quantity as a number or decimal text such as \"0.354\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(QuantityInput(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(QuantityInput(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(QuantityInput(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // Shortest round-trip text of the literal; see the module comment.
                // Rust prints finite floats without an exponent, so the text is plain decimal;
                // absurd magnitudes are refused later by `Quantity::parse`.
                Ok(QuantityInput(format!("{v}")))
            }
        }
        deserializer.deserialize_any(QuantityVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_the_literal_the_till_wrote() {
        for (json, text) in [("0.354", "0.354"), ("2", "2"), ("\"1.5\"", "1.5"), ("0.1", "0.1"), ("1.0001", "1.0001")] {
            let parsed: QuantityInput = serde_json::from_str(json).unwrap();
            assert_eq!(parsed.0, text, "{json}");
        }
        assert!(serde_json::from_str::<QuantityInput>("true").is_err());
    }
}
