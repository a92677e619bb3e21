//! Reading a MoySklad request body: JSON (a missing `Content-Type` is tolerated, a non-JSON one
//! is refused), optionally gzip-compressed (`Content-Encoding: gzip`), capped in size before and
//! after decompression, and parsed with the path of the field at fault so the error's
//! `parameter` can name it (`positions[0].price`).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::errors::{MsError, TOO_LARGE, UNSUPPORTED_MEDIA};

/// The largest body accepted once decompressed: a receipt of 1000 positions is about 0.5 MB.
/// It also bounds what a small gzip "bomb" can expand to.
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// A parsed body, and its bytes (after decompression) for fingerprinting.
pub struct MsJson<T> {
    pub value: T,
    pub bytes: Bytes,
}

impl<S, T> FromRequest<S> for MsJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = MsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        if let Some(kind) = headers.get(CONTENT_TYPE) {
            let essence = kind.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if !(essence == "application/json" || essence.ends_with("+json")) {
                return Err(unsupported("Тело запроса должно быть JSON (Content-Type: application/json)."));
            }
        }
        let gzip = match headers.get(CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase()) {
            None => false,
            Some(encoding) if encoding.is_empty() || encoding == "identity" => false,
            Some(encoding) if encoding == "gzip" || encoding == "x-gzip" => true,
            Some(_) => return Err(unsupported("Поддерживается только сжатие gzip (Content-Encoding: gzip).")),
        };
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large()
            } else {
                MsError::malformed(format!("the body could not be read: {rejection}"))
            }
        })?;
        let bytes = if gzip { gunzip(&raw)? } else { raw };
        if bytes.len() > MAX_BODY {
            return Err(too_large());
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(MsError::malformed("the body is empty"));
        }
        // Every request of the protocol is one JSON object. serde would read `[]` or `[null]`
        // as a struct given field by field, all absent, and a sale of nothing would be "booked".
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(MsError::invalid_field("body", "тело запроса должно быть одним JSON-объектом {…}"));
        }
        let value = parse(&bytes)?;
        Ok(MsJson { value, bytes })
    }
}

/// Parses JSON, naming the field at fault: broken syntax is `MALFORMED_BODY`, a wrong or
/// missing field `INVALID_FIELD` with `parameter` set. Both are 400.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, MsError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => MsError::malformed(inner),
            Category::Data => {
                // "missing field `meta`" is reported at the parent; name the field itself.
                let message = inner.to_string();
                let missing = message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                    .map(|field| if path == "." { field.to_owned() } else { format!("{path}.{field}") });
                // A wrong type at the root (an array instead of an object) has no field to name.
                let parameter = missing.unwrap_or(if path == "." { "body".to_owned() } else { path });
                MsError::invalid_field(parameter, inner)
            }
        }
    })?;
    deserializer.end().map_err(MsError::malformed)?;
    Ok(value)
}

/// Decompresses a gzip body, refusing one that expands beyond [`MAX_BODY`].
fn gunzip(compressed: &[u8]) -> Result<Bytes, MsError> {
    use std::io::Read;
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(4).min(MAX_BODY));
    let decoder = flate2::read::GzDecoder::new(compressed);
    // One byte more than allowed tells "too large" apart from "exactly the limit".
    decoder
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| MsError::malformed(format!("the gzip body could not be decompressed: {e}")))?;
    if out.len() > MAX_BODY {
        return Err(too_large());
    }
    Ok(Bytes::from(out))
}

fn unsupported(message: &str) -> MsError {
    MsError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_MEDIA, "Неподдерживаемый формат", message)
}

fn too_large() -> MsError {
    MsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        TOO_LARGE,
        "Слишком большой запрос",
        format!("Тело запроса больше {} МБ.", MAX_BODY / (1024 * 1024)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::moysklad::wire::RecalcRequest;

    #[test]
    fn errors_name_the_field() {
        let error = parse::<RecalcRequest>(br#"{"positions": [{"price": 10.005}]}"#).err().unwrap();
        assert_eq!(error.parameter.as_deref(), Some("positions[0].price"), "{error:?}");
        let error = parse::<RecalcRequest>(br#"{"positions": [{"price": 1}"#).err().unwrap();
        assert_eq!(error.code, crate::moysklad::errors::MALFORMED_BODY);
        let error = parse::<RecalcRequest>(br#"{"bonusProgram": {"transactionType": "BURNING"}}"#).err().unwrap();
        assert_eq!(error.parameter.as_deref(), Some("bonusProgram.transactionType"), "{error:?}");
        let error = parse::<crate::moysklad::wire::ErrorsBody>(br#"{"errors": [{"error": "x"}]}"#).err().unwrap();
        assert_eq!(error.parameter.as_deref(), Some("errors[0].code"), "{error:?}");
        assert!(parse::<RecalcRequest>(br#"{} {}"#).is_err());
    }

    #[test]
    fn gzip_bodies_are_read_and_bombs_refused() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(br#"{"positions": []}"#).unwrap();
        let body = gunzip(&encoder.finish().unwrap()).unwrap();
        assert_eq!(&body[..], br#"{"positions": []}"#);
        let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        bomb.write_all(&vec![b' '; MAX_BODY + 10]).unwrap();
        let error = gunzip(&bomb.finish().unwrap()).err().unwrap();
        assert_eq!(error.code, TOO_LARGE);
        assert!(gunzip(b"not gzip").is_err());
    }
}
