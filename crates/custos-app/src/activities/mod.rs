//! The business records of a customer (客户业务记录): follow-ups (跟进记录), interactions
//! and complaints (互动/投诉), service records (服务记录), contracts (合同), orders and
//! payments (交易与回款) and credit ratings (信用).
//!
//! Every record belongs to one customer and is read and written through it: the caller
//! needs the kind's permission (`activity.*`, or `credit.*` for credit) and the customer
//! inside its `customer.read` scope; a customer outside it answers the same 404 as the
//! customer endpoints, and a merged code answers with its survivor ([`Located::Moved`]).
//! Each write and its audit entry share one transaction. Free text is masked for callers
//! without `customer.pii.read`.
//!
//! A record keeps the customer it was recorded on (`origin`) beside the one it belongs to
//! now: a merge moves the merged customers' records to the survivor, an unmerge moves them
//! back to the customer their origin is part of again. A split leaves the records on the
//! customer that was split, except those it gives to a new part by id.
//!
//! Files: `kind` (the stored kinds), `locate` (the customer a record goes through),
//! `fields` (value checks), `records` (stored form, views, lists), `followups`,
//! `interactions` (with the service record a complaint opens), `service_record` (its
//! stored form, shared with `services`), `services`, `contracts`
//! (with the cooperation-status rule), `orders` (idempotent, with the totals), `credit`,
//! `timeline` (all kinds in one list) and `carry` (merges).

mod carry;
mod contracts;
mod credit;
mod fields;
mod followups;
mod interactions;
pub(crate) mod kind;
mod locate;
mod orders;
mod records;
mod service;
mod service_record;
mod services;
mod synthetic;
pub(crate) mod timeline;
pub use service::Activities;

use serde::{Deserialize, Serialize};

pub(crate) use carry::{carry_merged, carry_split, carry_unmerged, check_split_records};
pub use contracts::{ContractPatch, ContractView, NewContract, CONTRACT_STATUSES};
pub use credit::{CreditHistory, CreditView, NewCredit};
pub use followups::{FollowupView, NewFollowup, FOLLOWUP_CHANNELS};
pub use interactions::{
    InteractionPatch, InteractionView, NewInteraction, COMPLAINT_STATUSES, INTERACTION_KINDS,
};
pub use locate::Located;
pub(crate) use locate::{check_writable, locate};
pub use orders::{NewOrder, OrderPage, OrderReceipt, OrderTotals, OrderView};
pub use records::{ActivityItem, Page, PageQuery, RecordMeta};
pub use services::{NewServiceRecord, ServiceRecordView};

/// Tunables of the business records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityConfig {
    /// The results a follow-up may have (跟进结果).
    pub followup_results: Vec<String>,
    /// How signing a customer's first contract moves its cooperation status.
    pub cooperation: CooperationRule,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            followup_results: ["需求确认", "方案提交", "合同待签", "已成交", "无意向"]
                .map(String::from)
                .to_vec(),
            cooperation: CooperationRule::default(),
        }
    }
}

/// Signing the first contract sets the customer's `level` (客户等级, its cooperation
/// status) to `to` when it is one of `from` (an empty text: no level yet).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CooperationRule {
    pub from: Vec<String>,
    pub to: String,
}

impl Default for CooperationRule {
    fn default() -> Self {
        CooperationRule {
            from: ["", "潜在客户", "新客户"].map(String::from).to_vec(),
            to: "成交客户".into(),
        }
    }
}

impl CooperationRule {
    /// The level after the first contract, when the rule moves `current`.
    pub fn next(&self, current: Option<&str>) -> Option<String> {
        let current = current.unwrap_or("");
        (current != self.to && self.from.iter().any(|f| f == current)).then(|| self.to.clone())
    }
}
