//! Channels made, listed, removed and tried by administrators (`notifications.manage`
//! over every department: a channel may receive any department's notifications).

use crate::channels::Channels;
use std::collections::BTreeSet;

use custos_core::{FieldError, Violation};
use custos_store::{now_us, ChannelRow, Tx};
use serde_json::json;

use super::message::mask_url;
use super::{
    ChannelPatch, ChannelView, DeliveryTally, DeliveryView, NewChannel, NotificationKind, Provider,
};
use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::org::check_name;
use crate::outbound::check_url;
use crate::to_json;

pub(crate) const PERMISSION: &str = "notifications.manage";
/// Most channels altogether (each notification is matched against every one).
pub(crate) const MAX_CHANNELS: i64 = 50;
/// Most departments one channel lists.
const MAX_DEPARTMENTS: usize = 100;
/// Most deliveries one list shows.
const MAX_DELIVERIES_LISTED: i64 = 200;
/// The last error of a delivery cancelled by a pause.
const PAUSED: &str = "渠道已暂停，未发送 (channel paused, not sent)";

pub(super) fn require_manager(actor: &Actor) -> AppResult<()> {
    match actor.require(PERMISSION)? {
        Scope::All => Ok(()),
        _ => Err(AppError::Forbidden {
            permission: PERMISSION.into(),
        }),
    }
}

fn bad(field: &str, code: &str, zh: String, en: String) -> FieldError {
    Violation::new(code, zh, en).on(field)
}

/// The URL's rules for its provider: a robot's URL must carry its token or key.
fn check_channel_url(provider: Provider, url: &str, errors: &mut Vec<FieldError>) {
    let parsed = match check_url(url) {
        Ok(u) => u,
        Err(rule) => {
            errors.push(bad(
                "url",
                "channel.url",
                format!("url：{rule}"),
                format!("url is not a valid http(s) address ({rule})"),
            ));
            return;
        }
    };
    let needs = match provider {
        Provider::Dingtalk => Some("access_token"),
        Provider::Wecom => Some("key"),
        Provider::Webhook => None,
    };
    if let Some(param) = needs {
        if !parsed
            .query_pairs()
            .any(|(k, v)| k == param && !v.is_empty())
        {
            errors.push(bad(
                "url",
                "channel.url_token",
                format!("url 须含机器人的 {param} 参数（从群机器人设置中复制完整地址）"),
                format!("url must carry the robot's {param} parameter"),
            ));
        }
    }
}

fn check_secret(provider: Provider, secret: Option<&str>, errors: &mut Vec<FieldError>) {
    let Some(secret) = secret else {
        return;
    };
    if provider == Provider::Wecom {
        errors.push(bad(
            "secret",
            "channel.secret_unused",
            "secret：企业微信群机器人没有加签密钥，地址中的 key 即密钥".into(),
            "secret: WeCom group robots have no signing secret (the key in the URL is it)".into(),
        ));
        return;
    }
    let printable = secret.chars().all(|c| c.is_ascii_graphic());
    let n = secret.chars().count();
    if !printable || !(16..=256).contains(&n) {
        errors.push(bad(
            "secret",
            "channel.secret",
            "secret 须为 16–256 个可见 ASCII 字符（不含空白与控制字符）".into(),
            "secret must be 16–256 printable ASCII characters (no spaces or control characters)"
                .into(),
        ));
    }
}

/// What the audit log keeps of a channel: the masked URL, whether a secret is set.
fn audited(v: &ChannelView) -> serde_json::Value {
    json!({
        "name": v.name, "provider": v.provider, "url": v.url_masked,
        "has_secret": v.has_secret, "kinds": v.kinds, "departments": v.departments,
        "active": v.active,
    })
}

fn join_ids<T: ToString>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// The kinds stored for a channel (unknown ones, from a later version, are skipped).
pub(super) fn stored_kinds(row: &ChannelRow) -> Vec<NotificationKind> {
    row.kinds
        .split(',')
        .filter_map(NotificationKind::parse)
        .collect()
}

pub(super) fn stored_departments(row: &ChannelRow) -> Vec<i64> {
    row.departments
        .split(',')
        .filter_map(|d| d.parse().ok())
        .collect()
}

async fn view(tx: &mut Tx, row: &ChannelRow) -> AppResult<ChannelView> {
    let counts = tx.channel_delivery_counts(row.id).await?;
    Ok(ChannelView {
        id: row.id,
        name: row.name.clone(),
        provider: Provider::parse(&row.kind).unwrap_or(Provider::Webhook),
        url_masked: row.url_hint.clone(),
        has_secret: row.secret_sealed.is_some(),
        kinds: stored_kinds(row),
        departments: stored_departments(row),
        active: row.active,
        created_at: format_time(row.created_at),
        deliveries: DeliveryTally {
            pending: counts.pending,
            sent: counts.sent,
            failed: counts.failed,
            cancelled: counts.cancelled,
        },
    })
}

pub(super) async fn channel(tx: &mut Tx, id: i64) -> AppResult<ChannelRow> {
    tx.notification_channel(id)
        .await?
        .ok_or_else(|| AppError::not_found("notification_channel", id))
}

impl Channels<'_> {
    /// `input` checked (every field error at once, departments that exist, a name no
    /// other channel has) and made into a row with its URL and secret sealed.
    async fn checked_row(&self, tx: &mut Tx, input: NewChannel, id: i64) -> AppResult<ChannelRow> {
        let mut errors = Vec::new();
        check_name("name", &input.name, 64, &mut errors);
        check_channel_url(input.provider, &input.url, &mut errors);
        check_secret(input.provider, input.secret.as_deref(), &mut errors);
        let kinds: BTreeSet<NotificationKind> = input.kinds.iter().copied().collect();
        if kinds.is_empty() {
            errors.push(bad(
                "kinds",
                "required",
                "kinds 至少选择一种通知类型".into(),
                "kinds needs at least one notification kind".into(),
            ));
        }
        let departments: BTreeSet<i64> = input.departments.iter().copied().collect();
        if departments.len() > MAX_DEPARTMENTS {
            errors.push(bad(
                "departments",
                "list.too_long",
                format!("departments 最多 {MAX_DEPARTMENTS} 个"),
                format!("departments holds at most {MAX_DEPARTMENTS} ids"),
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        for d in &departments {
            if tx.department(*d).await?.is_none() {
                return Err(AppError::validation(
                    "departments",
                    Violation::new(
                        "department.unknown",
                        format!("departments：部门 {d} 不存在"),
                        format!("departments: department {d} does not exist"),
                    ),
                ));
            }
        }
        let name = input.name.trim().to_string();
        let existing = tx.notification_channels(MAX_CHANNELS).await?;
        if existing.iter().any(|c| c.name == name && c.id != id) {
            return Err(AppError::Conflict(Violation::new(
                "channel.name_taken",
                format!("名称为 {name} 的通知渠道已存在"),
                format!("a notification channel named {name} exists"),
            )));
        }
        let url = check_url(&input.url).map_err(|r| AppError::Internal(r.into()))?;
        let key = &self.app.config.pii_key;
        Ok(ChannelRow {
            id,
            name,
            kind: input.provider.as_str().into(),
            url_sealed: key.encrypt(url.as_str()),
            url_hint: mask_url(&url),
            secret_sealed: input.secret.as_deref().map(|s| key.encrypt(s)),
            kinds: join_ids(kinds.iter().map(|k| k.as_str())),
            departments: join_ids(&departments),
            created_at: now_us(),
            created_by: None,
            active: true,
        })
    }

    /// Make a channel.
    pub async fn create_notification_channel(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewChannel>>,
    ) -> AppResult<ChannelView> {
        require_manager(actor)?;
        let input = input.into().get()?;
        let mut tx = self.app.db.begin().await?;
        let mut row = self.checked_row(&mut tx, input, 0).await?;
        if tx.count_notification_channels().await? >= MAX_CHANNELS {
            return Err(AppError::Conflict(Violation::new(
                "channel.too_many",
                format!("通知渠道最多 {MAX_CHANNELS} 个，请先删除不用的渠道"),
                format!("at most {MAX_CHANNELS} notification channels; remove one first"),
            )));
        }
        row.created_by = Some(actor.user_id);
        row.id = tx.insert_notification_channel(&row).await?;
        let shown = view(&mut tx, &row).await?;
        let mut r = record(
            actor,
            "notification_channel.create",
            "notification_channel",
            &row.id.to_string(),
        );
        r.after = to_json(&audited(&shown));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(shown)
    }

    /// Change a channel: the fields given replace the stored ones (`secret: null` removes
    /// the secret); checked as a new channel would be. `active: false` pauses it: its
    /// pending deliveries are cancelled in this transaction and nothing is queued for it
    /// until `active: true` resumes it; each is audited as a pause or a resume.
    pub async fn update_notification_channel(
        &self,
        actor: &Actor,
        id: i64,
        patch: impl Into<crate::input::Input<ChannelPatch>>,
    ) -> AppResult<ChannelView> {
        require_manager(actor)?;
        let patch = patch.into().get()?;
        let mut tx = self.app.db.begin().await?;
        let old = channel(&mut tx, id).await?;
        let settings = patch.changes_settings();
        let mut row = match settings {
            true => {
                let mut row = self
                    .checked_row(&mut tx, self.merged(&old, &patch)?, id)
                    .await?;
                row.created_at = old.created_at;
                row.created_by = old.created_by;
                row
            }
            false => old.clone(),
        };
        row.active = patch.active.unwrap_or(old.active);
        tx.update_notification_channel(&row).await?;
        let cancelled = match old.active && !row.active {
            true => tx.cancel_channel_deliveries(id, PAUSED).await?,
            false => 0,
        };
        let before = view(&mut tx, &old).await?;
        let shown = view(&mut tx, &row).await?;
        let target = id.to_string();
        if settings {
            let mut r = record(
                actor,
                "notification_channel.update",
                "notification_channel",
                &target,
            );
            r.before = to_json(&audited(&before));
            r.after = to_json(&audited(&shown));
            append(&mut tx, r).await?;
        }
        if old.active != row.active {
            let action = match row.active {
                true => "notification_channel.resume",
                false => "notification_channel.pause",
            };
            let mut r = record(actor, action, "notification_channel", &target);
            r.before = to_json(&json!({"name": old.name, "active": old.active}));
            r.after = to_json(&json!({"active": row.active, "cancelled": cancelled}));
            append(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(shown)
    }

    /// The channel `old` with the settings of `patch` over it, as a new channel's input.
    fn merged(&self, old: &ChannelRow, patch: &ChannelPatch) -> AppResult<NewChannel> {
        let key = &self.app.config.pii_key;
        let secret = match &patch.secret {
            Some(s) => s.clone(),
            None => old
                .secret_sealed
                .as_deref()
                .map(|s| key.decrypt(s))
                .transpose()?,
        };
        Ok(NewChannel {
            name: patch.name.clone().unwrap_or_else(|| old.name.clone()),
            provider: Provider::parse(&old.kind).unwrap_or(Provider::Webhook),
            url: match &patch.url {
                Some(u) => u.clone(),
                None => key.decrypt(&old.url_sealed)?,
            },
            secret,
            kinds: patch.kinds.clone().unwrap_or_else(|| stored_kinds(old)),
            departments: patch
                .departments
                .clone()
                .unwrap_or_else(|| stored_departments(old)),
        })
    }

    /// Every channel (at most [`MAX_CHANNELS`] exist).
    pub async fn list_notification_channels(&self, actor: &Actor) -> AppResult<Vec<ChannelView>> {
        require_manager(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.notification_channels(MAX_CHANNELS).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(view(&mut tx, r).await?);
        }
        tx.rollback().await?;
        Ok(out)
    }

    pub async fn get_notification_channel(&self, actor: &Actor, id: i64) -> AppResult<ChannelView> {
        require_manager(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        let row = channel(&mut tx, id).await?;
        let v = view(&mut tx, &row).await?;
        tx.rollback().await?;
        Ok(v)
    }

    /// The latest deliveries of a channel, newest first.
    pub async fn notification_channel_deliveries(
        &self,
        actor: &Actor,
        id: i64,
    ) -> AppResult<Vec<DeliveryView>> {
        require_manager(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        channel(&mut tx, id).await?;
        let rows = tx.channel_deliveries(id, MAX_DELIVERIES_LISTED).await?;
        tx.rollback().await?;
        Ok(rows
            .into_iter()
            .map(|d| DeliveryView {
                notification_id: d.notification_id,
                next_at: (d.state == "pending").then(|| format_time(d.next_at)),
                state: d.state,
                attempts: d.attempts,
                sent_at: d.sent_at.map(format_time),
                last_error: d.last_error,
            })
            .collect())
    }

    /// Remove a channel with its deliveries (pending ones are not sent).
    pub async fn remove_notification_channel(&self, actor: &Actor, id: i64) -> AppResult<()> {
        require_manager(actor)?;
        let mut tx = self.app.db.begin().await?;
        let row = channel(&mut tx, id).await?;
        tx.delete_notification_channel(id).await?;
        let mut r = record(
            actor,
            "notification_channel.remove",
            "notification_channel",
            &id.to_string(),
        );
        r.before = to_json(&json!({"name": row.name, "provider": row.kind, "url": row.url_hint}));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }
}
