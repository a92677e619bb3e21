//! The till-side agent: configuration, storage, the local HTTP API and the commands of the
//! `loyalty-agent` binary.

pub mod api;
pub mod cloud_link;
pub mod config;
pub mod doctor;
pub mod enroll;
pub mod import;
pub mod moysklad_backend;
pub mod open;
pub mod program_file;
pub mod server;
pub mod service;
pub mod session;
pub mod sms;
pub mod state;
pub mod status;
pub mod store;
pub mod sync;
pub mod token;
pub mod tray;
