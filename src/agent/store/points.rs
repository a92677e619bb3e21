//! A customer's points as the till should show and spend them.
//!
//! Standalone, the local lots are the authority (`rules::Wallet`). Connected to a cloud, the
//! authority is the balance the cloud last sent, plus this till's own movements the cloud has
//! not yet folded into it (DESIGN §4): a journal entry leaves that local sum only when a pulled
//! balance says it includes the entry's outbox seq — not when the push was acknowledged, or the
//! customer would briefly have the points twice, or not at all.

use rusqlite::{Connection, OptionalExtension};

use super::records::CustomerRecord;
use super::StoreError;
use crate::wire::PointsBalance;

/// The cloud's last word on a customer's points, and the local movements after it.
#[derive(Debug, Clone, Default)]
pub struct ConnectedPoints {
    pub cloud_balance: i64,
    pub cloud_available: i64,
    pub cloud_pending: i64,
    /// Movements made on this till that the cloud's figures do not include yet.
    pub unconfirmed: Vec<UnconfirmedEntry>,
}

#[derive(Debug, Clone)]
pub struct UnconfirmedEntry {
    pub points: i64,
    /// Set for accruals: until then the points are pending, not spendable.
    pub activates_at: Option<i64>,
}

impl ConnectedPoints {
    pub fn at(&self, now: i64) -> PointsBalance {
        let local: i64 = self.unconfirmed.iter().map(|e| e.points).sum();
        let local_pending: i64 = self
            .unconfirmed
            .iter()
            .filter(|e| e.points > 0 && e.activates_at.is_some_and(|at| at > now))
            .map(|e| e.points)
            .sum();
        PointsBalance {
            balance: self.cloud_balance.saturating_add(local),
            available: self.cloud_available.saturating_add(local).saturating_sub(local_pending).max(0),
            pending: self.cloud_pending.saturating_add(local_pending),
        }
    }
}

impl CustomerRecord {
    /// Balance, available and pending points at `now`, from whichever source is the authority.
    pub fn points(&self, now: i64) -> PointsBalance {
        match &self.connected {
            Some(connected) => connected.at(now),
            None => PointsBalance {
                balance: self.wallet.balance(now),
                available: self.wallet.available(now),
                pending: self.wallet.pending(now),
            },
        }
    }
}

/// Loads the cloud's balance row and the local movements it does not include.
pub(crate) fn load_connected(conn: &Connection, customer_id: &str) -> Result<ConnectedPoints, StoreError> {
    let cloud: Option<(i64, i64, i64, i64)> = conn
        .prepare_cached("SELECT balance, available, pending, included_seq FROM cloud_balances WHERE customer_id = ?1")?
        .query_row([customer_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
        .optional()?;
    let (cloud_balance, cloud_available, cloud_pending, included_seq) = cloud.unwrap_or((0, 0, 0, 0));
    let unconfirmed = conn
        .prepare_cached(
            "SELECT points, activates_at FROM ledger WHERE customer_id = ?1 AND outbox_seq > ?2 ORDER BY seq",
        )?
        .query_map(rusqlite::params![customer_id, included_seq], |row| {
            Ok(UnconfirmedEntry { points: row.get(0)?, activates_at: row.get(1)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(ConnectedPoints { cloud_balance, cloud_available, cloud_pending, unconfirmed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_movements_on_top_of_the_cloud() {
        let view = ConnectedPoints {
            cloud_balance: 171,
            cloud_available: 171,
            cloud_pending: 0,
            unconfirmed: vec![
                UnconfirmedEntry { points: -171, activates_at: None },
                UnconfirmedEntry { points: 3, activates_at: Some(1_000) },
            ],
        };
        assert_eq!(view.at(999), PointsBalance { balance: 3, available: 0, pending: 3 });
        assert_eq!(view.at(1_000), PointsBalance { balance: 3, available: 3, pending: 0 });
        let overdrawn = ConnectedPoints {
            cloud_balance: 5,
            cloud_available: 5,
            cloud_pending: 0,
            unconfirmed: vec![UnconfirmedEntry { points: -8, activates_at: None }],
        };
        assert_eq!(overdrawn.at(0), PointsBalance { balance: -3, available: 0, pending: 0 });
    }
}
