//! The language people read: chosen from `Accept-Language`, applied to error answers by one
//! middleware both servers wrap around everything.
//!
//! Two languages exist, English and Russian. English is the default when the header is absent,
//! unreadable or names neither: the HTTP API's first readers are integrators and scripts, and
//! a browser that prefers Russian says so. Quality values are honoured (`en;q=0.5, ru` is
//! Russian), `*` counts as English, and `q=0` rules a language out.
//!
//! [`localize`] leaves the status, the headers and the `code` alone; for a Russian reader it
//! replaces the `message` of any answer built from an [`ApiError`](super::ApiError) with the
//! sentence from [`messages_ru`](super::messages_ru), filled with the error's values. It also
//! puts the chosen [`Lang`] into the request's extensions, so a handler whose success answer
//! holds a sentence (the sign-up form, "sync now") can pick its words.

use axum::extract::{FromRequestParts, Request};
use axum::http::header::{ACCEPT_LANGUAGE, CONTENT_LANGUAGE, CONTENT_LENGTH, VARY};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::error::ErrorMessage;
use super::messages_ru;
use crate::wire::{ErrorBody, ErrorDetail};

/// A language the servers answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ru,
}

impl Lang {
    /// The language a request asks for (its `Accept-Language`), English if none of ours.
    pub fn of(headers: &HeaderMap) -> Lang {
        let mut best: Option<(u16, Lang)> = None;
        for value in headers.get_all(ACCEPT_LANGUAGE) {
            let Ok(text) = value.to_str() else { continue };
            for range in text.split(',') {
                let Some((lang, quality)) = parse_range(range) else { continue };
                // The first of equal qualities wins, as the header lists preferences in order.
                if quality > 0 && best.is_none_or(|(q, _)| quality > q) {
                    best = Some((quality, lang));
                }
            }
        }
        best.map(|(_, lang)| lang).unwrap_or_default()
    }

    /// The language tag for `Content-Language`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ru => "ru",
        }
    }
}

/// A handler takes the reader's language as an argument: the one [`localize`] chose, or (on a
/// router without that layer) the request's own header.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Lang, Self::Rejection> {
        Ok(parts.extensions.get::<Lang>().copied().unwrap_or_else(|| Lang::of(&parts.headers)))
    }
}

/// One `language-range;q=…` of the header: which of our languages it names (`*` is English)
/// and its quality in thousandths. `None` for ranges naming another language or unreadable.
fn parse_range(range: &str) -> Option<(Lang, u16)> {
    let mut parts = range.split(';');
    let tag = parts.next()?.trim();
    let primary = tag.split('-').next().unwrap_or("");
    let lang = if primary.eq_ignore_ascii_case("ru") {
        Lang::Ru
    } else if primary.eq_ignore_ascii_case("en") || tag == "*" {
        Lang::En
    } else {
        return None;
    };
    let mut quality = 1000;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            quality = parse_quality(value.trim())?;
        }
    }
    Some((lang, quality))
}

/// An RFC 9110 qvalue (`0`, `0.5`, `1.000`) in thousandths; integers only, no float parsing.
fn parse_quality(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Picks the reader's language and answers errors in it. The outermost layer of both
/// servers, so that the guards' and the fallbacks' refusals are translated too.
pub async fn localize(mut request: Request, next: Next) -> Response {
    let lang = Lang::of(request.headers());
    request.extensions_mut().insert(lang);
    let mut response = next.run(request).await;
    let Some(error) = response.extensions_mut().remove::<ErrorMessage>() else { return response };
    // The message depends on the header: caches must keep the languages apart.
    response.headers_mut().append(VARY, HeaderValue::from_static("accept-language"));
    let message = match lang {
        Lang::En => None,
        Lang::Ru => messages_ru::render(error.code, &error.params),
    };
    let Some(message) = message else {
        response.headers_mut().insert(CONTENT_LANGUAGE, HeaderValue::from_static("en"));
        if lang == Lang::Ru {
            tracing::debug!(code = error.code, "no Russian message for these values; answered in English");
        }
        return response;
    };
    let (mut parts, _english) = response.into_parts();
    let body = Json(ErrorBody { error: ErrorDetail::new(error.code, message, &error.params) }).into_response();
    let (body_parts, body) = body.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    if let Some(length) = body_parts.headers.get(CONTENT_LENGTH) {
        parts.headers.insert(CONTENT_LENGTH, length.clone());
    }
    parts.headers.insert(CONTENT_LANGUAGE, HeaderValue::from_static("ru"));
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(header: &str) -> Lang {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(header).unwrap());
        Lang::of(&headers)
    }

    #[test]
    fn accept_language_is_negotiated_with_quality_values() {
        let cases = [
            ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", Lang::Ru),
            ("ru", Lang::Ru),
            ("RU-ru", Lang::Ru),
            ("en", Lang::En),
            ("en-GB,en;q=0.9,ru;q=0.8", Lang::En),
            ("en;q=0.5, ru", Lang::Ru),
            ("de-DE,de;q=0.9,ru;q=0.3", Lang::Ru),
            ("de-DE,fr;q=0.9", Lang::En),
            ("ru;q=0", Lang::En),
            ("*", Lang::En),
            ("*;q=0.5, ru;q=0.6", Lang::Ru),
            ("ru;q=1.000", Lang::Ru),
            ("ru;q=2", Lang::En),
            ("ru;q=0.5x, en;q=0.1", Lang::En),
            ("ru;q=-1", Lang::En),
            ("", Lang::En),
            (",,;;==", Lang::En),
            ("ru;q=0.500, en;q=0.5", Lang::Ru),
            ("en;q=0.5, ru;q=0.5", Lang::En),
        ];
        for (header, expected) in cases {
            assert_eq!(lang(header), expected, "{header:?}");
        }
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
        let mut two = HeaderMap::new();
        two.append(ACCEPT_LANGUAGE, HeaderValue::from_static("en;q=0.2"));
        two.append(ACCEPT_LANGUAGE, HeaderValue::from_static("ru;q=0.9"));
        assert_eq!(Lang::of(&two), Lang::Ru);
    }
}
