//! loyalty-agent: a till-side loyalty agent and its cloud.
//!
//! # Layout
//! - [`rules`]: the pure pricing core (no I/O, no clock) that both binaries call.
#![forbid(unsafe_code)]

pub mod identity;
pub mod rules;
