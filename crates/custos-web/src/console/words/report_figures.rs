//! The words of `console::report_figures`.

use super::Entry;

/// Words of the reports.
pub(crate) const REPORT_WORDS: &[Entry] = &[
    (
        "reports.flow",
        "客户流转（新增与流失）",
        "Customer flow (new and lost)",
    ),
    ("reports.month", "月份", "Month"),
    ("reports.new", "新客户（首单/首签）", "New (first deal)"),
    ("reports.created", "新建档案", "Created"),
    ("reports.lost", "流失", "Lost"),
    ("reports.repeat", "复购率", "Repeat-purchase rate"),
    ("reports.overall", "整体复购率", "Overall"),
    ("reports.group", "分组", "Group"),
    ("reports.name", "名称", "Name"),
    ("reports.buyers", "下单客户", "Buyers"),
    ("reports.repeat_buyers", "复购客户", "Repeat buyers"),
    ("reports.rate", "复购率", "Rate"),
    ("reports.returning", "其中老客户", "Returning"),
    ("reports.month_rate", "当月复购率（%）", "Monthly rate (%)"),
    ("reports.by_type", "客户类型", "Customer type"),
    ("reports.by_department", "部门", "Department"),
];
