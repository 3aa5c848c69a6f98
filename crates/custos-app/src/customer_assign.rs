//! Whom and where a customer may be assigned to from its form: the owners (负责人) and
//! departments (所属部门) the writer may choose, by the same data-scope rule the writes
//! apply (`check_owner_in_scope`): with scope `own` only oneself, with `department` the
//! users and departments of one's department subtree, with `all` everyone.

use crate::customers::Customers;
use std::collections::BTreeMap;

use serde::Serialize;

use crate::actor::{Actor, Scope};
use crate::error::AppResult;

/// Users listed as possible owners, at most (bounded work per form).
const OWNER_LIMIT: i64 = 500;

/// One choice of a select: an id and the name people read (a department indented by
/// its depth in the tree).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AssignChoice {
    pub id: i64,
    pub name: String,
    /// Depth in the department tree (0 for users and top departments).
    pub depth: usize,
}

/// What the customer form offers besides the field catalog.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Assignment {
    /// Users the writer may make the owner; empty: the owner is not offered.
    pub owners: Vec<AssignChoice>,
    /// Departments the writer may put the customer in; empty: not offered.
    pub departments: Vec<AssignChoice>,
    /// Contacts are entered with the record (a new customer: saved in the same
    /// transaction as the customer).
    pub contacts: bool,
}

impl Customers<'_> {
    /// The assignment choices of a writer holding `permission` (`customer.create` for a
    /// new customer, `customer.update` for an edit); nothing without it.
    pub(crate) async fn assignment(
        &self,
        actor: &Actor,
        permission: &str,
    ) -> AppResult<Assignment> {
        let Ok(scope) = actor.require(permission) else {
            return Ok(Assignment::default());
        };
        let mut tx = self.app.db.begin_read().await?;
        let subtree = match (scope, actor.department_id) {
            (Scope::Department, Some(d)) => Some(tx.department_subtree(d).await?),
            (Scope::Department, None) => Some(Vec::new()),
            _ => None,
        };
        let users = match scope {
            Scope::Own => Vec::new(),
            _ => {
                tx.users(subtree.as_deref(), Some(actor.user_id), 0, OWNER_LIMIT)
                    .await?
            }
        };
        let mut owners: Vec<AssignChoice> = users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| AssignChoice {
                id: u.id,
                name: format!("{}（{}）", u.display_name, u.username),
                depth: 0,
            })
            .collect();
        if !owners.iter().any(|o| o.id == actor.user_id) {
            owners.insert(
                0,
                AssignChoice {
                    id: actor.user_id,
                    name: format!("{}（{}）", actor.display_name, actor.username),
                    depth: 0,
                },
            );
        }
        let rows = tx.departments().await?;
        tx.rollback().await?;
        let rows: Vec<(i64, String, Option<i64>)> = rows
            .into_iter()
            .filter(|d| subtree.as_ref().is_none_or(|s| s.contains(&d.id)))
            .map(|d| (d.id, d.name, d.parent_id))
            .collect();
        Ok(Assignment {
            owners,
            departments: tree_order(rows),
            contacts: permission == "customer.create",
        })
    }
}

/// Departments in tree order (each followed by its children), with their depth. A
/// department whose parent is not listed starts a tree of its own.
fn tree_order(rows: Vec<(i64, String, Option<i64>)>) -> Vec<AssignChoice> {
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut children: BTreeMap<Option<i64>, Vec<(i64, String)>> = BTreeMap::new();
    for (id, name, parent) in rows {
        let parent = parent.filter(|p| ids.contains(p));
        children.entry(parent).or_default().push((id, name));
    }
    let mut out = Vec::new();
    let mut stack: Vec<(i64, String, usize)> = children
        .remove(&None)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|(id, name)| (id, name, 0))
        .collect();
    while let Some((id, name, depth)) = stack.pop() {
        out.push(AssignChoice { id, name, depth });
        if let Some(kids) = children.remove(&Some(id)) {
            stack.extend(kids.into_iter().rev().map(|(i, n)| (i, n, depth + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn departments_follow_their_parents() {
        let rows = vec![
            (1, "总部".to_string(), None),
            (2, "华北".to_string(), Some(1)),
            (3, "华南".to_string(), Some(1)),
            (4, "北京".to_string(), Some(2)),
            (5, "孤立".to_string(), Some(99)),
        ];
        let out: Vec<(i64, usize)> = tree_order(rows)
            .into_iter()
            .map(|c| (c.id, c.depth))
            .collect();
        assert_eq!(out, vec![(1, 0), (2, 1), (4, 2), (3, 1), (5, 0)]);
    }

    #[tokio::test]
    async fn scope_own_offers_only_oneself() {
        let (app, admin, _dir) = crate::test_support::app_with_admin().await;
        let all = app
            .customers()
            .assignment(&admin, "customer.create")
            .await
            .unwrap();
        assert!(all.owners.iter().any(|o| o.id == admin.user_id));
        assert!(all.contacts);
        let mut clerk = admin.clone();
        clerk.user_id = 987_654;
        clerk.permissions = [("customer.create".to_string(), Scope::Own)].into();
        let own = app
            .customers()
            .assignment(&clerk, "customer.create")
            .await
            .unwrap();
        assert_eq!(
            own.owners.iter().map(|o| o.id).collect::<Vec<_>>(),
            vec![987_654]
        );
        let none = app
            .customers()
            .assignment(&clerk, "customer.update")
            .await
            .unwrap();
        assert!(none.owners.is_empty() && none.departments.is_empty() && !none.contacts);
    }
}
