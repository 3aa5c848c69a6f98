//! Deciding whether a request's API key is good, and the actor it acts as: the key's
//! service account with its roles and data scope, the key named in every audit entry.

use crate::apikeys::ApiKeys;
use custos_core::Violation;
use custos_store::{now_us, ApiKeyRow, SERVICE_KIND};

use super::bucket::KeyRate;
use super::token::{hash_matches, prefix_of};
use crate::actor::{Actor, Context};
use crate::auth::load_actor;
use crate::error::{AppError, AppResult};
use crate::login_throttle::client_key;

/// A key's last use is written at most this often (µs), so reads stay reads.
const TOUCH_EVERY_US: i64 = 60_000_000;

/// Failed key attempts one client address may make: a burst, then one every two
/// seconds. A real key's secret cannot be guessed; this only keeps scanners cheap.
const FAILURES: KeyRate = KeyRate {
    per_second: 1,
    burst: 30,
};

/// The one answer for every key that does not work — unknown, malformed, wrong secret,
/// expired, revoked, or of a disabled or missing account — so that none can be told
/// from another.
fn key_invalid() -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.api_key_invalid",
        "API 密钥无效、已过期或已吊销",
        "the API key is invalid, expired or revoked",
    ))
}

fn key_rate_limited(wait_us: i64) -> AppError {
    AppError::too_many_requests(
        Violation::new(
            "api_key.rate_limited",
            "该 API 密钥的请求过于频繁，请稍后再试（等待时间见 Retry-After）",
            "too many requests with this API key; try again later (see Retry-After)",
        ),
        wait_us,
    )
}

fn failures_throttled(wait_us: i64) -> AppError {
    AppError::too_many_requests(
        Violation::new(
            "auth.throttled",
            "该地址的无效 API 密钥过多，请稍后再试（等待时间见 Retry-After）",
            "too many invalid API keys from this address; try again later (see Retry-After)",
        ),
        wait_us,
    )
}

impl ApiKeys<'_> {
    /// The actor behind an API key (`custos_<prefix>_<secret>`), or one generic 401.
    /// Every request reads the key and its account from the database, so revocation,
    /// expiry and disabling count from the next request on every server. A key over its
    /// rate answers 429 with the seconds to wait. An address that sent too many bad keys
    /// gets 429 for further bad keys; a good key from the same address (a scanner behind
    /// the same proxy or NAT as a real client) still works.
    pub async fn authenticate_api_key(&self, token: &str, ctx: Context) -> AppResult<Actor> {
        let client = format!("key-failures:{}", client_key(ctx.ip.as_deref()));
        match self.check_api_key(token, ctx).await? {
            Some((actor, key)) => {
                self.take_key_rate(&key)?;
                self.touch_api_key(&key, actor.ctx.ip.as_deref()).await;
                Ok(actor)
            }
            None => match self.app.key_failures.take(&client, FAILURES) {
                Ok(()) => Err(key_invalid()),
                Err(wait) => Err(failures_throttled(wait)),
            },
        }
    }

    /// The key's actor, or `None` when the key does not work (whatever the reason).
    async fn check_api_key(
        &self,
        token: &str,
        ctx: Context,
    ) -> AppResult<Option<(Actor, ApiKeyRow)>> {
        let Some(prefix) = prefix_of(token) else {
            return Ok(None);
        };
        let mut tx = self.app.db.begin_read().await?;
        let Some(key) = tx.api_key_by_prefix(prefix).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let now = now_us();
        let live = key.revoked_at.is_none() && key.expires_at.is_none_or(|e| e > now);
        if !(hash_matches(token, &key.token_hash) && live) {
            tx.rollback().await?;
            return Ok(None);
        }
        let user = match tx.user(key.user_id).await? {
            Some(u) if u.kind == SERVICE_KIND && !u.disabled => u,
            _ => {
                tx.rollback().await?;
                return Ok(None);
            }
        };
        let mut actor = load_actor(&mut tx, user, ctx).await?;
        tx.rollback().await?;
        actor.api_key = Some(format!("{}:{}", key.id, key.prefix));
        Ok(Some((actor, key)))
    }

    /// Count the request against the key's bucket (its own rate, else the configured).
    fn take_key_rate(&self, key: &ApiKeyRow) -> AppResult<()> {
        let default = self.app.config.api_keys;
        let per_second = key
            .rate_per_second
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(default.rate_per_second);
        if per_second == 0 {
            return Ok(());
        }
        let burst = key
            .burst
            .and_then(|b| u32::try_from(b).ok())
            .unwrap_or(default.burst);
        let rate = KeyRate { per_second, burst };
        self.app
            .key_buckets
            .take(&key.id.to_string(), rate)
            .map_err(key_rate_limited)
    }

    /// Note the key's last use and address, at most once a minute. Best effort: a
    /// failure is logged and the request goes on.
    async fn touch_api_key(&self, key: &ApiKeyRow, ip: Option<&str>) {
        let now = now_us();
        if key.last_used_at.is_some_and(|t| t > now - TOUCH_EVERY_US) {
            return;
        }
        let touched = async {
            let mut tx = self.app.db.begin().await?;
            tx.touch_api_key(key.id, now, ip, now - TOUCH_EVERY_US)
                .await?;
            tx.commit().await
        };
        if let Err(e) = touched.await {
            tracing::warn!(error = %e, key = key.id, "noting an API key's last use failed");
        }
    }
}
