//! A manager sees their stores only: these checks make another store's customer, till,
//! receipt or conflict answer exactly what an unknown one answers (404), and leave other
//! stores' rows out of a search by phone, card or email. Paged lists (the directory, `q`,
//! receipts, conflicts) are scoped in SQL instead (`StoreScope::condition`), so their pages
//! are full. The admin token, owners and analysts see the whole chain, and
//! the checks cost nothing for them.

use super::{ApiError, AppState};
use crate::cloud::backoffice::Principal;
use crate::cloud::store::{CloudError, Missing};

/// 404 unless the caller may see customer `id` (already resolved through merges).
pub async fn customer(state: &AppState, principal: &Principal, id: &str) -> Result<(), ApiError> {
    if principal.scope.is_all() {
        return Ok(());
    }
    let visible = state.store.visible_customers(vec![id.to_owned()], principal.scope.clone()).await?;
    match visible.contains(id) {
        true => Ok(()),
        false => Err(CloudError::NotFound(Missing::Customer(id.to_owned())).into()),
    }
}

/// Keeps the items whose customer the caller may see.
pub async fn customers<T>(
    state: &AppState,
    principal: &Principal,
    items: Vec<T>,
    id_of: impl Fn(&T) -> &str,
) -> Result<Vec<T>, ApiError> {
    if principal.scope.is_all() {
        return Ok(items);
    }
    let ids = items.iter().map(|item| id_of(item).to_owned()).collect();
    let visible = state.store.visible_customers(ids, principal.scope.clone()).await?;
    Ok(items.into_iter().filter(|item| visible.contains(id_of(item))).collect())
}

/// 404 unless till `id` is in one of the caller's stores.
pub async fn till(state: &AppState, principal: &Principal, id: &str) -> Result<(), ApiError> {
    if principal.scope.is_all() {
        return Ok(());
    }
    let stores = state.store.till_stores(vec![id.to_owned()]).await?;
    match stores.get(id).is_some_and(|store| principal.scope.allows(store)) {
        true => Ok(()),
        false => Err(CloudError::NotFound(Missing::Till(id.to_owned())).into()),
    }
}
