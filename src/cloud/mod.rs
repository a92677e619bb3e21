//! loyalty-cloud: the server the agents sync to — the authoritative ledger for a chain of
//! stores, with an admin API (CONTRACTS.md §sync, §cloud).
//!
//! - [`config`]: `CloudConfig`, from defaults, the environment and flags.
//! - [`db`]: the storage boundary — one small SQL trait, a SQLite and a PostgreSQL backend.
//! - [`store`]: the use cases, written once over `db::Sql` (tills, customers, push, pull, …).
//! - [`ledger`]: checking a till's arithmetic and applying points with `rules::Wallet`.
//! - [`api`]: the HTTP routes (health, admin, sync) and their guards.
//! - [`import`]: `loyalty-cloud customers import`, the chain's bulk CSV import.
//! - [`webhooks`]: the delivery task that POSTs the webhook outbox, signed, with retries.
//! - [`sms`]: the SMS outbox's delivery task and `SmsOutbox`, where requests queue codes.
//! - [`lifecycle`]: the birthday job, a task that grants birthday points at start and hourly.
//! - [`wallet`]: the Apple and Google Wallet configuration, and the task that keeps cards true.
//! - [`webhook_address`]: which receivers a webhook may reach (none inside the cloud's network
//!   unless allowed), checked at creation and, through the client's resolver, at delivery.
//! - [`moysklad_backend`]: the MoySklad adapter (`crate::moysklad`) on this ledger.
//! - [`server`]: start-up and the serve loop on a bound listener.

pub mod api;
pub mod backoffice;
pub mod config;
pub mod db;
pub mod import;
pub mod ledger;
pub mod lifecycle;
pub mod moysklad_backend;
pub mod server;
pub mod sms;
pub mod store;
pub mod token;
pub mod users_cli;
pub mod wallet;
pub mod webhook_address;
pub mod webhooks;
