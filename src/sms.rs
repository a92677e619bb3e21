//! Sending text messages: the SMS codes (MoySklad's verification codes, the self-service
//! login, spending codes) through a gateway both binaries can be configured with.
//!
//! Three gateways, chosen by configuration ([`SmsGateway::parse`]):
//! - `log`: the development sender — the message is logged (the phone masked), nothing is sent;
//! - `webhook:URL`: a POST of `{"phone", "text", "id"}` as JSON to the chain's own gateway,
//!   signed like the webhooks (`X-Loyalty-Signature: sha256=<hex HMAC of the body>`, with
//!   `X-Loyalty-Delivery: <id>` to deduplicate by);
//! - `smsru:API_KEY`: SMS.ru's documented HTTP API (`POST /sms/send` with `api_id`, `to`, `msg`,
//!   `json=1`), answered per number with `status_code` 100 when accepted.
//!
//! [`send`] makes one attempt and says what it came to: sent, worth trying again (the network,
//! a 5xx, the gateway busy or out of funds), or refused for good (a number the gateway will
//! not serve, a wrong key). Retrying is the caller's: the cloud keeps an outbox, a till retries
//! in memory while the code lives.

use std::time::Duration;

use serde::Serialize;

use crate::identity::mask_phone;

/// SMS.ru's address, unless configured otherwise (a stand-in in tests).
pub const SMSRU_URL: &str = "https://sms.ru";

/// Where messages go.
#[derive(Clone, PartialEq, Eq)]
pub enum SmsGateway {
    Log,
    Webhook { url: String, secret: String },
    SmsRu { api_key: String, base_url: String },
}

impl std::fmt::Debug for SmsGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SmsGateway::Log => f.write_str("log"),
            SmsGateway::Webhook { url, .. } => write!(f, "webhook:{url}"),
            SmsGateway::SmsRu { base_url, .. } => write!(f, "smsru:<redacted> at {base_url}"),
        }
    }
}

impl SmsGateway {
    /// `log`, `webhook:https://…` or `smsru:API_KEY`. `secret` signs webhook requests;
    /// `smsru_url` replaces SMS.ru's address (tests, a proxy).
    pub fn parse(text: &str, secret: Option<&str>, smsru_url: Option<&str>) -> Result<SmsGateway, String> {
        let text = text.trim();
        if text.is_empty() || text == "log" {
            return Ok(SmsGateway::Log);
        }
        match text.split_once(':') {
            Some(("webhook", url)) => {
                let parsed = reqwest::Url::parse(url.trim())
                    .map_err(|e| format!("the SMS webhook address «{url}» is not a URL: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(format!("the SMS webhook address «{url}» must start with https:// or http://"));
                }
                Ok(SmsGateway::Webhook { url: parsed.to_string(), secret: secret.unwrap_or_default().to_owned() })
            }
            Some(("smsru", key)) if !key.trim().is_empty() => Ok(SmsGateway::SmsRu {
                api_key: key.trim().to_owned(),
                base_url: smsru_url.unwrap_or(SMSRU_URL).trim_end_matches('/').to_owned(),
            }),
            Some(("smsru", _)) => Err("smsru: needs the API key from SMS.ru's settings (smsru:XXXXXXXX-…)".into()),
            _ => Err(format!("«{text}» is not an SMS gateway: use log, webhook:https://… or smsru:API_KEY")),
        }
    }

    /// What the logs and the doctor may show: the kind and the address, never a key.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }

    pub fn is_log(&self) -> bool {
        matches!(self, SmsGateway::Log)
    }
}

/// One message.
#[derive(Debug, Clone, Serialize)]
pub struct SmsMessage {
    /// E.164.
    pub phone: String,
    pub text: String,
    /// Unique per message: the receiver deduplicates a retry by it.
    pub id: String,
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The gateway took it (with its own id, when it gives one).
    Sent { gateway_id: Option<String> },
    /// Not now: try again later.
    Retry(String),
    /// Never: the gateway refused this message for good.
    Refused(String),
}

/// How long one attempt may take.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One attempt to send `message` through `gateway`.
pub async fn send(client: &reqwest::Client, gateway: &SmsGateway, message: &SmsMessage) -> SendOutcome {
    match gateway {
        SmsGateway::Log => {
            tracing::info!(phone = %mask_phone(&message.phone), text = %message.text, id = %message.id,
                "SMS (development sender: logged, not sent)");
            SendOutcome::Sent { gateway_id: None }
        }
        SmsGateway::Webhook { url, secret } => webhook(client, url, secret, message).await,
        SmsGateway::SmsRu { api_key, base_url } => smsru(client, base_url, api_key, message).await,
    }
}

async fn webhook(client: &reqwest::Client, url: &str, secret: &str, message: &SmsMessage) -> SendOutcome {
    let body = match serde_json::to_vec(message) {
        Ok(body) => body,
        Err(e) => return SendOutcome::Refused(e.to_string()),
    };
    let sent = client
        .post(url)
        .timeout(SEND_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Loyalty-Delivery", &message.id)
        .header("X-Loyalty-Signature", crate::wire::signature(secret, &body))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(response) if response.status().is_success() => SendOutcome::Sent { gateway_id: None },
        Ok(response) => {
            let status = response.status();
            let said = format!("the SMS gateway answered {status}");
            // 408 and 429 say "later"; other 4xx say this request will never do.
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                SendOutcome::Refused(said)
            } else {
                SendOutcome::Retry(said)
            }
        }
        Err(e) => SendOutcome::Retry(format!("the SMS gateway could not be reached: {}", chain(&e))),
    }
}

/// SMS.ru's answer with `json=1` (the parts read; `balance` is left alone).
#[derive(Debug, serde::Deserialize)]
struct SmsRuAnswer {
    status: String,
    #[serde(default)]
    status_code: i64,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    sms: std::collections::HashMap<String, SmsRuNumber>,
}

#[derive(Debug, serde::Deserialize)]
struct SmsRuNumber {
    status: String,
    #[serde(default)]
    status_code: i64,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    sms_id: Option<String>,
}

/// SMS.ru codes worth trying again: out of funds (201, the chain tops up), over a daily limit
/// (202… are about the request; 220 the service is busy), and its own failures.
fn smsru_retryable(code: i64) -> bool {
    matches!(code, 201 | 220 | 230 | 231 | 232 | 500..=599)
}

async fn smsru(client: &reqwest::Client, base_url: &str, api_key: &str, message: &SmsMessage) -> SendOutcome {
    let to: String = message.phone.chars().filter(char::is_ascii_digit).collect();
    let sent = client
        .post(format!("{base_url}/sms/send"))
        .timeout(SEND_TIMEOUT)
        .form(&[("api_id", api_key), ("to", &to), ("msg", &message.text), ("json", "1")])
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(e) => return SendOutcome::Retry(format!("SMS.ru could not be reached: {}", chain(&e))),
    };
    let status = response.status();
    if status.is_server_error() {
        return SendOutcome::Retry(format!("SMS.ru answered {status}"));
    }
    let answer: SmsRuAnswer = match response.json().await {
        Ok(answer) => answer,
        Err(e) => return SendOutcome::Retry(format!("SMS.ru answered {status} with something unexpected: {e}")),
    };
    if answer.status != "OK" {
        return smsru_refusal(answer.status_code, answer.status_text.as_deref());
    }
    match answer.sms.get(&to) {
        Some(number) if number.status == "OK" && number.status_code == 100 => {
            SendOutcome::Sent { gateway_id: number.sms_id.clone() }
        }
        Some(number) => smsru_refusal(number.status_code, number.status_text.as_deref()),
        None => SendOutcome::Retry("SMS.ru's answer did not mention the number".into()),
    }
}

/// An SMS.ru error code (for the whole request or the number): tried again later or refused.
fn smsru_refusal(code: i64, text: Option<&str>) -> SendOutcome {
    let said = match text {
        Some(text) => format!("SMS.ru refused the message (code {code}: {text})"),
        None => format!("SMS.ru refused the message (code {code})"),
    };
    if smsru_retryable(code) {
        SendOutcome::Retry(said)
    } else {
        SendOutcome::Refused(said)
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A message's text as the back office may list it: the digits of a code hidden.
pub fn masked_text(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_digit() { '•' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateways_are_read_from_their_short_form() {
        assert_eq!(SmsGateway::parse("log", None, None), Ok(SmsGateway::Log));
        assert_eq!(SmsGateway::parse("", None, None), Ok(SmsGateway::Log));
        assert_eq!(
            SmsGateway::parse("webhook:https://sms.example.ru/send", Some("s3"), None),
            Ok(SmsGateway::Webhook { url: "https://sms.example.ru/send".into(), secret: "s3".into() })
        );
        assert_eq!(
            SmsGateway::parse("smsru:ABCD-1234", None, Some("http://127.0.0.1:9/")),
            Ok(SmsGateway::SmsRu { api_key: "ABCD-1234".into(), base_url: "http://127.0.0.1:9".into() })
        );
        assert!(SmsGateway::parse("smsru:", None, None).unwrap_err().contains("API key"));
        assert!(SmsGateway::parse("webhook:ftp://x", None, None).unwrap_err().contains("https://"));
        assert!(SmsGateway::parse("pigeon:1", None, None).unwrap_err().contains("log, webhook"));
        let key = SmsGateway::parse("smsru:SECRET-KEY", None, None).unwrap();
        assert!(!key.describe().contains("SECRET"), "{}", key.describe());
    }

    #[test]
    fn a_listed_text_hides_the_code() {
        assert_eq!(masked_text("Код для входа: 123456"), "Код для входа: ••••••");
    }
}
