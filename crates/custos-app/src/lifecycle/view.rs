//! What `GET /api/v1/customers/{code}/lifecycle` answers: the stage with its cause and
//! the facts it was decided on, and the latest transitions.

use crate::lifecycle::Lifecycle;
use serde::Serialize;

use custos_store::{LifecycleRow, TransitionRow};

use crate::activities::{locate, Located};
use crate::actor::Actor;
use crate::clock::format_time;
use crate::error::AppResult;

/// Transitions shown with the stage, newest first.
const SHOWN_TRANSITIONS: i64 = 100;

/// A customer's life-cycle stage (客户状态).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LifecycleView {
    pub customer_code: String,
    /// `prospect`, `new`, `repeat`, `dormant` or `lost`.
    pub stage: String,
    /// 潜在客户, 新客户, 老客户, 休眠客户 or 流失客户.
    pub stage_label: String,
    /// The day it entered the stage (`YYYY-MM-DD`); absent for a customer without
    /// records (a prospect since it was created).
    pub since: Option<String>,
    /// The rule that decided it: `no_deal`, `first_deal`, `repeat_orders`, `deal_aged`,
    /// `inactive_dormant`, `inactive_lost`.
    pub rule: String,
    /// What changed it: `record`, `merge`, `unmerge`, `split` or `daily`.
    pub cause: Option<String>,
    /// The record that changed it, when one did.
    pub activity_id: Option<i64>,
    /// The first signed contract or first order.
    pub first_deal_on: Option<String>,
    pub last_activity_on: Option<String>,
    pub order_count: i64,
    /// Newest first, at most 100.
    pub transitions: Vec<TransitionView>,
}

/// One change of stage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TransitionView {
    pub id: i64,
    pub from: Option<String>,
    pub to: String,
    /// The day it counts for.
    pub on: String,
    /// When it was recorded (RFC 3339).
    pub at: String,
    pub rule: String,
    pub cause: String,
    pub activity_id: Option<i64>,
}

impl From<TransitionRow> for TransitionView {
    fn from(t: TransitionRow) -> Self {
        TransitionView {
            id: t.id,
            from: t.from_stage,
            to: t.to_stage,
            on: t.on_date,
            at: format_time(t.at),
            rule: t.rule,
            cause: t.cause,
            activity_id: t.activity_id,
        }
    }
}

pub(crate) fn lifecycle_view(
    code: String,
    row: Option<LifecycleRow>,
    transitions: Vec<TransitionRow>,
) -> LifecycleView {
    let row = row.unwrap_or_else(|| LifecycleRow {
        stage: "prospect".into(),
        rule: "no_deal".into(),
        ..Default::default()
    });
    let known = !row.since.is_empty();
    LifecycleView {
        customer_code: code,
        stage_label: stage_label(&row.stage).to_string(),
        stage: row.stage,
        since: known.then_some(row.since),
        rule: row.rule,
        cause: known.then_some(row.cause),
        activity_id: row.activity_id,
        first_deal_on: row.first_deal_on,
        last_activity_on: row.last_activity_on,
        order_count: row.order_count,
        transitions: transitions.into_iter().map(Into::into).collect(),
    }
}

impl Lifecycle<'_> {
    /// The stage of `code` without its transitions (for the overview); `None` for a
    /// merged code.
    pub(crate) async fn lifecycle_brief(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<Option<LifecycleView>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "customer.read", code).await? {
            Located::Here(c) => c,
            Located::Moved { .. } => return Ok(None),
        };
        let row = tx.lifecycle(customer.id).await?;
        tx.rollback().await?;
        Ok(Some(lifecycle_view(customer.code, row, Vec::new())))
    }

    /// A customer's stage and transitions (`customer.read`, the customer in scope; a
    /// merged code answers its survivor).
    pub async fn customer_lifecycle(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<Located<LifecycleView>> {
        let mut tx = self.app.db.begin_read().await?;
        let customer = match locate(&mut tx, actor, "customer.read", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let row = tx.lifecycle(customer.id).await?;
        let transitions = tx
            .lifecycle_transitions(customer.id, SHOWN_TRANSITIONS)
            .await?;
        tx.rollback().await?;
        Ok(Located::Here(lifecycle_view(
            customer.code,
            row,
            transitions,
        )))
    }
}

/// The Chinese label of a stage.
pub fn stage_label(stage: &str) -> &'static str {
    crate::terms::term(
        crate::terms::Terms::LifecycleStage,
        stage,
        custos_core::violation::Lang::Zh,
    )
    .unwrap_or("—")
}
