//! The idempotency fingerprint of a request the agent stores by id (a receipt, a return, an
//! adjustment): the same request sent again gets the stored answer, a different one under the
//! same id a 409. It must survive what a retry can change without changing the meaning: key
//! order, spelling out an optional field at its default, how a quantity is written, and an
//! upgrade of the agent that adds an optional field to the request type.
//!
//! **Version 2** (stored as `v2:<hex>`) is SHA-256 of the request's canonical JSON:
//!
//! 1. the request as its typed struct serialises it (so unknown keys were already refused and
//!    every value has its type);
//! 2. object keys sorted by their bytes, at every depth;
//! 3. absent equals default: `null`, `false`, `[]`, `{}` and `"redeem": 0` are left out, and an
//!    object left empty is left out too (array elements keep their places: a `null` element
//!    stays `null`);
//! 4. a `quantity` is written as its exact decimal with no trailing zeros (`"1"`, `1`, `"1.000"`
//!    are `"1"`; `"0.50"` is `"0.5"`); text that is not a quantity is kept as sent (the request
//!    is refused anyway);
//! 5. money and other numbers are integers in the types, written as serde_json writes them.
//!
//! **Version 1** (stored as bare hex, by agents before version 2) was SHA-256 of the struct's
//! JSON in field order. Rows stored that way are compared by that algorithm, so a retry of a
//! receipt committed before the upgrade still gets its stored answer.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::rules::Quantity;

/// The prefix of a version-2 fingerprint as stored.
const V2: &str = "v2:";

/// A request's fingerprint, in the current form and in the legacy one it is compared with for
/// rows stored before the current form existed.
#[derive(Debug, Clone)]
pub struct RequestHash {
    current: String,
    legacy: String,
}

impl RequestHash {
    pub fn of<T: Serialize>(request: &T) -> RequestHash {
        let mut value = serde_json::to_value(request).unwrap_or(Value::Null);
        // A spending code proves who is paying, it is not what was sold: a retry with a fresh
        // code is the same receipt. (Requests stored before codes existed had no such key, so
        // the legacy form is unchanged by this.)
        if let Some(fields) = value.as_object_mut() {
            fields.remove("verification");
        }
        let canonical = canonical(None, value).unwrap_or(Value::Null);
        RequestHash {
            current: format!("{V2}{}", sha256_hex(&serde_json::to_vec(&canonical).unwrap_or_default())),
            legacy: sha256_hex(&serde_json::to_vec(request).unwrap_or_default()),
        }
    }

    /// What to store beside the answer.
    pub fn stored(&self) -> &str {
        &self.current
    }

    /// Whether a stored fingerprint (of either version) is this request's.
    pub fn matches(&self, stored: &str) -> bool {
        if stored.starts_with(V2) {
            stored == self.current
        } else {
            stored == self.legacy
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The canonical form of `value` found under `key`; `None` when it equals absent.
fn canonical(key: Option<&str>, value: Value) -> Option<Value> {
    match value {
        Value::Null | Value::Bool(false) => None,
        Value::Number(n) if key == Some("redeem") && n.as_i64() == Some(0) => None,
        Value::String(text) if key == Some("quantity") => {
            Some(Value::String(Quantity::parse(&text).map(|q| q.to_decimal_string()).unwrap_or(text)))
        }
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) => {
            Some(Value::Array(items.into_iter().map(|item| canonical(None, item).unwrap_or(Value::Null)).collect()))
        }
        Value::Object(map) => {
            // A BTreeMap sorts the keys whatever serde_json's map keeps (another crate in the
            // build may turn on its insertion-ordered map).
            let sorted: BTreeMap<String, Value> =
                map.into_iter().filter_map(|(k, v)| canonical(Some(&k), v).map(|v| (k, v))).collect();
            (!sorted.is_empty()).then(|| serde_json::to_value(sorted).unwrap_or(Value::Null))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CommitRequest, ReturnRequest};

    fn commit(json: &str) -> CommitRequest {
        serde_json::from_str(json).expect("a valid CommitRequest")
    }

    /// The stored format must not drift: this digest is in the receipts table of every till.
    #[test]
    fn the_canonical_form_is_pinned_by_a_golden_digest() {
        let request = commit(
            r#"{"id": "till-1/000042", "customer": {"phone": "+79991234567"}, "redeem": "max",
                "lines": [{"sku": "coffee", "name": "Latte", "category": "coffee", "quantity": "1", "price": 25000},
                          {"sku": "beans", "quantity": 0.354, "price": 120000}]}"#,
        );
        let canonical = canonical(None, serde_json::to_value(&request).unwrap()).unwrap();
        assert_eq!(
            serde_json::to_string(&canonical).unwrap(),
            r#"{"customer":{"phone":"+79991234567"},"id":"till-1/000042","lines":[{"category":"coffee","name":"Latte","price":25000,"quantity":"1","sku":"coffee"},{"price":120000,"quantity":"0.354","sku":"beans"}],"redeem":"max"}"#
        );
        assert_eq!(
            RequestHash::of(&request).stored(),
            format!("v2:{}", sha256_hex(serde_json::to_string(&canonical).unwrap().as_bytes()))
        );
        assert_eq!(
            RequestHash::of(&request).stored(),
            "v2:52ff0f3afbe356b48384ce8148bceeb316f06a8d14726c63910fea09118437d9"
        );
    }

    #[test]
    fn the_same_meaning_written_differently_is_the_same_request() {
        let plain = commit(r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1", "price": 100}]}"#);
        for same in [
            r#"{"lines": [{"price": 100, "quantity": "1", "sku": "a"}], "id": "r-1"}"#,
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": 1, "price": 100}], "promo_codes": []}"#,
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1.000", "price": 100, "name": null}], "redeem": 0}"#,
            r#"{"id": "r-1", "customer": null, "lines": [{"sku": "a", "quantity": 1.0, "price": 100}]}"#,
        ] {
            assert_eq!(RequestHash::of(&commit(same)).stored(), RequestHash::of(&plain).stored(), "{same}");
        }
        for different in [
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "2", "price": 100}]}"#,
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1", "price": 101}]}"#,
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1", "price": 100}], "redeem": 1}"#,
            r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1", "price": 100}], "promo_codes": ["X"]}"#,
        ] {
            assert_ne!(RequestHash::of(&commit(different)).stored(), RequestHash::of(&plain).stored(), "{different}");
        }
        let all: ReturnRequest = serde_json::from_str(r#"{"id": "ret-1", "all": true}"#).unwrap();
        let none: ReturnRequest = serde_json::from_str(r#"{"id": "ret-1", "all": false}"#).unwrap();
        let absent: ReturnRequest = serde_json::from_str(r#"{"id": "ret-1"}"#).unwrap();
        assert_ne!(RequestHash::of(&all).stored(), RequestHash::of(&none).stored());
        assert_eq!(RequestHash::of(&none).stored(), RequestHash::of(&absent).stored());
    }

    #[test]
    fn rows_stored_by_the_first_version_still_match() {
        let request = commit(r#"{"id": "r-1", "lines": [{"sku": "a", "quantity": "1", "price": 100}]}"#);
        // What agents before version 2 stored: SHA-256 of the struct's JSON in field order.
        let v1 = sha256_hex(
            br#"{"id":"r-1","customer":null,"lines":[{"sku":"a","name":null,"category":null,"quantity":"1","price":100}],"redeem":null,"promo_codes":[]}"#,
        );
        let hash = RequestHash::of(&request);
        assert!(hash.matches(&v1));
        assert!(hash.matches(hash.stored()));
        assert!(!hash.matches(&sha256_hex(b"something else")));
        assert!(!hash.matches("v2:0000"));
    }
}
