//! The protocol's error answer, `{"errors": [{error, parameter?, code, error_message}]}`, and
//! the codes this adapter uses. The one place a failure becomes an HTTP answer for MoySklad.
//!
//! The protocol defines a single code, 28001 (412: the new customer must confirm by code); the
//! others are ours. They are the HTTP status times 100 plus a number, so a support person
//! reading a MoySklad log line can tell the kind of failure from the code alone. Titles and
//! messages are in Russian, because MoySklad shows them to the store's staff.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::service::BackendError;
use super::wire::{ErrorItem, ErrorsBody};
use crate::rules::RulesError;

/// The protocol's own code: the customer must confirm their registration by code.
pub const CONFIRMATION_REQUIRED: i64 = 28001;
pub const MALFORMED_BODY: i64 = 40000;
pub const INVALID_FIELD: i64 = 40001;
pub const BAD_KEY: i64 = 40100;
pub const CUSTOMER_NOT_FOUND: i64 = 40400;
pub const SALE_NOT_FOUND: i64 = 40401;
pub const NO_SUCH_ENDPOINT: i64 = 40402;
pub const METHOD_NOT_ALLOWED: i64 = 40500;
pub const CONFLICT: i64 = 40900;
pub const TOO_LARGE: i64 = 41300;
pub const UNSUPPORTED_MEDIA: i64 = 41500;
pub const RULES: i64 = 42200;
/// A gift card cannot pay what the sale says it paid (unknown, void, expired, used up, short).
pub const GIFT_CARD: i64 = 42201;
pub const UNAVAILABLE: i64 = 50300;
/// A connected till cannot reach the cloud, which alone can take money from a gift card.
pub const GIFT_CARD_OFFLINE: i64 = 50301;

/// A failure as MoySklad will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsError {
    pub status: StatusCode,
    pub code: i64,
    /// The `error` title.
    pub title: &'static str,
    pub parameter: Option<String>,
    pub message: String,
}

impl MsError {
    pub fn new(status: StatusCode, code: i64, title: &'static str, message: impl Into<String>) -> MsError {
        MsError { status, code, title, parameter: None, message: message.into() }
    }

    pub fn with_parameter(mut self, parameter: impl Into<String>) -> MsError {
        self.parameter = Some(parameter.into());
        self
    }

    pub fn bad_key() -> MsError {
        MsError::new(
            StatusCode::UNAUTHORIZED,
            BAD_KEY,
            "Неправильный ключ доступа",
            "Ключ доступа (Lognex-Discount-API-Auth-Token) не подходит. Проверьте ключ в настройках программы лояльности в МоёмСкладе.",
        )
        .with_parameter("Lognex-Discount-API-Auth-Token")
    }

    pub fn malformed(detail: impl std::fmt::Display) -> MsError {
        MsError::new(
            StatusCode::BAD_REQUEST,
            MALFORMED_BODY,
            "Неверный формат запроса",
            format!("Тело запроса не является корректным JSON: {detail}"),
        )
    }

    /// A field that is missing or holds a value the protocol does not allow.
    pub fn invalid_field(parameter: impl Into<String>, detail: impl std::fmt::Display) -> MsError {
        let parameter = parameter.into();
        MsError::new(
            StatusCode::BAD_REQUEST,
            INVALID_FIELD,
            "Неверное значение поля",
            format!("Поле {parameter} отсутствует или имеет неверное значение: {detail}"),
        )
        .with_parameter(parameter)
    }

    pub fn customer_not_found(parameter: &str) -> MsError {
        MsError::new(
            StatusCode::NOT_FOUND,
            CUSTOMER_NOT_FOUND,
            "Покупатель не найден",
            "Покупатель не найден в программе лояльности. Найдите его по телефону или карте либо зарегистрируйте.",
        )
        .with_parameter(parameter)
    }

    pub fn confirmation_required() -> MsError {
        MsError::new(
            StatusCode::PRECONDITION_FAILED,
            CONFIRMATION_REQUIRED,
            "Требуется подтверждение",
            "Программа лояльности требует подтвердить регистрацию покупателя кодом из SMS.",
        )
    }

    pub fn unavailable(detail: impl std::fmt::Display) -> MsError {
        MsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "Программа лояльности недоступна",
            format!("Данные программы лояльности сейчас недоступны, ничего не сохранено; повторите запрос ({detail})."),
        )
    }
}

impl IntoResponse for MsError {
    fn into_response(self) -> Response {
        let body = ErrorsBody {
            errors: vec![ErrorItem {
                error: self.title.to_owned(),
                parameter: self.parameter,
                code: self.code,
                error_message: self.message,
            }],
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<RulesError> for MsError {
    fn from(e: RulesError) -> MsError {
        MsError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            RULES,
            "Нарушены правила программы",
            format!("Программа лояльности не может провести операцию: {e} ({}).", e.code()),
        )
    }
}

impl From<BackendError> for MsError {
    fn from(e: BackendError) -> MsError {
        match e {
            BackendError::NotFound { what } => MsError::new(
                StatusCode::NOT_FOUND,
                CUSTOMER_NOT_FOUND,
                "Не найдено",
                format!("В программе лояльности не найдено: {what}."),
            ),
            BackendError::Conflict { code, message } => MsError::new(
                StatusCode::CONFLICT,
                CONFLICT,
                "Конфликт данных",
                format!("Операция противоречит уже сохранённым данным: {message} ({code})."),
            ),
            BackendError::Invalid { code: "gift_card_offline", message } => MsError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                GIFT_CARD_OFFLINE,
                "Подарочная карта недоступна",
                format!(
                    "Подарочные карты списываются только на сервере программы лояльности, а он сейчас недоступен; продажа не записана, повторите её позже ({message})."
                ),
            )
            .with_parameter("giftCards"),
            BackendError::Invalid { code, message } if code.starts_with("gift_card") || code == "invalid_gift_card" => {
                MsError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    GIFT_CARD,
                    "Подарочная карта не принята",
                    format!("Продажа не записана: {message} ({code}). Проверьте карту запросом /giftcard."),
                )
                .with_parameter("giftCards")
            }
            BackendError::Invalid { code, message } => MsError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                RULES,
                "Операция невозможна",
                format!("Программа лояльности не может провести операцию: {message} ({code})."),
            ),
            BackendError::Rules(rule) => rule.into(),
            BackendError::Unavailable(detail) => {
                tracing::error!(error = %detail, "MoySklad adapter: storage unavailable");
                MsError::unavailable(detail)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_protocol_shape() {
        let response = MsError::bad_key().into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = ErrorsBody {
            errors: vec![ErrorItem { error: "t".into(), parameter: None, code: 28001, error_message: "m".into() }],
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"errors":[{"error":"t","code":28001,"error_message":"m"}]}"#
        );
        assert_eq!(MsError::confirmation_required().status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(MsError::confirmation_required().code, 28001);
    }
}
