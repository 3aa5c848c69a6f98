//! An application as a person reviews it: the request as a list of fields, each with the
//! customer's current value beside the requested one, and what the reader may do with it
//! now. Masking and data scope are the reader's, as for every read.

use crate::applications::Applications;
use serde_json::{Map, Value};

use crate::actor::Actor;
use crate::customers::{CustomerStatus, CustomerView};
use crate::error::AppResult;
use crate::fields::{builtin_fields, FieldDefinition};

use super::checks::closed_states;
use super::views::ApplicationView;

/// One field the application sets: its value now and the value asked for.
#[derive(Debug, Clone)]
pub struct RequestedChange {
    /// The API's key (`name`, `custom.level2`, `code`, `role` …).
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    /// `None`: not set now (or not visible to the reader).
    pub old: Option<Value>,
    /// `None`: cleared, or (code change) drawn by the rule.
    pub new: Option<Value>,
}

/// An application with the changes it asks for and what the reader may do.
#[derive(Debug, Clone)]
pub struct ApplicationReview {
    pub application: ApplicationView,
    /// The customer it is about, as the reader may see it (none for a new customer, or
    /// when the reader's scope does not reach it).
    pub customer: Option<CustomerView>,
    pub changes: Vec<RequestedChange>,
    /// The reader is the applicant and the application is still open.
    pub can_withdraw: bool,
    /// The reader has a pending task on the current step (the decision itself checks
    /// again, with the permission the reader holds then).
    pub can_decide: bool,
}

/// Keys of a payload that are not fields of the record.
const NOT_FIELDS: &[&str] = &["version", "reason", "override_duplicates"];

impl Applications<'_> {
    /// One application as `actor` reviews it (who may read it: as
    /// [`Applications::get_application`]).
    pub async fn review_application(&self, actor: &Actor, id: i64) -> AppResult<ApplicationReview> {
        let application = self.get_application(actor, id).await?;
        let about_customer = super::Kind::parse(&application.kind)
            .is_some_and(|k| k.is_about_customer() && k != super::Kind::Retrieve);
        let customer = match (&application.target, about_customer) {
            (Some(code), true) if actor.can("customer.read") => {
                // Out of the reader's reach (scope, archive, merged away): the request is
                // shown without the current values.
                match self.app.customers().get_customer(actor, code).await {
                    Ok(c) => Some(c),
                    Err(e) if e.status() >= 500 => return Err(e),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        let catalog = match application.kind.as_str() {
            "create" | "change" => self.catalog_for_review().await?,
            _ => Vec::new(),
        };
        let current = customer
            .as_ref()
            .and_then(|c| serde_json::to_value(c).ok())
            .unwrap_or(Value::Null);
        let changes = requested_changes(&application, &current, &catalog);
        let open = !closed_states().contains(&application.state.as_str());
        let can_withdraw = open && application.applicant_id == actor.user_id;
        let can_decide = open
            && application.tasks.iter().any(|t| {
                t.user_id == actor.user_id
                    && t.decision.is_none()
                    && t.round == application.round
                    && t.step == application.current_step
            });
        Ok(ApplicationReview {
            application,
            customer,
            changes,
            can_withdraw,
            can_decide,
        })
    }

    async fn catalog_for_review(&self) -> AppResult<Vec<FieldDefinition>> {
        let mut tx = self.app.db.begin_read().await?;
        let custom = crate::fields::load_definitions(&mut tx).await?;
        tx.rollback().await?;
        let mut all = builtin_fields();
        all.extend(custom.into_iter().map(|mut d| {
            d.key = format!("custom.{}", d.key);
            d
        }));
        Ok(all)
    }
}

/// The fields a payload sets, in the catalog's order for records, with the current value
/// of each (a change that sets a field to what it is already is left out).
fn requested_changes(
    a: &ApplicationView,
    current: &Value,
    catalog: &[FieldDefinition],
) -> Vec<RequestedChange> {
    let p = &a.payload;
    match a.kind.as_str() {
        "create" => record_changes(p.as_object(), &Value::Null, catalog),
        "change" => record_changes(
            p.get("changes").and_then(Value::as_object),
            current,
            catalog,
        ),
        "retire" | "archive" | "reactivate" => {
            let to = match a.kind.as_str() {
                "retire" => CustomerStatus::Retired,
                "archive" => CustomerStatus::Archived,
                _ => CustomerStatus::Active,
            };
            vec![plain(
                "status",
                current.get("status"),
                Some(&Value::from(to.as_str())),
            )]
        }
        "change_code" => vec![plain(
            "code",
            current.get("code").or(p.get("code")),
            p.get("new_code"),
        )],
        _ => p
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| plain(k, None, Some(v)))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    }
}

fn record_changes(
    requested: Option<&Map<String, Value>>,
    current: &Value,
    catalog: &[FieldDefinition],
) -> Vec<RequestedChange> {
    let Some(requested) = requested else {
        return Vec::new();
    };
    let mut flat: Vec<(String, &Value)> = Vec::new();
    for (k, v) in requested {
        if NOT_FIELDS.contains(&k.as_str()) {
            continue;
        }
        match (k.as_str(), v.as_object()) {
            ("custom", Some(m)) => {
                flat.extend(m.iter().map(|(ck, cv)| (format!("custom.{ck}"), cv)))
            }
            _ => flat.push((k.clone(), v)),
        }
    }
    let old_of = |key: &str| -> Option<Value> {
        let v = match key.strip_prefix("custom.") {
            Some(ck) => current.get("custom").and_then(|c| c.get(ck)),
            None => current.get(key),
        };
        v.filter(|v| !is_empty(v)).cloned()
    };
    let position = |key: &str| {
        catalog
            .iter()
            .position(|d| d.key == key)
            .unwrap_or(usize::MAX)
    };
    flat.sort_by_key(|(k, _)| position(k));
    flat.into_iter()
        .filter_map(|(key, new)| {
            let old = old_of(&key);
            let new = Some(new.clone()).filter(|v| !is_empty(v));
            if old == new && !current.is_null() {
                return None;
            }
            let (label_zh, label_en) = catalog
                .iter()
                .find(|d| d.key == key)
                .map(|d| (d.label_zh.clone(), d.label_en.clone()))
                .unwrap_or_else(|| (key.clone(), key.clone()));
            Some(RequestedChange {
                key,
                label_zh,
                label_en,
                old,
                new,
            })
        })
        .collect()
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Labels of the request fields that are not record fields.
const REQUEST_LABELS: &[(&str, &str, &str)] = &[
    ("code", "客户编码", "Customer code"),
    ("new_code", "新编码", "New code"),
    ("status", "状态", "Status"),
    ("role", "角色", "Role"),
    ("scope", "数据范围", "Data scope"),
    ("user_id", "用户", "User"),
    ("expires_at", "到期时间", "Expires at"),
    ("days", "天数", "Days"),
    ("key", "编码规则", "Code rule"),
];

fn plain(key: &str, old: Option<&Value>, new: Option<&Value>) -> RequestedChange {
    let (zh, en) = REQUEST_LABELS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| (zh.to_string(), en.to_string()))
        .unwrap_or_else(|| (key.to_string(), key.to_string()));
    RequestedChange {
        key: key.to_string(),
        label_zh: zh,
        label_en: en,
        old: old.filter(|v| !is_empty(v)).cloned(),
        new: new.filter(|v| !is_empty(v)).cloned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;

    use super::*;
    use crate::applications::NewApplication;
    use crate::customers::NewCustomer;
    use crate::error::AppError;
    use crate::App;
    use crate::{Context, Source};

    async fn user(app: &App, admin: &Actor, name: &str, role: &str) -> Actor {
        let input = crate::org::NewUser {
            username: name.into(),
            password: "a-long-test-password-1".into(),
            display_name: None,
            department_id: None,
            email: None,
            roles: vec![crate::org::RoleAssignment {
                role: role.into(),
                scope: "all".into(),
                expires_at: None,
            }],
        };
        app.org().create_user(admin, input).await.unwrap();
        app.auth()
            .actor_for_username(name, Context::new(Source::Cli))
            .await
            .unwrap()
    }

    /// The form, the review as old → new, the queue and its count, each with the
    /// permission it needs.
    #[tokio::test]
    async fn a_change_is_reviewed_as_old_to_new() {
        let (app, admin, _dir) = crate::test_support::app_with_admin().await;
        let clerk = user(&app, &admin, "clerk1", "clerk").await;
        let reader = user(&app, &admin, "reader1", "query").await;
        let c = NewCustomer {
            customer_type: "enterprise".into(),
            name: "旧名有限公司".into(),
            ..Default::default()
        };
        let code = app
            .customers()
            .create_customer(&admin, c)
            .await
            .unwrap()
            .code;

        let form = app
            .applications()
            .application_form(&clerk, "change", Some(&code))
            .await
            .unwrap();
        let current = form.customer.unwrap();
        assert!(form.fields.iter().any(|f| f.key == "name"));
        assert!(matches!(
            app.applications()
                .application_form(&clerk, "bogus", None)
                .await,
            Err(AppError::Validation(_))
        ));
        assert!(matches!(
            app.applications()
                .application_form(&reader, "create", None)
                .await,
            Err(AppError::Forbidden { .. })
        ));

        let payload = json!({"code": code, "changes": {"version": current.version,
            "name": "新名有限公司", "customer_type": "enterprise", "reason": "更名"}});
        let a = app
            .applications()
            .submit_application(
                &clerk,
                NewApplication {
                    kind: "change".into(),
                    payload,
                    reason: Some("更名".into()),
                    draft: false,
                },
            )
            .await
            .unwrap();
        let r = app
            .applications()
            .review_application(&clerk, a.id)
            .await
            .unwrap();
        assert_eq!(r.changes.len(), 1, "{:?}", r.changes);
        assert_eq!(r.changes[0].key, "name");
        assert_eq!(r.changes[0].label_zh, "客户名称");
        assert_eq!(r.changes[0].old, Some(json!("旧名有限公司")));
        assert_eq!(r.changes[0].new, Some(json!("新名有限公司")));
        assert!(r.can_withdraw && !r.can_decide);

        // Whoever holds a task on it finds it in the queue, counted alike.
        let approver_id = r.application.tasks[0].user_id;
        let approver = app
            .auth()
            .actor_for_username(&r.application.tasks[0].username, Context::new(Source::Cli))
            .await
            .unwrap();
        assert_eq!(approver.user_id, approver_id);
        let q = app.applications().approval_queue(&approver).await.unwrap();
        assert_eq!(q.items.len(), 1);
        assert_eq!(q.items[0].customer_name.as_deref(), Some("旧名有限公司"));
        assert_eq!(
            app.applications()
                .pending_task_count(&approver)
                .await
                .unwrap(),
            Some(q.total as i64)
        );
        assert!(
            app.applications()
                .review_application(&approver, a.id)
                .await
                .unwrap()
                .can_decide
        );
        // Someone who does not approve has no queue and no count.
        assert_eq!(
            app.applications()
                .pending_task_count(&reader)
                .await
                .unwrap(),
            None
        );
        assert!(matches!(
            app.applications().approval_queue(&reader).await,
            Err(AppError::Forbidden { .. })
        ));
    }
}
