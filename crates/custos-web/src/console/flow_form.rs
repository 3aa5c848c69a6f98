//! The flow editor's form: its words, the steps as posted (inputs named by the API's
//! keys, `steps[i].approvers.role` …), the buttons that add, remove and move a step, and
//! the posted form read into the use case's input.

use custos_app::flows::{Approvers, AutoApprove, FlowConditions, FlowStep, NewFlow, StepMode};
use custos_app::{AppError, Input};
use custos_core::violation::FieldError;
use custos_core::Violation;

use super::form::Posted;
use super::i18n::Entry;

/// Most steps the form carries (the use case allows 10; one more shows its message).
const MAX_FORM_STEPS: usize = 11;

pub(crate) const WORDS: &[Entry] = &[
    ("nav.flows", "审批流程", "Approval flows"),
    ("flows.title", "审批流程", "Approval flows"),
    ("flows.edit_title", "编辑审批流程", "Edit approval flow"),
    ("flows.new", "新建流程", "New flow"),
    ("flows.key", "流程标识", "Flow key"),
    ("flows.key_help", "2–40 位小写字母、数字、_ - .；保存后不能修改", "2–40 of a-z 0-9 _ - .; fixed once saved"),
    ("flows.kind", "申请类型", "Application kind"),
    ("flows.name", "流程名称", "Name"),
    ("flows.priority", "优先级", "Priority"),
    ("flows.priority_help", "同一申请类型有多个流程符合条件时，优先级高的生效", "Among matching flows of a kind the highest priority applies"),
    ("flows.status", "状态", "Status"),
    ("flows.active", "启用", "Active"),
    ("flows.inactive", "已停用", "Disabled"),
    ("flows.builtin", "默认流程", "Default flow"),
    ("flows.builtin_help", "没有符合条件的流程时使用内置默认流程。", "The built-in default applies when no flow matches."),
    ("flows.version", "版本", "Version"),
    ("flows.steps", "审批步骤", "Steps"),
    ("flows.conditions", "适用条件", "Applies when"),
    ("flows.conditions_help", "都不选表示适用于该申请类型的所有申请", "Leave all empty to apply to every application of the kind"),
    ("flows.types", "客户类型", "Customer types"),
    ("flows.regions", "地区前缀", "Region prefixes"),
    ("flows.regions_help", "GB/T 2260 代码前缀，逗号分隔，如 11, 3101", "GB/T 2260 prefixes, comma separated, e.g. 11, 3101"),
    ("flows.departments", "申请人部门", "Applicant's departments"),
    ("flows.always", "全部", "Always"),
    ("flows.edit", "编辑", "Edit"),
    ("flows.step", "步骤", "Step"),
    ("flows.step_name", "步骤名称", "Step name"),
    ("flows.approver_type", "审批人", "Approver"),
    ("flows.by_role", "按角色", "By role"),
    ("flows.by_users", "指定用户", "Named users"),
    ("flows.by_manager", "申请人的部门负责人", "The applicant's department manager"),
    ("flows.role", "角色", "Role"),
    ("flows.users", "用户", "Users"),
    ("flows.mode", "审批方式", "Mode"),
    ("flows.mode_any", "任一人通过", "Any one approves"),
    ("flows.mode_all", "全部通过", "All approve"),
    ("flows.auto", "自动通过", "Auto-approval"),
    ("flows.auto_no_duplicates", "查重无任何候选时自动通过", "Approve by itself when the duplicate check finds no candidate"),
    ("flows.auto_fields", "这些字段都已填写时自动通过", "Approve by itself when these fields are all filled"),
    ("flows.auto_fields_help", "字段标识，逗号分隔，如 phone, contacts", "Field keys, comma separated, e.g. phone, contacts"),
    ("flows.add_step", "添加步骤", "Add a step"),
    ("flows.remove_step", "删除此步骤", "Remove this step"),
    ("flows.up", "上移", "Move up"),
    ("flows.down", "下移", "Move down"),
    ("flows.save", "保存（新版本）", "Save (new version)"),
    ("flows.saved", "已保存为新版本；此后提交的申请使用此版本。", "Saved as a new version; applications submitted from now on use it."),
    ("flows.disable", "停用此流程", "Disable this flow"),
    ("flows.disable_confirm", "停用后，该申请类型改用其他符合条件的流程或默认流程。确定停用？", "The kind falls back to another matching flow or the default. Disable?"),
    ("flows.disabled_notice", "流程已停用；保存一次即重新启用。", "The flow is disabled; saving it enables it again."),
    ("flows.versions", "历史版本", "Versions"),
    ("flows.created", "创建时间", "Created"),
    ("flows.preview", "审批人预览", "Approver preview"),
    ("flows.preview_help", "选择一份示例申请，查看每个步骤由谁审批（仅预览，不产生申请）。", "Choose a sample application to see who would approve each step (a preview: nothing is submitted)."),
    ("flows.applicant", "申请人", "Applicant"),
    ("flows.region_code", "地区代码", "Region code"),
    ("flows.show_preview", "预览", "Preview"),
    ("flows.preview_applies", "该示例申请将使用此流程。", "The sample application would use this flow."),
    ("flows.preview_other", "注意：该示例申请实际将使用流程", "Note: the sample application would actually use the flow"),
    ("flows.fallback", "按步骤规则无人可审批，由系统管理员代为审批", "Nobody qualifies by the step's rule: administrators decide it"),
    ("flows.nobody", "无人可审批：提交将被拒绝", "Nobody can approve: submission would be refused"),
    ("flows.auto_maybe", "满足自动通过条件时跳过", "Skipped when its auto-approval holds"),
    ("flows.choose", "请选择", "Choose"),
    ("flows.back", "返回流程列表", "Back to the flows"),
];

/// One step of the editor, as stored or as posted, with the errors beside its inputs.
pub(crate) struct StepInput {
    pub index: usize,
    pub name: String,
    /// `role`, `users` or `department_manager`.
    pub approver: String,
    pub role: String,
    pub users: Vec<i64>,
    pub mode: String,
    pub no_duplicates: bool,
    pub fields_filled: String,
    pub errors: Vec<(String, String)>,
}

impl StepInput {
    pub fn empty(index: usize) -> StepInput {
        StepInput {
            index,
            name: String::new(),
            approver: "role".into(),
            role: String::new(),
            users: Vec::new(),
            mode: "any".into(),
            no_duplicates: false,
            fields_filled: String::new(),
            errors: Vec::new(),
        }
    }

    pub fn of((index, s): (usize, &FlowStep)) -> StepInput {
        let mut i = StepInput::empty(index);
        i.name = s.name.clone();
        match &s.approvers {
            Approvers::Role { role } => i.role = role.clone(),
            Approvers::Users { users } => {
                i.approver = "users".into();
                i.users = users.clone();
            }
            Approvers::DepartmentManager => i.approver = "department_manager".into(),
        }
        i.mode = match s.mode {
            StepMode::Any => "any".into(),
            StepMode::All => "all".into(),
        };
        if let Some(a) = &s.auto_approve {
            i.no_duplicates = a.no_duplicates;
            i.fields_filled = a.fields_filled.join(", ");
        }
        i
    }

    fn prefix(&self) -> String {
        format!("steps[{}]", self.index)
    }

    /// Whether the error on `field` belongs to this step.
    pub fn claims(&self, field: &str) -> bool {
        let p = self.prefix();
        field == p || field.starts_with(&format!("{p}."))
    }

    /// Keep `msg` beside the step's input `field` names (name, approvers, auto-approval).
    pub fn add_error(&mut self, field: &str, msg: String) {
        let rest = field.strip_prefix(&self.prefix()).unwrap_or("");
        let input = if rest.starts_with(".name") {
            "name"
        } else if rest.starts_with(".auto_approve") {
            "auto"
        } else if rest.starts_with(".approvers") {
            "approvers"
        } else {
            "step"
        };
        self.errors.push((input.to_string(), msg));
    }

    /// The error beside the step's input `input`.
    pub fn err(&self, input: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(i, _)| i == input)
            .map(|(_, m)| m.as_str())
    }

    pub fn has_user(&self, id: &i64) -> bool {
        self.users.contains(id)
    }
}

/// The steps as posted, in the order of their indexes.
pub(crate) fn step_inputs_of(p: &Posted) -> Vec<StepInput> {
    let mut count = 0;
    for (k, _) in &p.fields {
        if let Some(i) = k
            .strip_prefix("steps[")
            .and_then(|r| r.split(']').next())
            .and_then(|n| n.parse::<usize>().ok())
        {
            count = count.max(i + 1);
        }
    }
    (0..count.min(MAX_FORM_STEPS))
        .map(|i| {
            let name = |field: &str| format!("steps[{i}].{field}");
            let value = |field: &str| p.get(&name(field)).unwrap_or("").to_string();
            let mut s = StepInput::empty(i);
            s.name = value("name");
            s.approver = match value("approvers.type").as_str() {
                "" => "role".into(),
                other => other.to_string(),
            };
            s.role = value("approvers.role");
            s.users = p
                .fields
                .iter()
                .filter(|(k, _)| *k == name("approvers.users"))
                .filter_map(|(_, v)| v.trim().parse().ok())
                .collect();
            s.mode = match value("mode").as_str() {
                "all" => "all".into(),
                _ => "any".into(),
            };
            s.no_duplicates = value("auto_approve.no_duplicates") == "true";
            s.fields_filled = value("auto_approve.fields_filled");
            s
        })
        .collect()
}

/// A button of the form that changes the steps without saving.
pub(crate) enum StepOp {
    Add,
    Remove(usize),
    Up(usize),
    Down(usize),
}

impl StepOp {
    /// The operation of the button pressed; `None` for saving.
    pub fn of(op: &str) -> Option<StepOp> {
        let (verb, n) = op.split_once(':').unwrap_or((op, ""));
        let n = n.parse::<usize>().ok();
        match (verb, n) {
            ("add", _) => Some(StepOp::Add),
            ("remove", Some(i)) => Some(StepOp::Remove(i)),
            ("up", Some(i)) => Some(StepOp::Up(i)),
            ("down", Some(i)) => Some(StepOp::Down(i)),
            _ => None,
        }
    }

    pub fn apply(&self, steps: &mut Vec<StepInput>) {
        match *self {
            StepOp::Add if steps.len() < MAX_FORM_STEPS - 1 => {
                steps.push(StepInput::empty(steps.len()))
            }
            StepOp::Remove(i) if i < steps.len() && steps.len() > 1 => {
                steps.remove(i);
            }
            StepOp::Up(i) if i > 0 && i < steps.len() => steps.swap(i - 1, i),
            StepOp::Down(i) if i + 1 < steps.len() => steps.swap(i, i + 1),
            _ => {}
        }
        for (i, s) in steps.iter_mut().enumerate() {
            s.index = i;
        }
    }
}

/// The posted text of the input `name` (empty when absent).
pub(crate) fn posted_text(p: &Posted, name: &str) -> String {
    p.get(name).unwrap_or("").to_string()
}

/// Items of a comma (or 、，space) separated text.
fn items(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The posted flow as the use case's input; a number that is not one is refused here,
/// naming its field, and handed to the use case to report after its permission check.
pub(crate) fn flow_from_form(p: &Posted, key: &str, kind: &str) -> Input<NewFlow> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut int = |field: &str, text: &str| -> i64 {
        match text.trim() {
            "" => 0,
            t => t.parse().unwrap_or_else(|_| {
                errors.push(
                    Violation::new(
                        "number.invalid",
                        format!("“{t}”不是整数"),
                        format!("'{t}' is not a whole number"),
                    )
                    .on(field),
                );
                0
            }),
        }
    };
    let priority = int("priority", p.get("priority").unwrap_or(""));
    let mut departments = Vec::new();
    for (i, (_, v)) in p
        .fields
        .iter()
        .filter(|(k, _)| k == "conditions.departments")
        .enumerate()
    {
        departments.push(int(&format!("conditions.departments[{i}]"), v));
    }
    let steps = step_inputs_of(p)
        .into_iter()
        .map(|s| FlowStep {
            name: s.name.trim().to_string(),
            approvers: match s.approver.as_str() {
                "users" => Approvers::Users { users: s.users },
                "department_manager" => Approvers::DepartmentManager,
                _ => Approvers::Role { role: s.role },
            },
            mode: match s.mode.as_str() {
                "all" => StepMode::All,
                _ => StepMode::Any,
            },
            auto_approve: {
                let fields = items(&s.fields_filled);
                (s.no_duplicates || !fields.is_empty()).then_some(AutoApprove {
                    no_duplicates: s.no_duplicates,
                    fields_filled: fields,
                })
            },
        })
        .collect();
    if !errors.is_empty() {
        return Input::invalid(AppError::Validation(errors));
    }
    Input::from(NewFlow {
        key: key.to_string(),
        kind: kind.to_string(),
        name: posted_text(p, "name"),
        priority,
        conditions: FlowConditions {
            customer_types: p
                .fields
                .iter()
                .filter(|(k, _)| k == "conditions.customer_types")
                .map(|(_, v)| v.clone())
                .collect(),
            region_prefixes: items(&posted_text(p, "conditions.region_prefixes")),
            departments,
        },
        steps,
    })
}
