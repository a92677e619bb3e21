//! The shift report from this till's own receipts and returns, so it works offline; the same
//! arithmetic as the cloud's (`crate::reports`), so the two agree once the till has synced.

use super::{Store, StoreError};
use crate::reports::{day_start, ReturnFigures, SaleFigures, ShiftTotals};
use crate::wire::{Calculation, ReturnResult};

impl Store {
    /// The totals of local `day` (UTC+3): the receipts and returns committed on it.
    pub async fn shift_totals(&self, day: i64) -> Result<ShiftTotals, StoreError> {
        let (start, end) = (day_start(day), day_start(day + 1));
        self.read(move |conn, _| {
            let mut totals = ShiftTotals::default();
            let mut receipts = conn.prepare_cached(
                "SELECT id, result, created_at FROM receipts WHERE created_at >= ?1 AND created_at < ?2",
            )?;
            let rows = receipts.query_map([start, end], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?))
            })?;
            for row in rows {
                let (id, result, at) = row?;
                let receipt: Calculation =
                    serde_json::from_str(&result).map_err(|e| StoreError::corrupt(format!("receipt {id}"), e))?;
                totals.add_sale(SaleFigures::of(&receipt), at);
            }
            let mut returns =
                conn.prepare_cached("SELECT id, result FROM returns WHERE created_at >= ?1 AND created_at < ?2")?;
            let rows =
                returns.query_map([start, end], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
            for row in rows {
                let (id, result) = row?;
                let result: ReturnResult =
                    serde_json::from_str(&result).map_err(|e| StoreError::corrupt(format!("return {id}"), e))?;
                totals.add_return(ReturnFigures::of(&result));
            }
            Ok(totals)
        })
        .await
    }
}
