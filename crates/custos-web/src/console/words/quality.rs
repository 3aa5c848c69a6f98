//! The words of `console::quality`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("nav.quality", "质量", "Quality"),
    ("quality.title", "数据质量", "Data quality"),
    (
        "quality.scope",
        "只统计您数据范围内、参与评估的客户（待生效、有效、休眠）。",
        "Counts the assessed customers (pending, active, dormant) in your data scope.",
    ),
    (
        "quality.export",
        "下载质量报告（XLSX）",
        "Download the report (XLSX)",
    ),
    ("quality.customers", "参与评估的客户", "Assessed customers"),
    ("quality.average", "平均得分", "Average score"),
    ("quality.kpis", "质量指标", "KPIs"),
    ("quality.kpi", "指标", "KPI"),
    ("quality.value", "当前", "Now"),
    ("quality.target", "目标", "Target"),
    ("quality.met", "达标", "Met"),
    ("quality.not_met", "未达标", "Not met"),
    ("quality.dimensions", "各维度", "Dimensions"),
    ("quality.dimension", "维度", "Dimension"),
    ("quality.score", "得分", "Score"),
    (
        "quality.pass_rate",
        "全部通过的客户占比",
        "Customers passing all",
    ),
    ("quality.trend", "质量趋势", "Trend"),
    (
        "quality.trend_withheld",
        "趋势统计全部客户，仅对拥有全部数据范围的用户显示。",
        "The trend counts every customer: shown to users whose scope is all customers.",
    ),
    ("quality.worklist", "待完善", "To mend"),
    ("quality.all_dimensions", "全部维度", "All dimensions"),
    ("quality.filter", "筛选", "Filter"),
    ("quality.code", "客户编码", "Code"),
    ("quality.name", "名称", "Name"),
    ("quality.failing", "未通过的规则", "Failing rules"),
    ("quality.assignee", "处理人", "Assignee"),
    (
        "quality.assign_to",
        "分派给用户（ID）",
        "Assign to user (id)",
    ),
    (
        "quality.assign",
        "分派勾选的客户",
        "Assign the checked customers",
    ),
    ("quality.assigned", "已分派", "Assigned"),
    ("quality.none", "没有待完善的客户", "Nothing to mend"),
    ("quality.next", "下一页", "Next page"),
];
