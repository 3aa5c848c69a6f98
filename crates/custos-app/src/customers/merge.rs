//! Merge (合并), unmerge and split (拆分) of customers.
//!
//! A merge keeps one survivor: its record takes the chosen (or, by default, the first
//! non-empty) value of every field, the names of the merged customers become former
//! names, contacts, tags and custom values are united. The merged customers keep their
//! rows and codes with status `merged`, pointing at the survivor (their codes redirect),
//! and leave the duplicate index. Everything every participant looked like before is
//! kept with the merge, so it can be undone exactly while nobody changed the survivor
//! since. A split makes new customers (new codes from the rules) out of one, moving the
//! selected contacts, and records the lineage A → A1, A2.

use crate::customers::Customers;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::{now_us, CustomerRow, Tx};

use super::{
    diff, history_entry, indexes_of, scoped_customer, with_record, CustomerStatus, CustomerView,
    NewCustomer, Record,
};
use crate::actor::{Actor, Scope};
use crate::error::{AppError, AppResult};

mod history;
mod merging;
mod split;
mod survivorship;
mod undo;

/// Most customers merged into one survivor at once.
const MAX_MERGED: usize = 50;

/// Fields whose value a merge request may take from a chosen participant.
pub const CHOOSABLE_FIELDS: &[&str] = &[
    "customer_type",
    "name",
    "short_name",
    "uscc",
    "id_number",
    "legal_representative",
    "established_on",
    "registered_capital",
    "industry",
    "scale",
    "level",
    "source",
    "region_code",
    "address",
    "postal_code",
    "phone",
    "mobile",
    "email",
    "website",
    "owner_id",
    "department_id",
    "credit_rating",
    "remarks",
];

/// `POST /api/v1/customers/merge`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// Code of the customer that stays.
    #[serde(default)]
    pub survivor: String,
    /// Codes of the customers merged into it.
    #[serde(default)]
    pub merged: Vec<String>,
    /// Field → code of the participant whose value the survivor takes. Fields not
    /// named keep the survivor's value, or the first merged customer's when the
    /// survivor has none.
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// Why (required; kept in the history and audit log).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeResult {
    pub merge_id: i64,
    pub survivor: CustomerView,
    pub merged: Vec<String>,
}

/// A merge as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MergeInfo {
    pub merge_id: i64,
    pub survivor: String,
    pub merged: Vec<String>,
    pub at: String,
    pub actor_id: Option<i64>,
    pub reason: Option<String>,
    pub undone_at: Option<String>,
}

/// `POST /api/v1/customers/{code}/split`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitRequest {
    /// The new customers; each gets a code from the rules.
    #[serde(default)]
    pub parts: Vec<SplitPart>,
    /// `keep` (default): the original stays with its code; `retire`: it is retired.
    #[serde(default)]
    pub original: Option<String>,
    /// Why (required).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SplitPart {
    /// The new customer's fields (its `contacts` are added to those moved).
    pub customer: NewCustomer,
    /// Ids of the original's contacts that move to this part.
    #[serde(default)]
    pub contacts: Vec<i64>,
    /// Ids of the original's business records (follow-ups, contracts, orders…) that move
    /// to this part; the others stay with the original.
    #[serde(default)]
    pub activities: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SplitResult {
    pub original: CustomerView,
    pub parts: Vec<CustomerView>,
}

/// One edge of a customer's lineage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LineageEdge {
    /// `merge` (from: merged customer, to: survivor) or `split` (from: original, to: part).
    pub kind: String,
    pub from: String,
    pub to: String,
    /// Merge id, or the history entry of the split.
    pub op_id: i64,
    pub at: String,
}

/// What a merge keeps to be undone.
#[derive(Debug, Serialize, Deserialize)]
struct Before {
    participants: Vec<Participant>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Participant {
    id: i64,
    code: String,
    /// The row before (`Snapshot` JSON).
    snapshot: String,
    /// row_version right after the merge.
    version_after: i64,
    code_status: String,
}

fn reason_required(reason: &Option<String>, errors: &mut Vec<FieldError>) {
    if reason.is_none() {
        errors.push(
            Violation::new(
                "reason.required",
                "此操作须填写原因",
                "this operation needs a reason",
            )
            .on("reason"),
        );
    }
}

fn not_mergeable(code: &str, status: &str) -> AppError {
    AppError::Rejected(Violation::new(
        "customer.not_mergeable",
        format!("客户“{code}”状态为 {status}，不能参与合并或拆分"),
        format!("customer '{code}' is {status} and cannot be merged or split"),
    ))
}

impl Customers<'_> {
    /// Load a customer by code for a merge or split: present, in scope and editable.
    async fn participant(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        scope: Scope,
        code: &str,
    ) -> AppResult<CustomerRow> {
        let row = scoped_customer(tx, actor, scope, code).await?;
        if !CustomerStatus::editable(&row.status) {
            return Err(not_mergeable(&row.code, &row.status));
        }
        Ok(row)
    }

    /// Write `new` over `row` (optimistic on its version), refresh its indexes and add a
    /// history entry. Returns the stored row.
    #[allow(clippy::too_many_arguments)]
    async fn rewrite_customer(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
        old: &Record,
        new: &Record,
        action: &str,
        reason: Option<String>,
        live: bool,
    ) -> AppResult<CustomerRow> {
        let key = &self.app.config.pii_key.pinned();
        let now = now_us();
        let updated = tx.update_customer(&with_record(row, new, key, now)).await?;
        let indexes = if live {
            indexes_of(new, key)
        } else {
            Default::default()
        };
        tx.replace_customer_indexes(row.id, &indexes, false).await?;
        let changes = serde_json::to_string(&diff(old, new)).unwrap_or_default();
        tx.insert_customer_history(&history_entry(
            actor, &updated, action, reason, changes, now,
        ))
        .await?;
        self.app
            .quality()
            .refresh_quality(tx, std::slice::from_ref(&updated))
            .await?;
        Ok(updated)
    }
}
