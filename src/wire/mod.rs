//! The JSON the binaries speak: request and response bodies of the agent's native API (v1),
//! the sync contract between agent and cloud, the cloud's sign-up form and its webhook
//! deliveries.
//!
//! This module is the contract with till integrators. Money is an integer number of minor
//! units; quantities are decimal text (`"0.354"`) or JSON numbers with up to three decimals;
//! points are integers. Field names never change once released; new fields may be added.

mod fingerprint;
mod from_rules;
mod gift_cards;
mod native;
mod quantity;
pub mod rules_input;
mod signup;
mod sync;
mod webhook;

pub use fingerprint::RequestHash;
pub use from_rules::to_wire;
pub use gift_cards::*;
pub use native::*;
pub use quantity::QuantityInput;
pub use signup::*;
pub use sync::*;
pub use webhook::*;
