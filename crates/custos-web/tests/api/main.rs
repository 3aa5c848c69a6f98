//! API tests: each test starts the real server on a random port with a fresh database,
//! once on SQLite and once on PostgreSQL (when CUSTOS_TEST_PG_URL is set).

mod helpers;

mod browser;
mod console;

mod activities;
mod apikeys;
mod application_kinds;
mod application_notices;
mod applications;
mod approvers;
mod audit;
mod audit_chain;
mod auth;
mod authz_matrix;
mod authz_table;
mod concurrency;
mod customer_search;
mod customers;
mod duplicate_disclosure;
mod duplicate_households;
mod duplicates;
mod events;
mod exports;
mod hardening;
mod hostile_input;
mod imports;
mod logins;
mod notification_channels;
mod ops;
mod quality;
mod smtp_tls;
mod sources;
mod sso;
mod sso_platforms;
mod sso_steps;
mod timeline;
mod tls;
mod users;
mod webhooks;
