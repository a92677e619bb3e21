//! `GET /openapi.json`: the cloud's API description, generated from the handlers and types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::http::openapi::CommonResponses;
use crate::moysklad::openapi::Endpoints as MoyskladEndpoints;

use super::{
    access, admin_audit, admin_campaigns, admin_customers, admin_gift_cards, admin_ledger, admin_lifecycle,
    admin_moysklad, admin_reports, admin_tills, admin_users, admin_webhooks, health, me, signup, sync, wallet,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "loyalty-cloud API", description = "The cloud the agents sync to (CONTRACTS.md §sync, §cloud): admin API, sync API and webhooks. Money is in minor units."),
    paths(
        health::health,
        admin_tills::create, admin_tills::list, admin_tills::new_code, admin_tills::revoke,
        admin_customers::create, admin_customers::read, admin_customers::find, admin_customers::update, admin_customers::adjust, admin_customers::activity, admin_customers::consents, admin_customers::referrals, admin_customers::qr,
        admin_ledger::receipts, admin_ledger::receipt, admin_ledger::program, admin_ledger::put_program, admin_ledger::program_versions, admin_ledger::preview, admin_ledger::conflicts, admin_ledger::handled,
        admin_lifecycle::grant,
        admin_webhooks::create, admin_webhooks::list, admin_webhooks::delete, admin_webhooks::deliveries, admin_webhooks::retry, admin_webhooks::sms,
        admin_moysklad::list, admin_moysklad::create, admin_moysklad::revoke,
        admin_gift_cards::issue, admin_gift_cards::list, admin_gift_cards::read, admin_gift_cards::void,
        access::login, access::session, access::logout,
        admin_users::list, admin_users::create, admin_users::update, admin_users::reset_password,
        admin_users::change_own_password, admin_users::begin_totp, admin_users::confirm_totp, admin_users::disable_totp,
        admin_audit::list,
        admin_campaigns::list, admin_campaigns::customer,
        admin_reports::liability, admin_reports::daily, admin_reports::dashboard, admin_reports::shift,
        admin_reports::export, admin_reports::import,
        sync::enroll, sync::push, sync::pull, sync::known_events, sync::gift_card, sync::redeem_gift_cards, sync::send_spending_code, signup::signup, signup::notice,
        me::login, me::verify, me::me, me::qr, me::code, me::code_qr, me::withdraw, me::logout,
        wallet::register, wallet::unregister, wallet::updated, wallet::latest_pass, wallet::device_log, wallet::logo,
        wallet::me_pkpass, wallet::me_google, wallet::admin_pkpass, wallet::admin_google, wallet::admin_status,
    ),
    components(schemas(crate::wire::WebhookBody, crate::wire::CustomerCreatedData, crate::wire::BalanceChangedData)),
    modifiers(&Tokens, &MoyskladEndpoints, &COMMON_RESPONSES),
    // The admin API takes the admin token or a back-office session (its cookie, with the
    // session's X-CSRF-Token header on changes).
    security(("admin_token" = []), ("session" = [])),
)]
pub struct CloudApiDoc;

/// The layers' answers (401, 400/413/415/422 for a body, 503), added after the MoySklad
/// operations are merged in so that they get them too.
const COMMON_RESPONSES: CommonResponses =
    CommonResponses { host_and_origin_guards: false, role_checked: Some("/v1/admin/") };

struct Tokens;

impl Modify for Tokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for name in ["admin_token", "device_token"] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    super::access::COOKIE_NAME,
                    "the back-office session from POST /admin/login; changes also need its X-CSRF-Token header",
                ),
            )),
        );
        components.add_security_scheme(
            "me_session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::with_description(
                    super::me::COOKIE_NAME,
                    "a shopper's self-service session from POST /v1/me/verify (the SMS code)",
                ),
            )),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(CloudApiDoc::openapi())
}
