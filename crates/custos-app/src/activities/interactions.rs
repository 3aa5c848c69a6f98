//! Interactions (互动): visits, calls and complaints (投诉). A complaint has a handler, a
//! status that only moves forward (open → in_progress → resolved → closed), a resolution
//! and, once resolved, the customer's satisfaction (1–5). Recording a complaint opens a
//! service record linked to it in the same transaction.

use crate::activities::Activities;
use custos_core::Violation;
use serde::{Deserialize, Serialize};

use super::fields::{Form, LONG_TEXT, SHORT_TEXT};
use super::records::{
    decode, insert_record, update_record, Body, Page, PageQuery, Placement, RecordMeta, Shower,
};
use super::service_record::{insert_service, ServiceRecord};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::clock::format_time;
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::text_input::refuse_in;

pub const INTERACTION_KINDS: &[&str] = &["visit", "call", "complaint"];
/// The statuses of a complaint in the only order they may be passed through.
pub const COMPLAINT_STATUSES: &[&str] = &["open", "in_progress", "resolved", "closed"];

/// An interaction to record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInteraction {
    /// `visit`, `call` or `complaint`.
    pub kind: String,
    /// When (RFC 3339 or `YYYY-MM-DD`); absent: now.
    #[serde(default)]
    pub occurred_at: Option<String>,
    /// What happened, at most 2,000 characters.
    pub content: String,
    /// Complaints: the user handling it (absent: the caller).
    #[serde(default)]
    pub handler_id: Option<i64>,
    /// Complaints: the product and model concerned (copied to the service record).
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
}

/// The fields of an interaction.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Interaction {
    pub kind: String,
    pub occurred_at: String,
    pub content: String,
    pub handler_id: Option<i64>,
    /// Complaints only.
    pub status: Option<String>,
    pub resolution: Option<String>,
    pub satisfaction: Option<i64>,
    /// Complaints: the service record opened with it.
    pub service_record_id: Option<i64>,
}

impl Body for Interaction {
    fn texts(&mut self) -> Vec<&mut String> {
        [Some(&mut self.content), self.resolution.as_mut()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A change of a complaint.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InteractionPatch {
    /// A later status than the current one.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub resolution: Option<String>,
    /// 1–5, once the complaint is resolved or closed.
    #[serde(default)]
    pub satisfaction: Option<i64>,
    /// Another handler.
    #[serde(default)]
    pub handler_id: Option<i64>,
}

/// An interaction as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InteractionView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub interaction: Interaction,
}

pub(crate) fn interaction_view(meta: RecordMeta, interaction: Interaction) -> InteractionView {
    InteractionView { meta, interaction }
}

impl Activities<'_> {
    /// Record an interaction (`activity.write`); a complaint opens its service record.
    pub async fn add_interaction(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewInteraction>>,
    ) -> AppResult<Located<InteractionView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        check_writable(&customer)?;
        let mut f = Form::default();
        let now = custos_store::now_us();
        let at = f.past_time(
            "occurred_at",
            input.occurred_at.as_deref(),
            self.app.config.code_timezone,
            now,
        );
        let ikind = f.one_of("kind", Some(&input.kind), INTERACTION_KINDS);
        if input.kind.trim().is_empty() {
            f.required("kind");
        }
        let content = f.required_text("content", Some(&input.content), LONG_TEXT, true);
        let product = f.text("product", input.product.as_deref(), SHORT_TEXT, false);
        let model = f.text("model", input.model.as_deref(), SHORT_TEXT, false);
        f.finish()?;
        let complaint = ikind.as_deref() == Some("complaint");
        let handler_id = if complaint {
            Some(check_handler(&mut tx, input.handler_id.unwrap_or(actor.user_id)).await?)
        } else {
            None
        };
        let mut interaction = Interaction {
            kind: ikind.unwrap_or_default(),
            occurred_at: format_time(at),
            content,
            handler_id,
            status: complaint.then(|| "open".to_string()),
            resolution: None,
            satisfaction: None,
            service_record_id: None,
        };
        tx.lock_audit_head().await?;
        let placement = Placement {
            occurred_at: at,
            status: interaction.status.clone(),
            ..Default::default()
        };
        let mut row = insert_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            kind::INTERACTION,
            placement,
            &interaction,
        )
        .await?;
        if complaint {
            let service = ServiceRecord {
                served_at: format_time(at),
                product,
                model,
                problem: interaction.content.clone(),
                resolution: None,
                complaint_id: Some(row.id),
            };
            let s = insert_service(
                &self.app.config.pii_key,
                &mut tx,
                actor,
                &customer,
                at,
                &service,
            )
            .await?;
            let before = interaction.clone();
            interaction.service_record_id = Some(s.id);
            row.linked_id = Some(s.id);
            update_record(
                &self.app.config.pii_key,
                &mut tx,
                actor,
                &customer,
                &mut row,
                &before,
                &interaction,
            )
            .await?;
        }
        self.app
            .lifecycle()
            .settle_lifecycle(
                &mut tx,
                actor,
                customer.id,
                crate::lifecycle::Cause::record(row.id),
            )
            .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Located::Here(interaction_view(meta, body)))
    }

    /// Move a complaint on: status (forward only), resolution, satisfaction, handler
    /// (`activity.write`).
    pub async fn update_interaction(
        &self,
        actor: &Actor,
        code: &str,
        id: i64,
        patch: impl Into<Input<InteractionPatch>>,
    ) -> AppResult<Located<InteractionView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let mut row = tx
            .activity(customer.id, kind::INTERACTION, id)
            .await?
            .ok_or_else(|| AppError::not_found("interaction", id))?;
        let patch = patch.into().get()?;
        refuse_in("", &patch)?;
        let (_, before) = decode::<Interaction>(&self.app.config.pii_key, &row)?;
        let mut after = changed_complaint(&before, &patch)?;
        if let Some(h) = patch.handler_id {
            after.handler_id = Some(check_handler(&mut tx, h).await?);
        }
        tx.lock_audit_head().await?;
        row.status = after.status.clone();
        update_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            &mut row,
            &before,
            &after,
        )
        .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Located::Here(interaction_view(meta, body)))
    }

    /// A customer's interactions, newest first (`activity.read`).
    pub async fn list_interactions(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<Page<InteractionView>>> {
        self.list_records(
            actor,
            "activity.read",
            code,
            &[kind::INTERACTION],
            q,
            interaction_view,
        )
        .await
    }
}

/// The complaint after `patch`, or why it may not be applied.
fn changed_complaint(before: &Interaction, patch: &InteractionPatch) -> AppResult<Interaction> {
    let Some(current) = before.status.as_deref() else {
        return Err(AppError::Rejected(Violation::new(
            "interaction.not_complaint",
            "只有投诉有处理状态、处理结果和满意度",
            "only complaints have a status, a resolution and a satisfaction",
        )));
    };
    let mut f = Form::default();
    let mut after = before.clone();
    if let Some(next) = f.one_of("status", patch.status.as_deref(), COMPLAINT_STATUSES) {
        let rank = |s: &str| COMPLAINT_STATUSES.iter().position(|x| *x == s);
        if rank(&next) <= rank(current) {
            f.errors.push(
                Violation::new(
                    "complaint.status_backward",
                    format!("投诉状态只能向前推进（open → in_progress → resolved → closed），不能从 {current} 改为 {next}"),
                    format!("a complaint only moves forward (open → in_progress → resolved → closed), not from {current} to {next}"),
                )
                .on("status"),
            );
        }
        after.status = Some(next);
    }
    if let Some(r) = f.text("resolution", patch.resolution.as_deref(), LONG_TEXT, true) {
        after.resolution = Some(r);
    }
    if let Some(s) = f.int_in("satisfaction", patch.satisfaction, 1..=5) {
        if !matches!(after.status.as_deref(), Some("resolved" | "closed")) {
            f.errors.push(
                Violation::new(
                    "complaint.satisfaction_early",
                    "投诉解决（resolved）或关闭（closed）后才能登记满意度",
                    "satisfaction is recorded once the complaint is resolved or closed",
                )
                .on("satisfaction"),
            );
        }
        after.satisfaction = Some(s);
    }
    f.finish()?;
    Ok(after)
}

/// A complaint's handler must be an enabled user.
async fn check_handler(tx: &mut custos_store::Tx, id: i64) -> AppResult<i64> {
    match tx.user(id).await? {
        Some(u) if !u.disabled => Ok(id),
        _ => Err(AppError::validation(
            "handler_id",
            Violation::new(
                "interaction.handler_unknown",
                format!("处理人 {id} 不存在或已停用"),
                format!("handler {id} does not exist or is disabled"),
            ),
        )),
    }
}
