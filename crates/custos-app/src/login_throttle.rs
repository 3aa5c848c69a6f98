//! Throttling of failed logins, instead of locking accounts.
//!
//! A lock after N failures let anyone lock anyone out (five anonymous requests kept
//! `admin` out for 15 minutes) and told existing names from unknown ones. Instead:
//!
//! * **Per (client address, username).** After `pair_failures` failures from one address
//!   for one username, that pair must wait `first_delay`, doubling with each further
//!   failure up to `max_delay`. Other addresses are not affected, so a stranger's guesses
//!   do not keep the owner out.
//! * **Per username, across all addresses** (slows guessing spread over many addresses).
//!   After `user_failures` failures for the username from anywhere, every address that
//!   has itself failed for that username must wait (the same doubling delay, counted past
//!   `user_failures`), until the failures stop. An address that has not failed for it
//!   still gets its attempts checked, so the owner with the right password gets in
//!   (a guesser gets one try per fresh address, not `pair_failures`).
//! * Counters are kept by the SHA-256 of the lower-cased name as typed, so an unknown name
//!   is throttled exactly like an existing one, and the answers cannot tell them apart.
//!   They live in the database (servers sharing one PostgreSQL share them) and are
//!   forgotten `forget_after` after the last failure; a successful login clears its
//!   address's counter.
//! * An attempt is admitted (noted as being checked) before its password is verified, and
//!   no more attempts of a pair are checked at once than it has failures left before its
//!   threshold; further parallel attempts wait a moment in the server for those to settle.
//!   So parallel requests cannot slip past the threshold, and parallel right passwords
//!   (a script logging in) still all succeed.
//! * An administrator clears every counter of a user (`custos user unlock NAME`,
//!   `POST /api/v1/users/{id}/unlock`), audited.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use custos_store::{username_key, ThrottleRow};

/// How failed logins are throttled (see the module documentation).
#[derive(Debug, Clone)]
pub struct LoginThrottleConfig {
    /// Failures from one address for one username before the pair must wait.
    pub pair_failures: i64,
    /// Failures for one username from every address before addresses that have failed
    /// for it must wait.
    pub user_failures: i64,
    /// The first wait; each further failure doubles it.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
    /// A counter whose last failure is older than this starts again from zero.
    pub forget_after: Duration,
}

impl Default for LoginThrottleConfig {
    fn default() -> Self {
        LoginThrottleConfig {
            pair_failures: 5,
            user_failures: 50,
            first_delay: Duration::from_secs(60),
            max_delay: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// The key of a username's counters: the SHA-256 (hex) of its lower-cased form.
pub fn login_subject(username: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"custos login throttle\0");
    h.update(username_key(username).as_bytes());
    hex::encode(h.finalize())
}

/// The key of a client address: IPv4 as is, an IPv6 client by its /64 (one host usually
/// holds a whole /64, so single IPv6 addresses would be free to rotate). No address
/// (not an HTTP caller) is one client, `-`.
pub fn client_key(ip: Option<&str>) -> String {
    match ip.and_then(|s| s.parse::<IpAddr>().ok()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{net}/64")
            }
        },
        None => "-".to_string(),
    }
}

/// Whether an attempt may be checked now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Open,
    /// Refused until this time (µs).
    Wait(i64),
    /// As many attempts of this pair as it has failures left are being checked right
    /// now: try again in a moment (one of them may succeed, or block the pair).
    Busy,
}

/// An attempt admitted this long ago and never settled (its server stopped) no longer
/// counts as being checked.
const PENDING_EXPIRY_US: i64 = 60 * 1_000_000;

impl LoginThrottleConfig {
    fn forget_before(&self, now: i64) -> i64 {
        now - self.forget_after.as_micros() as i64
    }

    /// Failures of a counter that still count at `now`.
    fn live_failures(&self, row: &ThrottleRow, now: i64) -> i64 {
        if row.last_failure_at < self.forget_before(now) {
            0
        } else {
            row.failures
        }
    }

    fn live_pending(row: &ThrottleRow, now: i64) -> i64 {
        if row.pending_at < now - PENDING_EXPIRY_US {
            0
        } else {
            row.pending.max(0)
        }
    }

    /// May an attempt of this pair go ahead, given its counter and the username's?
    pub(crate) fn verdict(&self, pair: &ThrottleRow, user: &ThrottleRow, now: i64) -> Verdict {
        if let Some(until) = pair.blocked_until.filter(|u| *u > now) {
            return Verdict::Wait(until);
        }
        let failures = self.live_failures(pair, now);
        if let Some(until) = user.blocked_until.filter(|u| *u > now) {
            if failures > 0 {
                return Verdict::Wait(until);
            }
        }
        if self.is_busy(pair, now) {
            return Verdict::Busy;
        }
        Verdict::Open
    }

    /// Attempts being checked may all fail: never check more of a pair at once than it
    /// has failures left before it blocks (one at a time once past its threshold), or
    /// parallel requests would slip past it.
    pub(crate) fn is_busy(&self, pair: &ThrottleRow, now: i64) -> bool {
        let left = (self.pair_failures - self.live_failures(pair, now)).max(1);
        Self::live_pending(pair, now) >= left
    }

    /// Note an admitted attempt of the pair.
    pub(crate) fn admit(&self, pair: &mut ThrottleRow, now: i64) {
        pair.pending = Self::live_pending(pair, now) + 1;
        pair.pending_at = now;
    }

    /// Settle an admitted attempt that was never checked (its provider could not be
    /// asked): no longer being checked, and no failure.
    pub(crate) fn release(&self, pair: &mut ThrottleRow, now: i64) {
        pair.pending = (Self::live_pending(pair, now) - 1).max(0);
    }

    /// Settle an admitted attempt that failed: one failure more on the pair and on the
    /// username, either blocking when its threshold is reached.
    pub(crate) fn settle_failure(&self, pair: &mut ThrottleRow, user: &mut ThrottleRow, now: i64) {
        pair.pending = (Self::live_pending(pair, now) - 1).max(0);
        self.count_failure(pair, self.pair_failures, now);
        self.count_failure(user, self.user_failures, now);
    }

    /// Count one failure on a counter whose threshold is `threshold`, blocking it when
    /// the threshold is reached.
    fn count_failure(&self, row: &mut ThrottleRow, threshold: i64, now: i64) {
        row.failures = self.live_failures(row, now) + 1;
        row.last_failure_at = now;
        if row.failures >= threshold.max(1) {
            let extra = (row.failures - threshold.max(1)).clamp(0, 30) as u32;
            let delay = self
                .first_delay
                .saturating_mul(2u32.saturating_pow(extra))
                .min(self.max_delay);
            let until = now.saturating_add(delay.as_micros() as i64);
            row.blocked_until = Some(row.blocked_until.unwrap_or(0).max(until));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(client: &str) -> ThrottleRow {
        ThrottleRow {
            subject: "s".into(),
            client: client.into(),
            failures: 0,
            last_failure_at: 0,
            blocked_until: None,
            pending: 0,
            pending_at: 0,
        }
    }

    #[test]
    fn delays_double_from_the_threshold_up_to_the_cap() {
        let cfg = LoginThrottleConfig::default();
        let now = 1_000_000_000_000;
        let mut pair = row("1.2.3.4");
        let mut user = row("");
        let mut waits = Vec::new();
        for _ in 0..10 {
            assert_eq!(cfg.verdict(&pair, &user, now), Verdict::Open);
            cfg.admit(&mut pair, now);
            cfg.settle_failure(&mut pair, &mut user, now);
            waits.push(pair.blocked_until.map(|u| (u - now) / 1_000_000));
            // Pretend the wait has passed.
            pair.blocked_until = pair.blocked_until.map(|_| now);
        }
        let four_none = [None, None, None, None];
        assert_eq!(waits[..4], four_none);
        let secs: Vec<i64> = waits[4..].iter().map(|w| w.unwrap_or(-1)).collect();
        assert_eq!(secs, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn the_username_ceiling_spares_addresses_that_have_not_failed() {
        let cfg = LoginThrottleConfig::default();
        let now = 1_000_000_000_000;
        let mut user = row("");
        for _ in 0..cfg.user_failures {
            cfg.count_failure(&mut user, cfg.user_failures, now);
        }
        assert!(user.blocked_until.is_some_and(|u| u > now));
        let fresh = row("5.6.7.8");
        assert_eq!(cfg.verdict(&fresh, &user, now), Verdict::Open);
        let mut failed = row("9.9.9.9");
        cfg.settle_failure(&mut failed, &mut row(""), now);
        assert!(matches!(cfg.verdict(&failed, &user, now), Verdict::Wait(_)));
        // A failure older than `forget_after` no longer counts.
        let later = now + cfg.forget_after.as_micros() as i64 + 1;
        user.blocked_until = Some(later + 1);
        assert_eq!(cfg.verdict(&failed, &user, later), Verdict::Open);
    }

    #[test]
    fn attempts_being_checked_count_until_settled() {
        let cfg = LoginThrottleConfig::default();
        let now = 1_000_000_000_000;
        let mut pair = row("1.2.3.4");
        let user = row("");
        cfg.settle_failure(&mut pair, &mut row(""), now);
        for _ in 0..4 {
            assert_eq!(cfg.verdict(&pair, &user, now), Verdict::Open);
            cfg.admit(&mut pair, now);
        }
        // One failure and four attempts in flight: the fifth must wait for them.
        assert_eq!(cfg.verdict(&pair, &user, now), Verdict::Busy);
        // An attempt whose server stopped before settling it stops counting.
        let later = now + PENDING_EXPIRY_US + 1;
        assert_eq!(cfg.verdict(&pair, &user, later), Verdict::Open);
    }

    #[test]
    fn keys() {
        assert_eq!(login_subject("Admin"), login_subject("ADMIN"));
        assert_ne!(login_subject("admin"), login_subject("admin2"));
        assert_eq!(client_key(Some("10.1.2.3")), "10.1.2.3");
        assert_eq!(client_key(Some("::ffff:10.1.2.3")), "10.1.2.3");
        assert_eq!(
            client_key(Some("2001:db8:1:2:aaaa::1")),
            client_key(Some("2001:db8:1:2:bbbb::9"))
        );
        assert_eq!(client_key(Some("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(client_key(None), "-");
    }
}
