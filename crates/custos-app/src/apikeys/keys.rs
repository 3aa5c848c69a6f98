//! API keys of service accounts: made (the token shown once), listed, revoked.

use crate::apikeys::ApiKeys;
use custos_core::{FieldError, Violation};
use custos_store::{now_us, ApiKeyRow};

use super::accounts::{require_admin, service_account, MAX_KEYS_LISTED};
use super::token::new_token;
use super::{ApiKeyView, CreatedApiKey, NewApiKey};
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::org::{check_name, parse_time};
use crate::text_input::refuse_single_line;
use crate::to_json;

/// Keys of one account not revoked yet, at most: enough to rotate with overlap.
pub(crate) const MAX_LIVE_KEYS: i64 = 10;
const YEAR_US: i64 = 365 * 24 * 3600 * 1_000_000;
/// Latest expiry a key may be given.
const MAX_LIFETIME_US: i64 = 2 * YEAR_US;
/// Bounds of a per-key rate or burst.
const MAX_RATE: u32 = 10_000;

pub(crate) fn key_view(k: &ApiKeyRow, now: i64) -> ApiKeyView {
    let status = if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    ApiKeyView {
        id: k.id,
        account_id: k.user_id,
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        status: status.into(),
        created_at: format_time(k.created_at),
        created_by: k.created_by,
        expires_at: k.expires_at.map(format_time),
        revoked_at: k.revoked_at.map(format_time),
        last_used_at: k.last_used_at.map(format_time),
        last_used_ip: k.last_used_ip.clone(),
        rate_per_second: k.rate_per_second,
        burst: k.burst,
    }
}

fn check_rate(field: &str, value: Option<u32>, errors: &mut Vec<FieldError>) {
    if value.is_some_and(|v| v == 0 || v > MAX_RATE) {
        errors.push(
            Violation::new(
                "number.range",
                format!("{field} 须在 1–{MAX_RATE} 之间"),
                format!("{field} must be between 1 and {MAX_RATE}"),
            )
            .on(field),
        );
    }
}

/// The expiry asked for: in the future and within two years; one year when absent.
fn expiry(input: &NewApiKey, now: i64, errors: &mut Vec<FieldError>) -> Option<i64> {
    let Some(text) = &input.expires_at else {
        return Some(now + YEAR_US);
    };
    match parse_time("expires_at", text) {
        Ok(t) if t > now && t <= now + MAX_LIFETIME_US => Some(t),
        Ok(_) => {
            errors.push(
                Violation::new(
                    "api_key.expiry",
                    "expires_at 须晚于现在且不超过两年",
                    "expires_at must be in the future and at most two years away",
                )
                .on("expires_at"),
            );
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}

fn too_many_keys() -> AppError {
    AppError::Conflict(Violation::new(
        "api_key.too_many",
        format!("该服务账号已有 {MAX_LIVE_KEYS} 个未吊销的密钥，请先吊销不用的密钥"),
        format!("this service account has {MAX_LIVE_KEYS} keys not revoked; revoke one first"),
    ))
}

impl ApiKeys<'_> {
    /// Make a key for service account `account_id`. The token is in the answer only.
    pub async fn create_api_key(
        &self,
        actor: &Actor,
        account_id: i64,
        input: impl Into<crate::input::Input<NewApiKey>>,
    ) -> AppResult<CreatedApiKey> {
        require_admin(actor)?;
        let input = input.into().get()?;
        refuse_single_line([("name", Some(input.name.as_str()))])?;
        let now = now_us();
        let mut errors = Vec::new();
        check_name("name", &input.name, 64, &mut errors);
        check_rate("rate_per_second", input.rate_per_second, &mut errors);
        check_rate("burst", input.burst, &mut errors);
        let expires_at = expiry(&input, now, &mut errors);
        let mut tx = self.app.db.begin().await?;
        let account = service_account(&mut tx, account_id).await?;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        if tx.count_unrevoked_api_keys(account.id).await? >= MAX_LIVE_KEYS {
            return Err(too_many_keys());
        }
        let mut row = ApiKeyRow {
            id: 0,
            user_id: account.id,
            prefix: String::new(),
            token_hash: String::new(),
            name: input.name.trim().to_string(),
            created_at: now,
            created_by: Some(actor.user_id),
            expires_at,
            revoked_at: None,
            revoked_by: None,
            last_used_at: None,
            last_used_ip: None,
            rate_per_second: input.rate_per_second.map(i64::from),
            burst: input.burst.map(i64::from),
        };
        // 36^8 prefixes: a clash is all but impossible; then the next draw is used (the
        // unique index stays the last word).
        let mut drawn = new_token();
        for _ in 0..5 {
            if tx.api_key_by_prefix(&drawn.prefix).await?.is_none() {
                break;
            }
            drawn = new_token();
        }
        row.prefix = drawn.prefix;
        row.token_hash = drawn.hash;
        row.id = tx.insert_api_key(&row).await?;
        let token = drawn.token;
        let view = key_view(&row, now);
        let mut r = record(actor, "api_key.create", "api_key", &row.id.to_string());
        r.after = to_json(&serde_json::json!({
            "account_id": account.id, "account": account.username, "name": view.name,
            "prefix": view.prefix, "expires_at": view.expires_at,
            "rate_per_second": view.rate_per_second, "burst": view.burst,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(CreatedApiKey { token, key: view })
    }

    /// The keys of a service account, revoked and expired ones included, oldest first.
    pub async fn list_api_keys(
        &self,
        actor: &Actor,
        account_id: i64,
    ) -> AppResult<Vec<ApiKeyView>> {
        require_admin(actor)?;
        let mut tx = self.app.db.begin_read().await?;
        service_account(&mut tx, account_id).await?;
        let rows = tx.api_keys_of(account_id, MAX_KEYS_LISTED).await?;
        tx.rollback().await?;
        let now = now_us();
        Ok(rows.iter().map(|k| key_view(k, now)).collect())
    }

    /// Revoke a key: it stops working with the next request, on every server. Revoking
    /// a revoked key again changes nothing.
    pub async fn revoke_api_key(
        &self,
        actor: &Actor,
        account_id: i64,
        key_id: i64,
    ) -> AppResult<ApiKeyView> {
        require_admin(actor)?;
        let mut tx = self.app.db.begin().await?;
        let account = service_account(&mut tx, account_id).await?;
        let not_found = || AppError::not_found("api_key", key_id);
        let key = tx.api_key(key_id).await?.ok_or_else(not_found)?;
        if key.user_id != account.id {
            return Err(not_found());
        }
        let now = now_us();
        if tx.revoke_api_key(key_id, actor.user_id, now).await? {
            let mut r = record(actor, "api_key.revoke", "api_key", &key_id.to_string());
            r.after = to_json(&serde_json::json!({
                "account_id": account.id, "account": account.username,
                "name": key.name, "prefix": key.prefix,
            }));
            append(&mut tx, r).await?;
        }
        let key = tx.api_key(key_id).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(key_view(&key, now))
    }
}
