//! Flows as their administrators edit them: one flow with its versions and the choices
//! its editor offers, and a preview of who would approve each step of a sample
//! application — the flow chosen and the approvers resolved exactly as submission does,
//! in a read-only transaction that consumes and writes nothing.

use crate::applications::Applications;
use serde::{Deserialize, Serialize};

use custos_core::Violation;

use super::deciders::step_approvers;
use crate::actor::Actor;
use crate::customers::{load_customer_types, CustomerType};
use crate::error::{AppError, AppResult};
use crate::flows::{
    choose_flow, department_chain, unknown_kind, AutoApprove, FlowStep, FlowSubject, FlowView,
    StepMode, KINDS,
};

/// Most users offered as named approvers and sample applicants.
pub const EDITOR_USERS: i64 = 500;

/// A user as the editor names them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UserChoice {
    pub id: i64,
    pub name: String,
    pub username: String,
}

/// What the flow editor shows: the flow's stored versions (newest first; none for a new
/// flow) and the roles, users, departments and customer types it may refer to.
#[derive(Debug, Clone, Serialize)]
pub struct FlowEditor {
    pub versions: Vec<FlowView>,
    pub roles: Vec<(String, String)>,
    pub users: Vec<UserChoice>,
    pub departments: Vec<(i64, String)>,
    pub customer_types: Vec<CustomerType>,
}

/// A sample application to preview a flow with.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowSample {
    pub kind: String,
    /// The applicant's user id (their department decides the department manager).
    pub applicant: i64,
    #[serde(default)]
    pub customer_type: Option<String>,
    #[serde(default)]
    pub region_code: Option<String>,
    /// Preview this flow's newest version rather than the one the sample would get.
    #[serde(default)]
    pub flow: Option<String>,
}

/// One step of the preview.
#[derive(Debug, Clone, Serialize)]
pub struct StepPreview {
    pub name: String,
    pub mode: StepMode,
    pub approvers: Vec<UserChoice>,
    /// Nobody qualifies by the step's rule: the administrators stand in.
    pub fallback: bool,
    /// The step may approve itself (decided at submission by the application's data).
    pub auto_approve: Option<AutoApprove>,
}

/// Who would approve a sample application.
#[derive(Debug, Clone, Serialize)]
pub struct FlowPreview {
    /// The flow shown (the one asked for, else the one chosen).
    pub key: String,
    pub version: i64,
    pub name: String,
    /// The flow submission would choose for the sample; the same key as `key` when the
    /// flow shown is the one that applies.
    pub chosen_key: String,
    pub chosen_name: String,
    pub steps: Vec<StepPreview>,
}

async fn user_choices(tx: &mut custos_store::Tx, ids: &[i64]) -> AppResult<Vec<UserChoice>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(u) = tx.user(*id).await? {
            out.push(UserChoice {
                id: u.id,
                name: u.display_name,
                username: u.username,
            });
        }
    }
    Ok(out)
}

impl Applications<'_> {
    /// The flow `key`'s versions (empty for a new key) and the editor's choices
    /// (`role.manage`, as defining a flow).
    pub async fn flow_editor(&self, actor: &Actor, key: Option<&str>) -> AppResult<FlowEditor> {
        actor.require("role.manage")?;
        let mut tx = self.app.db.begin_read().await?;
        let mut versions: Vec<FlowView> = match key {
            Some(k) => tx
                .flows()
                .await?
                .iter()
                .filter(|f| f.key == k)
                .map(crate::flows::flow_view)
                .collect(),
            None => Vec::new(),
        };
        if key.is_some() && versions.is_empty() {
            return Err(AppError::not_found("flow", key.unwrap_or("")));
        }
        versions.reverse();
        let roles = tx
            .roles()
            .await?
            .into_iter()
            .map(|r| (r.key, r.name))
            .collect();
        let users = tx
            .users(None, None, 0, EDITOR_USERS)
            .await?
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| UserChoice {
                id: u.id,
                name: u.display_name,
                username: u.username,
            })
            .collect();
        let departments = tx
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let customer_types = load_customer_types(&mut tx).await?;
        tx.rollback().await?;
        Ok(FlowEditor {
            versions,
            roles,
            users,
            departments,
            customer_types,
        })
    }

    /// Who would approve each step of `sample` (`role.manage`). Reads only: no
    /// application, task or notification is made.
    pub async fn preview_flow(&self, actor: &Actor, sample: FlowSample) -> AppResult<FlowPreview> {
        actor.require("role.manage")?;
        crate::text_input::refuse_single_line([
            ("kind", Some(sample.kind.as_str())),
            ("customer_type", sample.customer_type.as_deref()),
            ("region_code", sample.region_code.as_deref()),
            ("flow", sample.flow.as_deref()),
        ])?;
        if !KINDS.iter().any(|(k, _)| *k == sample.kind) {
            return Err(AppError::Validation(vec![unknown_kind(
                "kind",
                &sample.kind,
            )]));
        }
        let mut tx = self.app.db.begin_read().await?;
        let Some(applicant) = tx.user(sample.applicant).await? else {
            return Err(AppError::validation(
                "applicant",
                Violation::new(
                    "user.unknown",
                    format!("用户 {} 不存在", sample.applicant),
                    format!("user {} does not exist", sample.applicant),
                ),
            ));
        };
        let departments = department_chain(&mut tx, applicant.department_id).await?;
        let subject = FlowSubject {
            customer_type: sample.customer_type.as_deref().filter(|t| !t.is_empty()),
            region_code: sample.region_code.as_deref().filter(|r| !r.is_empty()),
            departments: &departments,
        };
        let chosen = choose_flow(&mut tx, &sample.kind, &subject).await?;
        let shown = match sample.flow.as_deref().filter(|f| *f != chosen.key) {
            None => (
                chosen.key.clone(),
                chosen.version,
                chosen.name.clone(),
                chosen.steps.clone(),
            ),
            Some(key) => {
                let newest = tx
                    .flows()
                    .await?
                    .iter()
                    .filter(|f| f.key == key)
                    .map(crate::flows::flow_view)
                    .next_back()
                    .ok_or_else(|| AppError::not_found("flow", key))?;
                (newest.key, newest.version, newest.name, newest.steps)
            }
        };
        let steps = self
            .preview_steps(&mut tx, &shown.3, applicant.id, applicant.department_id)
            .await?;
        tx.rollback().await?;
        Ok(FlowPreview {
            key: shown.0,
            version: shown.1,
            name: shown.2,
            chosen_key: chosen.key,
            chosen_name: chosen.name,
            steps,
        })
    }

    async fn preview_steps(
        &self,
        tx: &mut custos_store::Tx,
        steps: &[FlowStep],
        applicant: i64,
        department: Option<i64>,
    ) -> AppResult<Vec<StepPreview>> {
        let mut out = Vec::with_capacity(steps.len());
        for s in steps {
            let (ids, fallback) = step_approvers(tx, s, applicant, department).await?;
            out.push(StepPreview {
                name: s.name.clone(),
                mode: s.mode,
                approvers: user_choices(tx, &ids).await?,
                fallback,
                auto_approve: s.auto_approve.clone(),
            });
        }
        Ok(out)
    }
}
