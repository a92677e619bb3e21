//! `POST /v1/promo-codes/check`: is a code valid, and what does it give on this receipt. The
//! answer's `message` is for the cashier, in the language they read (`Accept-Language`).

use axum::extract::State;
use axum::Json;

use super::{ApiError, AppState};
use crate::agent::store::StoreError;
use crate::clock;
use crate::http::extract::ApiJson;
use crate::http::Lang;
use crate::rules::{check_promo, RulesError};
use crate::wire::{PromoCheckRequest, PromoCheckResult};

#[utoipa::path(post, path = "/v1/promo-codes/check", tag = "receipts", request_body = PromoCheckRequest,
    responses((status = 200, body = PromoCheckResult)))]
pub async fn check(
    State(state): State<AppState>,
    lang: Lang,
    ApiJson(request): ApiJson<PromoCheckRequest>,
) -> Result<Json<PromoCheckResult>, ApiError> {
    let store = state.store()?;
    let code = request.code.trim().to_owned();
    let program = state.program();
    let Some(promo) = program.find_promo(&code) else {
        return Ok(Json(rejected(
            lang,
            &code,
            &code,
            "unknown",
            format!("there is no promo code {code:?}"),
            Vec::new(),
        )));
    };
    let now = clock::now();
    match request.receipt {
        // With a receipt: price it with the code and report the discount the code gave.
        Some(mut receipt) => {
            receipt.redeem = None;
            receipt.promo_codes = vec![code.clone()];
            match store.quote(receipt, program.clone(), state.offline(), now).await {
                Ok(calculation) => {
                    let discount = calculation.promo_codes.iter().map(|p| p.discount).sum();
                    Ok(Json(PromoCheckResult {
                        code,
                        valid: true,
                        reason: None,
                        message: valid_message(
                            lang,
                            "the code applies to this receipt",
                            "Промокод действует на этот чек.",
                        ),
                        discount: Some(discount),
                    }))
                }
                Err(StoreError::Rules(RulesError::PromoRejected { code: canonical, reason, message, values })) => {
                    Ok(Json(rejected(lang, &code, &canonical, reason, message, values)))
                }
                Err(e) => Err(e.into()),
            }
        }
        // Without one: the window and the usage limits, assuming the minimum receipt is met.
        None => {
            let usage = store.promo_usage(code.clone(), None).await?;
            match check_promo(promo, promo.min_receipt, promo.min_receipt, usage, now) {
                Ok(_) => Ok(Json(PromoCheckResult {
                    code,
                    valid: true,
                    reason: None,
                    message: valid_message(lang, "the code is valid", "Промокод действует."),
                    discount: None,
                })),
                Err(RulesError::PromoRejected { code: canonical, reason, message, values }) => {
                    Ok(Json(rejected(lang, &code, &canonical, reason, message, values)))
                }
                Err(e) => Err(ApiError::from(e)),
            }
        }
    }
}

fn valid_message(lang: Lang, english: &str, russian: &str) -> String {
    match lang {
        Lang::En => english.to_owned(),
        Lang::Ru => russian.to_owned(),
    }
}

/// A refused code (as entered, and as the program spells it); a Russian reader gets the
/// `promo_rejected` sentence with the same values.
fn rejected(
    lang: Lang,
    code: &str,
    canonical: &str,
    reason: &'static str,
    english: String,
    mut values: Vec<(&'static str, String)>,
) -> PromoCheckResult {
    values.extend([("promo", canonical.to_owned()), ("reason", reason.to_owned())]);
    let message = match lang {
        Lang::En => english,
        Lang::Ru => crate::http::messages_ru::render("promo_rejected", &values).unwrap_or(english),
    };
    PromoCheckResult { code: code.to_owned(), valid: false, reason: Some(reason.to_owned()), message, discount: None }
}
