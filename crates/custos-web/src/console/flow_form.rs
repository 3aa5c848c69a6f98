//! The flow editor's form: its words, the steps as posted (inputs named by the API's
//! keys, `steps[i].approvers.role` …), the buttons that add, remove and move a step, and
//! the posted form read into the use case's input.

use custos_app::flows::{Approvers, AutoApprove, FlowConditions, FlowStep, NewFlow, StepMode};
use custos_app::{AppError, Input};
use custos_core::violation::FieldError;
use custos_core::Violation;

use super::form::Posted;

/// Most steps the form carries (the use case allows 10; one more shows its message).
const MAX_FORM_STEPS: usize = 11;

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
