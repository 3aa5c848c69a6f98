//! What the console's review pages need beyond the API's queue: the queue with its counts,
//! one group's records side by side with the value of each field the merge would keep,
//! and a merge that becomes an application when the steward may not merge directly.

use crate::customers::Customers;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use custos_core::Violation;
use custos_store::duplicates::GroupFilter;

use super::disclosure::Lens;
use super::merge::{MergeResult, CHOOSABLE_FIELDS};
use super::review::{
    group_closed, group_members, group_view, shows_group, DuplicateGroupPage, DuplicateGroupView,
    GroupMergeRequest, GroupQuery,
};
use super::stored::record_of;
use super::views::{view, CustomerView};
use crate::actor::{Actor, Scope};
use crate::applications::{ApplicationView, NewApplication};
use crate::error::{AppError, AppResult};

/// The review queue as the console shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DuplicateQueue {
    pub page: DuplicateGroupPage,
    /// Groups per status; only for a reader who sees every customer (counts over
    /// groups outside a narrower scope would say those groups exist).
    pub counts: Option<Vec<(String, i64)>>,
}

/// One row of the side-by-side view: a field and each member's value.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewField {
    pub field: String,
    pub label_zh: String,
    pub label_en: String,
    /// Per member, in the order of [`GroupReview::members`]; personal data masked.
    pub values: Vec<Option<String>>,
    /// The members' values are not all the same (compared in full, as the duplicate
    /// evidence does: equality only is what it tells).
    pub differs: bool,
    /// The member whose value the merge keeps unless another is chosen (the
    /// survivorship of the merge use case); `None` when no member has a value.
    pub default_source: Option<String>,
    /// Evidence of the pairs about this field: `(a, b, kind, 中文, English)`.
    pub evidence: Vec<(String, String, String, String, String)>,
}

/// A group's records side by side.
#[derive(Debug, Clone, Serialize)]
pub struct GroupReview {
    pub group: DuplicateGroupView,
    /// The members the reader sees, oldest first; personal data masked.
    pub members: Vec<CustomerView>,
    /// The member that stays (asked for, else the oldest).
    pub survivor: String,
    pub fields: Vec<ReviewField>,
    /// The reader merges directly (`customer.merge`); otherwise a merge is applied for.
    pub may_merge: bool,
    pub may_apply: bool,
}

/// What a merge from the review page did.
#[derive(Debug)]
pub enum GroupMergeOutcome {
    Merged(Box<MergeResult>),
    /// The steward may not merge directly: the merge waits for approval.
    Applied(Box<ApplicationView>),
}

/// The evidence field of the matcher that speaks about a customer field.
fn evidence_field(field: &str) -> &str {
    match field {
        "mobile" | "phone" => "phone",
        "region_code" => "region",
        f => f,
    }
}

fn value_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn invalid(field: &str, allowed: &[&str], got: &str) -> AppError {
    let (last, rest) = allowed.split_last().unwrap_or((&"", &[]));
    AppError::validation(
        field,
        Violation::new(
            format!("{field}.invalid"),
            format!(
                "{field} 只能是 {} 或 {last}（收到“{got}”）",
                rest.join("、")
            ),
            format!(
                "{field} must be {} or {last} (got '{got}')",
                rest.join(", ")
            ),
        ),
    )
}

impl Customers<'_> {
    /// The queue's query as a store filter and page size, every part checked.
    pub(super) fn group_filter<'q>(&self, q: &'q GroupQuery) -> AppResult<(GroupFilter<'q>, i64)> {
        let given = |v: &'q Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let status = match given(&q.status) {
            None => Some("open"),
            Some("all") => None,
            Some(s @ ("open" | "merged" | "dismissed" | "stale")) => Some(s),
            Some(other) => {
                return Err(invalid(
                    "status",
                    &["open", "merged", "dismissed", "stale", "all"],
                    other,
                ))
            }
        };
        let source = match given(&q.source) {
            None => None,
            Some(s @ ("scan" | "import")) => Some(s),
            Some(other) => return Err(invalid("source", &["scan", "import"], other)),
        };
        let t = self.duplicate_thresholds();
        let (min_score, below_score) = match given(&q.band) {
            None => (None, None),
            Some("definite") => (Some(t.definite), None),
            Some("possible") => (Some(t.possible), Some(t.definite)),
            Some("weak") => (None, Some(t.possible)),
            Some(other) => return Err(invalid("band", &["definite", "possible", "weak"], other)),
        };
        let customer_type = given(&q.customer_type);
        if customer_type.is_some_and(|c| c.chars().count() > 40) {
            return Err(AppError::validation(
                "customer_type",
                Violation::new(
                    "customer_type.too_long",
                    "customer_type 最多 40 个字符",
                    "customer_type has at most 40 characters",
                ),
            ));
        }
        let limit = q.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(AppError::validation(
                "limit",
                Violation::new(
                    "limit.range",
                    "limit 须在 1 到 200 之间",
                    "limit must be between 1 and 200",
                ),
            ));
        }
        let before_id = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(c.parse::<i64>().map_err(|_| {
                AppError::validation(
                    "cursor",
                    Violation::new("cursor.invalid", "cursor 无效", "invalid cursor"),
                )
            })?),
        };
        let filter = GroupFilter {
            status,
            source,
            customer_type,
            min_score,
            below_score,
            before_id,
        };
        Ok((filter, limit))
    }

    /// The review queue with the counts per status (`duplicate.manage`).
    pub async fn duplicate_queue(&self, actor: &Actor, q: GroupQuery) -> AppResult<DuplicateQueue> {
        let page = self.duplicate_groups(actor, q).await?;
        let counts = if actor.require("customer.read")? == Scope::All {
            let mut tx = self.app.db.begin_read().await?;
            let c = tx.duplicate_group_counts().await?;
            tx.rollback().await?;
            Some(c)
        } else {
            None
        };
        Ok(DuplicateQueue { page, counts })
    }

    /// One group's records side by side, with the value the merge keeps of each field
    /// when `survivor` stays (`duplicate.manage`; a group the reader sees fewer than two
    /// members of is not found).
    pub async fn duplicate_review(
        &self,
        actor: &Actor,
        id: i64,
        survivor: Option<&str>,
    ) -> AppResult<GroupReview> {
        actor.require("duplicate.manage")?;
        let scope = actor.require("customer.read")?;
        let lens = Lens::of(actor);
        let mut tx = self.app.db.begin_read().await?;
        let g = tx
            .duplicate_group(id)
            .await?
            .ok_or_else(|| AppError::not_found("duplicate_group", id))?;
        let (rows, visible) = group_members(&mut tx, actor, scope, g.id).await?;
        tx.rollback().await?;
        if !shows_group(&visible) {
            return Err(AppError::not_found("duplicate_group", id));
        }
        let prepared = self.prepare_members(&rows, lens, true)?;
        let group = group_view(&g, &rows, &visible, lens, prepared.as_ref(), true);
        let key = &self.app.config.pii_key;
        let mut members = Vec::new();
        let mut full = Vec::new();
        for row in rows.iter().filter(|r| visible.get(&r.id) == Some(&true)) {
            let rec = record_of(row, key)?;
            members.push(view(row, &rec, false));
            full.push(serde_json::to_value(view(row, &rec, true)).unwrap_or_default());
        }
        let survivor = survivor
            .map(|s| s.trim().to_ascii_uppercase())
            .filter(|s| members.iter().any(|m| m.code == *s))
            .unwrap_or_else(|| members[0].code.clone());
        let fields = review_fields(&group, &members, &full, &survivor);
        Ok(GroupReview {
            group,
            members,
            survivor,
            fields,
            may_merge: actor.can("customer.merge"),
            may_apply: actor.can("application.submit"),
        })
    }

    /// Merge a group from the review page: directly with `customer.merge`, else as a
    /// merge application that waits for approval. Members the reader does not see stay
    /// out of the merge.
    pub async fn merge_or_apply_group(
        &self,
        actor: &Actor,
        id: i64,
        mut req: GroupMergeRequest,
    ) -> AppResult<GroupMergeOutcome> {
        let group = self.duplicate_group(actor, id).await?;
        if group.status != "open" {
            return Err(group_closed(id, &group.status));
        }
        let survivor = req.survivor.trim().to_ascii_uppercase();
        if req.merged.is_none() {
            req.merged = Some(
                group
                    .members
                    .iter()
                    .map(|m| m.code.clone())
                    .filter(|c| *c != survivor)
                    .collect(),
            );
        }
        if actor.can("customer.merge") {
            let merged = self.merge_duplicate_group(actor, id, req).await?;
            return Ok(GroupMergeOutcome::Merged(Box::new(merged)));
        }
        let fields: BTreeMap<String, String> = req.fields;
        let payload = json!({
            "survivor": survivor,
            "merged": req.merged,
            "fields": fields,
            "reason": req.reason,
            "group": id,
        });
        let app = self
            .app
            .applications()
            .submit_application(
                actor,
                NewApplication {
                    kind: "merge".into(),
                    payload,
                    reason: req.reason.clone(),
                    draft: false,
                },
            )
            .await?;
        Ok(GroupMergeOutcome::Applied(Box::new(app)))
    }
}

/// The rows of the side-by-side view.
fn review_fields(
    group: &DuplicateGroupView,
    members: &[CustomerView],
    full: &[Value],
    survivor: &str,
) -> Vec<ReviewField> {
    let shown: Vec<Value> = members
        .iter()
        .map(|m| serde_json::to_value(m).unwrap_or_default())
        .collect();
    let survivor_at = members.iter().position(|m| m.code == survivor).unwrap_or(0);
    let catalog = crate::fields::builtin_fields();
    CHOOSABLE_FIELDS
        .iter()
        .map(|&field| {
            let values: Vec<Option<String>> =
                shown.iter().map(|v| value_text(v.get(field))).collect();
            let raw: Vec<Option<String>> = full.iter().map(|v| value_text(v.get(field))).collect();
            let differs = raw.iter().any(|v| *v != raw[0]);
            // The merge keeps the survivor's value, else the first other member's.
            let default_source = std::iter::once(survivor_at)
                .chain((0..members.len()).filter(|i| *i != survivor_at))
                .find(|i| raw[*i].is_some())
                .map(|i| members[i].code.clone());
            let ev = evidence_field(field);
            let evidence = group
                .pairs
                .iter()
                .flat_map(|p| {
                    p.evidence.iter().filter(|e| e.field == ev).map(|e| {
                        (
                            p.a.clone(),
                            p.b.clone(),
                            e.kind.clone(),
                            e.detail_zh.clone(),
                            e.detail_en.clone(),
                        )
                    })
                })
                .collect();
            let (label_zh, label_en) = catalog
                .iter()
                .find(|f| f.key == field)
                .map(|f| (f.label_zh.clone(), f.label_en.clone()))
                .unwrap_or_else(|| (field.to_string(), field.to_string()));
            ReviewField {
                field: field.to_string(),
                label_zh,
                label_en,
                values,
                differs,
                default_source,
                evidence,
            }
        })
        .collect()
}
