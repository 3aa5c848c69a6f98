//! The steward's side of upserts by source key: source customers whose duplicate-check
//! match the system's policy leaves to a person (来源待确认), and the decision — link the
//! source id to a customer, create a new customer, or reject.

use crate::sources::Sources;
use serde::{Deserialize, Serialize};

use custos_core::Violation;
use custos_store::customer_master::SourceQueueRow;
use custos_store::{now_us, StoreError, Tx};

use super::{UpsertOutcome, UpsertResult};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::report::DuplicateReport;
use crate::customers::{owner_in_scope, scope_filter, scoped_customer, Lookups, NewCustomer};
use crate::error::{AppError, AppResult};
use crate::text_input::required_reason;
use crate::to_json;
use crate::xref::check_system;

/// Most entries one page of the queue lists.
pub const MAX_QUEUE_PAGE: i64 = 200;

/// A queued source customer as a steward sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueEntryView {
    pub id: i64,
    pub system: String,
    pub source_id: String,
    /// `pending`, `created`, `linked` or `rejected`.
    pub state: String,
    pub name: String,
    pub customer_type: String,
    /// The duplicate check's verdict when queued.
    pub verdict: String,
    pub queued_at: String,
    pub decided_at: Option<String>,
    /// The customer created or linked.
    pub code: Option<String>,
    pub note: Option<String>,
    /// The duplicate check of the queued values as the reader may see it (one entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<DuplicateReport>,
}

/// A steward's decision on a queued source customer.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, tag = "action", rename_all = "snake_case")]
pub enum QueueDecision {
    /// Link the source id to this existing customer.
    Link { code: String },
    /// Create a new customer from the queued values although it looks like an existing
    /// one (the reason is kept with the override).
    Create { reason: String },
    /// Neither: the source keeps getting `rejected` for these same values.
    Reject { reason: String },
}

/// Which queued source customers a list shows.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// `pending` (the default), `created`, `linked` or `rejected`.
    pub state: Option<String>,
    /// One source system's entries only.
    pub system: Option<String>,
    /// Entries after this id (the previous page's last).
    pub after: Option<i64>,
    pub limit: Option<i64>,
}

/// One value of a queued source customer as a page shows it: personal data masked.
#[derive(Debug, Clone, Serialize)]
pub struct QueuedValue {
    /// The API's field key (`uscc`, `contacts[0].mobile`, `custom.grade`).
    pub field: String,
    pub value: String,
}

/// A queued source customer with the values the system sent (personal data always
/// masked, as lists show it: the entry is not a customer yet, so nobody reveals it)
/// beside the duplicate check of those values as the steward may see it.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntrySheet {
    pub entry: QueueEntryView,
    pub values: Vec<QueuedValue>,
}

/// Most values one sheet lists (the payload was validated on the way in; this bounds
/// the page anyway).
const MAX_SHEET_VALUES: usize = 200;

/// The queued values as `(field, text)` pairs, personal data masked.
fn sheet_values(values: &serde_json::Value) -> Vec<QueuedValue> {
    let mut masked = values.clone();
    // Empty values first: masking an empty string would show stars for nothing.
    drop_empty(&mut masked);
    crate::applications::mask_payload(&mut masked);
    let mut out = Vec::new();
    flatten_value("", &masked, &mut out);
    out.retain(|v| !v.value.is_empty() && !SKIPPED_KEYS.contains(&v.field.as_str()));
    out.truncate(MAX_SHEET_VALUES);
    out
}

/// Keys of the payload that say how to save it, not what the customer is.
const SKIPPED_KEYS: &[&str] = &["override_duplicates", "reason"];

fn drop_empty(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !matches!(x, Value::Null) && x.as_str() != Some(""));
            m.values_mut().for_each(drop_empty);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_empty),
        _ => {}
    }
}

fn flatten_value(prefix: &str, v: &serde_json::Value, out: &mut Vec<QueuedValue>) {
    use serde_json::Value;
    let push = |out: &mut Vec<QueuedValue>, value: String| {
        out.push(QueuedValue {
            field: prefix.to_string(),
            value,
        })
    };
    match v {
        Value::Null => {}
        Value::String(s) => push(out, s.clone()),
        Value::Bool(b) => push(out, b.to_string()),
        Value::Number(n) => push(out, n.to_string()),
        Value::Array(items) if items.iter().all(|i| !i.is_object()) => {
            let texts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            push(out, texts.join("、"));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten_value(&format!("{prefix}[{i}]"), item, out);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                let key = match prefix {
                    "" => k.clone(),
                    p => format!("{p}.{k}"),
                };
                flatten_value(&key, item, out);
            }
        }
    }
}

fn not_pending(id: i64, state: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "source.decided",
        format!("来源待确认 #{id} 已处理（{state}）"),
        format!("queued source customer #{id} was already decided ({state})"),
    ))
}

impl Sources<'_> {
    /// Queue a source customer for a steward (inside the upsert's transaction).
    pub(super) async fn queue_source(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        system: &str,
        source_id: &str,
        input: NewCustomer,
        report: &DuplicateReport,
    ) -> AppResult<UpsertResult> {
        let payload = serde_json::to_string(&input)
            .map_err(|e| AppError::Internal(format!("queued payload: {e}")))?;
        let codes: Vec<&str> = report.candidates.iter().map(|c| c.code.as_str()).collect();
        let q = SourceQueueRow {
            id: 0,
            system: system.to_string(),
            source_id: source_id.to_string(),
            state: "pending".into(),
            payload: self.app.config.pii_key.encrypt(&payload),
            verdict: report.verdict.clone(),
            candidates: serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into()),
            owner_id: input.owner_id.or(Some(actor.user_id)),
            department_id: input.department_id.or(actor.department_id),
            queued_at: now_us(),
            queued_by: actor.user_id,
            decided_at: None,
            decided_by: None,
            customer_id: None,
            note: None,
        };
        let id = match tx.insert_source_queue(&q).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => {
                return Err(AppError::Conflict(Violation::new(
                    "source.queued",
                    format!("系统“{system}”的编号“{source_id}”已在待确认队列中"),
                    format!("'{source_id}' of system '{system}' is already queued"),
                )))
            }
            Err(e) => return Err(e.into()),
        };
        let mut r = record(actor, "source.queue", "source_queue", &id.to_string());
        r.after = to_json(&serde_json::json!({
            "system": system, "source_id": source_id,
            "verdict": report.verdict, "candidates": codes,
        }));
        append(tx, r).await?;
        Ok(UpsertResult::new(UpsertOutcome::Queued, system, source_id).with_queue_entry(id))
    }

    /// The answer for a source id already in the queue, when the same values come again:
    /// still `queued`, or `rejected`. `None` when the values changed or the entry no
    /// longer holds (its link was removed): the entry is dropped and placed anew.
    pub(super) async fn queued_answer(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        q: &SourceQueueRow,
        input: &NewCustomer,
    ) -> AppResult<Option<UpsertResult>> {
        let same = self.queued_values(q)? == serde_json::to_value(input).unwrap_or_default();
        let outcome = match q.state.as_str() {
            "pending" if same => Some(UpsertOutcome::Queued),
            "rejected" if same => Some(UpsertOutcome::Rejected),
            _ => None,
        };
        if let Some(o) = outcome {
            return Ok(Some(
                UpsertResult::new(o, &q.system, &q.source_id).with_queue_entry(q.id),
            ));
        }
        tx.delete_source_queue(q.id).await?;
        let mut r = record(actor, "source.requeue", "source_queue", &q.id.to_string());
        r.before = to_json(&serde_json::json!({"state": q.state}));
        append(tx, r).await?;
        Ok(None)
    }

    fn queued_values(&self, q: &SourceQueueRow) -> AppResult<serde_json::Value> {
        let text = self.app.config.pii_key.decrypt(&q.payload)?;
        serde_json::from_str(&text)
            .map_err(|e| AppError::Internal(format!("source queue {} payload: {e}", q.id)))
    }

    /// Queued source customers in `state` (default `pending`) inside the steward's
    /// `duplicate.manage` scope, oldest first, after the entry `after`.
    pub async fn list_source_queue(
        &self,
        actor: &Actor,
        state: Option<&str>,
        after: Option<i64>,
        limit: Option<i64>,
    ) -> AppResult<Vec<QueueEntryView>> {
        let filter = QueueFilter {
            state: state.map(str::to_string),
            system: None,
            after,
            limit,
        };
        self.list_source_queue_filtered(actor, &filter).await
    }

    /// Queued source customers as [`Sources::list_source_queue`], of one system when the
    /// filter names it.
    pub async fn list_source_queue_filtered(
        &self,
        actor: &Actor,
        filter: &QueueFilter,
    ) -> AppResult<Vec<QueueEntryView>> {
        let scope = actor.require("duplicate.manage")?;
        let (after, limit) = (filter.after, filter.limit);
        let system = match filter.system.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(s) => Some(check_system(s)?),
        };
        let state = filter.state.as_deref().unwrap_or("pending");
        if !["pending", "created", "linked", "rejected"].contains(&state) {
            return Err(AppError::validation(
                "state",
                Violation::new(
                    "source.state",
                    "状态应为 pending、created、linked 或 rejected",
                    "state must be pending, created, linked or rejected",
                ),
            ));
        }
        let limit = limit.unwrap_or(50).clamp(1, MAX_QUEUE_PAGE);
        let mut tx = self.app.db.begin_read().await?;
        let filter = scope_filter(&mut tx, actor, scope).await?;
        let mut out = Vec::new();
        let mut after = after.unwrap_or(0).max(0);
        // Pages of the table until `limit` entries in scope or the end: entries outside
        // the scope are skipped, not counted.
        loop {
            let rows = tx
                .source_queue_page(state, system.as_deref(), after, limit)
                .await?;
            let end = (rows.len() as i64) < limit;
            for q in rows {
                after = q.id;
                if filter.admits(q.owner_id, q.department_id) {
                    out.push(self.queue_view(&mut tx, &q, None).await?);
                    if out.len() as i64 == limit {
                        break;
                    }
                }
            }
            if end || out.len() as i64 == limit {
                break;
            }
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// One queued source customer with the duplicate check of its values as the steward
    /// may see it.
    pub async fn source_queue_entry(&self, actor: &Actor, id: i64) -> AppResult<QueueEntryView> {
        Ok(self.entry_and_values(actor, id).await?.0)
    }

    /// The queued values (masked) beside the duplicate check the API's
    /// `GET /sources/queue/{id}` gives: the steward's page of one entry.
    pub async fn source_queue_sheet(&self, actor: &Actor, id: i64) -> AppResult<QueueEntrySheet> {
        let (entry, values) = self.entry_and_values(actor, id).await?;
        Ok(QueueEntrySheet {
            entry,
            values: sheet_values(&values),
        })
    }

    async fn entry_and_values(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<(QueueEntryView, serde_json::Value)> {
        let mut tx = self.app.db.begin_read().await?;
        let q = self.scoped_entry(&mut tx, actor, id).await?;
        let values = self.queued_values(&q)?;
        let input: NewCustomer = serde_json::from_value(values.clone())
            .map_err(|e| AppError::Internal(format!("source queue {id} payload: {e}")))?;
        let report = self
            .app
            .customers()
            .find_duplicates_for_input(&mut tx, actor, &input, &[])
            .await?;
        let view = self.queue_view(&mut tx, &q, Some(report)).await?;
        tx.rollback().await?;
        Ok((view, values))
    }

    async fn scoped_entry(&self, tx: &mut Tx, actor: &Actor, id: i64) -> AppResult<SourceQueueRow> {
        let scope = actor.require("duplicate.manage")?;
        let missing = || AppError::not_found("source_queue", id);
        let q = tx.source_queue_entry(id).await?.ok_or_else(missing)?;
        if !owner_in_scope(tx, actor, scope, q.owner_id, q.department_id).await? {
            return Err(missing());
        }
        Ok(q)
    }

    async fn queue_view(
        &self,
        tx: &mut Tx,
        q: &SourceQueueRow,
        duplicates: Option<DuplicateReport>,
    ) -> AppResult<QueueEntryView> {
        let values = self.queued_values(q)?;
        let code = match q.customer_id {
            Some(id) => tx.customer(id).await?.map(|r| r.code),
            None => None,
        };
        let text = |k: &str| values[k].as_str().unwrap_or_default().to_string();
        Ok(QueueEntryView {
            id: q.id,
            system: q.system.clone(),
            source_id: q.source_id.clone(),
            state: q.state.clone(),
            name: text("name"),
            customer_type: text("customer_type"),
            verdict: q.verdict.clone(),
            queued_at: format_time(q.queued_at),
            decided_at: q.decided_at.map(format_time),
            code,
            note: q.note.clone(),
            duplicates,
        })
    }

    /// Decide a queued source customer (`duplicate.manage`, plus `xref.manage` to link
    /// or `customer.create` to create, each within its scope).
    pub async fn decide_source_queue(
        &self,
        actor: &Actor,
        id: i64,
        decision: impl Into<crate::input::Input<QueueDecision>>,
    ) -> AppResult<QueueEntryView> {
        let decision = decision.into().get()?;
        let mut tx = self.app.db.begin().await?;
        let mut q = self.scoped_entry(&mut tx, actor, id).await?;
        if q.state != "pending" {
            return Err(not_pending(id, &q.state));
        }
        let (state, customer, note) = match decision {
            QueueDecision::Link { code } => {
                let scope = actor.require("xref.manage")?;
                let row = scoped_customer(&mut tx, actor, scope, &code).await?;
                self.put_source_xref(&mut tx, actor, &row, &q.system, &q.source_id)
                    .await?;
                ("linked", Some(row.id), None)
            }
            QueueDecision::Create { reason } => {
                let reason = required_reason(&reason)?;
                let scope = actor.require("customer.create")?;
                let mut input: NewCustomer = serde_json::from_value(self.queued_values(&q)?)
                    .map_err(|e| AppError::Internal(format!("source queue {id} payload: {e}")))?;
                input.override_duplicates = true;
                input.reason = Some(reason.clone());
                input.owner_id = input.owner_id.or(Some(q.queued_by));
                let (row, _, _) = self
                    .app
                    .customers()
                    .insert_new_customer_excluding(
                        &mut tx,
                        &mut Lookups::default(),
                        actor,
                        scope,
                        input,
                        None,
                        &[],
                    )
                    .await?;
                self.put_source_xref(&mut tx, actor, &row, &q.system, &q.source_id)
                    .await?;
                ("created", Some(row.id), Some(reason))
            }
            QueueDecision::Reject { reason } => ("rejected", None, Some(required_reason(&reason)?)),
        };
        q.state = state.to_string();
        q.customer_id = customer;
        q.note = note;
        q.decided_at = Some(now_us());
        q.decided_by = Some(actor.user_id);
        if !tx.decide_source_queue(&q).await? {
            return Err(not_pending(id, "?"));
        }
        let mut r = record(actor, "source.decide", "source_queue", &id.to_string());
        r.after = to_json(&serde_json::json!({
            "state": state, "system": q.system, "source_id": q.source_id,
        }));
        r.reason = q.note.clone();
        append(&mut tx, r).await?;
        let view = self.queue_view(&mut tx, &q, None).await?;
        tx.commit().await?;
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_values_mask_personal_data_everywhere_and_name_nested_fields() {
        let values = serde_json::json!({
            "customer_type": "individual", "name": "王慧", "mobile": "13912345678",
            "id_number": "110101199001011234", "address": "北京市朝阳区望京西园三区312号",
            "former_names": ["王小慧", "王晓慧"], "override_duplicates": false,
            "reason": null, "owner_id": 7, "email": "",
            "contacts": [{"name": "王嘉天", "mobile": "13700001111", "email": "w@example.cn"}],
            "custom": {"grade": "A"},
        });
        let got: Vec<(String, String)> = sheet_values(&values)
            .into_iter()
            .map(|v| (v.field, v.value))
            .collect();
        let text = format!("{got:?}");
        for secret in [
            "13912345678",
            "110101199001011234",
            "13700001111",
            "w@example.cn",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        let get = |k: &str| got.iter().find(|(f, _)| f == k).map(|(_, v)| v.as_str());
        assert_eq!(get("mobile"), Some("139****5678"));
        assert_eq!(get("contacts[0].name"), Some("王嘉天"));
        assert_eq!(get("custom.grade"), Some("A"));
        assert_eq!(get("former_names"), Some("王小慧、王晓慧"));
        assert_eq!(get("owner_id"), Some("7"));
        assert!(get("override_duplicates").is_none() && get("email").is_none());
        assert!(
            get("address").is_some_and(|a| !a.contains("312号")),
            "{text}"
        );
    }
}
