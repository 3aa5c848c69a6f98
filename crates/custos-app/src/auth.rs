//! Logging in and out, bearer tokens, lockout, and resolving a caller to an [`Actor`].

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use custos_core::Violation;
use custos_store::{now_us, SessionRow, UserRow};

use crate::actor::{Actor, Context, Scope};
use crate::audit::{append, record_ctx};
use crate::error::{AppError, AppResult};
use crate::org::UserView;
use crate::App;

/// A successful login.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoginResult {
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

/// RFC 3339 text (UTC) for a microsecond timestamp.
pub fn format_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Hash a password with argon2id (CPU-heavy: run it off the async threads).
pub async fn hash_password(password: String) -> AppResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AppError::Internal(format!("password hashing failed: {e}")))
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| AppError::Internal(format!("stored password hash unreadable: {e}")))?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?
}

/// A hash of a random password, verified against when the user does not exist so that
/// response time does not reveal which usernames exist.
static DUMMY_HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!(
        "cst_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// A random password for the first admin: 20 characters, unambiguous alphabet.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

fn invalid_credentials() -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.invalid_credentials",
        "用户名或密码错误",
        "wrong username or password",
    ))
}

fn locked(until: i64) -> AppError {
    let t = format_time(until);
    AppError::Unauthenticated(Violation::new(
        "auth.locked",
        format!("连续登录失败次数过多，账户已锁定至 {t}"),
        format!("too many failed logins; the account is locked until {t}"),
    ))
}

fn token_invalid() -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.token_invalid",
        "登录凭证无效或已过期，请重新登录",
        "the token is invalid or expired; log in again",
    ))
}

impl App {
    /// Check a username and password; on success open a session. Failed attempts are
    /// counted and audited; the threshold locks the account for the lockout duration.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ctx: &Context,
    ) -> AppResult<LoginResult> {
        // Verify the password outside the write transaction: argon2 takes tens of
        // milliseconds and must not hold the SQLite writer.
        let mut rtx = self.db.begin_read().await?;
        let found = rtx.user_by_name(username).await?;
        rtx.rollback().await?;
        let password_ok = match &found {
            Some(u) => verify_password(password.to_string(), u.password_hash.clone()).await?,
            None => {
                let dummy = match DUMMY_HASH.get() {
                    Some(h) => h.clone(),
                    None => {
                        let h = hash_password(generate_password()).await?;
                        DUMMY_HASH.get_or_init(|| h).clone()
                    }
                };
                let _ = verify_password(password.to_string(), dummy).await?;
                false
            }
        };

        let now = now_us();
        let mut tx = self.db.begin().await?;
        let Some(mut user) = tx.user_by_name_for_update(username).await? else {
            let mut r = record_ctx(None, username, ctx, "auth.login_failed", "user", username);
            r.reason = Some("unknown user".into());
            append(&mut tx, r).await?;
            tx.commit().await?;
            return Err(invalid_credentials());
        };
        if let Some(until) = user.locked_until {
            if until > now {
                let mut r = record_ctx(
                    Some(user.id),
                    username,
                    ctx,
                    "auth.login_failed",
                    "user",
                    &user.id.to_string(),
                );
                r.reason = Some("account locked".into());
                append(&mut tx, r).await?;
                tx.commit().await?;
                return Err(locked(until));
            }
        }
        // The hash may have changed between the read and now (password change): only a
        // match against the current hash counts.
        let still_same_hash = found
            .as_ref()
            .map(|f| f.password_hash == user.password_hash)
            .unwrap_or(false);
        if !password_ok || !still_same_hash {
            user.failed_logins += 1;
            let mut reason = format!("wrong password ({} in a row)", user.failed_logins);
            let mut lock_until = None;
            if user.failed_logins >= self.config.lockout_threshold {
                let until = now + self.config.lockout_duration.as_micros() as i64;
                user.locked_until = Some(until);
                user.failed_logins = 0;
                lock_until = Some(until);
                reason.push_str("; account locked");
            }
            user.updated_at = now;
            tx.update_user(&user).await?;
            let mut r = record_ctx(
                Some(user.id),
                username,
                ctx,
                "auth.login_failed",
                "user",
                &user.id.to_string(),
            );
            r.reason = Some(reason);
            append(&mut tx, r).await?;
            tx.commit().await?;
            return Err(match lock_until {
                Some(until) => locked(until),
                None => invalid_credentials(),
            });
        }
        if user.disabled {
            let mut r = record_ctx(
                Some(user.id),
                username,
                ctx,
                "auth.login_failed",
                "user",
                &user.id.to_string(),
            );
            r.reason = Some("account disabled".into());
            append(&mut tx, r).await?;
            tx.commit().await?;
            return Err(AppError::Unauthenticated(Violation::new(
                "auth.disabled",
                "账户已停用，请联系管理员",
                "the account is disabled; contact your administrator",
            )));
        }
        user.failed_logins = 0;
        user.locked_until = None;
        user.updated_at = now;
        tx.update_user(&user).await?;
        let token = new_token();
        let expires_at = now + self.config.session_ttl.as_micros() as i64;
        tx.insert_session(&SessionRow {
            token_hash: token_hash(&token),
            user_id: user.id,
            created_at: now,
            expires_at,
            revoked_at: None,
        })
        .await?;
        append(
            &mut tx,
            record_ctx(
                Some(user.id),
                &user.username,
                ctx,
                "auth.login",
                "user",
                &user.id.to_string(),
            ),
        )
        .await?;
        let view = crate::org::user_view(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(LoginResult {
            token,
            expires_at: format_time(expires_at),
            user: view,
        })
    }

    /// Revoke the session behind `token`.
    pub async fn logout(&self, actor: &Actor, token: &str) -> AppResult<()> {
        let mut tx = self.db.begin().await?;
        tx.revoke_session(&token_hash(token), now_us()).await?;
        append(
            &mut tx,
            crate::audit::record(actor, "auth.logout", "user", &actor.user_id.to_string()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Resolve a bearer token to the acting user.
    pub async fn authenticate(&self, token: &str, ctx: Context) -> AppResult<Actor> {
        let mut tx = self.db.begin_read().await?;
        let session = tx
            .session(&token_hash(token))
            .await?
            .ok_or_else(token_invalid)?;
        let now = now_us();
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(token_invalid());
        }
        let user = tx.user(session.user_id).await?.ok_or_else(token_invalid)?;
        if user.disabled {
            return Err(token_invalid());
        }
        let actor = load_actor(&mut tx, user, ctx).await?;
        tx.rollback().await?;
        Ok(actor)
    }

    /// The actor for a local command (`custos … --as NAME`): whoever can run the binary on
    /// the database is trusted to name the user, but that user's permissions still apply.
    pub async fn actor_for_username(&self, username: &str, ctx: Context) -> AppResult<Actor> {
        let mut tx = self.db.begin_read().await?;
        let user = tx
            .user_by_name(username)
            .await?
            .ok_or_else(|| AppError::not_found("user", username))?;
        if user.disabled {
            return Err(AppError::Unauthenticated(Violation::new(
                "auth.disabled",
                format!("用户 {username} 已停用"),
                format!("user {username} is disabled"),
            )));
        }
        let actor = load_actor(&mut tx, user, ctx).await?;
        tx.rollback().await?;
        Ok(actor)
    }

    /// On an empty database create `admin`. Returns the generated password when none was
    /// given, so the caller can show it once.
    pub async fn ensure_admin(&self, password: Option<String>) -> AppResult<Option<String>> {
        let mut tx = self.db.begin_read().await?;
        let count = tx.count_users().await?;
        tx.rollback().await?;
        if count > 0 {
            return Ok(None);
        }
        let (password, generated) = match password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            None => (generate_password(), true),
        };
        crate::org::check_password(&password, self.config.min_password_len)
            .map_err(|v| AppError::validation("CUSTOS_ADMIN_PASSWORD", v))?;
        let hash = hash_password(password.clone()).await?;
        let now = now_us();
        let mut tx = self.db.begin().await?;
        if tx.count_users().await? > 0 {
            // Another process bootstrapped first.
            return Ok(None);
        }
        let inserted = tx
            .insert_user(&UserRow {
                id: 0,
                username: "admin".into(),
                display_name: "系统管理员".into(),
                password_hash: hash,
                department_id: None,
                email: None,
                disabled: false,
                failed_logins: 0,
                locked_until: None,
                created_at: now,
                updated_at: now,
            })
            .await;
        let id = match inserted {
            Ok(id) => id,
            // Another process sharing the database bootstrapped at the same moment.
            Err(custos_store::StoreError::Conflict { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let role = tx
            .role_by_key("admin")
            .await?
            .ok_or_else(|| AppError::Internal("built-in role admin missing".into()))?;
        tx.upsert_grant(id, role.id, Scope::All.as_str(), None)
            .await?;
        let mut r = record_ctx(
            None,
            "system",
            &Context::new(crate::Source::System),
            "user.create",
            "user",
            &id.to_string(),
        );
        r.after = crate::to_json(
            &serde_json::json!({"username": "admin", "roles": [{"role": "admin", "scope": "all"}]}),
        );
        r.reason = Some("bootstrap: first administrator".into());
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(if generated { Some(password) } else { None })
    }
}

/// Build an actor from a user row: the union of unexpired role grants, keeping the widest
/// scope per permission.
pub(crate) async fn load_actor(
    tx: &mut custos_store::Tx,
    user: UserRow,
    ctx: Context,
) -> AppResult<Actor> {
    let now = now_us();
    let grants = tx.grants_of(user.id).await?;
    let mut permissions: BTreeMap<String, Scope> = BTreeMap::new();
    let mut roles = Vec::new();
    for g in grants {
        if g.expires_at.is_some_and(|e| e <= now) {
            continue;
        }
        let scope = Scope::parse(&g.scope).unwrap_or(Scope::Own);
        let perms: Vec<String> = serde_json::from_str(&g.permissions).unwrap_or_default();
        for p in perms {
            let entry = permissions.entry(p).or_insert(scope);
            if scope > *entry {
                *entry = scope;
            }
        }
        roles.push(g.role_key);
    }
    Ok(Actor {
        user_id: user.id,
        username: user.username,
        display_name: user.display_name,
        department_id: user.department_id,
        permissions,
        roles,
        ctx,
    })
}
