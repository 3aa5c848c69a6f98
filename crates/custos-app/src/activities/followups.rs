//! Follow-ups (跟进记录): who followed a customer up, when, how, what came of it and
//! what is planned next.

use crate::activities::Activities;
use serde::{Deserialize, Serialize};

use super::fields::{Form, LONG_TEXT, SHORT_TEXT};
use super::records::{insert_record, Body, Page, PageQuery, Placement, RecordMeta, Shower};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::clock::format_time;
use crate::error::AppResult;
use crate::input::Input;
use crate::text_input::refuse_in;

/// How a customer was followed up.
pub const FOLLOWUP_CHANNELS: &[&str] = &["visit", "call", "wechat", "email", "meeting"];

/// A follow-up to record.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFollowup {
    /// When (RFC 3339 or `YYYY-MM-DD`); absent: now.
    #[serde(default)]
    pub followed_at: Option<String>,
    /// `visit`, `call`, `wechat`, `email` or `meeting`.
    pub channel: String,
    /// What was said and done, at most 2,000 characters.
    pub content: String,
    /// One of the configured results (default 需求确认, 方案提交, 合同待签, 已成交, 无意向).
    #[serde(default)]
    pub result: Option<String>,
    /// What comes next, at most 200 characters.
    #[serde(default)]
    pub next_plan: Option<String>,
    /// When it comes, `YYYY-MM-DD`.
    #[serde(default)]
    pub next_date: Option<String>,
}

/// The fields of a follow-up.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Followup {
    pub followed_at: String,
    pub channel: String,
    pub content: String,
    pub result: Option<String>,
    pub next_plan: Option<String>,
    pub next_date: Option<String>,
}

impl Body for Followup {
    fn texts(&mut self) -> Vec<&mut String> {
        [Some(&mut self.content), self.next_plan.as_mut()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A follow-up as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FollowupView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub followup: Followup,
}

pub(crate) fn followup_view(meta: RecordMeta, followup: Followup) -> FollowupView {
    FollowupView { meta, followup }
}

impl Activities<'_> {
    /// Record a follow-up of a customer (`activity.write`).
    pub async fn add_followup(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewFollowup>>,
    ) -> AppResult<Located<FollowupView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        check_writable(&customer)?;
        let (at, followup) = self.checked_followup(&input)?;
        tx.lock_audit_head().await?;
        let row = insert_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            kind::FOLLOWUP,
            Placement {
                occurred_at: at,
                // The next planned date, for the customer's overview (next follow-up).
                ref_key: followup.next_date.clone(),
                ..Default::default()
            },
            &followup,
        )
        .await?;
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
        Ok(Located::Here(followup_view(meta, body)))
    }

    /// A customer's follow-ups, newest first (`activity.read`).
    pub async fn list_followups(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<Page<FollowupView>>> {
        self.list_records(
            actor,
            "activity.read",
            code,
            &[kind::FOLLOWUP],
            q,
            followup_view,
        )
        .await
    }

    fn checked_followup(&self, input: &NewFollowup) -> AppResult<(i64, Followup)> {
        let mut f = Form::default();
        let tz = self.app.config.code_timezone;
        let at = f.past_time(
            "followed_at",
            input.followed_at.as_deref(),
            tz,
            custos_store::now_us(),
        );
        let channel = f.one_of("channel", Some(&input.channel), FOLLOWUP_CHANNELS);
        if input.channel.trim().is_empty() {
            f.required("channel");
        }
        let content = f.required_text("content", Some(&input.content), LONG_TEXT, true);
        let results: Vec<&str> = self
            .app
            .config
            .activities
            .followup_results
            .iter()
            .map(String::as_str)
            .collect();
        let result = f.one_of("result", input.result.as_deref(), &results);
        let next_plan = f.text("next_plan", input.next_plan.as_deref(), SHORT_TEXT, true);
        let next_date = f.date("next_date", input.next_date.as_deref());
        f.finish()?;
        Ok((
            at,
            Followup {
                followed_at: format_time(at),
                channel: channel.unwrap_or_default(),
                content,
                result,
                next_plan,
                next_date: next_date.map(|d| d.to_string()),
            },
        ))
    }
}
