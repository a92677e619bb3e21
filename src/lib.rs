//! loyalty-agent: a till-side loyalty agent and its cloud.
//!
//! # Layout
//! - [`rules`]: the pure pricing core — program, calculation, returns, promo codes, point lots.
//!   No I/O, no clock; both binaries call it.
//! - [`identity`]: pure helpers for customer identifiers — phones (E.164), card numbers (Luhn),
//!   search-query classification, QR payloads and images, masking for logs.
//! - [`wire`]: the JSON bodies of the native API (the contract with till integrators) and of
//!   the sync between agents and the cloud.
//! - [`gift_cards`]: pure rules of gift cards (numbers, states, payments), kept by both ledgers.
//! - [`reports`]: pure arithmetic of the finance reports — the local day (UTC+3), dates, a shift's
//!   totals — shared by the cloud's reports and the agent's offline shift report.
//! - [`csv_import`]: reading a customer CSV for a bulk import (both binaries' `customers import`).
//! - [`http`]: the error format and extractors both HTTP servers share.
//! - [`verification`]: pure proof that the customer is present when points are spent — the
//!   time-based codes (RFC 6238) tills check offline, and SMS codes kept as salted digests.
//! - [`sms`]: sending text messages through a configured gateway (log, a signed webhook,
//!   SMS.ru), one attempt at a time; both binaries use it.
//! - [`agent`]: the `loyalty-agent` program — configuration, SQLite storage, the HTTP API, CLI
//!   commands (`doctor` among them), and the tray icon's state, icons and poller (the desktop
//!   part behind cargo feature `tray`).
//! - [`moysklad`]: the MoySklad Loyalty API 1.0 adapter, one router generic over a ledger
//!   backend, served by both binaries under `/moysklad/v1/`.
//! - [`cloud`]: the `loyalty-cloud` server — the authoritative ledger on SQLite or PostgreSQL,
//!   the admin API and the sync API the agents push to and pull from.
// Denied, not forbidden: two places allow it, each with its reason — the tray's one dlopen
// (`agent::tray::linux`) and the FFI glue `windows_service::define_windows_service!` expands to
// (`agent::service::windows`). Nothing else may use `unsafe`.
#![deny(unsafe_code)]

pub mod agent;
pub mod clock;
pub mod cloud;
pub mod csv_import;
pub mod gift_cards;
pub mod http;
pub mod identity;
pub mod moysklad;
pub mod reports;
pub mod rules;
pub mod sms;
pub mod verification;
pub mod wallet;
pub mod wire;

#[cfg(test)]
mod layers;
