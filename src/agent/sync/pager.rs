//! Paging the cloud's change feed to its end: each page and its cursor are applied in one local
//! transaction while the next page is already on its way, so the till's SQLite work and the
//! cloud's reading overlap instead of taking turns (a first pull of a large chain is the case
//! that matters: CONTRACTS.md §budgets gives it 60 s for 1,000,000 customers).

use crate::agent::store::{PageSummary, Store};
use crate::wire::PullResponse;

use super::client::{SyncClient, SyncError};

/// Changes per page: the cloud's maximum, to keep round trips few on a first pull.
pub const PAGE_LIMIT: u32 = 5000;

type InFlight = tokio::task::JoinHandle<Result<PullResponse, SyncError>>;

fn request(client: &SyncClient, cursor: Option<String>) -> InFlight {
    let client = client.clone();
    tokio::spawn(async move { client.pull(cursor.as_deref(), PAGE_LIMIT, 0).await })
}

/// Pulls from the stored cursor until the feed is exhausted, calling `on_page` after each
/// applied page with its summary and the running count of changes. Returns that count.
/// A `must_refetch` answer restarts once from the beginning of the feed.
pub async fn pull_to_end(
    client: &SyncClient,
    store: &Store,
    mut on_page: impl FnMut(&PageSummary, usize),
) -> Result<usize, SyncError> {
    let mut in_flight = request(client, store.sync_cursor().await?);
    let mut refetched = false;
    let mut pulled = 0;
    loop {
        let page = in_flight.await.map_err(|e| SyncError::Unreachable(format!("the pull task failed: {e}")))??;
        if page.must_refetch && !refetched {
            tracing::warn!("the cloud asked for a full refetch of the directory");
            store.reset_sync_cursor().await?;
            refetched = true;
            in_flight = request(client, None);
            continue;
        }
        let next = page.has_more.then(|| request(client, Some(page.next_cursor.clone())));
        let count = page.changes.len();
        let applied = store.apply_pull_page(page.changes, page.next_cursor).await;
        let summary = match applied {
            Ok(summary) => summary,
            Err(e) => {
                if let Some(next) = next {
                    next.abort();
                }
                return Err(e.into());
            }
        };
        pulled += count;
        on_page(&summary, pulled);
        match next {
            Some(next) => in_flight = next,
            None => return Ok(pulled),
        }
    }
}
