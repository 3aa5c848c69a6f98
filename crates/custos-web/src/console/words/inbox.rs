//! The words of `console::inbox`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("inbox.title", "待办", "Inbox"),
    (
        "inbox.empty",
        "没有待您审批的申请。",
        "Nothing waits for your decision.",
    ),
    ("inbox.waited", "已等待", "Waiting"),
    (
        "inbox.more",
        "仅显示最早的待办；处理后可看到其余的。",
        "Only the oldest tasks are shown; the rest appear as these are decided.",
    ),
    ("inbox.open", "查看详情", "Details"),
    ("inbox.pending", "项待办", "waiting"),
];
