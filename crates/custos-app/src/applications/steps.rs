//! Moving an application through its flow: choosing the flow at (re)submission, entering
//! a step (auto-approving it or creating its tasks), and completing the application
//! once its last step is approved, with the effect in the same transaction.

use crate::applications::Applications;
use serde_json::{json, Value};

use custos_store::{now_us, ApplicationRow, TaskRow, Tx};

use super::deciders::resolve_approvers;
use super::kinds::Prepared;
use super::records::{notify, trail, Trail};
use crate::actor::Actor;
use crate::error::AppResult;
use crate::flows::{choose_flow, department_chain, kind_zh, FlowSubject, FrozenFlow};
use crate::to_json;

impl Applications<'_> {
    /// Choose the flow and enter its first step (submit and resubmit).
    pub(super) async fn start_round(
        &self,
        tx: &mut Tx,
        a: &mut ApplicationRow,
        actor: &Actor,
        p: &Prepared,
        action: &str,
        from: &str,
    ) -> AppResult<()> {
        let departments = department_chain(tx, a.department_id).await?;
        let subject = FlowSubject {
            customer_type: p.customer_type.as_deref(),
            region_code: p.region_code.as_deref(),
            departments: &departments,
        };
        let flow = choose_flow(tx, &a.kind, &subject).await?;
        a.flow = serde_json::to_string(&flow).unwrap_or_default();
        a.state = "submitted".into();
        a.updated_at = now_us();
        trail(
            tx,
            a,
            Trail {
                actor,
                action,
                step: None,
                from,
                comment: a.reason.clone(),
                detail: Some(
                    json!({"flow": flow.key, "flow_version": flow.version, "round": a.round}),
                ),
            },
        )
        .await?;
        self.enter_step(tx, a, &flow, 0, actor).await
    }

    /// Enter step `i`: auto-approve it when its rule holds, otherwise create the tasks
    /// and notify the approvers. Past the last step, apply the effect.
    pub(super) async fn enter_step(
        &self,
        tx: &mut Tx,
        a: &mut ApplicationRow,
        flow: &FrozenFlow,
        mut i: usize,
        actor: &Actor,
    ) -> AppResult<()> {
        loop {
            let Some(s) = flow.steps.get(i) else {
                return self.complete(tx, a, actor).await;
            };
            if let Some(rule) = &s.auto_approve {
                if self.auto_rule_holds(a, rule)? {
                    let from = a.state.clone();
                    a.state = "in_review".into();
                    trail(
                        tx,
                        a,
                        Trail {
                            actor,
                            action: "auto_approve",
                            step: Some(i as i64),
                            from: &from,
                            comment: Some(format!("步骤“{}”满足自动通过条件", s.name)),
                            detail: Some(serde_json::to_value(rule).unwrap_or_default()),
                        },
                    )
                    .await?;
                    i += 1;
                    continue;
                }
            }
            let approvers = resolve_approvers(tx, s, a.applicant_id, a.department_id).await?;
            let now = now_us();
            for u in &approvers {
                tx.insert_task(&TaskRow {
                    id: 0,
                    application_id: a.id,
                    round: a.round,
                    step: i as i64,
                    user_id: *u,
                    decision: None,
                    decided_at: None,
                    comment: None,
                    delegated_from: None,
                    created_at: now,
                })
                .await?;
                notify(
                    tx,
                    *u,
                    a.id,
                    "task",
                    format!("待审批：{} #{}", kind_zh(&a.kind), a.id),
                    format!("申请单 #{} 等待您在步骤“{}”审批。", a.id, s.name),
                )
                .await?;
            }
            a.current_step = i as i64;
            if i > 0 {
                a.state = "in_review".into();
            }
            return Ok(());
        }
    }

    fn auto_rule_holds(
        &self,
        a: &ApplicationRow,
        rule: &crate::flows::AutoApprove,
    ) -> AppResult<bool> {
        if rule.no_duplicates {
            let none = a
                .duplicates
                .as_deref()
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .is_some_and(|d| {
                    d["candidates"].as_array().is_some_and(|c| c.is_empty())
                        && d["outside_scope_match"] != Value::Bool(true)
                });
            if !none {
                return Ok(false);
            }
        }
        if !rule.fields_filled.is_empty() {
            let payload = self.open_payload(a)?;
            let filled = rule.fields_filled.iter().all(|f| match payload.get(f) {
                None | Some(Value::Null) => false,
                Some(Value::String(s)) => !s.trim().is_empty(),
                Some(Value::Array(x)) => !x.is_empty(),
                Some(_) => true,
            });
            if !filled {
                return Ok(false);
            }
        }
        Ok(rule.no_duplicates || !rule.fields_filled.is_empty())
    }

    /// The last step approved: apply the effect, close, notify.
    async fn complete(&self, tx: &mut Tx, a: &mut ApplicationRow, actor: &Actor) -> AppResult<()> {
        let result = self.apply_effect(tx, a, actor).await?;
        if let Some(code) = result.get("code").and_then(Value::as_str) {
            a.target = Some(code.to_string());
        }
        let from = a.state.clone();
        let now = now_us();
        a.state = "approved".into();
        a.result = to_json(&result);
        a.closed_at = Some(now);
        a.updated_at = now;
        tx.close_pending_tasks(a.id, "skipped", now).await?;
        trail(
            tx,
            a,
            Trail {
                actor,
                action: "complete",
                step: None,
                from: &from,
                comment: None,
                detail: Some(result.clone()),
            },
        )
        .await?;
        let code = result
            .get("code")
            .and_then(Value::as_str)
            .map(|c| format!("，客户编码 {c}"))
            .unwrap_or_default();
        notify(
            tx,
            a.applicant_id,
            a.id,
            "approved",
            format!("申请已通过：{} #{}", kind_zh(&a.kind), a.id),
            format!("您的申请单 #{} 已审批通过并生效{code}。", a.id),
        )
        .await
    }
}
