//! The console's tables of words, one file per page module, kept apart from the pages so
//! that `i18n` can gather them all while every page asks `i18n` for its words.

/// `(key, 中文, English)`.
pub(crate) type Entry = (&'static str, &'static str, &'static str);

pub(crate) mod admin_words;
pub(crate) mod application_form;
pub(crate) mod applications;
pub(crate) mod channels;
pub(crate) mod customer_assign;
pub(crate) mod customer_group;
pub(crate) mod customer_list;
pub(crate) mod customer_words;
pub(crate) mod duplicates;
pub(crate) mod exports;
pub(crate) mod fields;
pub(crate) mod figures;
pub(crate) mod flow_form;
pub(crate) mod imports;
pub(crate) mod inbox;
pub(crate) mod quality;
pub(crate) mod report_figures;
pub(crate) mod rule_words;
pub(crate) mod service_accounts;
pub(crate) mod sources;
pub(crate) mod webhooks;
