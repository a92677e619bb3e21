//! The adapter's part of both servers' `GET /openapi.json`: MoySklad's endpoints under
//! `/moysklad/v1/`, their bodies (the `MoySklad…` schemas of [`wire`](super::wire)) and the
//! `Lognex-Discount-API-Auth-Token` key. [`Endpoints`] merges them into a server's document.
//!
//! The handlers are generic over the ledger backend, so the operations are described on the
//! stubs below, one per entry of [`ENDPOINTS`](super::routes::ENDPOINTS); a test checks that the
//! documents list exactly the routes the router serves.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::wire::{
    CounterpartyRequest, DetailResponse, ErrorsBody, GiftCardResponse, RecalcRequest, RecalcResponse, ReturnRequest,
    SaleRequest, SearchResponse, SpendVerifyRequest, VerifyResponse,
};

/// The name of the security scheme in the documents (the operations below spell it too).
pub const KEY_SCHEME: &str = "moysklad_key";

#[derive(OpenApi)]
#[openapi(
    paths(create, search, detail, verify_registration, recalc, verify_spending, sale, sales_return, gift_card),
    components(schemas(ErrorsBody)),
    tags((name = "moysklad", description = "MoySklad Loyalty API 1.0: MoySklad's servers call these with the store's access key. Prices are rubles with two decimals, quantities have three, gift cards are kopecks; every failure answers {\"errors\": [{error, parameter, code, error_message}]}.")),
)]
pub struct MoyskladApiDoc;

/// Adds the adapter's endpoints and its key to a server's document.
pub struct Endpoints;

impl Modify for Endpoints {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi.merge(MoyskladApiDoc::openapi());
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            KEY_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Lognex-Discount-API-Auth-Token",
                "The access key (\"ключ доступа\") the store entered in MoySklad",
            ))),
        );
    }
}

/// Creates a customer linked to MoySklad's counterparty id (`meta.id`), or links the customer
/// known by that phone. 201 with an empty body.
#[utoipa::path(post, path = "/moysklad/v1/counterparty", tag = "moysklad", operation_id = "moysklad_create", request_body = CounterpartyRequest,
    responses((status = 201, description = "Created or linked (empty body)"),
              (status = 400, body = ErrorsBody), (status = 401, body = ErrorsBody),
              (status = 412, body = ErrorsBody, description = "28001: the new customer must confirm with a code")),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn create() {}

/// Customers matching a phone (any format), card number or scanned QR text; `id` is ours (a
/// GUID), `msId` MoySklad's. Nothing found is an empty list.
#[utoipa::path(get, path = "/moysklad/v1/counterparty", tag = "moysklad", operation_id = "moysklad_search",
    params(("search" = Option<String>, Query, description = "What the cashier typed or scanned"),
           ("retailStoreId" = Option<String>, Query, description = "The point of sale")),
    responses((status = 200, body = SearchResponse), (status = 401, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn search() {}

/// The balance of the one customer `meta.id` names.
#[utoipa::path(post, path = "/moysklad/v1/counterparty/detail", tag = "moysklad", operation_id = "moysklad_detail", request_body = CounterpartyRequest,
    responses((status = 200, body = DetailResponse), (status = 401, body = ErrorsBody), (status = 404, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn detail() {}

/// Sends a registration code to the phone and answers it (MoySklad compares it).
#[utoipa::path(post, path = "/moysklad/v1/counterparty/verify", tag = "moysklad", operation_id = "moysklad_verify_registration", request_body = CounterpartyRequest,
    responses((status = 200, body = VerifyResponse), (status = 400, body = ErrorsBody), (status = 401, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn verify_registration() {}

/// Prices a receipt: every position with `discountPercent` and `discountedPrice` (a position
/// may come back split in two), the points to spend and to earn. Changes nothing.
#[utoipa::path(post, path = "/moysklad/v1/retaildemand/recalc", tag = "moysklad", operation_id = "moysklad_recalc", request_body = RecalcRequest,
    responses((status = 200, body = RecalcResponse), (status = 400, body = ErrorsBody), (status = 401, body = ErrorsBody),
              (status = 422, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn recalc() {}

/// Sends a code to the customer's phone before points are spent.
#[utoipa::path(post, path = "/moysklad/v1/retaildemand/verify", tag = "moysklad", operation_id = "moysklad_verify_spending", request_body = SpendVerifyRequest,
    responses((status = 200, body = VerifyResponse), (status = 401, body = ErrorsBody), (status = 404, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn verify_spending() {}

/// Records a sale MoySklad closed: points spent and earned (points spent meanwhile become
/// debt), gift card payments taken in the same transaction. Idempotent. 201, empty body.
#[utoipa::path(post, path = "/moysklad/v1/retaildemand", tag = "moysklad", operation_id = "moysklad_sale", request_body = SaleRequest,
    responses((status = 201, description = "Recorded (empty body)"), (status = 400, body = ErrorsBody),
              (status = 401, body = ErrorsBody), (status = 404, body = ErrorsBody), (status = 409, body = ErrorsBody),
              (status = 422, body = ErrorsBody, description = "42201: a gift card cannot pay; nothing was recorded"),
              (status = 503, body = ErrorsBody, description = "50301: a connected till cannot reach the cloud for a gift card")),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn sale() {}

/// Records a return: points reversed from the linked sale, line by line. Idempotent. 201.
#[utoipa::path(post, path = "/moysklad/v1/retailsalesreturn", tag = "moysklad", operation_id = "moysklad_sales_return", request_body = ReturnRequest,
    responses((status = 201, description = "Recorded (empty body)"), (status = 400, body = ErrorsBody),
              (status = 401, body = ErrorsBody), (status = 404, body = ErrorsBody), (status = 422, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn sales_return() {}

/// A gift card's status and balances in kopecks; an unknown number is `INVALID`.
#[utoipa::path(get, path = "/moysklad/v1/giftcard", tag = "moysklad", operation_id = "moysklad_gift_card",
    params(("name" = String, Query, description = "The card's number"),
           ("retailStoreId" = Option<String>, Query, description = "The point of sale")),
    responses((status = 200, body = GiftCardResponse), (status = 400, body = ErrorsBody), (status = 401, body = ErrorsBody)),
    security(("moysklad_key" = [])))]
#[allow(dead_code)]
fn gift_card() {}
