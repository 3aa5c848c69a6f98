//! Approval flows (审批流程): per application kind, optional conditions, ordered steps
//! whose approvers are a role, named users or the applicant's department manager. Flows
//! are admin-defined and versioned; a built-in default serves every kind no active flow
//! matches. An application freezes the flow it was submitted under.

use serde::{Deserialize, Serialize};

use custos_core::{FieldError, Violation};
use custos_store::{now_us, FlowRow, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Every application kind, with its Chinese name.
pub const KINDS: &[(&str, &str)] = &[
    ("create", "新客户编码申请"),
    ("change", "重要信息变更"),
    ("change_code", "编码变更"),
    ("retire", "客户废止"),
    ("reactivate", "恢复启用"),
    ("merge", "客户合并"),
    ("split", "客户拆分"),
    ("archive", "客户归档"),
    ("retrieve", "调阅归档资料"),
    ("grant_permission", "权限申请"),
    ("publish_rule", "发布编码规则"),
];

pub fn kind_zh(kind: &str) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, zh)| *zh)
        .unwrap_or("申请")
}

pub fn unknown_kind(field: &str, kind: &str) -> FieldError {
    let keys: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
    Violation::new(
        "application.kind_unknown",
        format!("申请类型“{kind}”不存在，可选：{}", keys.join("、")),
        format!(
            "application kind '{kind}' does not exist; choose one of {}",
            keys.join(", ")
        ),
    )
    .on(field)
}

/// Who approves a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Approvers {
    /// Every enabled user holding the role (unexpired grant).
    Role { role: String },
    /// Named users (ids).
    Users { users: Vec<i64> },
    /// The applicant's department manager, walking up the department tree when a
    /// department has none.
    DepartmentManager,
}

/// any-of: the first approval decides the step; all-of: every approver must approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepMode {
    #[default]
    Any,
    All,
}

/// When a step approves itself without a person (recorded in the trail as `auto_approve`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoApprove {
    /// The duplicate check attached at submission found no candidate at all.
    #[serde(default)]
    pub no_duplicates: bool,
    /// These payload fields are all filled (e.g. the optional contact fields).
    #[serde(default)]
    pub fields_filled: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowStep {
    #[serde(default)]
    pub name: String,
    pub approvers: Approvers,
    #[serde(default)]
    pub mode: StepMode,
    #[serde(default)]
    pub auto_approve: Option<AutoApprove>,
}

/// When a flow applies; an empty list matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowConditions {
    #[serde(default)]
    pub customer_types: Vec<String>,
    /// GB/T 2260 prefixes, e.g. `11` (Beijing) or `3101`.
    #[serde(default)]
    pub region_prefixes: Vec<String>,
    /// Applicant's department (or a department above it).
    #[serde(default)]
    pub departments: Vec<i64>,
}

/// A flow as an administrator submits it; posting an existing key makes a new version.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFlow {
    pub key: String,
    pub kind: String,
    pub name: String,
    /// Among matching flows of a kind the highest priority wins.
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub conditions: FlowConditions,
    pub steps: Vec<FlowStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlowView {
    pub key: String,
    pub version: i64,
    pub kind: String,
    pub name: String,
    pub priority: i64,
    pub conditions: FlowConditions,
    pub steps: Vec<FlowStep>,
    pub active: bool,
    /// Built-in default (not stored).
    pub builtin: bool,
    pub created_at: Option<String>,
    pub created_by: Option<i64>,
}

/// The flow an application was submitted under, frozen in the application.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FrozenFlow {
    pub key: String,
    pub version: i64,
    pub name: String,
    pub steps: Vec<FlowStep>,
}

fn step(name: &str, approvers: Approvers) -> FlowStep {
    FlowStep {
        name: name.to_string(),
        approvers,
        mode: StepMode::Any,
        auto_approve: None,
    }
}

fn role(r: &str) -> Approvers {
    Approvers::Role {
        role: r.to_string(),
    }
}

/// The shipped default flow of a kind.
pub fn default_flow(kind: &str) -> FrozenFlow {
    let steps = match kind {
        "create" => vec![
            step("部门负责人审核", Approvers::DepartmentManager),
            step("数据管理员审核", role("steward")),
        ],
        "retire" | "merge" | "split" | "change_code" => vec![
            step("数据管理员审核", role("steward")),
            step("系统管理员审批", role("admin")),
        ],
        "publish_rule" => vec![step("系统管理员审批", role("admin"))],
        // change, reactivate, archive, retrieve, grant_permission
        _ => vec![step("数据管理员审核", role("steward"))],
    };
    FrozenFlow {
        key: format!("default.{kind}"),
        version: 0,
        name: format!("{}（默认流程）", kind_zh(kind)),
        steps,
    }
}

/// What a flow's conditions are matched against.
pub struct FlowSubject<'a> {
    pub customer_type: Option<&'a str>,
    pub region_code: Option<&'a str>,
    /// The applicant's department and every department above it.
    pub departments: &'a [i64],
}

fn matches(c: &FlowConditions, s: &FlowSubject<'_>) -> bool {
    let type_ok = c.customer_types.is_empty()
        || s.customer_type
            .is_some_and(|t| c.customer_types.iter().any(|x| x == t));
    let region_ok = c.region_prefixes.is_empty()
        || s.region_code
            .is_some_and(|r| c.region_prefixes.iter().any(|p| r.starts_with(p.as_str())));
    let dept_ok =
        c.departments.is_empty() || c.departments.iter().any(|d| s.departments.contains(d));
    type_ok && region_ok && dept_ok
}

pub(crate) fn flow_view(r: &FlowRow) -> FlowView {
    FlowView {
        key: r.key.clone(),
        version: r.version,
        kind: r.kind.clone(),
        name: r.name.clone(),
        priority: r.priority,
        conditions: serde_json::from_str(&r.conditions).unwrap_or_default(),
        steps: serde_json::from_str(&r.steps).unwrap_or_default(),
        active: r.active,
        builtin: false,
        created_at: Some(format_time(r.created_at)),
        created_by: r.created_by,
    }
}

/// Pick the flow for an application: the highest-priority active flow whose conditions
/// match, else the default.
pub(crate) async fn choose_flow(
    tx: &mut Tx,
    kind: &str,
    subject: &FlowSubject<'_>,
) -> AppResult<FrozenFlow> {
    for f in tx.active_flows(kind).await? {
        let v = flow_view(&f);
        if matches(&v.conditions, subject) {
            return Ok(FrozenFlow {
                key: v.key,
                version: v.version,
                name: v.name,
                steps: v.steps,
            });
        }
    }
    Ok(default_flow(kind))
}

/// The department and its ancestors, nearest first.
pub(crate) async fn department_chain(tx: &mut Tx, dept: Option<i64>) -> AppResult<Vec<i64>> {
    let mut chain = Vec::new();
    let mut cur = dept;
    while let Some(d) = cur {
        if chain.contains(&d) || chain.len() > 64 {
            break;
        }
        chain.push(d);
        cur = tx.department(d).await?.and_then(|r| r.parent_id);
    }
    Ok(chain)
}

fn key_ok(key: &str) -> bool {
    (2..=40).contains(&key.len())
        && key.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-' || c == '.'
        })
}

/// Check a flow definition completely; every problem is listed.
/// Most named approvers of a step, and most entries of each condition list.
const MAX_FLOW_LIST: usize = 100;

/// The flow's lists over their limits, counted before anything is looked up (each named
/// approver and department costs a query in the write transaction; steps are counted
/// with their own rule).
fn flow_list_limits(f: &NewFlow) -> Vec<FieldError> {
    let mut lists: Vec<(String, usize, usize)> = vec![
        (
            "conditions.customer_types".into(),
            f.conditions.customer_types.len(),
            MAX_FLOW_LIST,
        ),
        (
            "conditions.region_prefixes".into(),
            f.conditions.region_prefixes.len(),
            MAX_FLOW_LIST,
        ),
        (
            "conditions.departments".into(),
            f.conditions.departments.len(),
            MAX_FLOW_LIST,
        ),
    ];
    if f.steps.len() <= 10 {
        for (i, s) in f.steps.iter().enumerate() {
            if let Approvers::Users { users } = &s.approvers {
                lists.push((
                    format!("steps[{i}].approvers.users"),
                    users.len(),
                    MAX_FLOW_LIST,
                ));
            }
            if let Some(a) = &s.auto_approve {
                let n = a.fields_filled.len();
                lists.push((
                    format!("steps[{i}].auto_approve.fields_filled"),
                    n,
                    MAX_FLOW_LIST,
                ));
            }
        }
    }
    lists
        .into_iter()
        .filter(|(_, n, max)| n > max)
        .map(|(field, n, max)| {
            Violation::new(
                "list.too_long",
                format!("“{field}”最多 {max} 项（当前 {n} 项）"),
                format!("'{field}' holds at most {max} items (has {n})"),
            )
            .on(field)
        })
        .collect()
}

async fn validate_flow(tx: &mut Tx, f: &NewFlow) -> AppResult<()> {
    let limits = flow_list_limits(f);
    if !limits.is_empty() {
        return Err(AppError::Validation(limits));
    }
    let mut e = Vec::new();
    if !key_ok(&f.key) || f.key.starts_with("default.") {
        e.push(
            Violation::new(
                "flow.key_invalid",
                "流程标识须为 2–40 位小写字母、数字、_ - .，且不能以 default. 开头",
                "flow key must be 2–40 of a-z 0-9 _ - . and must not start with 'default.'",
            )
            .on("key"),
        );
    }
    if !KINDS.iter().any(|(k, _)| *k == f.kind) {
        e.push(unknown_kind("kind", &f.kind));
    }
    let name = f.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        e.push(
            Violation::new(
                "flow.name_invalid",
                "流程名称必填，最多 100 个字",
                "flow name is required, at most 100 characters",
            )
            .on("name"),
        );
    }
    if f.steps.is_empty() || f.steps.len() > 10 {
        e.push(
            Violation::new(
                "flow.steps_count",
                "流程须有 1–10 个审批步骤",
                "a flow needs 1 to 10 steps",
            )
            .on("steps"),
        );
        if f.steps.len() > 10 {
            // Each step is looked up below: not for an over-long list.
            return Err(AppError::Validation(e));
        }
    }
    for (i, s) in f.steps.iter().enumerate() {
        let field = format!("steps[{i}].approvers");
        match &s.approvers {
            Approvers::Role { role } => {
                if tx.role_by_key(role).await?.is_none() {
                    e.push(
                        Violation::new(
                            "role.unknown",
                            format!("角色“{role}”不存在"),
                            format!("role '{role}' does not exist"),
                        )
                        .on(format!("{field}.role")),
                    );
                }
            }
            Approvers::Users { users } => {
                if users.is_empty() {
                    e.push(
                        Violation::new(
                            "flow.users_empty",
                            "指定审批人列表不能为空",
                            "the list of named approvers is empty",
                        )
                        .on(format!("{field}.users")),
                    );
                }
                for (j, u) in users.iter().enumerate() {
                    match tx.user(*u).await? {
                        None => e.push(
                            Violation::new(
                                "user.unknown",
                                format!("用户 {u} 不存在"),
                                format!("user {u} does not exist"),
                            )
                            .on(format!("{field}.users[{j}]")),
                        ),
                        Some(row) if row.disabled => e.push(
                            Violation::new(
                                "user.disabled",
                                format!("用户 {u} 已停用"),
                                format!("user {u} is disabled"),
                            )
                            .on(format!("{field}.users[{j}]")),
                        ),
                        Some(_) => {}
                    }
                }
            }
            Approvers::DepartmentManager => {}
        }
        if s.name.chars().count() > 100 {
            e.push(
                Violation::new(
                    "text.too_long",
                    "步骤名称最多 100 个字",
                    "step name: at most 100 characters",
                )
                .on(format!("steps[{i}].name")),
            );
        }
    }
    for (i, d) in f.conditions.departments.iter().enumerate() {
        if tx.department(*d).await?.is_none() {
            e.push(
                Violation::new(
                    "department.unknown",
                    format!("部门 {d} 不存在"),
                    format!("department {d} does not exist"),
                )
                .on(format!("conditions.departments[{i}]")),
            );
        }
    }
    for (i, p) in f.conditions.region_prefixes.iter().enumerate() {
        if p.is_empty() || p.len() > 6 || !p.chars().all(|c| c.is_ascii_digit()) {
            e.push(
                Violation::new(
                    "region.prefix_invalid",
                    format!("地区前缀“{p}”须为 1–6 位数字"),
                    format!("region prefix '{p}' must be 1–6 digits"),
                )
                .on(format!("conditions.region_prefixes[{i}]")),
            );
        }
    }
    if e.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(e))
    }
}

/// The use cases of approval flows; `App::flows` gives it out.
pub struct Flows<'a> {
    pub(crate) app: &'a crate::App,
}

impl Flows<'_> {
    /// Define a flow or a new version of one (`role.manage`); the new version replaces
    /// the active one for applications submitted from now on.
    pub async fn create_flow(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewFlow>>,
    ) -> AppResult<FlowView> {
        actor.require("role.manage")?;
        let input = input.into().get()?;
        crate::text_input::refuse_single_line([
            ("key", Some(input.key.as_str())),
            ("kind", Some(input.kind.as_str())),
            ("name", Some(input.name.as_str())),
        ])?;
        crate::text_input::refuse_in("conditions", &input.conditions)?;
        crate::text_input::refuse_in("steps", &input.steps)?;
        let mut tx = self.app.db.begin().await?;
        validate_flow(&mut tx, &input).await?;
        let version = tx.flow_max_version(&input.key).await? + 1;
        if version > 1 {
            let kinds: Vec<String> = tx
                .flows()
                .await?
                .into_iter()
                .filter(|f| f.key == input.key)
                .map(|f| f.kind)
                .collect();
            if kinds.iter().any(|k| *k != input.kind) {
                return Err(AppError::validation(
                    "kind",
                    Violation::new(
                        "flow.kind_changed",
                        format!("流程“{}”已用于另一申请类型，不能改变类型", input.key),
                        format!(
                            "flow '{}' belongs to another kind; use a new key",
                            input.key
                        ),
                    ),
                ));
            }
        }
        let row = FlowRow {
            id: 0,
            key: input.key.clone(),
            version,
            kind: input.kind.clone(),
            name: input.name.trim().to_string(),
            priority: input.priority,
            conditions: serde_json::to_string(&input.conditions).unwrap_or_default(),
            steps: serde_json::to_string(&input.steps).unwrap_or_default(),
            active: true,
            created_by: Some(actor.user_id),
            created_at: now_us(),
        };
        tx.insert_flow(&row).await?;
        let view = flow_view(&row);
        let mut r = record(
            actor,
            "flow.create",
            "flow",
            &format!("{}@{version}", row.key),
        );
        r.after = to_json(&view);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Stop using a flow (every version); its kind falls back to another match or the
    /// default.
    pub async fn disable_flow(&self, actor: &Actor, key: &str) -> AppResult<()> {
        actor.require("role.manage")?;
        let mut tx = self.app.db.begin().await?;
        if tx.deactivate_flow(key).await? == 0 {
            return Err(AppError::not_found("flow", key));
        }
        let r = record(actor, "flow.disable", "flow", key);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every stored flow version plus the built-in defaults.
    pub async fn list_flows(&self, actor: &Actor) -> AppResult<Vec<FlowView>> {
        if !actor.can("role.manage") && !actor.can("application.approve") {
            actor.require("role.manage")?;
        }
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.flows().await?;
        tx.rollback().await?;
        let mut out: Vec<FlowView> = rows.iter().map(flow_view).collect();
        for (kind, _) in KINDS {
            let d = default_flow(kind);
            out.push(FlowView {
                key: d.key,
                version: 0,
                kind: kind.to_string(),
                name: d.name,
                priority: i64::MIN,
                conditions: FlowConditions::default(),
                steps: d.steps,
                active: true,
                builtin: true,
                created_at: None,
                created_by: None,
            });
        }
        Ok(out)
    }
}
