//! Which stores a back-office caller may see. The admin token and owners and analysts see the
//! whole chain; a store manager sees their stores only, and every use case that lists or reads
//! store data takes a [`StoreScope`] and filters in SQL (so a page of results is a full page of
//! what they may see, and another store's record is simply not found).

use super::super::db::Value;

/// The stores a caller's queries are limited to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum StoreScope {
    /// The whole chain.
    #[default]
    All,
    /// Only these stores (a manager's). Empty means none at all.
    Only(Vec<String>),
}

impl StoreScope {
    pub fn is_all(&self) -> bool {
        matches!(self, StoreScope::All)
    }

    /// Whether `store` is inside the scope.
    pub fn allows(&self, store: &str) -> bool {
        match self {
            StoreScope::All => true,
            StoreScope::Only(stores) => stores.iter().any(|s| s == store),
        }
    }

    /// Narrows the scope further to one store a caller asked for (`?store=`): outside the
    /// scope, nothing.
    pub fn narrowed(&self, store: Option<&str>) -> StoreScope {
        match store {
            None => self.clone(),
            Some(store) if self.allows(store) => StoreScope::Only(vec![store.to_owned()]),
            Some(_) => StoreScope::Only(Vec::new()),
        }
    }

    /// An SQL condition limiting `column` (a store name column) to the scope, its values
    /// appended to `params` as `$n` placeholders numbered after those already there: `TRUE`
    /// for the whole chain, `FALSE` for an empty scope.
    pub fn condition(&self, column: &str, params: &mut Vec<Value>) -> String {
        match self {
            StoreScope::All => "TRUE".to_owned(),
            StoreScope::Only(stores) if stores.is_empty() => "FALSE".to_owned(),
            StoreScope::Only(stores) => {
                let mut list = Vec::with_capacity(stores.len());
                for store in stores {
                    params.push(Value::from(store.as_str()));
                    list.push(format!("${}", params.len()));
                }
                format!("{column} IN ({})", list.join(", "))
            }
        }
    }

    /// An SQL condition keeping the customers (`table`: the `customers` table's name or alias
    /// in the query) this scope may see: those who joined at one of its stores or have a
    /// receipt at one. `TRUE` for the whole chain.
    pub fn customers_condition(&self, table: &str, params: &mut Vec<Value>) -> String {
        if self.is_all() {
            return "TRUE".to_owned();
        }
        let joined = self.condition(&format!("{table}.store"), params);
        let bought = self.condition("t.store", params);
        format!(
            "({joined} OR EXISTS (SELECT 1 FROM receipts r JOIN tills t ON t.id = r.till_id \
               WHERE r.customer_id = {table}.id AND {bought}))"
        )
    }
}

impl super::Store {
    /// The customers among `ids` a caller with `scope` may see: those who joined at one of its
    /// stores or bought at one (all of them for the whole chain).
    pub async fn visible_customers(
        &self,
        ids: Vec<String>,
        scope: StoreScope,
    ) -> Result<std::collections::HashSet<String>, super::CloudError> {
        if scope.is_all() || ids.is_empty() {
            return Ok(ids.into_iter().collect());
        }
        self.read(move |sql| {
            let mut visible = std::collections::HashSet::new();
            for chunk in ids.chunks(200) {
                let mut params: Vec<Value> = Vec::with_capacity(chunk.len() + 4);
                let marks: Vec<String> = chunk
                    .iter()
                    .map(|id| {
                        params.push(Value::from(id.as_str()));
                        format!("${}", params.len())
                    })
                    .collect();
                let visible_here = scope.customers_condition("c", &mut params);
                let rows = sql.query(
                    &format!("SELECT c.id FROM customers c WHERE c.id IN ({}) AND {visible_here}", marks.join(", ")),
                    &params,
                )?;
                for row in rows {
                    visible.insert(row.text(0)?);
                }
            }
            Ok(visible)
        })
        .await
    }

    /// The stores of the tills among `ids` (unknown ids are left out).
    pub async fn till_stores(
        &self,
        ids: Vec<String>,
    ) -> Result<std::collections::HashMap<String, String>, super::CloudError> {
        self.read(move |sql| {
            let mut stores = std::collections::HashMap::new();
            for chunk in ids.chunks(200) {
                let params: Vec<Value> = chunk.iter().map(|id| Value::from(id.as_str())).collect();
                let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
                let rows =
                    sql.query(&format!("SELECT id, store FROM tills WHERE id IN ({})", marks.join(", ")), &params)?;
                for row in rows {
                    stores.insert(row.text(0)?, row.text(1)?);
                }
            }
            Ok(stores)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_numbers_its_placeholders_after_the_others() {
        let mut params = vec![Value::Int(1)];
        let scope = StoreScope::Only(vec!["Tverskaya".into(), "Arbat".into()]);
        assert_eq!(scope.condition("t.store", &mut params), "t.store IN ($2, $3)");
        assert_eq!(params.len(), 3);
        assert_eq!(StoreScope::All.condition("t.store", &mut params), "TRUE");
        assert_eq!(StoreScope::Only(vec![]).condition("t.store", &mut params), "FALSE");
        assert_eq!(params.len(), 3);
    }

    #[test]
    fn narrowing_never_widens() {
        let manager = StoreScope::Only(vec!["Arbat".into()]);
        assert_eq!(manager.narrowed(Some("Arbat")), StoreScope::Only(vec!["Arbat".into()]));
        assert_eq!(manager.narrowed(Some("Tverskaya")), StoreScope::Only(vec![]));
        assert_eq!(StoreScope::All.narrowed(Some("Tverskaya")), StoreScope::Only(vec!["Tverskaya".into()]));
        assert_eq!(manager.narrowed(None), manager);
    }
}
