//! HTTP pieces both servers share: the error type every answer uses, request extractors that
//! answer in that format, common middleware, token-bucket rate limits, the connection loop (`serve`) that
//! bounds slow and idle clients, and the language layer
//! that answers errors in Russian or English (`i18n`, with the Russian sentences in
//! `messages_ru`).

pub mod common;
pub mod error;
pub mod extract;
pub mod i18n;
pub mod messages_ru;
pub mod openapi;
pub mod rate_limit;
pub mod sentence;
pub mod serve;

pub use error::{ApiError, ErrorParams};
pub use i18n::Lang;
