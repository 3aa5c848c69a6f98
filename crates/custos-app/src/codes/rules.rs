//! Code rule administration: drafts, publishing (one applicable rule per customer),
//! disabling, and reading the versions of a rule.

use crate::codes::Codes;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use custos_core::code_rule::{self, Segment};
use custos_core::{FieldError, Violation};
use custos_store::{now_us, CodeRuleRow, StoreError, Tx};

use super::{applies_of, existing_versions, AppliesTo};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::to_json;

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCodeRule {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// Ordered segments; see docs/code-rules.md.
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeRuleVersion {
    pub version: i64,
    pub name: String,
    pub status: String,
    pub applies_to: AppliesTo,
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Segment>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub published_by: Option<i64>,
    pub published_at: Option<String>,
    pub disabled_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeRuleView {
    pub key: String,
    /// The name of the newest version.
    pub name: String,
    /// The version new customers get codes from, if any.
    pub published_version: Option<i64>,
    pub versions: Vec<CodeRuleVersion>,
}

pub(super) fn rule_version_view(r: &CodeRuleRow) -> CodeRuleVersion {
    CodeRuleVersion {
        version: r.version,
        name: r.name.clone(),
        status: r.status.clone(),
        applies_to: serde_json::from_str(&r.applies_to).unwrap_or_default(),
        segments: serde_json::from_str(&r.segments).unwrap_or_default(),
        created_by: r.created_by,
        created_at: format_time(r.created_at),
        published_by: r.published_by,
        published_at: r.published_at.map(format_time),
        disabled_at: r.disabled_at.map(format_time),
    }
}

pub(super) fn rule_view(key: &str, rows: &[CodeRuleRow]) -> CodeRuleView {
    CodeRuleView {
        key: key.to_string(),
        name: rows.last().map(|r| r.name.clone()).unwrap_or_default(),
        published_version: rows
            .iter()
            .find(|r| r.status == "published")
            .map(|r| r.version),
        versions: rows.iter().map(rule_version_view).collect(),
    }
}

fn key_ok(key: &str) -> bool {
    (2..=40).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

fn type_key_ok(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Check a rule definition and report every problem.
pub(super) fn validate_rule(input: &NewCodeRule) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !key_ok(&input.key) {
        errors.push(
            Violation::new(
                "code_rule.key_format",
                format!(
                    "规则标识“{}”不合规：需 2–40 位小写字母、数字、- 或 _",
                    input.key
                ),
                format!(
                    "rule key '{}' is invalid: use 2–40 lower-case letters, digits, - or _",
                    input.key
                ),
            )
            .on("key"),
        );
    }
    let n = input.name.trim().chars().count();
    if n == 0 || n > 100 {
        errors.push(
            Violation::new(
                "code_rule.name",
                "规则名称不能为空且不超过 100 个字符",
                "the rule name must be 1–100 characters",
            )
            .on("name"),
        );
    }
    for (i, t) in input.applies_to.customer_types.iter().enumerate() {
        if !type_key_ok(t) {
            errors.push(
                Violation::new(
                    "code_rule.customer_type",
                    format!("客户类型“{t}”不合规"),
                    format!("customer type '{t}' is invalid"),
                )
                .on(format!("applies_to.customer_types[{i}]")),
            );
        }
    }
    for (i, p) in input.applies_to.region_prefixes.iter().enumerate() {
        let ok = (1..=6).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit());
        if !ok {
            errors.push(
                Violation::new(
                    "code_rule.region_prefix",
                    format!("地区前缀“{p}”不合规：应为 1–6 位数字"),
                    format!("region prefix '{p}' is invalid: use 1–6 digits"),
                )
                .on(format!("applies_to.region_prefixes[{i}]")),
            );
        }
    }
    if let Err(es) = code_rule::validate_segments(&input.segments) {
        errors.extend(es);
    }
    errors
}

impl Codes<'_> {
    /// Create a draft rule, or the next draft version of an existing rule.
    pub async fn create_code_rule(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewCodeRule>>,
    ) -> AppResult<CodeRuleView> {
        actor.require("rule.manage")?;
        let input = input.into().get()?;
        // Rule files and API bodies alike: no control or invisible character gets stored.
        crate::text_input::refuse_single_line([
            ("key", Some(input.key.as_str())),
            ("name", Some(input.name.as_str())),
        ])?;
        crate::text_input::refuse_in("applies_to", &input.applies_to)?;
        crate::text_input::refuse_in("segments", &input.segments)?;
        let errors = validate_rule(&input);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.app.db.begin().await?;
        let versions = tx.code_rule_versions(&input.key).await?;
        if versions.iter().any(|v| v.status == "draft") {
            return Err(AppError::Conflict(Violation::new(
                "code_rule.draft_exists",
                format!("规则“{}”已有未发布的草稿版本，请先发布", input.key),
                format!(
                    "rule '{}' already has an unpublished draft; publish it first",
                    input.key
                ),
            )));
        }
        let version = versions.last().map(|v| v.version + 1).unwrap_or(1);
        let now = now_us();
        let row = CodeRuleRow {
            id: 0,
            key: input.key.clone(),
            version,
            name: input.name.trim().to_string(),
            applies_to: to_json(&input.applies_to).unwrap_or_default(),
            segments: to_json(&input.segments).unwrap_or_default(),
            status: "draft".into(),
            created_by: Some(actor.user_id),
            created_at: now,
            published_by: None,
            published_at: None,
            disabled_at: None,
        };
        match tx.insert_code_rule(&row).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => return Err(concurrent_rule_change(&input.key)),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(
            actor,
            "code_rule.create",
            "code_rule",
            &format!("{}@{version}", input.key),
        );
        r.after = to_json(&rule_version_view(&row));
        append(&mut tx, r).await?;
        let rows = tx.code_rule_versions(&input.key).await?;
        tx.commit().await?;
        Ok(rule_view(&input.key, &rows))
    }

    /// Publish the draft of a rule: it becomes the version new codes come from; the
    /// previously published version is disabled (its codes stay valid).
    pub async fn publish_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.publish")?;
        let mut tx = self.app.db.begin().await?;
        let view = publish_code_rule_in(&mut tx, actor, key).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Stop issuing codes from a rule (its codes stay valid).
    pub async fn disable_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.publish")?;
        let mut tx = self.app.db.begin().await?;
        disable_published_in(&mut tx, actor, key).await?;
        let rows = tx.code_rule_versions(key).await?;
        tx.commit().await?;
        Ok(rule_view(key, &rows))
    }

    /// Throw away the draft of a rule (`rule.manage`): no code ever came from a draft;
    /// a rule that was never published disappears with it. Audited as
    /// `code_rule.draft_delete` with the segments it had.
    pub async fn delete_code_rule_draft(&self, actor: &Actor, key: &str) -> AppResult<()> {
        actor.require("rule.manage")?;
        let mut tx = self.app.db.begin().await?;
        let rows = tx.code_rule_versions(key).await?;
        let Some(draft) = rows.iter().find(|r| r.status == "draft") else {
            return Err(AppError::not_found("code_rule_draft", key));
        };
        if !tx.delete_code_rule_draft(draft.id).await? {
            return Err(AppError::not_found("code_rule_draft", key));
        }
        let target = format!("{key}@{}", draft.version);
        let mut r = record(actor, "code_rule.draft_delete", "code_rule", &target);
        r.before = to_json(&serde_json::json!({
            "version": draft.version, "name": draft.name, "segments": draft.segments,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ask for the draft of `key` to be published (a `publish_rule` application), for
    /// whoever drafts rules but may not publish them.
    pub async fn apply_to_publish_code_rule(
        &self,
        actor: &Actor,
        key: &str,
        reason: Option<String>,
    ) -> AppResult<crate::applications::ApplicationView> {
        self.app
            .applications()
            .submit_application(
                actor,
                crate::applications::NewApplication {
                    kind: "publish_rule".into(),
                    payload: serde_json::json!({ "key": key }),
                    reason,
                    draft: false,
                },
            )
            .await
    }

    /// Replace the published rule `replaces` by the draft of `key` in one transaction:
    /// the old one is disabled and the new one published together, so there is no moment
    /// at which no rule applies to the customers the old one coded. The new rule must
    /// apply to every customer the old one did.
    pub async fn replace_code_rule(
        &self,
        actor: &Actor,
        key: &str,
        replaces: &str,
    ) -> AppResult<CodeRuleView> {
        actor.require("rule.publish")?;
        if replaces.trim().is_empty() {
            return Err(AppError::validation(
                "replaces",
                Violation::new(
                    "required",
                    "请选择要替换的规则",
                    "choose the rule to replace",
                ),
            ));
        }
        if key == replaces {
            return Err(AppError::validation(
                "replaces",
                Violation::new(
                    "code_rule.replace_self",
                    "规则不能替换自身；发布草稿即可替换已发布的版本",
                    "a rule cannot replace itself; publishing its draft replaces its published version",
                ),
            ));
        }
        let mut tx = self.app.db.begin().await?;
        let new_versions = existing_versions(&mut tx, key).await?;
        let old_versions = existing_versions(&mut tx, replaces).await?;
        let (Some(draft), Some(old)) = (
            new_versions.iter().find(|v| v.status == "draft"),
            old_versions.iter().find(|v| v.status == "published"),
        ) else {
            return Err(AppError::Rejected(Violation::new(
                "code_rule.replace_states",
                format!("替换需要“{key}”有草稿版本、“{replaces}”有已发布的版本"),
                format!(
                    "replacing needs a draft of '{key}' and a published version of '{replaces}'"
                ),
            )));
        };
        if !covers(&applies_of(draft), &applies_of(old)) {
            return Err(AppError::Rejected(Violation::new(
                "code_rule.replace_narrower",
                format!("规则“{key}”的适用范围没有覆盖“{replaces}”适用的全部客户，替换后会有客户无规则可用"),
                format!("rule '{key}' does not apply to every customer '{replaces}' applies to; some would be left without a rule"),
            )));
        }
        disable_published_in(&mut tx, actor, replaces).await?;
        let view = publish_code_rule_in(&mut tx, actor, key).await?;
        tx.commit().await?;
        Ok(view)
    }

    pub async fn list_code_rules(&self, actor: &Actor) -> AppResult<Vec<CodeRuleView>> {
        actor.require("rule.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.all_code_rules().await?;
        tx.rollback().await?;
        let mut by_key: BTreeMap<String, Vec<CodeRuleRow>> = BTreeMap::new();
        for r in rows {
            by_key.entry(r.key.clone()).or_default().push(r);
        }
        Ok(by_key.iter().map(|(k, v)| rule_view(k, v)).collect())
    }

    pub async fn get_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = existing_versions(&mut tx, key).await?;
        tx.rollback().await?;
        Ok(rule_view(key, &rows))
    }
}

/// Does `new` apply to every customer `old` applies to?
fn covers(new: &AppliesTo, old: &AppliesTo) -> bool {
    let types = new.customer_types.is_empty()
        || (!old.customer_types.is_empty()
            && old
                .customer_types
                .iter()
                .all(|t| new.customer_types.contains(t)));
    let regions = new.region_prefixes.is_empty()
        || (!old.region_prefixes.is_empty()
            && old.region_prefixes.iter().all(|o| {
                new.region_prefixes
                    .iter()
                    .any(|n| o.starts_with(n.as_str()))
            }));
    types && regions
}

/// Disable the published version of `key` inside `tx`.
async fn disable_published_in(tx: &mut Tx, actor: &Actor, key: &str) -> AppResult<()> {
    let versions = existing_versions(tx, key).await?;
    let Some(published) = versions.iter().find(|v| v.status == "published").cloned() else {
        return Err(AppError::Rejected(Violation::new(
            "code_rule.not_published",
            format!("规则“{key}”没有已发布的版本"),
            format!("rule '{key}' has no published version"),
        )));
    };
    tx.set_code_rule_status(
        published.id,
        "published",
        "disabled",
        Some(actor.user_id),
        now_us(),
    )
    .await
    .map_err(|_| concurrent_rule_change(key))?;
    let mut r = record(
        actor,
        "code_rule.disable",
        "code_rule",
        &format!("{key}@{}", published.version),
    );
    r.before = to_json(&serde_json::json!({"status": "published"}));
    r.after = to_json(&serde_json::json!({"status": "disabled"}));
    append(tx, r).await?;
    Ok(())
}

fn concurrent_rule_change(key: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "code_rule.concurrent",
        format!("规则“{key}”刚被其他操作修改，请刷新后重试"),
        format!("rule '{key}' was just changed by another operation; reload and retry"),
    ))
}

/// Publish the draft of a rule inside `tx` (the caller decided authorisation: the direct
/// call above, or an approved `publish_rule` application).
pub(crate) async fn publish_code_rule_in(
    tx: &mut Tx,
    actor: &Actor,
    key: &str,
) -> AppResult<CodeRuleView> {
    let versions = existing_versions(tx, key).await?;
    let Some(draft) = versions.iter().find(|v| v.status == "draft").cloned() else {
        return Err(AppError::Rejected(Violation::new(
            "code_rule.no_draft",
            format!("规则“{key}”没有待发布的草稿版本"),
            format!("rule '{key}' has no draft version to publish"),
        )));
    };
    let applies = applies_of(&draft);
    for other in tx.published_code_rules().await? {
        if other.key != key && applies_of(&other).overlaps(&applies) {
            return Err(AppError::Conflict(Violation::new(
                "code_rule.overlap",
                format!(
                    "规则“{key}”的适用范围与已发布的规则“{}”重叠：同一客户只能适用一条规则",
                    other.key
                ),
                format!(
                    "rule '{key}' overlaps the published rule '{}': exactly one rule must apply to a customer",
                    other.key
                ),
            )));
        }
    }
    let now = now_us();
    for old in versions.iter().filter(|v| v.status == "published") {
        tx.set_code_rule_status(old.id, "published", "disabled", Some(actor.user_id), now)
            .await
            .map_err(|_| concurrent_rule_change(key))?;
    }
    tx.set_code_rule_status(draft.id, "draft", "published", Some(actor.user_id), now)
        .await
        .map_err(|_| concurrent_rule_change(key))?;
    let mut r = record(
        actor,
        "code_rule.publish",
        "code_rule",
        &format!("{key}@{}", draft.version),
    );
    r.after =
        to_json(&serde_json::json!({"key": key, "version": draft.version, "status": "published"}));
    append(tx, r).await?;
    let rows = tx.code_rule_versions(key).await?;
    Ok(rule_view(key, &rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applies(types: &[&str], regions: &[&str]) -> AppliesTo {
        AppliesTo {
            customer_types: types.iter().map(|s| s.to_string()).collect(),
            region_prefixes: regions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_replacement_must_cover_every_customer_of_the_old_rule() {
        let old = applies(&["enterprise"], &["11"]);
        assert!(covers(&applies(&["enterprise"], &["11"]), &old));
        assert!(covers(&applies(&["enterprise", "individual"], &[]), &old));
        assert!(covers(&applies(&[], &["1"]), &old));
        assert!(!covers(&applies(&["individual"], &[]), &old));
        assert!(!covers(&applies(&["enterprise"], &["1101"]), &old));
        // An old rule for every type is covered only by a rule for every type.
        assert!(!covers(&applies(&["enterprise"], &[]), &applies(&[], &[])));
        assert!(covers(&applies(&[], &[]), &applies(&[], &[])));
    }
}
