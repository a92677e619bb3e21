//! Integration tests: the real agent as a process, talked to over HTTP.
//! One test binary (faster to build); one module per feature.

pub mod apns_standin;
pub mod google_standin;
mod proxy;
mod support;
pub mod wallet_keys;
mod webdriver;

mod apple_pass;

mod bad_input;
mod campaign_sync;
mod campaigns;
mod cashier_page;
mod cashier_session;
mod corrupt_record;
pub(crate) mod doctor;
mod durability;
mod flow;
mod i18n;
mod idempotency;
mod import;
mod installers;
mod invisible_text;
mod lifecycle;
mod package;
pub mod qr;
mod receipt_lists;
mod restored_till;
mod search;
mod security;
mod self_service;
mod selfservice_page;
mod shift_report;
mod slow_clients;
mod sms;
mod spending_codes;
mod storage_failure;
mod sync_contract;
mod sync_e2e;
mod till_list;
mod tray;
mod wallet_cards;

mod cloud_support;
mod console_campaigns;
mod console_page;

mod admin_customers;
mod admin_paging;
pub(crate) mod backoffice_access;

mod cloud_admin;
mod cloud_consents;
mod cloud_import;
mod cloud_postgres_tls;
mod cloud_reports;
mod cloud_signup;
mod cloud_sync;
mod cloud_webhooks;
mod customer_rules;
mod moysklad;
mod moysklad_bad_input;
mod moysklad_flows;
mod moysklad_gift_cards;
mod moysklad_links;
mod moysklad_openapi;
mod openapi;
