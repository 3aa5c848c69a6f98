//! The change history (变更记录): a snapshot of the stored row with every entry (so the
//! record can be rebuilt `as_of` any time) and the field changes, personal data masked.

use crate::customers::Customers;
use std::sync::OnceLock;

use custos_core::normalize::name_key;
use custos_store::customer_master::HistoryRow;
use custos_store::CustomerRow;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::masking::masked_record;
use super::record::{Record, PII_FIELDS};
use super::scope::scoped_customer;
use super::stored::record_of;
use crate::actor::Actor;
use crate::auth::format_time;
use crate::error::{AppError, AppResult};

/// The stored record kept in each history entry (rebuilds `as_of`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Snapshot {
    customer_type: String,
    name: String,
    status: String,
    uscc: Option<String>,
    region_code: Option<String>,
    industry: Option<String>,
    level: Option<String>,
    owner_id: Option<i64>,
    department_id: Option<i64>,
    data: String,
    updated_at: i64,
    row_version: i64,
}

/// One field change in the history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub field: String,
    /// The value before: text, number, list or null, as the field holds it (masked PII).
    pub old: Value,
    /// The value after, in the same form.
    pub new: Value,
}

/// One entry of the change history (变更记录); personal data masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub id: i64,
    pub version: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
    pub changes: Vec<FieldChange>,
}

/// The row as a history snapshot describes it (id, code and creation from `current`).
pub(super) fn row_from_snapshot(current: &CustomerRow, snapshot: &str) -> AppResult<CustomerRow> {
    let s: Snapshot = serde_json::from_str(snapshot)
        .map_err(|e| AppError::Internal(format!("snapshot of {} unreadable: {e}", current.code)))?;
    Ok(CustomerRow {
        name_key: name_key(&s.name).key,
        customer_type: s.customer_type,
        name: s.name,
        status: s.status,
        uscc: s.uscc,
        region_code: s.region_code,
        industry: s.industry,
        level: s.level,
        owner_id: s.owner_id,
        department_id: s.department_id,
        data: s.data,
        updated_at: s.updated_at,
        row_version: s.row_version,
        ..current.clone()
    })
}

/// The history entry of a change that left the customer as `updated`, made by `actor` at
/// `now`: every writer (edits, applications, merges, splits, code changes, status
/// changes) records its change through this one shape, so the history and the snapshot
/// it is rebuilt from are always written alike. `changes` is the JSON list of
/// `{field, old, new}` (personal data masked).
pub(crate) fn history_entry(
    actor: &Actor,
    updated: &CustomerRow,
    action: &str,
    reason: Option<String>,
    changes: String,
    now: i64,
) -> HistoryRow {
    HistoryRow {
        id: 0,
        customer_id: updated.id,
        row_version: updated.row_version,
        at: now,
        actor_id: Some(actor.user_id),
        actor_name: actor.username.clone(),
        action: action.to_string(),
        reason,
        changes,
        snapshot: snapshot_of(updated),
    }
}

pub(crate) fn snapshot_of(row: &CustomerRow) -> String {
    let s = Snapshot {
        customer_type: row.customer_type.clone(),
        name: row.name.clone(),
        status: row.status.clone(),
        uscc: row.uscc.clone(),
        region_code: row.region_code.clone(),
        industry: row.industry.clone(),
        level: row.level.clone(),
        owner_id: row.owner_id,
        department_id: row.department_id,
        data: row.data.clone(),
        updated_at: row.updated_at,
        row_version: row.row_version,
    };
    serde_json::to_string(&s).unwrap_or_default()
}

/// Field-level differences, personal data masked on both sides.
pub(super) fn diff(old: &Record, new: &Record) -> Vec<FieldChange> {
    diff_from(old, &masked_record(old), new)
}

/// [`diff`] with the old record's masked JSON already made.
fn diff_from(old: &Record, a: &Map<String, Value>, new: &Record) -> Vec<FieldChange> {
    let b = masked_record(new);
    let mut changes = Vec::new();
    for (k, nv) in b {
        let ov = a.get(&k).cloned().unwrap_or(Value::Null);
        // Ciphertexts differ on every write; compare the plaintext records instead.
        if ov != nv || (PII_FIELDS.contains(&k.as_str()) && field_changed(old, new, &k)) {
            changes.push(FieldChange {
                field: k,
                old: ov,
                new: nv,
            });
        }
    }
    changes
}

fn field_changed(old: &Record, new: &Record, field: &str) -> bool {
    match field {
        "id_number" => old.id_number != new.id_number,
        "mobile" => old.mobile != new.mobile,
        "phone" => old.phone != new.phone,
        "email" => old.email != new.email,
        "address" => old.address != new.address,
        _ => false,
    }
}

fn creation_changes(rec: &Record) -> Vec<FieldChange> {
    // Every creation compares against an empty record of its type: its JSON is made once.
    static EMPTY: OnceLock<Map<String, Value>> = OnceLock::new();
    let empty = EMPTY.get_or_init(|| {
        let mut m = masked_record(&Record::default());
        // Before its creation a customer has no status (the typed default is active).
        m.insert("status".to_string(), Value::String(String::new()));
        m
    });
    let old = Record {
        customer_type: rec.customer_type.clone(),
        ..Default::default()
    };
    // An empty record masks nothing, so only its type differs from the shared JSON.
    let mut a = empty.clone();
    a.insert(
        "customer_type".to_string(),
        Value::String(rec.customer_type.clone()),
    );
    diff_from(&old, &a, rec)
        .into_iter()
        .filter(|c| {
            !c.new.is_null() && c.new != Value::Array(vec![]) && c.new != Value::Object(Map::new())
        })
        .collect()
}

impl Customers<'_> {
    /// The change history of a customer, oldest first (personal data masked).
    pub async fn customer_history(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<Vec<HistoryEntry>> {
        let scope = actor.require("customer.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        crate::customers::check_archive_readable(actor, &row)?;
        let rows = tx.customer_history(row.id).await?;
        tx.rollback().await?;
        rows.into_iter()
            .map(|h| {
                let changes = if h.changes.is_empty() && h.action == "create" {
                    let created = row_from_snapshot(&row, &h.snapshot)?;
                    creation_changes(&record_of(&created, &self.app.config.pii_key)?)
                } else {
                    serde_json::from_str(&h.changes).unwrap_or_default()
                };
                Ok(HistoryEntry {
                    id: h.id,
                    version: h.row_version,
                    at: format_time(h.at),
                    actor_id: h.actor_id,
                    actor: h.actor_name,
                    action: h.action,
                    reason: h.reason,
                    changes,
                })
            })
            .collect()
    }
}
