//! HTTP pieces both servers share: the error type every answer uses, request extractors that
//! answer in that format, common middleware, and token-bucket rate limits.

pub mod common;
pub mod error;
pub mod extract;
pub mod rate_limit;

pub use error::ApiError;
