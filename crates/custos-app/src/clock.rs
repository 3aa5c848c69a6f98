//! Time as custos shows it: below every use case, so that any of them (the audit log
//! included) can format a timestamp without importing another.

/// RFC 3339 text (UTC) for a microsecond timestamp.
pub fn format_time(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}
