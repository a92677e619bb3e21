//! HTTP pieces both servers share: the error type every answer uses and request extractors
//! that answer in that format.

pub mod common;
pub mod error;
pub mod extract;

pub use error::ApiError;
