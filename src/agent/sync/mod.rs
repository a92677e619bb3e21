//! Sync with loyalty-cloud (CONTRACTS.md §sync): a background worker that pushes the outbox in order and
//! pulls the change feed, and the client it talks through.
//!
//! The worker is a component with a command channel (`sync now`), a wake-up for new local
//! commits, and a published status that health and the tray read.

mod client;
mod pager;
mod worker;

pub use client::{GiftCardError, SpendingCodeError, SyncClient, SyncError};
pub use pager::pull_to_end;
pub use worker::{spawn, SyncHandle, SyncStatus};
