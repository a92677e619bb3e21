//! `ApiError`: every failure an HTTP API of ours can answer, turned into a response in exactly
//! one place (`IntoResponse` below), always as `{"error": {"code", "message", "details"}}`
//! (`details` only when the error names values). Each server
//! maps its own domain errors into it (`agent::api::error`, `cloud::api`).
//!
//! The message is English. An error may also carry named values (`params`: a field name, a
//! limit, an id) that its sentence mentions; the response keeps code, English sentence and
//! values in its extensions ([`ErrorMessage`]) so that [`super::i18n::localize`] can answer a
//! Russian reader from [`super::messages_ru`] without losing any of them.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::identity::IdentityError;
use crate::rules::{LineProblem, RulesError};
use crate::wire::{ErrorBody, ErrorDetail};

/// Named values an error's sentence mentions, for translations (`("max", "200")`, …).
pub type ErrorParams = Vec<(&'static str, String)>;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub params: ErrorParams,
}

/// What an error answer said, put into the response's extensions by `IntoResponse`: the
/// language layer rewrites the body from it.
#[derive(Debug, Clone)]
pub struct ErrorMessage {
    pub code: &'static str,
    pub english: String,
    pub params: ErrorParams,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), params: Vec::new() }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, code, message)
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }
    /// The error as an answer's body part, in `lang` (for errors carried inside a 200, such as
    /// one side of a program preview).
    pub fn detail(&self, lang: super::i18n::Lang) -> crate::wire::ErrorDetail {
        let message = match lang {
            super::i18n::Lang::Ru => super::messages_ru::render(self.code, &self.params),
            super::i18n::Lang::En => None,
        };
        crate::wire::ErrorDetail::new(self.code, message.unwrap_or_else(|| self.message.clone()), &self.params)
    }

    /// A 503 `temporarily_unavailable`: something on the server side failed; retrying may help.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", message)
    }
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send the agent token as \"Authorization: Bearer <token>\"; `loyalty-agent token` prints it",
        )
        .with("agent", "")
    }
    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "the request body is larger than this server accepts; send less at once",
        )
    }

    /// Names a value the sentence mentions, so a translation can mention it too.
    pub fn with(mut self, name: &'static str, value: impl ToString) -> ApiError {
        self.params.push((name, value.to_string()));
        self
    }

    /// Adds several named values at once (from a domain error that carries them).
    pub fn with_params(mut self, params: ErrorParams) -> ApiError {
        self.params.extend(params);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kept = ErrorMessage { code: self.code, english: self.message.clone(), params: self.params };
        let body = ErrorBody { error: ErrorDetail::new(self.code, self.message, &kept.params) };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(kept);
        response
    }
}

/// A rule violation is a 422 whose values (limits, lines, SKUs) travel with it.
impl From<RulesError> for ApiError {
    fn from(rule: RulesError) -> ApiError {
        let params = rule_params(&rule);
        ApiError::unprocessable(rule.code(), rule.to_string()).with_params(params)
    }
}

/// An identifier that cannot be read or drawn is a 422 with the values its sentence names.
impl From<IdentityError> for ApiError {
    fn from(e: IdentityError) -> ApiError {
        let params = e.params();
        ApiError::unprocessable(e.code(), e.to_string()).with_params(params)
    }
}

/// A customer field (`identity::fields`) refused before any store was asked is a 422 with the
/// values its sentence names.
impl From<crate::identity::fields::FieldError> for ApiError {
    fn from(e: crate::identity::fields::FieldError) -> ApiError {
        ApiError::unprocessable(e.code, e.message).with_params(e.params)
    }
}

/// A program that does not hold together (`PUT /v1/admin/program`, a preview's draft): 422
/// `invalid_program`, naming the field (`details.field`, as the program's JSON names it), the
/// kind of problem and its values, and the English sentence again as `details.detail`.
impl From<crate::rules::ProgramProblem> for ApiError {
    fn from(problem: crate::rules::ProgramProblem) -> ApiError {
        let mut params = vec![
            ("detail", problem.message().to_owned()),
            ("field", problem.field.clone()),
            ("problem", problem.problem.to_owned()),
        ];
        params.extend(problem.values.iter().cloned());
        ApiError::unprocessable("invalid_program", problem.message()).with_params(params)
    }
}

/// The values a rule violation's sentence names, under the names `messages_ru` uses.
fn rule_params(rule: &RulesError) -> ErrorParams {
    let p = |name: &'static str, value: &dyn ToString| (name, value.to_string());
    match rule {
        RulesError::InvalidQuantity { text, why } => vec![p("text", text), p("why", why)],
        RulesError::InvalidLine { line, why } => {
            let mut params = vec![p("line", &(line + 1))];
            params.extend(match why {
                LineProblem::TooManyLines { max, count } => vec![p("max_lines", max), p("count", count)],
                LineProblem::EmptySku => vec![p("empty_sku", &"")],
                LineProblem::SkuTooLong { max } => vec![p("max_sku", max)],
                LineProblem::NegativePrice { price } => vec![p("negative_price", price)],
                LineProblem::PriceTooHigh { price, max } => vec![p("price", price), p("max_price", max)],
                LineProblem::QuantityOutOfRange { quantity, max } => {
                    vec![p("quantity", quantity), p("max_quantity", max)]
                }
            });
            params
        }
        RulesError::EmptyReceipt | RulesError::Overflow | RulesError::NothingToReturn => Vec::new(),
        RulesError::RedeemAboveLimit { requested, max, bound_by } => {
            vec![p("requested", requested), p("max", max), p("bound_by", bound_by)]
        }
        RulesError::NegativeRedeem(points) => vec![p("points", points)],
        RulesError::PromoRejected { code, reason, values, .. } => {
            let mut params = vec![p("promo", code), p("reason", reason)];
            params.extend(values.iter().cloned());
            params
        }
        RulesError::UnknownReturnLine { line } => vec![p("sku", line)],
        RulesError::ReturnTooMuch { sku, requested, remaining } => {
            vec![p("sku", sku), p("requested", requested), p("remaining", remaining)]
        }
    }
}
