//! Times as a person reads them: in the configured business time zone (default
//! Asia/Shanghai), `YYYY-MM-DD HH:MM`.

/// An RFC 3339 time from a use case as local `YYYY-MM-DD HH:MM`; text that is not a time
/// is shown as it is.
pub(crate) fn local_minutes(rfc3339: &str, tz: chrono_tz::Tz) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_becomes_beijing_time() {
        assert_eq!(
            local_minutes("2026-03-01T16:30:00.000Z", chrono_tz::Asia::Shanghai),
            "2026-03-02 00:30"
        );
        assert_eq!(local_minutes("soon", chrono_tz::Asia::Shanghai), "soon");
    }
}
