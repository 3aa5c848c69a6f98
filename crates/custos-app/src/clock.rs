//! Time as custos shows it: below every use case, so that any of them (the audit log
//! included) can format a timestamp without importing another.

/// RFC 3339 text (UTC) for a microsecond timestamp.
pub fn format_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// A time as people read it: `YYYY-MM-DD HH:MM` in the business time zone `tz`. Text
/// that is not an RFC 3339 time is shown as it is.
pub fn local_minutes(rfc3339: &str, tz: chrono_tz::Tz) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// A microsecond timestamp as [`local_minutes`] shows it.
pub fn local_minutes_us(us: i64, tz: chrono_tz::Tz) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// How long something has waited, in its largest whole unit (3 days, 5 hours, 12 minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Days(i64),
    Hours(i64),
    Minutes(i64),
}

/// The time from `since_us` to `now_us` (microseconds), never negative.
pub fn waited(since_us: i64, now_us: i64) -> Waited {
    let minutes = (now_us - since_us).max(0) / 60_000_000;
    match minutes {
        m if m < 60 => Waited::Minutes(m),
        m if m < 24 * 60 => Waited::Hours(m / 60),
        m => Waited::Days(m / (24 * 60)),
    }
}

/// [`waited`] for an RFC 3339 time; `None` for text that is not one.
pub fn waited_since(rfc3339: &str, now_us: i64) -> Option<Waited> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| waited(t.timestamp_micros(), now_us))
}

impl crate::App {
    /// An RFC 3339 time in the configured business time zone, `YYYY-MM-DD HH:MM`.
    pub fn local_time(&self, rfc3339: &str) -> String {
        local_minutes(rfc3339, self.config.code_timezone)
    }

    /// A microsecond timestamp in the configured business time zone.
    pub fn local_time_us(&self, us: i64) -> String {
        local_minutes_us(us, self.config.code_timezone)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn utc_becomes_beijing_time() {
        let sh = chrono_tz::Asia::Shanghai;
        assert_eq!(
            local_minutes("2026-03-01T16:30:00.000Z", sh),
            "2026-03-02 00:30"
        );
        assert_eq!(local_minutes("soon", sh), "soon");
        let us = chrono::DateTime::parse_from_rfc3339("2026-03-01T16:30:00Z")
            .unwrap()
            .timestamp_micros();
        assert_eq!(local_minutes_us(us, sh), "2026-03-02 00:30");
        assert_eq!(local_minutes(&format_time(us), sh), "2026-03-02 00:30");
    }

    #[test]
    fn waiting_is_told_in_its_largest_unit() {
        let m = 60_000_000;
        assert_eq!(waited(0, 59 * m), Waited::Minutes(59));
        assert_eq!(waited(0, 61 * m), Waited::Hours(1));
        assert_eq!(waited(0, 3 * 24 * 60 * m + 5), Waited::Days(3));
        assert_eq!(waited(10 * m, 0), Waited::Minutes(0));
        assert_eq!(
            waited_since("1970-01-01T02:00:00Z", 3 * 60 * m),
            Some(Waited::Hours(1))
        );
        assert_eq!(waited_since("later", 0), None);
    }
}
