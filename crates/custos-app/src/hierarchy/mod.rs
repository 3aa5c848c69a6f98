//! Group structure (集团 → 子公司 / 分支机构): a customer's parent in its group, set and
//! cleared by who may change the customer, and the group view with each member's order
//! totals rolled up the tree.
//!
//! Links stay on the customers that were linked. A merge rewrites none of them: a link to
//! a merged customer counts as a link to its survivor, a merged customer's own link no
//! longer counts (its survivor keeps its own), and an unmerge therefore needs nothing
//! back.

mod ancestry;
mod link;
mod tree;

pub use link::{ParentView, SetParent, RELATIONS};
pub use tree::{GroupMember, GroupView};

pub(crate) use ancestry::{ancestors, home_of};
pub use ancestry::{MAX_DEPTH, MAX_MEMBERS};
