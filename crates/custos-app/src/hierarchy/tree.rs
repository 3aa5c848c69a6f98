//! The group view: from the group's root down, each member with its own order totals and
//! those of everything below it. Members outside the reader's scope are counted, not
//! shown, and their totals are left out of every roll-up.

use crate::overview::Overview;
use std::collections::HashMap;

use serde::Serialize;

use custos_store::{CustomerRow, OrderTotalsRow, Tx};

use super::{ancestors, MAX_DEPTH, MAX_MEMBERS};
use crate::activities::OrderTotals;
use crate::customers::{in_scope, scoped_customer, CustomerStatus};
use crate::error::AppResult;
use crate::Actor;

/// One member of a group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupMember {
    pub code: String,
    pub name: String,
    pub status: String,
    /// Levels below the root (the root is 0).
    pub depth: usize,
    /// Its parent's code; absent for the root and under a member the reader cannot see.
    pub parent_code: Option<String>,
    /// `subsidiary` or `branch`; absent for the root.
    pub relation: Option<String>,
    /// Its own order totals (with `activity.read` over it).
    pub orders: Option<OrderTotals>,
    /// Its totals and those of every member below it that the reader may see.
    pub rollup: Option<OrderTotals>,
}

/// A customer's group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    pub customer_code: String,
    /// The root's code, absent when the reader may not see the root.
    pub root_code: Option<String>,
    /// Members from the root down, each after its parent (depth first).
    pub members: Vec<GroupMember>,
    /// Members outside the reader's data scope: counted, not shown.
    pub hidden_members: usize,
    /// True when the group has more than the members listed.
    pub truncated: bool,
}

/// A member found on the walk down.
struct Node {
    row: CustomerRow,
    parent: Option<i64>,
    relation: Option<String>,
    depth: usize,
}

impl Overview<'_> {
    /// The group of `code` (`customer.read` over it): its root and every member below,
    /// at most [`MAX_MEMBERS`], with order totals for a reader holding `activity.read`.
    pub async fn customer_group(&self, actor: &Actor, code: &str) -> AppResult<GroupView> {
        let read = actor.require("customer.read")?;
        let records = actor.permissions.get("activity.read").copied();
        let mut tx = self.app.db.begin_read().await?;
        let me = scoped_customer(&mut tx, actor, read, code).await?;
        let up = ancestors(&mut tx, me.id).await?;
        let root_id = up.last().copied().unwrap_or(me.id);
        let (nodes, truncated) = walk_down(&mut tx, root_id).await?;
        let mut visible = Vec::with_capacity(nodes.len());
        let mut totals: HashMap<i64, OrderTotalsRow> = HashMap::new();
        for n in &nodes {
            let seen = n.row.id == me.id || in_scope(&mut tx, actor, read, &n.row).await?;
            visible.push(seen);
            if let (true, Some(scope)) = (seen, records) {
                if in_scope(&mut tx, actor, scope, &n.row).await? {
                    totals.insert(n.row.id, tx.order_totals(n.row.id).await?);
                }
            }
        }
        tx.rollback().await?;
        Ok(assemble(
            me.code,
            nodes,
            visible,
            totals,
            records.is_some(),
            truncated,
        ))
    }
}

/// Members from `root` down, breadth first, with whether some were left out.
async fn walk_down(tx: &mut Tx, root: i64) -> AppResult<(Vec<Node>, bool)> {
    let root_row = tx.customer(root).await?;
    let Some(root_row) = root_row else {
        return Ok((Vec::new(), false));
    };
    let mut nodes = vec![Node {
        row: root_row,
        parent: None,
        relation: None,
        depth: 0,
    }];
    let mut level = vec![root];
    let mut depth = 0;
    let mut truncated = false;
    while !level.is_empty() && depth < MAX_DEPTH {
        depth += 1;
        // Links to a customer merged into a member count as links to the member.
        let mut home: HashMap<i64, i64> = level.iter().map(|id| (*id, *id)).collect();
        let mut frontier = level.clone();
        for _ in 0..8 {
            let merged = tx.merged_into_any(&frontier).await?;
            frontier = merged.iter().map(|(id, _)| *id).collect();
            for (id, into) in merged {
                let h = home.get(&into).copied().unwrap_or(into);
                home.insert(id, h);
            }
            if frontier.is_empty() {
                break;
            }
        }
        let parents: Vec<i64> = home.keys().copied().collect();
        let room = MAX_MEMBERS.saturating_sub(nodes.len());
        let links = tx.child_links(&parents, room as i64 + 1).await?;
        let ids: Vec<i64> = links.iter().map(|l| l.customer_id).collect();
        let rows = tx.customers_by_ids(&ids).await?;
        let mut next = Vec::new();
        for link in links {
            let Some(row) = rows.iter().find(|r| r.id == link.customer_id) else {
                continue;
            };
            // A merged customer's own link no longer counts; a member seen before
            // (damaged data) is not listed twice.
            if CustomerStatus::Merged.is(&row.status) || nodes.iter().any(|n| n.row.id == row.id) {
                continue;
            }
            if nodes.len() >= MAX_MEMBERS {
                truncated = true;
                break;
            }
            next.push(row.id);
            nodes.push(Node {
                row: row.clone(),
                parent: home.get(&link.parent_id).copied(),
                relation: Some(link.relation),
                depth,
            });
        }
        level = next;
    }
    if depth >= MAX_DEPTH && !level.is_empty() && !tx.child_links(&level, 1).await?.is_empty() {
        truncated = true;
    }
    Ok((nodes, truncated))
}

fn add(a: &mut OrderTotalsRow, b: &OrderTotalsRow) {
    a.total_fen += b.total_fen;
    a.order_count += b.order_count;
    if b.last_order_on > a.last_order_on {
        a.last_order_on = b.last_order_on.clone();
    }
}

/// The view: members depth first, roll-ups summed bottom up over what may be seen.
fn assemble(
    customer_code: String,
    nodes: Vec<Node>,
    visible: Vec<bool>,
    totals: HashMap<i64, OrderTotalsRow>,
    with_totals: bool,
    truncated: bool,
) -> GroupView {
    let index: HashMap<i64, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.row.id, i))
        .collect();
    // Breadth-first order lists every child after its parent: walk it backwards to sum.
    let mut rollup: Vec<Option<OrderTotalsRow>> = nodes
        .iter()
        .map(|n| totals.get(&n.row.id).cloned())
        .collect();
    for i in (1..nodes.len()).rev() {
        let (Some(p), Some(mine)) = (
            nodes[i].parent.and_then(|p| index.get(&p)),
            rollup[i].clone(),
        ) else {
            continue;
        };
        let slot = rollup[*p].get_or_insert_with(|| OrderTotalsRow {
            customer_id: nodes[*p].row.id,
            total_fen: 0,
            order_count: 0,
            last_order_on: None,
        });
        add(slot, &mine);
    }
    let mut children: HashMap<i64, Vec<usize>> = HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        if let Some(p) = n.parent {
            children.entry(p).or_default().push(i);
        }
    }
    let mut order = Vec::with_capacity(nodes.len());
    let mut stack = vec![0];
    while let Some(i) = stack.pop() {
        order.push(i);
        if let Some(c) = children.get(&nodes[i].row.id) {
            stack.extend(c.iter().rev());
        }
    }
    let hidden_members = visible.iter().filter(|v| !**v).count();
    let members = order
        .into_iter()
        .filter(|i| visible[*i])
        .map(|i| {
            let n = &nodes[i];
            let parent = n.parent.and_then(|p| index.get(&p).copied());
            GroupMember {
                code: n.row.code.clone(),
                name: n.row.name.clone(),
                status: n.row.status.clone(),
                depth: n.depth,
                parent_code: parent
                    .filter(|p| visible[*p])
                    .map(|p| nodes[p].row.code.clone()),
                relation: n.relation.clone(),
                orders: totals.get(&n.row.id).cloned().map(Into::into),
                rollup: match with_totals {
                    true => rollup[i].clone().map(Into::into),
                    false => None,
                },
            }
        })
        .collect();
    GroupView {
        customer_code,
        root_code: nodes
            .first()
            .filter(|_| visible.first() == Some(&true))
            .map(|n| n.row.code.clone()),
        members,
        hidden_members,
        truncated,
    }
}
