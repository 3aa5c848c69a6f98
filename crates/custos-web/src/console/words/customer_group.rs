//! The words of `console::customer_group`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("cust.tab.group", "集团", "Group"),
    ("group.members", "集团成员", "Members"),
    ("group.code", "客户编码", "Code"),
    ("group.name", "名称", "Name"),
    ("group.relation", "关系", "Relation"),
    ("group.status", "状态", "Status"),
    ("group.own", "本级订单额（元）", "Own orders (CNY)"),
    (
        "group.rollup",
        "含下级订单额（元）",
        "With members below (CNY)",
    ),
    (
        "group.alone",
        "该客户不属于任何集团。",
        "This customer belongs to no group.",
    ),
    (
        "group.hidden",
        "另有成员不在您的数据范围内，未列出，也未计入合计：",
        "Members outside your data scope, not listed nor summed: ",
    ),
    (
        "group.truncated",
        "集团成员过多，只列出前 2000 个。",
        "The group is larger; the first 2,000 members are listed.",
    ),
    ("group.set_parent", "设置上级", "Set the parent"),
    ("group.parent_code", "上级客户编码", "Parent's code"),
    (
        "group.parent_help",
        "留空并保存即移出集团。",
        "Leave empty and save to take it out of its group.",
    ),
    ("group.subsidiary", "子公司", "Subsidiary"),
    ("group.branch", "分支机构", "Branch"),
    ("group.save", "保存", "Save"),
];
