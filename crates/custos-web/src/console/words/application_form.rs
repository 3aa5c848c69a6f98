//! The words of `console::application_form`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("newapp.title", "发起申请", "New application"),
    (
        "newapp.choose",
        "选择申请类型",
        "Choose the kind of application",
    ),
    ("newapp.code", "客户编码", "Customer code"),
    ("newapp.next", "下一步", "Next"),
    ("newapp.submit", "提交申请", "Submit"),
    ("newapp.choose_option", "请选择", "Choose"),
    ("newapp.new_code", "新编码", "New code"),
    (
        "newapp.new_code_help",
        "留空则按编码规则生成。",
        "Leave empty to draw one by the code rule.",
    ),
    ("newapp.days", "调阅天数", "Days"),
    (
        "newapp.days_help",
        "默认 7 天，最多 90 天。",
        "7 days by default, at most 90.",
    ),
    ("newapp.role", "角色", "Role"),
    ("newapp.scope", "数据范围", "Data scope"),
    ("newapp.expires_at", "到期日期", "Expires on"),
    (
        "newapp.expires_help",
        "留空则长期有效。",
        "Leave empty for no end.",
    ),
    ("newapp.reason", "申请理由", "Reason"),
    ("newapp.about", "申请对象", "About"),
    ("newapp.current", "当前状态", "Status now"),
];
