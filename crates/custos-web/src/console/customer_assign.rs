//! The customer form's owner (负责人), department (所属部门) and contacts (联系人), offered
//! as the use case's [`Assignment`] says the writer may set them, and read back into the
//! API's `owner_id`, `department_id` and `contacts`. Contact rows are added and removed
//! by console.js (`data-add-row`, `data-remove-row`); every row posts all its inputs, so
//! the n-th value of each `contacts[].<key>` belongs to the n-th row.

use serde_json::{Map, Value};

use custos_app::customer_assign::{AssignChoice, Assignment};
use custos_app::customers::CustomerView;
use custos_core::violation::{FieldError, Lang};
use custos_core::Violation;

use super::customer_fields::{error_of, Choice};
use super::form::Posted;

/// The keys of a contact row, as the API names them.
pub(crate) const CONTACT_KEYS: [&str; 5] = ["name", "title", "mobile", "phone", "email"];

/// One input of a contact row: the API's key, its label's catalog key, the value.
pub(crate) struct ContactCell {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

/// One contact row and its errors.
pub(crate) struct ContactRow {
    pub cells: Vec<ContactCell>,
    pub error: Option<String>,
}

fn contact_label(key: &str) -> &'static str {
    match key {
        "name" => "contact.name",
        "title" => "contact.title",
        "mobile" => "contact.mobile",
        "phone" => "contact.phone",
        _ => "contact.email",
    }
}

/// The assignment inputs as the template draws them; `None` parts are not offered.
#[derive(Default)]
pub(crate) struct AssignInputs {
    pub owners: Option<Vec<Choice>>,
    pub owner_error: Option<String>,
    pub departments: Option<Vec<Choice>>,
    pub department_error: Option<String>,
    pub contacts: Option<Vec<ContactRow>>,
    pub contacts_error: Option<String>,
}

impl AssignInputs {
    /// Whether an error about `field` is shown beside one of these inputs.
    pub(crate) fn shows(&self, field: &str) -> bool {
        match field {
            "owner_id" => self.owners.is_some(),
            "department_id" => self.departments.is_some(),
            f => self.contacts.is_some() && (f == "contacts" || f.starts_with("contacts[")),
        }
    }
}

fn select(
    list: &[AssignChoice],
    current: Option<i64>,
    indent: bool,
    lang: Lang,
) -> Option<Vec<Choice>> {
    if list.is_empty() {
        return None;
    }
    let mut out: Vec<Choice> = list
        .iter()
        .map(|c| Choice {
            selected: current == Some(c.id),
            value: c.id.to_string(),
            label: match indent {
                true => format!("{}{}", "　".repeat(c.depth), c.name),
                false => c.name.clone(),
            },
        })
        .collect();
    // The record's own value stays choosable even when it is not in the list.
    if let Some(id) = current.filter(|id| !list.iter().any(|c| c.id == *id)) {
        out.insert(
            0,
            Choice {
                value: id.to_string(),
                label: match lang {
                    Lang::Zh => format!("当前（{id}）"),
                    Lang::En => format!("current ({id})"),
                },
                selected: true,
            },
        );
    }
    Some(out)
}

/// The posted contact rows, blank ones left out.
fn posted_contacts(posted: &Posted) -> Vec<Vec<(&'static str, String)>> {
    let column = |k: &str| -> Vec<String> {
        let name = format!("contacts[].{k}");
        posted
            .fields
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.trim().to_string())
            .collect()
    };
    let columns: Vec<Vec<String>> = CONTACT_KEYS.iter().map(|k| column(k)).collect();
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0).min(50);
    (0..rows)
        .map(|i| {
            CONTACT_KEYS
                .iter()
                .zip(&columns)
                .map(|(k, col)| (*k, col.get(i).cloned().unwrap_or_default()))
                .collect::<Vec<_>>()
        })
        .filter(|row| row.iter().any(|(_, v)| !v.is_empty()))
        .collect()
}

/// The inputs for `assignment`, showing the posted values (after an error) or the record's.
pub(crate) fn assign_inputs(
    assignment: &Assignment,
    customer: Option<&CustomerView>,
    posted: Option<&Posted>,
    errors: &[FieldError],
    lang: Lang,
) -> AssignInputs {
    let id_of = |key: &str, stored: Option<i64>| match posted {
        Some(p) => p.get(key).and_then(|v| v.trim().parse::<i64>().ok()),
        None => stored,
    };
    let owner = id_of("owner_id", customer.and_then(|c| c.owner_id));
    let department = id_of("department_id", customer.and_then(|c| c.department_id));
    let contacts = assignment.contacts.then(|| {
        let rows = posted.map(posted_contacts).unwrap_or_default();
        rows.into_iter()
            .enumerate()
            .map(|(i, values)| ContactRow {
                cells: values
                    .into_iter()
                    .map(|(key, value)| ContactCell {
                        key,
                        label: contact_label(key),
                        value,
                    })
                    .collect(),
                error: error_of(errors, &format!("contacts[{i}]"), lang),
            })
            .collect()
    });
    let contacts_error = errors
        .iter()
        .filter(|e| e.field == "contacts")
        .map(|e| e.violation.message(lang).to_string())
        .next();
    AssignInputs {
        owners: select(&assignment.owners, owner, false, lang),
        owner_error: error_of(errors, "owner_id", lang),
        departments: select(&assignment.departments, department, true, lang),
        department_error: error_of(errors, "department_id", lang),
        contacts,
        contacts_error,
    }
}

/// Adds the posted owner, department and contacts to the API body, as far as they are
/// offered. An edit (`customer` given) sends the owner and department only when changed.
pub(crate) fn assigned_json(
    posted: &Posted,
    assignment: &Assignment,
    customer: Option<&CustomerView>,
    body: &mut Map<String, Value>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let offered = [
        (
            "owner_id",
            !assignment.owners.is_empty(),
            customer.and_then(|c| c.owner_id),
        ),
        (
            "department_id",
            !assignment.departments.is_empty(),
            customer.and_then(|c| c.department_id),
        ),
    ];
    for (key, on, stored) in offered {
        // Not posted (or not offered): left as it is.
        let Some(text) = posted.get(key).map(str::trim).filter(|_| on) else {
            continue;
        };
        if customer.is_some() && text == stored.map(|s| s.to_string()).unwrap_or_default() {
            continue;
        }
        match (text, text.parse::<i64>()) {
            ("", _) if customer.is_none() || key == "owner_id" => {}
            ("", _) => {
                body.insert(key.into(), Value::Null);
            }
            (_, Ok(id)) => {
                body.insert(key.into(), Value::from(id));
            }
            (_, Err(_)) => errors.push(
                Violation::new(
                    "field.choice",
                    format!("请从列表中选择（{text}）"),
                    format!("choose from the list ({text})"),
                )
                .on(key),
            ),
        }
    }
    if assignment.contacts {
        let rows: Vec<Value> = posted_contacts(posted)
            .into_iter()
            .map(|row| {
                let m: Map<String, Value> = row
                    .into_iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.to_string(), Value::String(v)))
                    .collect();
                Value::Object(m)
            })
            .collect();
        if !rows.is_empty() {
            body.insert("contacts".into(), Value::Array(rows));
        }
    }
    errors
}
