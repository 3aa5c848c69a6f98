//! The bounds of a group and the walk up it: where a merged customer stands now and the
//! chain of parents above a customer. Linking and the group view both walk it.

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
