//! Group structure (集团 → 子公司 / 分支机构): a customer's parent in its group, set and
//! cleared by who may change the customer, and the group view with each member's order
//! totals rolled up the tree.
//!
//! Links stay on the customers that were linked. A merge rewrites none of them: a link to
//! a merged customer counts as a link to its survivor, a merged customer's own link no
//! longer counts (its survivor keeps its own), and an unmerge therefore needs nothing
//! back.

mod link;
mod tree;

pub use link::{ParentView, SetParent, RELATIONS};
pub use tree::{GroupMember, GroupView};

use custos_store::Tx;

use crate::error::AppResult;

/// Deepest a group may be (levels below its root).
pub const MAX_DEPTH: usize = 10;

/// Most members one group view lists.
pub const MAX_MEMBERS: usize = 2000;

/// The customer `id` stands for now: itself, or the end of its chain of merges (bounded,
/// in case of a cycle in damaged data).
pub(crate) async fn home_of(tx: &mut Tx, id: i64) -> AppResult<i64> {
    let mut at = id;
    for _ in 0..64 {
        match tx.merged_into(at).await? {
            Some(next) if next != at => at = next,
            _ => break,
        }
    }
    Ok(at)
}

/// The ancestors of `id`, nearest first, each resolved through merges; stops at the
/// root, at [`MAX_DEPTH`] + 1 levels, or where the walk would come back (damaged data).
pub(crate) async fn ancestors(tx: &mut Tx, id: i64) -> AppResult<Vec<i64>> {
    let mut chain = Vec::new();
    let mut at = id;
    while chain.len() <= MAX_DEPTH {
        let Some(link) = tx.parent_link(at).await? else {
            break;
        };
        let parent = home_of(tx, link.parent_id).await?;
        if parent == id || chain.contains(&parent) {
            break;
        }
        chain.push(parent);
        at = parent;
    }
    Ok(chain)
}
