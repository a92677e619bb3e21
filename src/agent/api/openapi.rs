//! `GET /openapi.json`: the API description, generated from the handlers and wire types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::openapi::CommonResponses;
use crate::moysklad::openapi::Endpoints as MoyskladEndpoints;

use super::{customers, gift_cards, health, promo, qr, receipts, reports, session};

#[derive(OpenApi)]
#[openapi(
    info(title = "loyalty-agent native API", description = "The till-side loyalty agent's local API (CONTRACTS.md §api). Money is in minor units."),
    paths(
        health::health, health::sync_now,
        customers::search, customers::enroll, customers::read, customers::update, customers::adjust, customers::send_verification_code,
        qr::card_qr, qr::signup_qr_svg, qr::signup_qr_png, qr::decode,
        receipts::calculate, receipts::commit, receipts::return_lines, receipts::read, receipts::list_all,
        receipts::list_for_customer,
        reports::shift,
        promo::check,
        gift_cards::issue, gift_cards::list, gift_cards::read, gift_cards::void,
        session::create_launch_code, session::current,
    ),
    modifiers(&BearerToken, &MoyskladEndpoints, &COMMON_RESPONSES),
    security(("agent_token" = [])),
)]
pub struct ApiDoc;

/// The layers' answers (403 of the Host and Origin guards, 401, 400/413/415/422 for a body,
/// 503), added after the MoySklad operations are merged in so that they get them too.
const COMMON_RESPONSES: CommonResponses = CommonResponses { host_and_origin_guards: true, role_checked: None };

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
