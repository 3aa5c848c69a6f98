//! The duplicate review queue (重复客户待处理队列): a scan groups probable duplicates
//! among all live customers with the same clustering as `custos dedupe`, stewards then
//! confirm a group (merge) or dismiss it (its pairs are never proposed again).

use crate::customers::Customers;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use custos_core::matching::cluster::{cluster, ClusterOptions, Clustering, Silent};
use custos_core::matching::{prepare, Prepared};
use custos_core::Violation;
use custos_store::duplicates::{DuplicateGroupRow, GroupFilter};
use custos_store::{now_us, CustomerRow, Tx};

use super::checks::typed_text;
use super::disclosure::Lens;
use super::duplicates::{evidence_views, match_record, EvidenceView};
use super::merge::{MergeRequest, MergeResult};
use super::record::LIVE_STATUSES;
use super::scope::in_scope;
use super::stored::record_of;
use super::values::CustomerStatus;
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::codes::issue_date;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// What a scan did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScanSummary {
    pub customers: usize,
    pub candidate_pairs: u64,
    pub matched_pairs: usize,
    /// Groups of two or more found.
    pub groups: usize,
    /// Of those, not already in the queue.
    pub new_groups: usize,
    /// Open groups of earlier scans that no longer hold (marked `stale`).
    pub stale_groups: usize,
    pub threshold: f64,
    pub seconds: f64,
}

/// A member of a duplicate group inside the caller's data scope (members outside it are
/// not shown, nor counted).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupMember {
    pub code: String,
    pub name: String,
    pub customer_type: String,
    pub status: String,
}

/// A scored pair inside a group, both members in the caller's scope. Without
/// `customer.pii.read` the score is worked out again with personal data compared for
/// equality only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupPair {
    pub a: String,
    pub b: String,
    pub score: f64,
    /// Per-field evidence (only on the single-group view).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceView>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateGroupView {
    pub id: i64,
    /// `open`, `merged`, `dismissed` or `stale`.
    pub status: String,
    pub score: f64,
    pub members: Vec<GroupMember>,
    pub pairs: Vec<GroupPair>,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<i64>,
    pub decision_reason: Option<String>,
    pub merge_id: Option<i64>,
    /// `scan` (the queue's scan, `dedupe --database`) or `import`.
    pub source: String,
    /// The customer type the members share, `mixed` when they differ.
    pub customer_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DuplicateGroupPage {
    pub items: Vec<DuplicateGroupView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of `GET /api/v1/duplicates/groups`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GroupQuery {
    /// `open` (default), `merged`, `dismissed`, `stale` or `all`.
    pub status: Option<String>,
    /// `scan` or `import`.
    pub source: Option<String>,
    /// Best pair score: `definite` (at least the definite threshold), `possible`
    /// (between the two thresholds) or `weak` (below the possible one).
    pub band: Option<String>,
    /// Groups whose members are all of this customer type (`mixed`: of several).
    pub customer_type: Option<String>,
    pub cursor: Option<String>,
    /// 1–200 (default 50).
    pub limit: Option<i64>,
}

/// `POST /api/v1/duplicates/groups/{id}/merge`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupMergeRequest {
    /// Code of the member that stays.
    #[serde(default)]
    pub survivor: String,
    /// Members merged into it (default: all other members).
    #[serde(default)]
    pub merged: Option<Vec<String>>,
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /api/v1/duplicates/groups/{id}/dismiss`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DismissRequest {
    #[serde(default)]
    pub reason: Option<String>,
}

/// `[[a_id, b_id, score], …]` as stored.
type StoredPairs = Vec<(i64, i64, f64)>;

/// Members and scored pairs per group root of a clustering, groups of one left out.
fn groups_of(
    clustering: &Clustering,
    ids: &[i64],
) -> (HashMap<u32, Vec<i64>>, HashMap<u32, StoredPairs>) {
    let mut members: HashMap<u32, Vec<i64>> = HashMap::new();
    for (i, &root) in clustering.roots.iter().enumerate() {
        members.entry(root).or_default().push(ids[i]);
    }
    members.retain(|_, m| m.len() > 1);
    let mut pairs: HashMap<u32, StoredPairs> = HashMap::new();
    for &(score, a, b) in &clustering.pairs {
        let root = clustering.roots[a as usize];
        if root == clustering.roots[b as usize] && members.contains_key(&root) {
            let score = (f64::from(score) * 1000.0).round() / 1000.0;
            pairs
                .entry(root)
                .or_default()
                .push((ids[a as usize], ids[b as usize], score));
        }
    }
    (members, pairs)
}

/// Open groups a scan no longer finds are out of date: mark them stale, add their members
/// to `touched` and count them.
async fn mark_stale(
    tx: &mut Tx,
    actor: &Actor,
    found: &HashSet<String>,
    now: i64,
    touched: &mut Vec<i64>,
) -> AppResult<usize> {
    let mut stale = 0;
    let mut before = None;
    loop {
        let filter = GroupFilter {
            status: Some("open"),
            before_id: before,
            ..GroupFilter::default()
        };
        let page = tx.duplicate_groups(&filter, 500).await?;
        let Some(last) = page.last().map(|g| g.id) else {
            break;
        };
        for g in page {
            if !found.contains(&g.fingerprint)
                && tx
                    .decide_duplicate_group(g.id, "stale", now, actor.user_id, None, None)
                    .await?
            {
                stale += 1;
                touched.extend(tx.duplicate_group_members(g.id).await?);
            }
        }
        before = Some(last);
    }
    Ok(stale)
}

impl Customers<'_> {
    /// Find duplicate groups among all live customers and queue the new ones
    /// (`duplicate.manage`). `threshold` defaults to the `definite` cut.
    pub async fn scan_duplicates(
        &self,
        actor: &Actor,
        threshold: Option<f64>,
    ) -> AppResult<ScanSummary> {
        actor.require("duplicate.manage")?;
        let threshold = threshold.unwrap_or(self.duplicate_thresholds().definite);
        if !(0.0..=1.0).contains(&threshold) {
            return Err(AppError::validation(
                "threshold",
                Violation::new(
                    "threshold.range",
                    format!("阈值须在 0 到 1 之间（收到 {threshold}）"),
                    format!("the threshold must be between 0 and 1 (got {threshold})"),
                ),
            ));
        }
        let started = Instant::now();
        let today = issue_date(self.app.config.code_timezone);
        let key = &self.app.config.pii_key;
        let mut ids: Vec<i64> = Vec::new();
        let mut types: HashMap<i64, String> = HashMap::new();
        let mut prepared: Vec<Prepared> = Vec::new();
        let mut after = 0;
        loop {
            let mut tx = self.app.db.begin_read().await?;
            let rows = tx
                .customers_after(after, &CustomerStatus::keys(LIVE_STATUSES), 2000)
                .await?;
            tx.rollback().await?;
            let Some(last) = rows.last().map(|r| r.id) else {
                break;
            };
            for row in &rows {
                let rec = record_of(row, key)?;
                ids.push(row.id);
                types.insert(row.id, row.customer_type.clone());
                prepared.push(prepare(&match_record(&rec), today));
            }
            after = last;
        }
        let dismissed: HashSet<(i64, i64)> = {
            let mut tx = self.app.db.begin_read().await?;
            let d = tx.dismissed_pairs().await?;
            tx.rollback().await?;
            d.into_iter().collect()
        };
        let opts = ClusterOptions {
            threshold,
            ..ClusterOptions::default()
        };
        let ids_for_scan = ids.clone();
        let clustering = tokio::task::spawn_blocking(move || {
            let skip = |a: u32, b: u32| {
                let (x, y) = (ids_for_scan[a as usize], ids_for_scan[b as usize]);
                dismissed.contains(&(x.min(y), x.max(y)))
            };
            cluster(&prepared, &opts, &Silent, &skip)
        })
        .await
        .map_err(|e| AppError::Internal(format!("duplicate scan failed: {e}")))?;

        let (mut members, mut pairs) = groups_of(&clustering, &ids);

        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        tx.lock_audit_head().await?;
        let mut found: HashSet<String> = HashSet::new();
        let mut new_groups = 0;
        let mut touched: Vec<i64> = Vec::new();
        let mut roots: Vec<u32> = members.keys().copied().collect();
        roots.sort_unstable();
        for root in roots {
            let mut m = members.remove(&root).unwrap_or_default();
            m.sort_unstable();
            let fingerprint = m.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let p = pairs.remove(&root).unwrap_or_default();
            let score = p.iter().map(|x| x.2).fold(0.0, f64::max);
            found.insert(fingerprint.clone());
            let row = DuplicateGroupRow {
                id: 0,
                status: "open".into(),
                fingerprint,
                score,
                pairs: serde_json::to_string(&p).unwrap_or_default(),
                scan_id: None,
                created_at: now,
                decided_at: None,
                decided_by: None,
                decision_reason: None,
                merge_id: None,
                source: "scan".into(),
                customer_type: shared_type(m.iter().filter_map(|id| types.get(id))),
            };
            if let Some(group_id) = tx.insert_duplicate_group(&row, &m).await? {
                // About several customers, possibly in several scopes: an event about
                // no single customer, which only callers who see everything read.
                crate::events::emit_other_event(
                    &mut tx,
                    actor,
                    crate::events::DUPLICATES_FOUND,
                    serde_json::json!({"group_id": group_id, "members": m, "score": score}),
                );
                new_groups += 1;
                touched.extend(m.iter().copied());
            }
        }
        let stale = mark_stale(&mut tx, actor, &found, now, &mut touched).await?;
        if new_groups > 0 {
            // Only a count: the groups' members may lie outside a reader's scope.
            crate::notify::notify_holders(
                &mut tx,
                "duplicate.manage",
                crate::channels::STORED_DUPLICATES_FOUND,
                &format!("查重发现 {new_groups} 组新的疑似重复客户"),
                &format!(
                    "批量查重新增 {new_groups} 组疑似重复客户，已进入查重审核队列，请处理（合并或标记为不是重复）。"
                ),
            )
            .await?;
        }
        // Opening and closing groups changes the uniqueness of their members.
        touched.sort_unstable();
        touched.dedup();
        self.app
            .quality()
            .refresh_quality_of(&mut tx, &touched)
            .await?;
        let summary = ScanSummary {
            customers: ids.len(),
            candidate_pairs: clustering.candidates,
            matched_pairs: clustering.pairs.len(),
            groups: found.len(),
            new_groups,
            stale_groups: stale,
            threshold,
            seconds: (started.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        };
        let mut r = record(actor, "duplicate.scan", "duplicate_group", "scan");
        r.after = to_json(&summary);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(summary)
    }

    /// A page of the review queue, newest first. Groups with fewer than two members in
    /// the caller's scope are left out; members outside it are not shown.
    pub async fn duplicate_groups(
        &self,
        actor: &Actor,
        q: GroupQuery,
    ) -> AppResult<DuplicateGroupPage> {
        actor.require("duplicate.manage")?;
        let scope = actor.require("customer.read")?;
        let (filter, limit) = self.group_filter(&q)?;
        let lens = Lens::of(actor);
        let mut tx = self.app.db.begin_read().await?;
        let mut items = Vec::new();
        let mut cursor = filter.before_id;
        let mut exhausted = false;
        while items.len() < limit as usize && !exhausted {
            let page = tx
                .duplicate_groups(
                    &GroupFilter {
                        before_id: cursor,
                        ..filter.clone()
                    },
                    limit,
                )
                .await?;
            exhausted = (page.len() as i64) < limit;
            for g in page {
                cursor = Some(g.id);
                let (rows, visible) = group_members(&mut tx, actor, scope, g.id).await?;
                if !shows_group(&visible) {
                    continue;
                }
                let prepared = self.prepare_members(&rows, lens, false)?;
                items.push(group_view(
                    &g,
                    &rows,
                    &visible,
                    lens,
                    prepared.as_ref(),
                    false,
                ));
                if items.len() == limit as usize {
                    break;
                }
            }
        }
        tx.rollback().await?;
        let next_cursor = if items.len() == limit as usize && !exhausted {
            cursor.map(|c| c.to_string())
        } else {
            None
        };
        Ok(DuplicateGroupPage { items, next_cursor })
    }

    /// One group with the evidence of each pair.
    pub async fn duplicate_group(&self, actor: &Actor, id: i64) -> AppResult<DuplicateGroupView> {
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
        Ok(group_view(
            &g,
            &rows,
            &visible,
            lens,
            prepared.as_ref(),
            true,
        ))
    }

    /// The matching features of a group's members, when the view needs them: for the
    /// evidence, or for scores worked out again for a caller without
    /// `customer.pii.read` (the stored scores compared personal data in full).
    pub(super) fn prepare_members(
        &self,
        rows: &[CustomerRow],
        lens: Lens,
        evidence: bool,
    ) -> AppResult<Option<HashMap<i64, Prepared>>> {
        if !evidence && !lens.withholds_pii() {
            return Ok(None);
        }
        let key = &self.app.config.pii_key;
        let today = issue_date(self.app.config.code_timezone);
        let mut prepared = HashMap::new();
        for row in rows {
            let rec = record_of(row, key)?;
            prepared.insert(row.id, prepare(&match_record(&rec), today));
        }
        Ok(Some(prepared))
    }

    /// Confirm a group: merge its members into the chosen survivor.
    pub async fn merge_duplicate_group(
        &self,
        actor: &Actor,
        id: i64,
        req: impl Into<crate::input::Input<GroupMergeRequest>>,
    ) -> AppResult<MergeResult> {
        actor.require("duplicate.manage")?;
        let req = req.into().get()?;
        let mut tx = self.app.db.begin().await?;
        tx.lock_audit_head().await?;
        let g = tx
            .duplicate_group(id)
            .await?
            .ok_or_else(|| AppError::not_found("duplicate_group", id))?;
        if g.status != "open" {
            return Err(group_closed(id, &g.status));
        }
        let member_ids = tx.duplicate_group_members(id).await?;
        let rows = tx.customers_by_ids(&member_ids).await?;
        let codes: Vec<String> = rows.iter().map(|r| r.code.clone()).collect();
        let survivor = req.survivor.trim().to_ascii_uppercase();
        if !codes.contains(&survivor) {
            return Err(AppError::validation(
                "survivor",
                Violation::new(
                    "survivor.not_member",
                    format!("“{survivor}”不是该重复组的成员"),
                    format!("'{survivor}' is not a member of this group"),
                ),
            ));
        }
        let merged = match req.merged {
            Some(list) => list,
            None => codes.iter().filter(|c| **c != survivor).cloned().collect(),
        };
        for (i, c) in merged.iter().enumerate() {
            if !codes.contains(&c.trim().to_ascii_uppercase()) {
                return Err(AppError::validation(
                    &format!("merged[{i}]"),
                    Violation::new(
                        "merged.not_member",
                        format!("“{c}”不是该重复组的成员"),
                        format!("'{c}' is not a member of this group"),
                    ),
                ));
            }
        }
        let result = self
            .merge_in(
                &mut tx,
                actor,
                MergeRequest {
                    survivor,
                    merged,
                    fields: req.fields,
                    reason: req.reason,
                },
                Some(id),
            )
            .await?;
        tx.commit().await?;
        Ok(result)
    }

    /// Dismiss a group: its members are not duplicates; none of its pairs is proposed
    /// again.
    pub async fn dismiss_duplicate_group(
        &self,
        actor: &Actor,
        id: i64,
        req: impl Into<crate::input::Input<DismissRequest>>,
    ) -> AppResult<DuplicateGroupView> {
        actor.require("duplicate.manage")?;
        let scope = actor.require("customer.read")?;
        let req = req.into().get()?;
        let mut errors = Vec::new();
        let reason = typed_text("reason", req.reason.as_deref(), 500, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.app.db.begin().await?;
        tx.lock_audit_head().await?;
        let g = tx
            .duplicate_group(id)
            .await?
            .ok_or_else(|| AppError::not_found("duplicate_group", id))?;
        let (rows, visible) = group_members(&mut tx, actor, scope, id).await?;
        let member_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        if !shows_group(&visible) {
            return Err(AppError::not_found("duplicate_group", id));
        }
        let now = now_us();
        if !tx
            .decide_duplicate_group(id, "dismissed", now, actor.user_id, reason.as_deref(), None)
            .await?
        {
            return Err(group_closed(id, &g.status));
        }
        self.app
            .quality()
            .refresh_quality_of(&mut tx, &member_ids)
            .await?;
        for (i, a) in member_ids.iter().enumerate() {
            for b in &member_ids[i + 1..] {
                tx.insert_dismissal(*a, *b, now, actor.user_id, reason.as_deref())
                    .await?;
            }
        }
        let mut r = record(
            actor,
            "duplicate.dismiss",
            "duplicate_group",
            &id.to_string(),
        );
        r.after = to_json(&serde_json::json!({
            "members": rows.iter().map(|r| &r.code).collect::<Vec<_>>(),
        }));
        r.reason = reason;
        append(&mut tx, r).await?;
        let g = tx
            .duplicate_group(id)
            .await?
            .ok_or_else(|| AppError::not_found("duplicate_group", id))?;
        tx.commit().await?;
        let lens = Lens::of(actor);
        let prepared = self.prepare_members(&rows, lens, false)?;
        Ok(group_view(
            &g,
            &rows,
            &visible,
            lens,
            prepared.as_ref(),
            false,
        ))
    }
}

/// A group is shown to a caller who sees at least two of its members: one alone would
/// say that a customer outside the caller's scope duplicates it.
pub(super) fn shows_group(visible: &HashMap<i64, bool>) -> bool {
    visible.values().filter(|v| **v).count() >= 2
}

/// A group's members and, per member id, whether the caller may see it.
pub(super) async fn group_members(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    group_id: i64,
) -> AppResult<(Vec<CustomerRow>, HashMap<i64, bool>)> {
    let member_ids = tx.duplicate_group_members(group_id).await?;
    let rows = tx.customers_by_ids(&member_ids).await?;
    let mut visible = HashMap::new();
    for row in &rows {
        visible.insert(row.id, in_scope(tx, actor, scope, row).await?);
    }
    Ok((rows, visible))
}

pub(super) fn group_closed(id: i64, status: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "duplicate_group.closed",
        format!("重复组 {id} 已处理（{status}）"),
        format!("duplicate group {id} is already decided ({status})"),
    ))
}

pub(super) fn group_view(
    g: &DuplicateGroupRow,
    rows: &[CustomerRow],
    visible: &HashMap<i64, bool>,
    lens: Lens,
    prepared: Option<&HashMap<i64, Prepared>>,
    evidence: bool,
) -> DuplicateGroupView {
    let shown = |id: i64| visible.get(&id).copied().unwrap_or(false);
    let code_of = |id: i64| {
        rows.iter()
            .find(|r| r.id == id)
            .map(|r| r.code.clone())
            .unwrap_or_default()
    };
    let stored: StoredPairs = serde_json::from_str(&g.pairs).unwrap_or_default();
    let pairs: Vec<GroupPair> = stored
        .iter()
        .filter(|&&(a, b, _)| shown(a) && shown(b))
        .filter_map(|&(a, b, stored_score)| {
            let compared = prepared
                .and_then(|p| Some((p.get(&a)?, p.get(&b)?)))
                .map(|(x, y)| lens.compare(true, x, y));
            // Without the personal-data permission only a score worked out again by
            // equality is shown; none at all if it could not be.
            let score = match (&compared, lens.withholds_pii()) {
                (Some(r), true) => (r.score * 1000.0).round() / 1000.0,
                (None, true) => return None,
                (_, false) => stored_score,
            };
            Some(GroupPair {
                a: code_of(a),
                b: code_of(b),
                score,
                evidence: compared
                    .filter(|_| evidence)
                    .map(|r| evidence_views(r.evidence))
                    .unwrap_or_default(),
            })
        })
        .collect();
    DuplicateGroupView {
        id: g.id,
        status: g.status.clone(),
        score: pairs.iter().map(|p| p.score).fold(0.0, f64::max),
        members: rows
            .iter()
            .filter(|r| shown(r.id))
            .map(|r| GroupMember {
                code: r.code.clone(),
                name: r.name.clone(),
                customer_type: r.customer_type.clone(),
                status: r.status.clone(),
            })
            .collect(),
        pairs,
        created_at: format_time(g.created_at),
        decided_at: g.decided_at.map(format_time),
        decided_by: g.decided_by,
        decision_reason: g.decision_reason.clone(),
        merge_id: g.merge_id,
        source: g.source.clone(),
        customer_type: g.customer_type.clone(),
    }
}

/// The type all these customers share, `mixed` when they differ.
pub(crate) fn shared_type<'a>(mut types: impl Iterator<Item = &'a String>) -> Option<String> {
    let first = types.next()?;
    Some(if types.all(|t| t == first) {
        first.clone()
    } else {
        "mixed".to_string()
    })
}
