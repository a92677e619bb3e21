//! The customer directory as CSV rows, a page at a time in id order (keyset reads, so a
//! million customers are read in constant memory and no page costs more than the first).

use super::{CloudError, Store, StoreScope};
use crate::cloud::db::Value;
use crate::cloud::ledger;
use crate::rules::{Money, Wallet};
use std::collections::HashMap;

/// Customers per page of the export.
pub const EXPORT_PAGE: usize = 2_000;

/// The CSV's header, in the order of [`ExportRow::fields`].
pub const EXPORT_HEADER: [&str; 15] = [
    "id",
    "phone",
    "name",
    "email",
    "card",
    "birthday",
    "tags",
    "balance",
    "available",
    "pending",
    "tier",
    "paid_total",
    "source",
    "store",
    "created_at",
];

/// One customer, as the export writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub id: String,
    pub phone: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub card: String,
    pub birthday: Option<String>,
    /// `;`-separated.
    pub tags: String,
    pub balance: i64,
    pub available: i64,
    pub pending: i64,
    pub tier: Option<String>,
    pub paid_total: i64,
    pub source: Option<String>,
    pub store: Option<String>,
    /// RFC 3339.
    pub created_at: String,
}

impl ExportRow {
    /// The row's fields in [`EXPORT_HEADER`] order.
    pub fn fields(&self) -> [String; 15] {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        [
            self.id.clone(),
            self.phone.clone(),
            text(&self.name),
            text(&self.email),
            self.card.clone(),
            text(&self.birthday),
            self.tags.clone(),
            self.balance.to_string(),
            self.available.to_string(),
            self.pending.to_string(),
            text(&self.tier),
            self.paid_total.to_string(),
            text(&self.source),
            text(&self.store),
            self.created_at.clone(),
        ]
    }
}

impl Store {
    /// The page of customers after id `after` whose home store is in `scope`, with their
    /// balances at `now`.
    pub async fn export_customers(
        &self,
        after: Option<String>,
        scope: StoreScope,
        now: i64,
    ) -> Result<Vec<ExportRow>, CloudError> {
        self.read(move |sql| {
            let mut params = vec![Value::from(after.clone().unwrap_or_default())];
            let condition = scope.condition("store", &mut params);
            let rows = sql.query(
                &format!(
                    "SELECT id, phone, name, email, card, birthday, tags, paid_total, debt, source, store, created_at
                       FROM customers WHERE id > $1 AND {condition} ORDER BY id LIMIT {EXPORT_PAGE}"
                ),
                &params,
            )?;
            if rows.is_empty() {
                return Ok(Vec::new());
            }
            let ids: Vec<Value> = rows.iter().map(|row| row.text(0).map(Value::from)).collect::<Result<_, _>>()?;
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            let mut lots: HashMap<String, Vec<crate::rules::Lot>> = HashMap::new();
            for row in sql.query(
                &format!(
                    "SELECT customer_id, {} FROM point_lots WHERE remaining > 0 AND customer_id IN ({})",
                    ledger::LOT_COLUMNS.join(", "),
                    marks.join(", ")
                ),
                &ids,
            )? {
                lots.entry(row.text(0)?).or_default().push(ledger::lot_from_row(&row, 1)?);
            }
            let program = super::admin::current_program(sql)?;
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let id = row.text(0)?;
                let wallet = Wallet { lots: lots.remove(&id).unwrap_or_default(), debt: row.int(8)? };
                let paid_total = row.int(7)?;
                let tags: Vec<String> = serde_json::from_str(&row.text(6)?)?;
                out.push(ExportRow {
                    phone: row.text(1)?,
                    name: row.opt_text(2)?,
                    email: row.opt_text(3)?,
                    card: row.text(4)?,
                    birthday: row.opt_text(5)?,
                    tags: tags.join(";"),
                    balance: wallet.balance(now),
                    available: wallet.available(now),
                    pending: wallet.pending(now),
                    tier: program.settings_for(Money(paid_total)).tier,
                    paid_total,
                    source: row.opt_text(9)?,
                    store: row.opt_text(10)?,
                    created_at: crate::clock::rfc3339(row.int(11)?),
                    id,
                });
            }
            Ok(out)
        })
        .await
    }
}
