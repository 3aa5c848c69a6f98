//! Who is acting, from where, and what they may do: permissions and data scopes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};

/// Every permission custos knows. Roles are sets of these.
pub const PERMISSIONS: &[(&str, &str)] = &[
    ("user.read", "查看用户"),
    ("user.manage", "管理用户"),
    ("role.manage", "管理角色"),
    ("department.manage", "管理部门"),
    ("audit.read", "查看操作日志"),
    ("audit.verify", "校验操作日志链"),
    ("system.backup", "备份与恢复"),
    ("system.keys", "管理个人信息密钥"),
    ("rule.read", "查看编码规则"),
    ("rule.manage", "编辑编码规则"),
    ("rule.publish", "发布编码规则"),
    ("code.assign", "手动分配编码"),
    ("code.validate", "校验编码"),
    ("code.status", "查看编码发放状态"),
    ("customer.read", "查看客户"),
    ("customer.create", "直接新建客户"),
    ("customer.update", "修改客户"),
    ("customer.pii.read", "查看未脱敏个人信息"),
    ("customer.merge", "合并与拆分客户"),
    ("customer.retire", "废止与归档客户"),
    ("field.manage", "管理字段目录"),
    ("xref.manage", "管理外部系统对照"),
    ("duplicate.manage", "处理重复客户"),
    ("application.submit", "提交申请"),
    ("application.approve", "审批申请"),
    ("import", "批量导入"),
    ("export", "导出"),
    ("stats.read", "查看统计报表"),
    (
        "activity.read",
        "查看客户业务记录（跟进、互动、服务、合同、交易）",
    ),
    ("activity.write", "登记客户业务记录"),
    ("credit.read", "查看客户信用"),
    ("credit.write", "登记客户信用评级"),
    ("quality.read", "查看数据质量（评分、指标、待完善清单）"),
    ("quality.manage", "管理数据质量（分派待完善、重算、快照）"),
    ("events.read", "读取变更事件流"),
    ("webhooks.manage", "管理 Webhook 订阅"),
    (
        "notifications.manage",
        "管理通知渠道（钉钉、企业微信、Webhook）",
    ),
];

pub fn is_known_permission(p: &str) -> bool {
    PERMISSIONS.iter().any(|(k, _)| *k == p)
}

/// The built-in roles of DESIGN.md with their permission sets.
pub fn builtin_roles() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let all: Vec<&str> = PERMISSIONS.iter().map(|(k, _)| *k).collect();
    vec![
        ("admin", "系统管理员", all),
        (
            "steward",
            "数据管理员",
            vec![
                "user.read",
                "audit.read",
                "rule.read",
                "code.assign",
                "code.validate",
                "code.status",
                "customer.read",
                "customer.create",
                "customer.update",
                "customer.pii.read",
                "customer.merge",
                "customer.retire",
                "xref.manage",
                "duplicate.manage",
                "application.submit",
                "application.approve",
                "import",
                "export",
                "stats.read",
                "activity.read",
                "activity.write",
                "quality.read",
                "quality.manage",
                "events.read",
            ],
        ),
        (
            "clerk",
            "业务录入员",
            vec![
                "rule.read",
                "code.validate",
                "customer.read",
                "customer.update",
                "application.submit",
                "import",
                "activity.read",
                "activity.write",
            ],
        ),
        (
            "approver",
            "审批人",
            vec![
                "customer.read",
                "application.approve",
                "code.validate",
                "activity.read",
                "credit.read",
            ],
        ),
        (
            "query",
            "业务查询员",
            vec!["customer.read", "code.validate", "activity.read"],
        ),
        (
            "executive",
            "高级管理人员",
            vec![
                "customer.read",
                "stats.read",
                "export",
                "code.validate",
                "activity.read",
                "credit.read",
                "quality.read",
            ],
        ),
    ]
}

/// Data scope (数据范围) of a role assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Records the user owns.
    Own,
    /// Records owned within the user's department and the departments below it.
    Department,
    /// Everything.
    All,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        match s {
            "own" => Some(Scope::Own),
            "department" => Some(Scope::Department),
            "all" => Some(Scope::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Own => "own",
            Scope::Department => "department",
            Scope::All => "all",
        }
    }
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Api,
    Cli,
    Console,
    Import,
    System,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Api => "api",
            Source::Cli => "cli",
            Source::Console => "console",
            Source::Import => "import",
            Source::System => "system",
        }
    }
}

/// Request context that goes into audit entries.
#[derive(Debug, Clone)]
pub struct Context {
    pub source: Source,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

impl Context {
    pub fn new(source: Source) -> Self {
        Context {
            source,
            request_id: None,
            ip: None,
        }
    }
}

/// An authenticated caller with the permissions (and widest scope for each) it holds now.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub department_id: Option<i64>,
    pub permissions: BTreeMap<String, Scope>,
    pub roles: Vec<String>,
    /// Console language the user chose (`zh`, `en`); `None`: the default.
    pub language: Option<String>,
    pub ctx: Context,
    /// The API key this request came with (`<id>:<prefix>`, see `apikeys`); every audit
    /// entry of the actor names it beside the account.
    pub api_key: Option<String>,
}

impl Actor {
    /// The caller's scope for a permission, or 403.
    pub fn require(&self, permission: &str) -> AppResult<Scope> {
        self.permissions
            .get(permission)
            .copied()
            .ok_or_else(|| AppError::Forbidden {
                permission: permission.to_string(),
            })
    }

    pub fn can(&self, permission: &str) -> bool {
        self.permissions.contains_key(permission)
    }
}
