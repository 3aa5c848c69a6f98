//! Customer statistics kept for a short while per data scope. Counting by eight groupings
//! reads every customer in scope (about a second at a million on SQLite); the dashboard asks
//! on every visit, so a figure may be up to `stats_cache_ttl` old. The key is the caller's
//! scope filter itself, so one scope never sees another's counts.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::search::CustomerStats;

/// Scopes kept at once; beyond it the oldest entry goes.
const MAX_ENTRIES: usize = 512;

#[derive(Default)]
pub(crate) struct StatsCache {
    entries: Mutex<HashMap<String, (Instant, CustomerStats)>>,
}

impl StatsCache {
    /// The statistics computed for `key` less than `ttl` ago.
    pub fn get(&self, key: &str, ttl: Duration) -> Option<CustomerStats> {
        if ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, s)| s.clone())
    }

    pub fn put(&self, key: String, stats: &CustomerStats, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < ttl);
        if entries.len() >= MAX_ENTRIES {
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (Instant::now(), stats.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(total: i64) -> CustomerStats {
        CustomerStats {
            total,
            by_type: vec![],
            by_province: vec![],
            by_city: vec![],
            by_industry: vec![],
            by_status: vec![],
            by_level: vec![],
            by_department: vec![],
            new_per_month: vec![],
        }
    }

    #[test]
    fn counts_are_reused_per_scope_until_they_age() {
        let c = StatsCache::default();
        let ttl = Duration::from_millis(200);
        c.put("Own(1)".into(), &stats(2), ttl);
        c.put("All".into(), &stats(9), ttl);
        assert_eq!(c.get("Own(1)", ttl).map(|s| s.total), Some(2));
        assert_eq!(c.get("All", ttl).map(|s| s.total), Some(9));
        assert!(
            c.get("Own(2)", ttl).is_none(),
            "another scope never reads these"
        );
        std::thread::sleep(Duration::from_millis(250));
        assert!(c.get("Own(1)", ttl).is_none(), "aged out");
    }

    #[test]
    fn zero_means_always_counted() {
        let c = StatsCache::default();
        c.put("All".into(), &stats(1), Duration::ZERO);
        assert!(c.get("All", Duration::from_secs(60)).is_none());
    }
}
