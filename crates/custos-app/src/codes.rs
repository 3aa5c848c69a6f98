//! Code rules (编码规则) and code issuing: versioned rules, applicability, drawing a code
//! inside the customer's transaction, manual codes, capacity, validation of codes.
//!
//! One file per responsibility: `rules` administers the versioned rules, `preview`
//! shows what a rule would issue and how full it is, `issuing` draws a code for a new
//! customer, `registry` records issued codes, `validation` checks a given code. What several of
//! them share has its own file: `stored_rule` (applicability, stored rule text) and
//! `drawn` (the drawn code, the issue date).

mod designer;
mod drawn;
mod issuing;
pub(crate) mod preview;
mod published;
mod registry;
mod resolve;
mod rules;
mod service;
mod stored_rule;
mod validation;
pub use service::Codes;

pub use designer::{code_rule_templates, rule_as_new, RuleCheck, RuleOverview, RuleTemplate};
pub(crate) use drawn::issue_date;
use drawn::random_text;
pub use drawn::DrawnCode;
pub(crate) use issuing::draw_code;
pub use issuing::CapacityWarning;
pub use preview::{Capacity, Preview, SampleCustomer, ScopeCapacity};
pub(crate) use published::PublishedRule;
pub(crate) use registry::{code_row, code_taken, register_code};
pub use resolve::ResolvedCode;
pub(crate) use rules::publish_code_rule_in;
pub use rules::{CodeRuleVersion, CodeRuleView, NewCodeRule};
pub(crate) use stored_rule::segments_of;
pub use stored_rule::AppliesTo;
use stored_rule::{applies_of, existing_versions, rule_not_found};
pub use validation::{CodeMatch, CodeRegistryInfo, CodeValidation};
