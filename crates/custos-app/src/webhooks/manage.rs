//! Managing subscriptions: create (the secret shown once), list, read, change, delete,
//! rotate the secret, read the delivery log, replay from a seq. Every change is audited;
//! the secret never is.

use std::collections::HashMap;

use crate::webhooks::Webhooks;
use custos_core::{FieldError, Violation};
use custos_store::{now_us, Tx, WebhookAttemptRow, WebhookRow};

use super::sign::new_secret;
use super::{
    NewWebhook, ReplayRequest, ReplayResult, WebhookAttemptPage, WebhookAttemptView, WebhookPatch,
    WebhookView, WebhookWithLastAttempt, WebhookWithSecret, ATTEMPT_OUTCOMES,
};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::load_actor;
use crate::clock::format_time;
use crate::error::{AppError, AppResult};
use crate::events::EVENT_TYPES;
use crate::org::check_name;
use crate::outbound::check_url;
use crate::{to_json, Context, Source};

/// Most subscriptions there may be (each costs a fan-out per new event).
pub(crate) const MAX_WEBHOOKS: i64 = 100;
/// Most event types one subscription names.
const MAX_TYPES: usize = 32;
/// Most events one replay looks at.
pub(crate) const MAX_REPLAY: i64 = 10_000;
/// Most lines of the delivery log one page holds.
const MAX_LOG_PAGE: u32 = 200;

/// `webhooks.manage` over everyone: a subscription may be owned by any account and
/// receive what that account may read.
pub(super) fn require_manage(actor: &Actor) -> AppResult<()> {
    match actor.require("webhooks.manage")? {
        Scope::All => Ok(()),
        _ => Err(AppError::Forbidden {
            permission: "webhooks.manage".into(),
        }),
    }
}

pub(super) async fn webhook_row(tx: &mut Tx, id: i64, lock: bool) -> AppResult<WebhookRow> {
    tx.webhook(id, lock)
        .await?
        .ok_or_else(|| AppError::not_found("webhook", id))
}

pub(super) fn types_of(w: &WebhookRow) -> Vec<String> {
    serde_json::from_str(&w.event_types).unwrap_or_default()
}

fn check_types(types: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if types.len() > MAX_TYPES {
        errors.push(
            Violation::new(
                "webhook.types_too_many",
                format!("event_types 最多 {MAX_TYPES} 项"),
                format!("event_types may name at most {MAX_TYPES} types"),
            )
            .on("event_types"),
        );
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    for t in types {
        if !EVENT_TYPES.contains(&t.as_str()) {
            let t: String = t.chars().filter(|c| !c.is_control()).take(64).collect();
            errors.push(
                Violation::new(
                    "webhook.type_unknown",
                    format!("未知的事件类型“{t}”，可用：{}", EVENT_TYPES.join("、")),
                    format!(
                        "unknown event type '{t}'; known: {}",
                        EVENT_TYPES.join(", ")
                    ),
                )
                .on("event_types"),
            );
        } else if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

fn check_hook_url(url: &str, errors: &mut Vec<FieldError>) {
    if let Err(rule) = check_url(url) {
        let en = match rule {
            r if r.contains("2048") => "the address is empty or longer than 2048 characters",
            r if r.contains("控制") => "the address must not hold control characters or spaces",
            r if r.contains("http") => "the address must start with http:// or https://",
            r if r.contains("主机") => "the address has no host name",
            r if r.contains("用户名") => "the address must not hold a user name or password",
            r if r.contains('#') => "the address must not hold a # fragment",
            _ => "the address is malformed",
        };
        errors.push(
            Violation::new("webhook.url", format!("url：{rule}"), format!("url: {en}")).on("url"),
        );
    }
}

/// The owner named (or the caller): an enabled account holding `events.read`.
async fn owner_id(
    tx: &mut Tx,
    actor: &Actor,
    name: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> AppResult<i64> {
    let Some(name) = name else {
        return Ok(actor.user_id);
    };
    let refuse = |zh: String, en: String, errors: &mut Vec<FieldError>| {
        errors.push(Violation::new("webhook.owner", zh, en).on("owner"));
    };
    let shown: String = name.chars().filter(|c| !c.is_control()).take(64).collect();
    match tx.user_by_name(name).await? {
        Some(u) if u.disabled => refuse(
            format!("账号 {shown} 已停用"),
            format!("account {shown} is disabled"),
            errors,
        ),
        Some(u) => {
            let id = u.id;
            let owner = load_actor(tx, u, Context::new(Source::System)).await?;
            if owner.can("events.read") {
                return Ok(id);
            }
            refuse(
                format!("账号 {shown} 没有 events.read 权限，收不到任何事件"),
                format!("account {shown} lacks events.read and would receive nothing"),
                errors,
            );
        }
        None => refuse(
            format!("账号 {shown} 不存在"),
            format!("account {shown} does not exist"),
            errors,
        ),
    }
    Ok(0)
}

fn name_taken(name: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "webhook.name_taken",
        format!("name：已有名为“{name}”的 Webhook 订阅"),
        format!("name: a webhook named '{name}' exists"),
    ))
}

async fn view(tx: &mut Tx, w: &WebhookRow) -> AppResult<WebhookView> {
    let owner = tx
        .user(w.owner_id)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    let counts = tx.delivery_counts(w.id).await?;
    Ok(WebhookView {
        id: w.id,
        name: w.name.clone(),
        url: w.url.clone(),
        event_types: types_of(w),
        active: w.active,
        owner_id: w.owner_id,
        owner,
        cursor: w.cursor,
        pending: counts.pending,
        delivered: counts.delivered,
        dead: counts.dead,
        created_at: format_time(w.created_at),
        updated_at: format_time(w.updated_at),
    })
}

fn audited(w: &WebhookRow) -> Option<String> {
    to_json(&serde_json::json!({
        "name": w.name, "url": w.url, "event_types": types_of(w),
        "active": w.active, "owner_id": w.owner_id,
    }))
}

impl Webhooks<'_> {
    /// Create a subscription; it receives events committed from now on. The secret is in
    /// the answer only.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewWebhook>>,
    ) -> AppResult<WebhookWithSecret> {
        require_manage(actor)?;
        let input = input.into().get()?;
        let mut errors = Vec::new();
        check_name("name", &input.name, 64, &mut errors);
        check_hook_url(&input.url, &mut errors);
        let types = check_types(&input.event_types, &mut errors);
        let mut tx = self.app.db.begin().await?;
        let owner_id = owner_id(&mut tx, actor, input.owner.as_deref(), &mut errors).await?;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let name = input.name.trim().to_string();
        if tx.webhook_by_name(&name).await?.is_some() {
            return Err(name_taken(&name));
        }
        if tx.webhooks(MAX_WEBHOOKS).await?.len() as i64 >= MAX_WEBHOOKS {
            return Err(AppError::Conflict(Violation::new(
                "webhook.too_many",
                format!("最多 {MAX_WEBHOOKS} 个 Webhook 订阅"),
                format!("at most {MAX_WEBHOOKS} webhooks"),
            )));
        }
        let secret = new_secret();
        let now = now_us();
        let mut row = WebhookRow {
            id: 0,
            name,
            url: input.url.clone(),
            event_types: serde_json::to_string(&types).unwrap_or_else(|_| "[]".into()),
            secret: self.app.config.pii_key.encrypt(&secret),
            active: input.active.unwrap_or(true),
            owner_id,
            cursor: tx.event_log_head().await?.last,
            created_at: now,
            created_by: Some(actor.user_id),
            updated_at: now,
        };
        row.id = match tx.insert_webhook(&row).await {
            Ok(id) => id,
            Err(custos_store::StoreError::Conflict { .. }) => return Err(name_taken(&row.name)),
            Err(e) => return Err(e.into()),
        };
        let mut r = record(actor, "webhook.create", "webhook", &row.id.to_string());
        r.after = audited(&row);
        append(&mut tx, r).await?;
        let webhook = view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(WebhookWithSecret { secret, webhook })
    }

    pub async fn list_webhooks(&self, actor: &Actor) -> AppResult<Vec<WebhookView>> {
        let listed = self.listed(actor, false).await?;
        Ok(listed.into_iter().map(|l| l.webhook).collect())
    }

    /// [`Webhooks::list_webhooks`], each with the newest attempt of its delivery log, read
    /// for all of them in one statement.
    pub async fn list_webhooks_with_last_attempt(
        &self,
        actor: &Actor,
    ) -> AppResult<Vec<WebhookWithLastAttempt>> {
        self.listed(actor, true).await
    }

    async fn listed(
        &self,
        actor: &Actor,
        last_attempts: bool,
    ) -> AppResult<Vec<WebhookWithLastAttempt>> {
        require_manage(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.webhooks(MAX_WEBHOOKS).await?;
        let mut last: HashMap<i64, WebhookAttemptRow> = HashMap::new();
        if last_attempts {
            let attempts = tx.last_webhook_attempts(MAX_WEBHOOKS).await?;
            last.extend(attempts.into_iter().map(|a| (a.webhook_id, a)));
        }
        let mut out = Vec::with_capacity(rows.len());
        for w in &rows {
            out.push(WebhookWithLastAttempt {
                webhook: view(&mut tx, w).await?,
                last_attempt: last.remove(&w.id).map(attempt_view),
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    pub async fn get_webhook(&self, actor: &Actor, id: i64) -> AppResult<WebhookView> {
        require_manage(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let w = webhook_row(&mut tx, id, false).await?;
        let v = view(&mut tx, &w).await?;
        tx.rollback().await?;
        Ok(v)
    }

    /// The id of the subscription with this name (the CLI names them).
    pub async fn webhook_id(&self, actor: &Actor, name: &str) -> AppResult<i64> {
        require_manage(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let w = tx.webhook_by_name(name).await?;
        tx.rollback().await?;
        w.map(|w| w.id)
            .ok_or_else(|| AppError::not_found("webhook", name))
    }

    /// Change a subscription. A new owner or new types apply to events not queued yet.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        id: i64,
        input: impl Into<crate::input::Input<WebhookPatch>>,
    ) -> AppResult<WebhookView> {
        require_manage(actor)?;
        let input = input.into().get()?;
        let mut errors = Vec::new();
        if let Some(name) = &input.name {
            check_name("name", name, 64, &mut errors);
        }
        if let Some(url) = &input.url {
            check_hook_url(url, &mut errors);
        }
        let types = input
            .event_types
            .as_ref()
            .map(|t| check_types(t, &mut errors));
        let mut tx = self.app.db.begin().await?;
        let before = webhook_row(&mut tx, id, true).await?;
        let owner = match input.owner.as_deref() {
            Some(name) => Some(owner_id(&mut tx, actor, Some(name), &mut errors).await?),
            None => None,
        };
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut row = before.clone();
        if let Some(name) = &input.name {
            row.name = name.trim().to_string();
            if row.name != before.name && tx.webhook_by_name(&row.name).await?.is_some() {
                return Err(name_taken(&row.name));
            }
        }
        if let Some(url) = &input.url {
            row.url = url.clone();
        }
        if let Some(t) = types {
            row.event_types = serde_json::to_string(&t).unwrap_or_else(|_| "[]".into());
        }
        if let Some(a) = input.active {
            row.active = a;
        }
        if let Some(o) = owner {
            row.owner_id = o;
        }
        row.updated_at = now_us();
        match tx.update_webhook(&row).await {
            Ok(()) => {}
            Err(custos_store::StoreError::Conflict { .. }) => return Err(name_taken(&row.name)),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(actor, "webhook.update", "webhook", &id.to_string());
        r.before = audited(&before);
        r.after = audited(&row);
        append(&mut tx, r).await?;
        let v = view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Delete a subscription with its pending deliveries and its log.
    pub async fn delete_webhook(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_manage(actor)?;
        let mut tx = self.app.db.begin().await?;
        let w = webhook_row(&mut tx, id, true).await?;
        tx.delete_webhook(id).await?;
        let mut r = record(actor, "webhook.delete", "webhook", &id.to_string());
        r.before = audited(&w);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new secret for a subscription; the old one stops signing at once. The new
    /// secret is in the answer only.
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<WebhookWithSecret> {
        require_manage(actor)?;
        let mut tx = self.app.db.begin().await?;
        let mut row = webhook_row(&mut tx, id, true).await?;
        let secret = new_secret();
        row.secret = self.app.config.pii_key.encrypt(&secret);
        row.updated_at = now_us();
        tx.update_webhook(&row).await?;
        append(
            &mut tx,
            record(actor, "webhook.rotate_secret", "webhook", &id.to_string()),
        )
        .await?;
        let webhook = view(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(WebhookWithSecret { secret, webhook })
    }

    /// The delivery log of a subscription, newest first, below attempt id `before`.
    pub async fn webhook_attempts(
        &self,
        actor: &Actor,
        id: i64,
        before: Option<i64>,
        limit: Option<u32>,
    ) -> AppResult<WebhookAttemptPage> {
        self.webhook_attempts_of(actor, id, before, limit, None)
            .await
    }

    /// The delivery log of a subscription, newest first, below attempt id `before`; with
    /// `outcome` (one of [`ATTEMPT_OUTCOMES`]), only the attempts that ended so.
    pub async fn webhook_attempts_of(
        &self,
        actor: &Actor,
        id: i64,
        before: Option<i64>,
        limit: Option<u32>,
        outcome: Option<&str>,
    ) -> AppResult<WebhookAttemptPage> {
        require_manage(actor)?;
        if let Some(o) = outcome.filter(|o| !ATTEMPT_OUTCOMES.contains(o)) {
            let o: String = o.chars().filter(|c| !c.is_control()).take(32).collect();
            return Err(AppError::validation(
                "outcome",
                Violation::new(
                    "webhook.outcome",
                    format!(
                        "outcome 须为 {} 之一（收到“{o}”）",
                        ATTEMPT_OUTCOMES.join("、")
                    ),
                    format!(
                        "outcome must be one of {} (got '{o}')",
                        ATTEMPT_OUTCOMES.join(", ")
                    ),
                ),
            ));
        }
        let limit = limit.unwrap_or(50);
        if limit == 0 || limit > MAX_LOG_PAGE {
            return Err(AppError::validation(
                "limit",
                Violation::new(
                    "number.range",
                    format!("limit 须在 1 到 {MAX_LOG_PAGE} 之间"),
                    format!("limit must be between 1 and {MAX_LOG_PAGE}"),
                ),
            ));
        }
        let mut tx = self.app.db.begin_read().await?;
        webhook_row(&mut tx, id, false).await?;
        let rows = tx
            .webhook_attempts(id, before.unwrap_or(i64::MAX), i64::from(limit), outcome)
            .await?;
        tx.rollback().await?;
        let next_before = match rows.last() {
            Some(last) if rows.len() as i64 == i64::from(limit) => Some(last.id),
            _ => None,
        };
        Ok(WebhookAttemptPage {
            items: rows.into_iter().map(attempt_view).collect(),
            next_before,
        })
    }

    /// Queue again, as new deliveries with the same event ids, the events from seq
    /// `from` up to the subscription's cursor (events after it are queued anyway) that
    /// its types and its owner's scope admit — at most [`MAX_REPLAY`] events per call.
    pub async fn replay_webhook(
        &self,
        actor: &Actor,
        id: i64,
        input: impl Into<crate::input::Input<ReplayRequest>>,
    ) -> AppResult<ReplayResult> {
        require_manage(actor)?;
        let from = input.into().get()?.from;
        if from < 1 {
            return Err(AppError::validation(
                "from",
                Violation::new(
                    "webhook.replay_from",
                    "from 须为正整数（事件序号）",
                    "from must be a positive event seq",
                ),
            ));
        }
        let mut tx = self.app.db.begin().await?;
        let w = webhook_row(&mut tx, id, true).await?;
        let head = tx.event_log_head().await?;
        if from <= head.pruned_through {
            return Err(AppError::Gone(Violation::new(
                "events.pruned",
                format!(
                    "序号 {from} 的事件已按保留期删除，最早可重放的序号为 {}",
                    head.pruned_through + 1
                ),
                format!(
                    "event {from} was pruned by retention; the oldest seq to replay is {}",
                    head.pruned_through + 1
                ),
            )));
        }
        let upto = w.cursor;
        let rows = tx
            .events_after(from - 1, upto, &types_of(&w), MAX_REPLAY)
            .await?;
        let through = match rows.last() {
            Some(last) if rows.len() as i64 == MAX_REPLAY => last.seq,
            _ => upto.max(from - 1),
        };
        let queued = self.enqueue(&mut tx, &w, rows).await?;
        let mut r = record(actor, "webhook.replay", "webhook", &id.to_string());
        r.after = to_json(&serde_json::json!({"from": from, "through": through, "queued": queued}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(ReplayResult {
            queued,
            from,
            through,
            next_from: (through < upto).then_some(through + 1),
        })
    }
}

fn attempt_view(a: WebhookAttemptRow) -> WebhookAttemptView {
    WebhookAttemptView {
        id: a.id,
        attempt_id: a.attempt_id,
        delivery_id: a.delivery_id,
        seq: a.seq,
        event_id: a.event_id,
        event_type: a.event_type,
        at: format_time(a.at),
        status: a.status,
        latency_ms: a.latency_ms,
        outcome: a.outcome,
        error: a.error,
    }
}
