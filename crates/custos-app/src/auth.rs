//! Logging in and out, bearer tokens, and resolving a caller to an [`Actor`]; failed
//! logins are throttled by `login_throttle`.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use custos_core::Violation;
use custos_store::{now_us, SessionRow, UserRow, LOCAL_SOURCE, SERVICE_KIND};

use crate::actor::{Actor, Context, Scope};
use crate::audit::{append, record_ctx};
use crate::error::{AppError, AppResult};
use crate::external::ldap::{LdapConfig, LDAP_PROVIDER};
use crate::external::{disable_external, provider_unavailable, ExternalCheck};
use crate::login_throttle::{client_key, login_subject, Verdict};
use crate::org::UserView;
use crate::App;

/// The first administrator, created on an empty database.
const ADMIN_USERNAME: &str = "admin";
const ADMIN_DISPLAY_NAME: &str = "系统管理员";

/// A successful login.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoginResult {
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

pub use crate::clock::format_time;

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

pub(crate) async fn verify_password(password: String, hash: String) -> AppResult<bool> {
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

/// The answer while a (client address, username) pair must wait: the same whether the
/// name exists or not, and whichever counter asked for the wait. The seconds are in
/// `Retry-After` only, so that bodies of one moment are identical.
fn throttled(until: i64, now: i64) -> AppError {
    AppError::too_many_requests(
        Violation::new(
            "auth.throttled",
            "该用户名的登录失败次数过多，请稍后再试（等待时间见 Retry-After）",
            "too many failed logins for this username; try again later (see Retry-After)",
        ),
        until.saturating_sub(now),
    )
}

fn token_invalid() -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.token_invalid",
        "登录凭证无效或已过期，请重新登录",
        "the token is invalid or expired; log in again",
    ))
}

/// The hash verified against when there is no user to verify against, so that an
/// unknown or throttled name costs the same time as a wrong password.
async fn dummy_hash() -> AppResult<String> {
    if let Some(h) = DUMMY_HASH.get() {
        return Ok(h.clone());
    }
    let h = hash_password(generate_password()).await?;
    Ok(DUMMY_HASH.get_or_init(|| h).clone())
}

/// Where a session's token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A bearer token held by an API client.
    Token,
    /// A console cookie; also ends after `session_idle` without use.
    Browser,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Token => "token",
            SessionKind::Browser => "browser",
        }
    }
}

/// One login attempt being checked.
struct Attempt<'a> {
    username: &'a str,
    password: &'a str,
    subject: &'a str,
    client: &'a str,
    kind: SessionKind,
}

/// What the first step of a login found.
struct Admitted {
    user: Option<UserRow>,
}

enum AdmitRefusal {
    Wait(AppError),
    Busy,
}

/// How long an attempt waits in the server for parallel attempts of its pair to settle
/// before it is refused, and how often it looks.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// The use cases of login (local, LDAP, OIDC), sessions and the actor; `App::auth` gives it out.
pub struct Auth<'a> {
    pub(crate) app: &'a crate::App,
}

impl Auth<'_> {
    /// Check a username (any case) and password; on success open a session. Unknown
    /// users, wrong passwords and disabled accounts all answer `auth.invalid_credentials`;
    /// a throttled pair answers `auth.throttled` whether the name exists or not. Every
    /// attempt is audited.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        ctx: &Context,
    ) -> AppResult<LoginResult> {
        self.open_session(username, password, ctx, SessionKind::Token)
            .await
    }

    /// [`Auth::login`] for the console: the session lives in a browser cookie and also
    /// ends after `session_idle` without use.
    pub async fn login_browser(
        &self,
        username: &str,
        password: &str,
        ctx: &Context,
    ) -> AppResult<LoginResult> {
        self.open_session(username, password, ctx, SessionKind::Browser)
            .await
    }

    async fn open_session(
        &self,
        username: &str,
        password: &str,
        ctx: &Context,
        kind: SessionKind,
    ) -> AppResult<LoginResult> {
        // Decided here, not only by the HTTP guard: the name goes into the audit entry of
        // every attempt, and PostgreSQL refuses a NUL there.
        crate::text_input::refuse_single_line([("username", Some(username))])?;
        let subject = login_subject(username);
        let client = client_key(ctx.ip.as_deref());
        let admitted = match self
            .admit_login_waiting(username, &subject, &client, ctx)
            .await?
        {
            Ok(a) => a,
            Err(wait) => {
                // The same work as a checked attempt, so timing does not tell either.
                let _ = verify_password(password.to_string(), dummy_hash().await?).await?;
                return Err(wait);
            }
        };
        // The admitted attempt must be settled even if the caller goes away meanwhile (a
        // dropped request would leave it counted as being checked): run it on its own.
        let app = self.app.clone();
        let (username, password, ctx) = (username.to_string(), password.to_string(), ctx.clone());
        tokio::spawn(async move {
            let attempt = Attempt {
                username: &username,
                password: &password,
                subject: &subject,
                client: &client,
                kind,
            };
            app.auth().check_admitted(admitted, attempt, &ctx).await
        })
        .await
        .map_err(|e| AppError::Internal(format!("login task failed: {e}")))?
    }

    /// Check an admitted attempt — the local password, or the directory for accounts
    /// that come from it (see [`login_route`]) — then open the session or settle the
    /// failure.
    async fn check_admitted(
        &self,
        admitted: Admitted,
        attempt: Attempt<'_>,
        ctx: &Context,
    ) -> AppResult<LoginResult> {
        let Attempt {
            username,
            password,
            subject,
            client,
            kind,
        } = attempt;
        let checked = match login_route(admitted.user.as_ref(), self.app.config.ldap.as_ref()) {
            Route::Local => Checked::Local(verify_local(admitted.user.as_ref(), password).await?),
            Route::Ldap(cfg) => match cfg.check(username, password).await {
                Ok(check) => Checked::Ldap(check),
                Err(why) => {
                    tracing::warn!(error = %why, "the LDAP directory could not check a login");
                    self.release_admitted(subject, client).await?;
                    return Err(provider_unavailable(LDAP_PROVIDER));
                }
            },
        };
        let mut tx = self.app.db.begin().await?;
        let (outcome, source) = match checked {
            Checked::Local(password_ok) => (
                local_outcome(&mut tx, admitted.user.as_ref(), password_ok).await?,
                LOCAL_SOURCE,
            ),
            Checked::Ldap(check) => {
                let mappings = self
                    .app
                    .config
                    .ldap
                    .as_ref()
                    .map(|c| c.mappings.as_slice())
                    .unwrap_or_default();
                (
                    external_outcome(&mut tx, admitted.user.as_ref(), check, mappings, ctx).await?,
                    LDAP_PROVIDER,
                )
            }
        };
        let user = match outcome {
            Ok(user) => user,
            Err((why, target)) => {
                let why = format!("{why} ({source})");
                self.settle_failed_login(tx, username, subject, client, target, &why, ctx)
                    .await?;
                return Err(invalid_credentials());
            }
        };
        // This address starts afresh.
        tx.delete_login_throttle(subject, client).await?;
        self.start_session(tx, user, kind, ctx, source).await
    }

    /// Open a session for a user whose login succeeded, audited with the provider that
    /// vouched for it, and commit `tx`.
    pub(crate) async fn start_session(
        &self,
        mut tx: custos_store::Tx,
        user: UserRow,
        kind: SessionKind,
        ctx: &Context,
        source: &str,
    ) -> AppResult<LoginResult> {
        let now = now_us();
        let token = new_token();
        let expires_at = now + self.app.config.session_ttl.as_micros() as i64;
        tx.insert_session(&SessionRow {
            token_hash: token_hash(&token),
            user_id: user.id,
            created_at: now,
            expires_at,
            revoked_at: None,
            kind: kind.as_str().to_string(),
            last_seen_at: (kind == SessionKind::Browser).then_some(now),
        })
        .await?;
        let mut r = record_ctx(
            Some(user.id),
            &user.username,
            ctx,
            "auth.login",
            "user",
            &user.id.to_string(),
        );
        r.reason = Some(format!("via {source}"));
        append(&mut tx, r).await?;
        let view = crate::org::user_view(&mut tx, &user).await?;
        tx.commit().await?;
        Ok(LoginResult {
            token,
            expires_at: format_time(expires_at),
            user: view,
        })
    }

    /// Settle an admitted attempt that was not checked (the provider could not be
    /// asked): it no longer counts as being checked, nor as a failure.
    async fn release_admitted(&self, subject: &str, client: &str) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        let mut pair = tx.lock_login_throttle(subject, client).await?;
        self.app.config.login_throttle.release(&mut pair, now_us());
        tx.put_login_throttle(&pair).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Count a failed attempt on the pair and the username (either may now block) and
    /// audit it, in `tx`.
    #[allow(clippy::too_many_arguments)]
    async fn settle_failed_login(
        &self,
        mut tx: custos_store::Tx,
        username: &str,
        subject: &str,
        client: &str,
        user_id: Option<i64>,
        why: &str,
        ctx: &Context,
    ) -> AppResult<()> {
        let now = now_us();
        let mut pair = tx.lock_login_throttle(subject, client).await?;
        let mut per_name = tx.lock_login_throttle(subject, "").await?;
        self.app
            .config
            .login_throttle
            .settle_failure(&mut pair, &mut per_name, now);
        tx.put_login_throttle(&pair).await?;
        tx.put_login_throttle(&per_name).await?;
        let target = user_id.map_or_else(|| username.to_string(), |id| id.to_string());
        let mut r = record_ctx(user_id, username, ctx, "auth.login_failed", "user", &target);
        r.reason = Some(format!(
            "{why} ({} from this address, {} for this name)",
            pair.failures, per_name.failures
        ));
        append(&mut tx, r).await?;
        tx.commit().await?;
        if pair.failures == 1 {
            // A new counter: drop some stale ones so the table does not grow forever.
            self.prune_login_throttle().await;
        }
        Ok(())
    }

    /// Admit an attempt, waiting (bounded) while the pair has as many attempts being
    /// checked as it has failures left. `Ok(Err(_))` is a refusal.
    async fn admit_login_waiting(
        &self,
        username: &str,
        subject: &str,
        client: &str,
        ctx: &Context,
    ) -> AppResult<Result<Admitted, AppError>> {
        let started = std::time::Instant::now();
        loop {
            match self.admit_login(username, subject, client, ctx).await? {
                Err(AdmitRefusal::Busy) if started.elapsed() < BUSY_WAIT => {
                    tokio::time::sleep(BUSY_POLL).await;
                }
                Err(AdmitRefusal::Busy) => {
                    let now = now_us();
                    return Ok(Err(throttled(now + 1_000_000, now)));
                }
                Err(AdmitRefusal::Wait(e)) => return Ok(Err(e)),
                Ok(a) => return Ok(Ok(a)),
            }
        }
    }

    /// The first step of a login, one transaction: refuse a pair that must wait (audited),
    /// or note the attempt as being checked.
    async fn admit_login(
        &self,
        username: &str,
        subject: &str,
        client: &str,
        ctx: &Context,
    ) -> AppResult<Result<Admitted, AdmitRefusal>> {
        let cfg = &self.app.config.login_throttle;
        // While the pair is busy, look without taking the writer.
        let mut rtx = self.app.db.begin_read().await?;
        let pair = rtx.login_throttle(subject, client).await?;
        rtx.rollback().await?;
        if pair.is_some_and(|p| cfg.is_busy(&p, now_us())) {
            return Ok(Err(AdmitRefusal::Busy));
        }
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        // Always the pair's row first, then the username's: one lock order for everyone.
        let mut pair = tx.lock_login_throttle(subject, client).await?;
        let per_name = tx.lock_login_throttle(subject, "").await?;
        let until = match cfg.verdict(&pair, &per_name, now) {
            Verdict::Open => None,
            Verdict::Busy => {
                tx.rollback().await?;
                return Ok(Err(AdmitRefusal::Busy));
            }
            Verdict::Wait(until) => Some(until),
        };
        let user = tx.user_by_name(username).await?;
        if let Some(until) = until {
            let (id, target) = match &user {
                Some(u) => (Some(u.id), u.id.to_string()),
                None => (None, username.to_string()),
            };
            let mut r = record_ctx(id, username, ctx, "auth.login_failed", "user", &target);
            r.reason = Some(format!(
                "throttled until {} ({} from this address, {} for this name)",
                format_time(until),
                pair.failures,
                per_name.failures
            ));
            append(&mut tx, r).await?;
            tx.commit().await?;
            return Ok(Err(AdmitRefusal::Wait(throttled(until, now))));
        }
        cfg.admit(&mut pair, now);
        tx.put_login_throttle(&pair).await?;
        tx.commit().await?;
        Ok(Ok(Admitted { user }))
    }

    /// Delete a batch of login counters that have been quiet for `forget_after`. Best
    /// effort: a failure is logged, never shown to the caller.
    async fn prune_login_throttle(&self) {
        let now = now_us();
        let before = now - self.app.config.login_throttle.forget_after.as_micros() as i64;
        let pruned = async {
            let mut tx = self.app.db.begin().await?;
            tx.prune_login_throttle(before, now, 200).await?;
            tx.commit().await
        };
        if let Err(e) = pruned.await {
            tracing::warn!(error = %e, "pruning login throttle counters failed");
        }
    }
}

impl App {
    /// Forget every failed-login counter of a username (an administrator's unlock).
    /// Returns how many counters there were.
    pub(crate) async fn clear_login_throttle(
        tx: &mut custos_store::Tx,
        username: &str,
    ) -> AppResult<u64> {
        Ok(tx.clear_login_throttle(&login_subject(username)).await?)
    }
}

impl Auth<'_> {
    /// Revoke the session behind `token`.
    pub async fn logout(&self, actor: &Actor, token: &str) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
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
        let mut tx = self.app.db.begin_read().await?;
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
        if session.kind == SessionKind::Browser.as_str() {
            self.keep_browser_session(&session, now).await?;
        }
        Ok(actor)
    }

    /// The actor for a local command (`custos … --as NAME`): whoever can run the binary on
    /// the database is trusted to name the user, but that user's permissions still apply.
    pub async fn actor_for_username(&self, username: &str, ctx: Context) -> AppResult<Actor> {
        let mut tx = self.app.db.begin_read().await?;
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
        let mut tx = self.app.db.begin_read().await?;
        let count = tx.count_users().await?;
        tx.rollback().await?;
        if count > 0 {
            return Ok(None);
        }
        let (password, generated) = match password.filter(|p| !p.is_empty()) {
            Some(p) => (p, false),
            // A random password passes the policy but for a one-in-millions chance of
            // spelling "admin"; draw again then.
            None => {
                let mut p = generate_password();
                for _ in 0..10 {
                    if crate::password_policy::check_password(
                        &p,
                        self.app.config.min_password_len,
                        &[ADMIN_USERNAME, ADMIN_DISPLAY_NAME],
                    )
                    .is_ok()
                    {
                        break;
                    }
                    p = generate_password();
                }
                (p, true)
            }
        };
        crate::password_policy::check_password(
            &password,
            self.app.config.min_password_len,
            &[ADMIN_USERNAME, ADMIN_DISPLAY_NAME],
        )
        .map_err(|v| AppError::validation("CUSTOS_ADMIN_PASSWORD", v))?;
        let hash = hash_password(password.clone()).await?;
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        if tx.count_users().await? > 0 {
            // Another process bootstrapped first.
            return Ok(None);
        }
        let inserted = tx
            .insert_user(&UserRow {
                id: 0,
                username: ADMIN_USERNAME.into(),
                display_name: ADMIN_DISPLAY_NAME.into(),
                password_hash: hash,
                department_id: None,
                email: None,
                disabled: false,
                created_at: now,
                updated_at: now,
                language: None,
                kind: "person".into(),
                auth_source: custos_store::LOCAL_SOURCE.into(),
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

/// How an attempt's credentials are checked.
enum Route<'a> {
    /// Against the password hash kept here (also for unknown names when no directory is
    /// configured, and for accounts whose provider is off: those fail).
    Local,
    /// Against the directory: names unknown here, and accounts that came from it.
    Ldap(&'a LdapConfig),
}

/// Local accounts log in with their password only, even when a directory knows their
/// name (administrators keep working when the directory is down or compromised); every
/// other name goes to the directory when one is configured.
fn login_route<'a>(user: Option<&UserRow>, ldap: Option<&'a LdapConfig>) -> Route<'a> {
    match (user, ldap) {
        (Some(u), _) if u.auth_source == LOCAL_SOURCE => Route::Local,
        (Some(u), Some(cfg)) if u.auth_source == LDAP_PROVIDER => Route::Ldap(cfg),
        (None, Some(cfg)) => Route::Ldap(cfg),
        _ => Route::Local,
    }
}

/// What checking the credentials found.
enum Checked {
    Local(bool),
    Ldap(ExternalCheck),
}

/// Verify a password against a local account's hash; an unknown name, a service account
/// or an external account costs the same work and fails.
async fn verify_local(user: Option<&UserRow>, password: &str) -> AppResult<bool> {
    match user {
        Some(u) if u.kind != SERVICE_KIND && u.auth_source == LOCAL_SOURCE => {
            verify_password(password.to_string(), u.password_hash.clone()).await
        }
        _ => {
            let _ = verify_password(password.to_string(), dummy_hash().await?).await?;
            Ok(false)
        }
    }
}

/// A failed attempt: why (audited) and the user it was for, if any.
type Failure = (&'static str, Option<i64>);

/// The user a local password check lets in, read again under lock: only a match against
/// the current hash counts (the password may have changed since); a disabled account
/// fails like a wrong password, so that the answer does not tell that it was right.
async fn local_outcome(
    tx: &mut custos_store::Tx,
    found: Option<&UserRow>,
    password_ok: bool,
) -> AppResult<Result<UserRow, Failure>> {
    let current = match found {
        Some(found) => tx.user_for_update(found.id).await?,
        None => None,
    };
    let failure = match (found, &current) {
        (Some(_), Some(user)) if user.kind == SERVICE_KIND => {
            Some("service account (no password login)")
        }
        (Some(_), Some(user)) if user.auth_source != LOCAL_SOURCE => {
            Some("external account (its provider is not configured)")
        }
        (Some(found), Some(user)) if password_ok && found.password_hash == user.password_hash => {
            user.disabled.then_some("account disabled")
        }
        (Some(_), Some(_)) => Some("wrong password"),
        _ => Some("unknown user"),
    };
    let target = current.as_ref().map(|u| u.id);
    Ok(match (failure, current) {
        (None, Some(user)) => Ok(user),
        (why, _) => Err((why.unwrap_or("unknown user"), target)),
    })
}

/// The user a provider's answer lets in (created or updated from it), or why not. An
/// account of the provider that it no longer knows is disabled.
async fn external_outcome(
    tx: &mut custos_store::Tx,
    found: Option<&UserRow>,
    check: ExternalCheck,
    mappings: &[crate::external::GroupMapping],
    ctx: &Context,
) -> AppResult<Result<UserRow, Failure>> {
    let target = found.map(|u| u.id);
    Ok(match check {
        ExternalCheck::Verified(identity) => {
            match crate::external::provision(tx, &identity, mappings, ctx).await? {
                Ok(user) => Ok(user),
                Err(why) => Err((why, target)),
            }
        }
        ExternalCheck::Unknown => match found {
            Some(user) if user.auth_source != LOCAL_SOURCE => {
                disable_external(tx, user, "the directory entry is gone", ctx).await?;
                Err(("the directory entry is gone", target))
            }
            _ => Err(("unknown user", target)),
        },
        ExternalCheck::WrongPassword => Err(("wrong password", target)),
    })
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
        language: user.language,
        ctx,
        api_key: None,
    })
}
