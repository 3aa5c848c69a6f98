//! Per-key rate limits, kept in this process: a token bucket per key in the form of the
//! generic cell rate algorithm (one "theoretical arrival time" per key, as
//! `rate_limit` keeps in the database). Counting in memory keeps an authenticated request
//! free of writes; with several servers on one database each server allows the rate on
//! its own (documented in docs/integration.md).

use std::collections::HashMap;
use std::sync::Mutex;

use custos_store::now_us;

/// So many requests a second on average, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRate {
    pub per_second: u32,
    pub burst: u32,
}

impl KeyRate {
    fn interval_us(self) -> i64 {
        1_000_000 / i64::from(self.per_second.max(1))
    }

    /// The new arrival time of a key whose time is `tat` for a request at `now`, or how
    /// long (µs) to wait.
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

/// Most keys remembered; past it, keys whose bucket is full again are forgotten.
const MAX_TRACKED: usize = 50_000;

/// The buckets of one kind of key (API keys; clients that failed).
#[derive(Default)]
pub(crate) struct Buckets {
    tats: Mutex<HashMap<String, i64>>,
}

impl Buckets {
    /// Count one request of `key`, or `Err(µs to wait)`.
    pub(crate) fn take(&self, key: &str, rate: KeyRate) -> Result<(), i64> {
        let now = now_us();
        let mut tats = self.tats.lock().unwrap_or_else(|p| p.into_inner());
        let tat = tats.get(key).copied().unwrap_or(0);
        let next = rate.decide(tat, now)?;
        if !tats.contains_key(key) && tats.len() >= MAX_TRACKED {
            // A bucket whose time has passed is full: forgetting it changes nothing.
            tats.retain(|_, t| *t > now);
            if tats.len() >= MAX_TRACKED {
                return Ok(());
            }
        }
        tats.insert(key.to_string(), next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let r = KeyRate {
            per_second: 10,
            burst: 3,
        };
        let now = 1_000_000_000;
        let mut tat = 0;
        for _ in 0..3 {
            tat = r.decide(tat, now).unwrap_or(i64::MAX);
        }
        assert_eq!(r.decide(tat, now), Err(100_000));
        assert_eq!(r.decide(tat, now + 99_999), Err(1));
        assert!(r.decide(tat, now + 100_000).is_ok());
        let b = Buckets::default();
        for _ in 0..3 {
            assert!(b.take("k", r).is_ok());
        }
        assert!(b.take("k", r).is_err());
        assert!(b.take("other", r).is_ok());
    }
}
