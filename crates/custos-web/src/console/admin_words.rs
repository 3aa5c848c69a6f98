//! Words and small pieces the administration pages share (用户, 部门, 角色, 审计, 系统):
//! their sub-navigation, field errors beside inputs, data scopes and sizes as people
//! read them.

use custos_app::{Actor, Scope};
use custos_core::violation::Lang;
use custos_core::FieldError;

use super::i18n::{t, Entry};
use super::session::Viewer;

pub(crate) const WORDS: &[Entry] = &[
    ("nav.admin", "管理", "Admin"),
    ("nav.audit", "审计", "Audit"),
    ("admin.users", "用户", "Users"),
    ("admin.departments", "部门", "Departments"),
    ("admin.roles", "角色与授权", "Roles and grants"),
    ("admin.system", "系统", "System"),
    ("admin.subnav", "管理功能", "Administration"),
    ("admin.search", "搜索用户名或姓名", "Search username or name"),
    ("admin.new_user", "新建用户", "New user"),
    ("admin.username", "用户名", "Username"),
    ("admin.display_name", "姓名", "Name"),
    ("admin.department", "部门", "Department"),
    ("admin.no_department", "（无部门）", "(no department)"),
    ("admin.email", "电子邮件", "E-mail"),
    ("admin.password", "初始密码", "Initial password"),
    (
        "admin.password_help",
        "至少 12 个字符，不能是常见密码，也不能包含用户名或姓名。",
        "At least 12 characters, not a common password, not containing the username or name.",
    ),
    ("admin.roles_held", "角色", "Roles"),
    ("admin.status", "状态", "Status"),
    ("admin.enabled", "正常", "Active"),
    ("admin.disabled", "已停用", "Disabled"),
    ("admin.locked", "登录受限", "Login throttled"),
    ("admin.locked_until", "登录受限至", "Logins throttled until"),
    ("admin.created", "创建时间", "Created"),
    ("admin.no_users", "没有符合条件的用户。", "No users match."),
    ("admin.more", "下一页", "Next page"),
    ("admin.first", "第一页", "First page"),
    ("admin.disable", "停用", "Disable"),
    ("admin.enable", "启用", "Enable"),
    (
        "admin.disable_confirm",
        "停用后该用户的所有登录（包括接口令牌）立即失效。确定停用？",
        "Every session of the user (API tokens included) ends at once. Disable?",
    ),
    ("admin.unlock", "解除登录限制", "Clear login throttling"),
    ("admin.reset_password", "重置密码", "Reset password"),
    ("admin.new_password", "新密码", "New password"),
    (
        "admin.reset_help",
        "重置后该用户的所有登录立即失效，请把新密码告知本人。",
        "Every session of the user ends; tell them the new password.",
    ),
    ("admin.sessions", "登录会话", "Sessions"),
    ("admin.no_sessions", "没有有效的登录会话。", "No live sessions."),
    ("admin.session", "会话", "Session"),
    ("admin.session_kind.browser", "控制台", "Console"),
    ("admin.session_kind.token", "接口令牌", "API token"),
    ("admin.session_created", "登录时间", "Signed in"),
    ("admin.session_seen", "最近使用", "Last used"),
    ("admin.session_expires", "到期时间", "Expires"),
    ("admin.end_session", "结束会话", "End session"),
    ("admin.permissions", "权限", "Permissions"),
    ("admin.scope", "数据范围", "Data scope"),
    ("admin.scope.own", "本人", "Own"),
    ("admin.scope.department", "本部门及下级", "Department and below"),
    ("admin.scope.all", "全部", "All"),
    ("admin.expires", "到期时间", "Expires"),
    ("admin.never", "长期", "Permanent"),
    ("admin.expired", "已过期", "Expired"),
    ("admin.saved", "已保存。", "Saved."),
    ("admin.back_users", "返回用户列表", "Back to users"),
    ("admin.dept_name", "部门名称", "Department name"),
    ("admin.parent", "上级部门", "Parent department"),
    ("admin.top_level", "（顶级部门）", "(top level)"),
    ("admin.manager", "负责人", "Manager"),
    ("admin.new_department", "新建部门", "New department"),
    ("admin.rename", "改名", "Rename"),
    ("admin.move", "移动到", "Move under"),
    ("admin.no_departments", "还没有部门。", "No departments yet."),
    (
        "admin.move_help",
        "部门不能移到它自己或其下级部门之下。",
        "A department cannot move under itself or one of its descendants.",
    ),
    ("admin.role", "角色", "Role"),
    ("admin.builtin", "内置", "Built-in"),
    ("admin.grants", "授权", "Grants"),
    ("admin.manager_id", "负责人用户编号", "Manager user id"),
    ("admin.set_manager", "设为负责人", "Set manager"),
    ("admin.new_role", "新建角色", "New role"),
    ("admin.role_key", "角色标识", "Role key"),
    ("admin.role_name", "角色名称", "Role name"),
    (
        "admin.new_role_help",
        "标识为 2–32 位小写字母、数字或下划线；新角色没有任何权限，建好后在上方矩阵中勾选并保存。",
        "The key is 2–32 lower-case letters, digits or _; a new role holds no permission until you tick them in the matrix above and save.",
    ),
    ("admin.revoke", "收回", "Revoke"),
    ("admin.grant", "授予角色", "Grant a role"),
    ("admin.grant_user", "用户编号", "User id"),
    (
        "admin.grant_help",
        "到期时间按业务时区理解；留空为长期授权。同一角色再次授予会替换原来的范围和到期时间。",
        "The expiry is in the business time zone; empty means permanent. Granting a role the user holds replaces its scope and expiry.",
    ),
    ("admin.from_application", "来自权限申请", "From permission application"),
    ("admin.temporary", "临时", "Temporary"),
    ("admin.no_grants", "还没有授权。", "No grants yet."),
    (
        "admin.grants_truncated",
        "只列出前 500 条授权。",
        "Only the first 500 grants are listed.",
    ),
    ("admin.save_permissions", "保存权限", "Save permissions"),
    (
        "admin.builtin_help",
        "内置角色的权限随版本更新，不能修改。",
        "Built-in roles keep the permissions of the version; they cannot be changed.",
    ),
    ("system.version", "版本", "Version"),
    ("system.database", "数据库", "Database"),
    ("system.backend.sqlite", "SQLite（内嵌）", "SQLite (embedded)"),
    ("system.backend.postgres", "PostgreSQL", "PostgreSQL"),
    ("system.size", "数据库大小", "Database size"),
    ("system.audit_entries", "操作日志条数", "Audit entries"),
    ("system.checkpoints", "审计检查点", "Audit checkpoints"),
    ("system.on", "已启用", "On"),
    ("system.off", "未启用", "Off"),
    ("system.backup", "备份", "Backup"),
    ("system.last_backup", "最近一次备份", "Last backup"),
    ("system.no_backup", "操作日志中没有备份记录。", "The audit log records no backup."),
    ("system.encrypted", "已加密", "Encrypted"),
    ("system.unencrypted", "未加密", "Not encrypted"),
    ("system.how_backup", "如何备份", "How to back up"),
    (
        "system.backup_sqlite",
        "在服务器上运行（服务可继续运行）：",
        "Run on the server (custos may keep running):",
    ),
    (
        "system.backup_pg",
        "PostgreSQL 数据库用 pg_dump 备份，用 pg_restore 恢复，例如：",
        "Back up PostgreSQL with pg_dump and restore with pg_restore, e.g.:",
    ),
    ("system.backup_doc", "详见 docs/backup.md。", "See docs/backup.md."),
    ("system.mail", "邮件与通知", "Mail and notifications"),
    ("system.mail_host", "邮件服务器", "Mail relay"),
    ("system.mail_from", "发件人", "Sender"),
    (
        "system.mail_off",
        "未配置邮件服务器，审批通知只在待办中显示。在配置文件的 [mail] 中设置 smtp_host 与 from 即可启用。",
        "No mail relay is configured; approval notices only show in the inbox. Set smtp_host and from in [mail] of the configuration file to turn it on.",
    ),
    ("system.test_to", "测试收件人", "Test recipient"),
    ("system.send_test", "发送测试邮件", "Send test mail"),
    ("system.test_sent", "测试邮件已发出。", "The test message was sent."),
    ("system.licences", "第三方前端组件许可", "Licences of vendored front-end packages"),
    ("system.package", "组件", "Package"),
    ("system.package_version", "版本", "Version"),
    ("system.licence", "许可", "Licence"),
    ("system.licence_text", "许可全文", "Licence text"),
    ("audit.title", "操作日志", "Audit log"),
    ("audit.seq", "序号", "No."),
    ("audit.at", "时间", "Time"),
    ("audit.actor", "操作人", "Actor"),
    ("audit.actor_id", "操作人编号", "Actor id"),
    ("audit.action", "操作", "Action"),
    (
        "audit.action_help",
        "完整操作名，或以 . 结尾的前缀，如 user.",
        "An action, or a prefix ending in ., e.g. user.",
    ),
    ("audit.target_type", "对象类型", "Target type"),
    ("audit.target_id", "对象编号", "Target id"),
    ("audit.from", "起始日期", "From"),
    ("audit.to", "截止日期", "To"),
    ("audit.source", "来源", "Source"),
    ("audit.reason", "原因", "Reason"),
    ("audit.request_id", "请求编号", "Request id"),
    ("audit.ip", "IP 地址", "IP address"),
    ("audit.hash", "哈希", "Hash"),
    ("audit.before", "变更前", "Before"),
    ("audit.after", "变更后", "After"),
    ("audit.none", "（无）", "(none)"),
    ("audit.empty", "没有符合条件的记录。", "No entries match."),
    ("audit.older", "更早的记录", "Older entries"),
    ("audit.newest", "最新记录", "Newest entries"),
    ("audit.entry", "操作日志记录", "Audit entry"),
    ("audit.back", "返回操作日志", "Back to the audit log"),
    ("audit.verify", "校验链", "Verify the chain"),
    (
        "audit.verify_help",
        "逐条核对哈希链和检查点；页面最多校验 200,000 条，更长的日志请在服务器上运行 custos audit verify。",
        "Checks every entry's hash and the checkpoints; the page verifies up to 200,000 entries, run custos audit verify on the server for a longer log.",
    ),
    ("audit.chain_ok", "哈希链完整", "The chain is intact"),
    ("audit.chain_broken", "哈希链已断裂", "The chain is broken"),
    ("audit.chain_entries", "条记录", "entries"),
    ("audit.chain_checkpoints", "个检查点", "checkpoints"),
    ("audit.chain_head", "链头哈希", "Head hash"),
    ("audit.first_broken", "第一条断裂的记录", "First broken entry"),
    ("audit.day_help", "按业务时区的日期，含当天", "Days in the business time zone, inclusive"),
];

/// The sub-navigation of the administration pages, each entry shown only to viewers
/// with its permission.
pub(crate) struct SubNav {
    pub items: Vec<(&'static str, &'static str, bool)>,
}

const SUBNAV: &[(&str, &str, &str)] = &[
    ("/admin/users", "admin.users", "user.read"),
    (
        "/admin/departments",
        "admin.departments",
        "department.manage",
    ),
    ("/admin/roles", "admin.roles", "role.manage"),
    ("/admin/service-accounts", "sa.subnav", "user.manage"),
    ("/admin/webhooks", "wh.subnav", "webhooks.manage"),
    ("/admin/channels", "ch.subnav", "notifications.manage"),
    ("/admin/system", "admin.system", "system.backup"),
];

/// Whether `actor` may open the administration page at `href`.
fn may_open(actor: &Actor, href: &str, permission: &str) -> bool {
    match href {
        // These need their permission over everyone.
        "/admin/service-accounts" | "/admin/webhooks" | "/admin/channels" => {
            holds_over_all(actor, permission)
        }
        _ => actor.can(permission),
    }
}

/// Whether `actor` holds `permission` over everyone (the pages of service accounts,
/// webhooks and channels: the use cases decide, the navigation hides what they refuse).
pub(crate) fn holds_over_all(actor: &Actor, permission: &str) -> bool {
    matches!(actor.require(permission), Ok(Scope::All))
}

/// The 403 page for a form posted by someone without `permission` over everyone, which
/// the use cases would refuse anyway: checked before the form is parsed, so they get 403
/// whatever they send.
pub(crate) fn refuse_unless_over_all(
    viewer: &Viewer,
    permission: &str,
    chrome: impl FnOnce() -> super::page::Chrome,
) -> Option<axum::response::Response> {
    use axum::response::IntoResponse;
    (!holds_over_all(&viewer.actor, permission)).then(|| {
        let e = custos_app::AppError::Forbidden {
            permission: permission.into(),
        };
        super::page::PageError::new(chrome(), e).into_response()
    })
}

/// A record id from the path: a positive number, anything else the missing record's
/// `what` (a 404 page, as for an id that does not exist).
pub(crate) fn path_id(raw: &str, what: &'static str) -> Result<i64, custos_app::AppError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| custos_app::AppError::not_found(what, raw))
}

/// The word for `value` under the i18n key `prefix.value`, or the value itself when
/// there is none.
pub(crate) fn word(lang: Lang, prefix: &str, value: &str) -> String {
    let key = format!("{prefix}.{value}");
    match t(lang, &key) {
        k if k == key => value.to_string(),
        w => w.to_string(),
    }
}

/// The first administration page `actor` may open: where the navigation's 管理 leads.
pub(crate) fn first_admin_page(actor: &Actor) -> Option<&'static str> {
    SUBNAV
        .iter()
        .find(|(href, _, p)| may_open(actor, href, p))
        .map(|(href, _, _)| *href)
}

impl SubNav {
    pub fn new(viewer: &Viewer, current: &str) -> SubNav {
        SubNav {
            items: SUBNAV
                .iter()
                .filter(|(href, _, p)| may_open(&viewer.actor, href, p))
                .map(|(href, key, _)| (*href, *key, *href == current))
                .collect(),
        }
    }
}

/// Errors of a form: each beside its field, the rest above the form.
#[derive(Default)]
pub(crate) struct FormErrors {
    pub fields: Vec<(String, String)>,
    pub general: Vec<String>,
}

impl FormErrors {
    pub fn from_fields(errors: &[FieldError], lang: Lang) -> FormErrors {
        FormErrors {
            fields: errors
                .iter()
                .map(|e| (e.field.clone(), e.violation.message(lang).to_string()))
                .collect(),
            general: Vec::new(),
        }
    }

    pub fn general(message: String) -> FormErrors {
        FormErrors {
            fields: Vec::new(),
            general: vec![message],
        }
    }

    /// The message for an input named `field` (or one of its parts, `roles[0].scope`).
    pub fn on(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field || f.starts_with(&format!("{field}[")))
            .map(|(_, m)| m.as_str())
    }

    /// Messages of fields the form has no input for, and the general ones.
    pub fn others(&self, inputs: &[&str]) -> Vec<String> {
        let mut out = self.general.clone();
        for (f, m) in &self.fields {
            let shown = inputs
                .iter()
                .any(|i| f == i || f.starts_with(&format!("{i}[")));
            if !shown {
                out.push(m.clone());
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }
}

/// A data scope in words.
pub(crate) fn scope_text(lang: Lang, scope: &str) -> String {
    let key = format!("admin.scope.{scope}");
    match t(lang, &key) {
        k if k == key => scope.to_string(),
        words => words.to_string(),
    }
}

/// A size in bytes as people read it (KiB, MiB, GiB).
pub(crate) fn human_bytes(n: i64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n.max(0) as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{v:.1} {}", UNITS[unit]),
    }
}

/// A day (`YYYY-MM-DD`, a form's date input) as the RFC 3339 start of that day in the
/// business time zone, `next` the start of the day after; any other text is passed on
/// for the use case to judge.
pub(crate) fn day_start(value: &str, tz: chrono_tz::Tz, next: bool) -> String {
    use chrono::TimeZone;
    let Ok(day) = chrono::NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d") else {
        return value.to_string();
    };
    let day = if next {
        day.succ_opt().unwrap_or(day)
    } else {
        day
    };
    match day
        .and_hms_opt(0, 0, 0)
        .and_then(|t| tz.from_local_datetime(&t).earliest())
    {
        Some(t) => t.to_rfc3339(),
        None => value.to_string(),
    }
}

/// A local date and time (`YYYY-MM-DDTHH:MM`, a datetime input) as RFC 3339 in the
/// business time zone; any other text is passed on for the use case to judge.
pub(crate) fn local_datetime(value: &str, tz: chrono_tz::Tz) -> String {
    use chrono::TimeZone;
    let v = value.trim();
    let parsed = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S"));
    match parsed
        .ok()
        .and_then(|t| tz.from_local_datetime(&t).earliest())
    {
        Some(t) => t.to_rfc3339(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024), "5.0 MiB");
    }

    #[test]
    fn days_are_business_days() {
        let tz = chrono_tz::Asia::Shanghai;
        assert_eq!(
            day_start("2026-03-01", tz, false),
            "2026-03-01T00:00:00+08:00"
        );
        assert_eq!(
            day_start("2026-03-31", tz, true),
            "2026-04-01T00:00:00+08:00"
        );
        assert_eq!(day_start("soon", tz, false), "soon");
        assert_eq!(
            local_datetime("2026-05-01T18:30", tz),
            "2026-05-01T18:30:00+08:00"
        );
    }
}
