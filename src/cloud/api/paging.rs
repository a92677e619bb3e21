//! The `limit` and `cursor` query parameters every admin list takes (`store::Page` reads
//! them), so the lists and their OpenAPI description declare them once.

use serde::Deserialize;

use super::ApiError;
use crate::cloud::store::Page;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page: a whole number from 1 to 1000 (default 100); anything else is 422
    /// `invalid_limit`.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// The previous page's `next_cursor`, as it was; absent for the first page. A cursor this
    /// list did not give out is 422 `invalid_cursor`.
    pub cursor: Option<String>,
}

impl PageParams {
    pub fn page(&self) -> Result<Page, ApiError> {
        Ok(Page::parse(self.limit.as_deref(), self.cursor.as_deref())?)
    }
}
