//! Setting and clearing a customer's parent.

use crate::overview::Overview;
use serde::{Deserialize, Serialize};

use custos_core::Violation;
use custos_store::{now_us, CustomerRow, ParentRow};

use super::{ancestors, home_of, MAX_DEPTH};
use crate::audit::{append, record};
use crate::customers::{is_individual_type, scoped_customer, CustomerStatus};
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::{to_json, Actor};

/// How a customer belongs to its parent: `subsidiary` (子公司, its own legal person) or
/// `branch` (分支机构).
pub const RELATIONS: &[&str] = &["subsidiary", "branch"];

/// `PUT /customers/{code}/parent`: the parent's code, or `null` to take the customer out
/// of its group.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetParent {
    pub parent_code: Option<String>,
    /// `subsidiary` (default) or `branch`.
    pub relation: Option<String>,
}

/// A customer's place in its group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParentView {
    pub customer_code: String,
    pub parent_code: Option<String>,
    pub parent_name: Option<String>,
    pub relation: Option<String>,
}

fn refused(field: &str, code: &str, zh: String, en: String) -> AppError {
    AppError::validation(field, Violation::new(code, zh, en))
}

/// A member of a group is an organisation that is in service.
fn check_member(field: &str, row: &CustomerRow) -> AppResult<()> {
    if is_individual_type(&row.customer_type) {
        return Err(refused(
            field,
            "hierarchy.individual",
            format!("{} 是个人客户，不能属于集团", row.code),
            format!("{} is an individual and cannot belong to a group", row.code),
        ));
    }
    if !CustomerStatus::editable(&row.status) {
        return Err(refused(
            field,
            "hierarchy.customer_closed",
            format!("{} 的状态为 {}，不能调整集团关系", row.code, row.status),
            format!("{} is {} and cannot change its group", row.code, row.status),
        ));
    }
    Ok(())
}

impl Overview<'_> {
    /// Set or clear the parent of `code` (`customer.update` over it; the parent must be a
    /// customer the caller can read). Refused: individuals, closed customers, the
    /// customer itself or one below it as parent (a cycle), a group deeper than
    /// [`MAX_DEPTH`]. Audited as `customer.parent_set`.
    pub async fn set_parent(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<SetParent>>,
    ) -> AppResult<ParentView> {
        let update = actor.require("customer.update")?;
        let read = actor.require("customer.read")?;
        let input = input.into().get()?;
        let relation = input.relation.as_deref().unwrap_or("subsidiary").trim();
        if !RELATIONS.contains(&relation) {
            return Err(refused(
                "relation",
                "hierarchy.relation",
                format!(
                    "relation 须为 subsidiary（子公司）或 branch（分支机构），收到“{relation}”"
                ),
                format!("relation must be subsidiary or branch, got '{relation}'"),
            ));
        }
        let mut tx = self.app.db.begin().await?;
        let child = scoped_customer(&mut tx, actor, update, code).await?;
        check_member("code", &child)?;
        let before = self.parent_view(&mut tx, &child).await?;
        match input.parent_code.as_deref().map(str::trim) {
            None | Some("") => {
                tx.delete_parent_link(child.id).await?;
            }
            Some(parent_code) => {
                let parent = match scoped_customer(&mut tx, actor, read, parent_code).await {
                    Ok(p) => p,
                    Err(AppError::NotFound { .. }) => {
                        return Err(refused(
                            "parent_code",
                            "hierarchy.parent_unknown",
                            format!("找不到客户 {parent_code}"),
                            format!("no customer {parent_code}"),
                        ))
                    }
                    Err(e) => return Err(e),
                };
                check_member("parent_code", &parent)?;
                let above = ancestors(&mut tx, parent.id).await?;
                if parent.id == child.id || above.contains(&child.id) {
                    return Err(refused(
                        "parent_code",
                        "hierarchy.cycle",
                        format!(
                            "{} 是 {} 本身或其下级，不能作为上级",
                            parent.code, child.code
                        ),
                        format!(
                            "{} is {} or below it and cannot be its parent",
                            parent.code, child.code
                        ),
                    ));
                }
                if above.len() + 1 + self.height_below(&mut tx, child.id).await? > MAX_DEPTH {
                    return Err(refused(
                        "parent_code",
                        "hierarchy.too_deep",
                        format!("集团层级最多 {MAX_DEPTH} 级"),
                        format!("a group is at most {MAX_DEPTH} levels deep"),
                    ));
                }
                tx.put_parent_link(&ParentRow {
                    customer_id: child.id,
                    parent_id: parent.id,
                    relation: relation.to_string(),
                    set_at: now_us(),
                    set_by: Some(actor.user_id),
                })
                .await?;
            }
        }
        let after = self.parent_view(&mut tx, &child).await?;
        let mut r = record(actor, "customer.parent_set", "customer", &child.code);
        r.before = to_json(&before);
        r.after = to_json(&after);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Levels of the group below `id` (0 for a leaf), counted to at most
    /// [`MAX_DEPTH`] + 1.
    async fn height_below(&self, tx: &mut custos_store::Tx, id: i64) -> AppResult<usize> {
        let mut level = vec![id];
        let mut seen = vec![id];
        let mut height = 0;
        while !level.is_empty() && height <= MAX_DEPTH {
            let links = tx.child_links(&level, super::MAX_MEMBERS as i64).await?;
            level = links
                .into_iter()
                .map(|l| l.customer_id)
                .filter(|c| !seen.contains(c))
                .collect();
            seen.extend(&level);
            if !level.is_empty() {
                height += 1;
            }
        }
        Ok(height)
    }

    /// Where `child` hangs now (its link's parent resolved through merges).
    pub(crate) async fn parent_view(
        &self,
        tx: &mut custos_store::Tx,
        child: &CustomerRow,
    ) -> AppResult<ParentView> {
        let link = tx.parent_link(child.id).await?;
        let parent = match &link {
            Some(l) => {
                let home = home_of(tx, l.parent_id).await?;
                tx.customer(home).await?
            }
            None => None,
        };
        Ok(ParentView {
            customer_code: child.code.clone(),
            parent_code: parent.as_ref().map(|p| p.code.clone()),
            parent_name: parent.map(|p| p.name),
            relation: link.map(|l| l.relation),
        })
    }
}
