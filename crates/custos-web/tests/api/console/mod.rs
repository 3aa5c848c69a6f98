//! Console tests: pages over HTTP (sessions, CSRF, headers, errors) on both databases,
//! and journeys in a real browser (see `browser.rs`).

#![allow(clippy::unwrap_used)]

mod admin;
mod admin_grants;
mod admin_in_browser;
mod applications;
mod applications_in_browser;
mod customer_form_parts;
mod customer_list;
mod customer_pages;
mod customers_in_browser;
mod dashboard;
mod dashboard_in_browser;
mod duplicates;
mod duplicates_in_browser;
mod family;
mod fields_in_browser;
mod flows_fields;
mod group;
mod hooks;
mod hooks_in_browser;
mod imports;
mod imports_in_browser;
mod integrations_in_browser;
mod list_in_browser;
pub(crate) mod pages;
mod quality;
mod quality_in_browser;
mod rules;
mod rules_in_browser;
mod service_accounts;
mod session;
mod shell_in_browser;
mod sources;
mod split;
mod tablet_in_browser;
