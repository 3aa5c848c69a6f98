//! What a console sign-in adds to a session: it ends after a spell of inactivity, and the
//! user's chosen language is remembered. Revocation (logout, disabling the user, a password
//! change) is the one of every session, so the console and the API end together.

use crate::auth::Auth;
use custos_core::Violation;
use custos_store::SessionRow;

use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::Actor;

/// A browser session's last use is written at most this often (microseconds), so that
/// reading pages does not turn every request into a write.
const TOUCH_EVERY_US: i64 = 60_000_000;

/// Languages of the console and of problem details.
pub const LANGUAGES: &[&str] = &["zh", "en"];

fn session_idle() -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.session_idle",
        "长时间未操作，登录已失效，请重新登录",
        "the session ended after a period without activity; log in again",
    ))
}

impl Auth<'_> {
    /// Refuse a browser session idle for longer than `session_idle`; otherwise note its
    /// use (at most once a minute).
    pub(crate) async fn keep_browser_session(
        &self,
        session: &SessionRow,
        now: i64,
    ) -> AppResult<()> {
        let idle_us = self.app.config.session_idle.as_micros() as i64;
        let last = session.last_seen_at.unwrap_or(session.created_at);
        if now - last > idle_us {
            let mut tx = self.app.db.begin().await?;
            tx.revoke_session(&session.token_hash, now).await?;
            tx.commit().await?;
            return Err(session_idle());
        }
        if now - last >= TOUCH_EVERY_US {
            let mut tx = self.app.db.begin().await?;
            tx.touch_session(&session.token_hash, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// A user changes their own password, proving the current one first (a session left
    /// open on a shared computer must not be enough). Every session of the user ends, as
    /// with any password change.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> AppResult<()> {
        let mut tx = self.app.db.begin_read().await?;
        let user = tx
            .user(actor.user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user", actor.user_id))?;
        tx.rollback().await?;
        if !crate::auth::verify_password(current.to_string(), user.password_hash).await? {
            return Err(AppError::Validation(vec![Violation::new(
                "user.current_password",
                "当前密码不正确",
                "the current password is wrong",
            )
            .on("current_password")]));
        }
        let patch = crate::org::UserPatch {
            password: Some(new.to_string()),
            ..Default::default()
        };
        self.app
            .org()
            .update_user(actor, actor.user_id, patch)
            .await?;
        Ok(())
    }

    /// Remember the console language `actor` chose (`zh` or `en`).
    pub async fn set_language(&self, actor: &Actor, language: &str) -> AppResult<()> {
        if !LANGUAGES.contains(&language) {
            return Err(AppError::Validation(vec![Violation::new(
                "user.language",
                "语言只能是 zh（中文）或 en（English）",
                "the language must be zh (Chinese) or en (English)",
            )
            .on("language")]));
        }
        let mut tx = self.app.db.begin().await?;
        tx.set_user_language(actor.user_id, language).await?;
        let mut r = record(actor, "user.language", "user", &actor.user_id.to_string());
        r.after = Some(serde_json::json!({ "language": language }).to_string());
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }
}
