//! Console tests: pages over HTTP (sessions, CSRF, headers, errors) on both databases,
//! and journeys in a real browser (see `browser.rs`).

#![allow(clippy::unwrap_used)]

mod applications;
mod applications_in_browser;
mod customer_form_parts;
mod customer_list;
mod customer_pages;
mod customers_in_browser;
mod dashboard;
mod dashboard_in_browser;
mod list_in_browser;
mod pages;
mod session;
mod shell_in_browser;
mod tablet_in_browser;
