//! The words of `console::exports`.

use super::Entry;

pub(crate) const WORDS: &[Entry] = &[
    ("exports.title", "导出", "Exports"),
    ("exports.job", "导出任务", "Export job"),
    ("exports.id", "编号", "No."),
    ("exports.status", "状态", "Status"),
    ("exports.format", "格式", "Format"),
    ("exports.rows", "行数", "Rows"),
    ("exports.created", "创建时间", "Created"),
    ("exports.finished", "完成时间", "Finished"),
    ("exports.expires", "文件保留至", "Kept until"),
    ("exports.requested_by", "提交人", "Requested by"),
    ("exports.file", "文件", "File"),
    ("exports.download", "下载", "Download"),
    ("exports.delete", "删除", "Delete"),
    (
        "exports.delete_confirm",
        "删除后文件不可恢复，进行中的导出会停止。确定删除？",
        "The file cannot be recovered and a running export stops. Delete?",
    ),
    (
        "exports.empty",
        "还没有导出任务。从客户列表点击“导出此列表”即可导出。",
        "No export jobs yet. Use \u{201c}Export this list\u{201d} on the customer list.",
    ),
    ("exports.progress", "已导出", "Exported"),
    ("exports.rows_unit", "行", "rows"),
    (
        "exports.pii",
        "含未脱敏个人信息",
        "Holds unmasked personal data",
    ),
    ("exports.back", "返回导出列表", "Back to exports"),
    ("exports.more", "更早的任务", "Older jobs"),
    ("exports.filter", "筛选条件", "Filter"),
    ("exports.status.queued", "排队中", "Queued"),
    ("exports.status.running", "导出中", "Running"),
    ("exports.status.done", "已完成", "Done"),
    ("exports.status.failed", "失败", "Failed"),
    (
        "exports.status.expired",
        "已删除或过期",
        "Deleted or expired",
    ),
    ("exports.status.cancelled", "已取消", "Cancelled"),
];
