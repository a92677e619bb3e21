//! The adapter's one HTTP router, generic over the [`LoyaltyBackend`]: both servers mount
//! [`service`] under [`PREFIX`] (`nest_service`), so MoySklad's base address is
//! `https://HOST/moysklad/v1/` on the cloud and `http://127.0.0.1:8719/moysklad/v1/` on the agent.
//!
//! Before routing, runs of `/` in the path are collapsed: a base address ending in `/` (as
//! GetMeBack's do) joined with paths starting with `/` gives `/moysklad/v1//counterparty`. Every
//! request, unknown paths included, must carry the access key in
//! `Lognex-Discount-API-Auth-Token`; the backend says which scope it opens. Every failure
//! answers the protocol's error body, never ours.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::errors::{MsError, METHOD_NOT_ALLOWED, NO_SUCH_ENDPOINT};
use super::service::LoyaltyBackend;
use super::verify::CodeSender;
use super::{customers, receipts};

/// Where both servers mount the adapter.
pub const PREFIX: &str = "/moysklad";
/// The header MoySklad sends the access key in.
pub const KEY_HEADER: &str = "lognex-discount-api-auth-token";
/// Keys longer than this are refused before any lookup.
const MAX_KEY_LEN: usize = 256;

/// The adapter's state: the ledger it runs on and who delivers verification codes.
pub struct Adapter<B> {
    pub backend: B,
    pub sender: Arc<dyn CodeSender>,
}

impl<B: Clone> Clone for Adapter<B> {
    fn clone(&self) -> Self {
        Adapter { backend: self.backend.clone(), sender: self.sender.clone() }
    }
}

/// The router to mount with `nest_service(PREFIX, …)`: it sees paths without the prefix.
pub type MoyskladService = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// Declares the endpoints once: [`ENDPOINTS`] lists them (the OpenAPI documents are checked
/// against it) and `endpoints` routes exactly those, so the two cannot drift apart.
macro_rules! endpoints {
    ($( $method:ident $path:literal => $($handler:ident)::+ ),* $(,)?) => {
        /// Every endpoint the adapter serves: `(method, path under PREFIX)`.
        pub const ENDPOINTS: &[(&str, &str)] = &[$( (stringify!($method), $path) ),*];

        fn endpoints<B: LoyaltyBackend>() -> Router<Adapter<B>> {
            Router::new()$( .route($path, $method($($handler)::+::<B>)) )*
        }
    };
}

endpoints! {
    post "/v1/counterparty" => customers::create,
    get "/v1/counterparty" => customers::search,
    post "/v1/counterparty/detail" => customers::detail,
    post "/v1/counterparty/verify" => customers::verify,
    post "/v1/retaildemand/recalc" => receipts::recalc,
    post "/v1/retaildemand/verify" => receipts::verify,
    post "/v1/retaildemand" => receipts::sale,
    post "/v1/retailsalesreturn" => receipts::sales_return,
    get "/v1/giftcard" => receipts::gift_card,
}

pub fn service<B: LoyaltyBackend>(backend: B, sender: Arc<dyn CodeSender>) -> MoyskladService {
    let adapter = Adapter { backend, sender };
    let router = endpoints::<B>()
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(adapter.clone(), check_key::<B>))
        .with_state(adapter);
    tower::util::MapRequest::new(router, collapse_slashes as fn(Request) -> Request)
}

/// `/v1//counterparty/` → `/v1/counterparty`: repeated and trailing slashes are dropped.
fn collapse_slashes(mut request: Request) -> Request {
    let path = request.uri().path();
    if !path.contains("//") && (path.len() <= 1 || !path.ends_with('/')) {
        return request;
    }
    let mut clean = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    let with_query = match request.uri().query() {
        Some(query) => format!("{clean}?{query}"),
        None => clean,
    };
    let mut parts = request.uri().clone().into_parts();
    if let Ok(path_and_query) = with_query.parse() {
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The access key: the backend decides which scope it opens; the scope rides in the request's
/// extensions to the handler.
async fn check_key<B: LoyaltyBackend>(State(adapter): State<Adapter<B>>, mut request: Request, next: Next) -> Response {
    let key = request
        .headers()
        .get(KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .map(str::to_owned);
    let Some(key) = key else { return MsError::bad_key().into_response() };
    match adapter.backend.authenticate(key).await {
        Ok(Some(scope)) => {
            request.extensions_mut().insert(scope);
            next.run(request).await
        }
        Ok(None) => MsError::bad_key().into_response(),
        Err(e) => MsError::from(e).into_response(),
    }
}

async fn no_such_endpoint() -> MsError {
    MsError::new(
        StatusCode::NOT_FOUND,
        NO_SUCH_ENDPOINT,
        "Нет такого метода",
        "Такого адреса нет в Loyalty API 1.0. Адрес программы лояльности должен оканчиваться на /moysklad/v1/.",
    )
}

async fn wrong_method() -> MsError {
    MsError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        METHOD_NOT_ALLOWED,
        "Метод не поддерживается",
        "Этот адрес не принимает такой HTTP-метод.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slashes_collapse_and_queries_stay() {
        let cases = [
            ("/v1//counterparty", "/v1/counterparty"),
            ("/v1//counterparty?search=7&x=1", "/v1/counterparty?search=7&x=1"),
            ("//v1///giftcard/", "/v1/giftcard"),
            ("/v1/retaildemand", "/v1/retaildemand"),
            ("/", "/"),
            ("//", "/"),
        ];
        for (before, after) in cases {
            let request = Request::builder().uri(before).body(axum::body::Body::empty()).unwrap();
            let request = collapse_slashes(request);
            assert_eq!(request.uri().to_string(), after, "{before}");
        }
    }
}
