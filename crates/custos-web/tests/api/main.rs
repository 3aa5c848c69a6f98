//! API tests: each test starts the real server on a random port with a fresh database,
//! once on SQLite and once on PostgreSQL (when CUSTOS_TEST_PG_URL is set).

mod helpers;

mod applications;
mod audit;
mod auth;
mod concurrency;
mod customers;
mod duplicates;
mod exports;
mod hardening;
mod imports;
mod ops;
mod users;
