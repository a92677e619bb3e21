//! `GET /openapi.json`: the API description, generated from the handlers and wire types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{customers, health, promo, qr, receipts, session};

#[derive(OpenApi)]
#[openapi(
    info(title = "loyalty-agent native API", description = "The till-side loyalty agent's local API (DESIGN §5). Money is in minor units."),
    paths(
        health::health, health::sync_now,
        customers::search, customers::enroll, customers::read, customers::update, customers::adjust,
        qr::card_qr, qr::decode,
        receipts::calculate, receipts::commit, receipts::return_lines, receipts::read,
        promo::check,
        session::create_launch_code, session::current,
    ),
    modifiers(&BearerToken),
    security(("agent_token" = [])),
)]
pub struct ApiDoc;

struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "agent_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
