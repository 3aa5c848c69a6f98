//! Rate limits per caller, counted in the database (see `custos_store::rate_limits`) so
//! that several servers sharing one database count the same requests. The generic cell
//! rate algorithm: each key keeps one time, the "theoretical arrival time" (TAT) of its
//! next request; a request moves it one interval on, and is refused when that would put
//! it more than `burst` intervals ahead of now.

use custos_core::Violation;
use custos_store::{now_us, Tx};

use crate::error::{AppError, AppResult};

/// So many requests a minute on average, and at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl RateLimit {
    /// Duplicate checks of one user: enough for typing a record field by field, far
    /// too few for trying the ten thousand numbers behind a masked mobile.
    pub const DUPLICATE_CHECKS: RateLimit = RateLimit {
        per_minute: 30,
        burst: 20,
    };

    /// `None` for a limit of 0 requests a minute, which means no limit.
    pub fn new(per_minute: u32, burst: u32) -> Option<RateLimit> {
        (per_minute > 0).then_some(RateLimit {
            per_minute,
            burst: burst.max(1),
        })
    }

    fn interval_us(self) -> i64 {
        60_000_000 / i64::from(self.per_minute.max(1))
    }

    /// The new TAT of a key whose TAT is `tat` for a request at `now`, or how long
    /// (µs) to wait when the request is refused.
    fn decide(self, tat: i64, now: i64) -> Result<i64, i64> {
        let interval = self.interval_us();
        let next = tat.max(now) + interval;
        let depth = interval * i64::from(self.burst.max(1));
        if next - now > depth {
            Err(next - depth - now)
        } else {
            Ok(next)
        }
    }
}

/// Count one request of `key` under `limit` in `tx` (which must commit for it to
/// count), or refuse it with `429` and the seconds to wait.
pub(crate) async fn take(
    tx: &mut Tx,
    key: &str,
    limit: RateLimit,
    what: Violation,
) -> AppResult<()> {
    let now = now_us();
    let tat = tx.rate_limit_tat(key).await?;
    match limit.decide(tat, now) {
        Ok(next) => {
            tx.put_rate_limit_tat(key, next).await?;
            Ok(())
        }
        Err(wait) => Err(AppError::too_many_requests(what, wait)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let l = RateLimit::new(30, 3).unwrap_or(RateLimit::DUPLICATE_CHECKS);
        let interval = 2_000_000;
        let now = 1_000_000_000;
        let mut tat = 0;
        for _ in 0..3 {
            tat = l.decide(tat, now).unwrap_or(i64::MAX);
        }
        assert_eq!(l.decide(tat, now), Err(interval));
        assert_eq!(l.decide(tat, now + interval - 1), Err(1));
        assert!(l.decide(tat, now + interval).is_ok());
        // After a long pause the whole burst is back, no more.
        let later = now + 3_600_000_000;
        let mut t = tat;
        for _ in 0..3 {
            t = l.decide(t, later).unwrap_or(i64::MAX);
        }
        assert!(l.decide(t, later).is_err());
        assert_eq!(RateLimit::new(0, 5), None);
    }
}
