//! Cells of the CSV files custos writes, kept from being run as formulas (CSV injection).
//!
//! Excel, WPS and LibreOffice treat a CSV cell starting with `=`, `+`, `-` or `@` (or
//! with a tab or carriage return before one) as a formula: a customer named
//! `=cmd|' /C calc'!A0` would run a command on the machine of whoever opens an export.
//! As OWASP recommends, such a cell is written with a single quote in front, which the
//! spreadsheet shows as text and hides; the stored value is never changed. Every CSV
//! writer of custos (exports, import reports, `dedupe`) passes its cells through
//! [`neutralise`], and the CSV reader of imports through [`restore`], so an export or a
//! rejected-rows file imports back to the same values. XLSX cells are written as
//! strings, never formulas, and JSON Lines is a machine format: neither is changed.

use std::borrow::Cow;

/// First characters that make a spreadsheet read a cell as a formula.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `s` is a trigger after any number of single quotes: such a cell gets one
/// quote more when written and loses one when read, so a value that really starts
/// with quotes comes back as it was.
fn guarded(s: &str) -> bool {
    s.trim_start_matches('\'').starts_with(TRIGGERS)
}

/// The cell as written to a CSV file: `'` in front of a cell that a spreadsheet would
/// take for a formula (see the module).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if guarded(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The value of a cell read from a CSV file: the quote [`neutralise`] added taken off.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if guarded(rest) => rest,
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_get_a_quote_and_lose_it_when_read() {
        for (value, written) in [
            ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
            ("+86 138", "'+86 138"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("'=1", "''=1"),
            ("''-", "'''-"),
            ("上海=1", "上海=1"),
            ("'quoted'", "'quoted'"),
            ("", ""),
        ] {
            assert_eq!(neutralise(value), written, "{value:?}");
            assert_eq!(restore(written), value, "{written:?}");
        }
    }

    #[test]
    fn only_a_guarding_quote_is_taken_off() {
        assert_eq!(restore("'abc"), "'abc");
        assert_eq!(restore("'"), "'");
        assert_eq!(restore("'=1"), "=1");
    }
}
