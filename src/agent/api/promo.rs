//! `POST /v1/promo-codes/check`: is a code valid, and what does it give on this receipt.

use axum::extract::State;
use axum::Json;

use super::{ApiError, AppState};
use crate::agent::clock;
use crate::agent::store::StoreError;
use crate::http::extract::ApiJson;
use crate::rules::{check_promo, RulesError};
use crate::wire::{PromoCheckRequest, PromoCheckResult};

#[utoipa::path(post, path = "/v1/promo-codes/check", tag = "receipts", request_body = PromoCheckRequest,
    responses((status = 200, body = PromoCheckResult)))]
pub async fn check(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<PromoCheckRequest>,
) -> Result<Json<PromoCheckResult>, ApiError> {
    let store = state.store()?;
    let code = request.code.trim().to_owned();
    let program = state.program();
    let Some(promo) = program.find_promo(&code) else {
        return Ok(Json(rejected(&code, "unknown", format!("there is no promo code {code:?}"))));
    };
    let now = clock::now();
    match request.receipt {
        // With a receipt: price it with the code and report the discount the code gave.
        Some(mut receipt) => {
            receipt.redeem = None;
            receipt.promo_codes = vec![code.clone()];
            match store.calculate(receipt, program.clone(), state.offline(), now).await {
                Ok(calculation) => {
                    let discount = calculation.promo_codes.iter().map(|p| p.discount).sum();
                    Ok(Json(PromoCheckResult {
                        code,
                        valid: true,
                        reason: None,
                        message: "the code applies to this receipt".into(),
                        discount: Some(discount),
                    }))
                }
                Err(StoreError::Rules(RulesError::PromoRejected { reason, message, .. })) => {
                    Ok(Json(rejected(&code, reason, message)))
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
                    message: "the code is valid".into(),
                    discount: None,
                })),
                Err(RulesError::PromoRejected { reason, message, .. }) => Ok(Json(rejected(&code, reason, message))),
                Err(e) => Err(ApiError::from(e)),
            }
        }
    }
}

fn rejected(code: &str, reason: &str, message: String) -> PromoCheckResult {
    PromoCheckResult { code: code.to_owned(), valid: false, reason: Some(reason.to_owned()), message, discount: None }
}
