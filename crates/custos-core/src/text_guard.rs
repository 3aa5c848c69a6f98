//! Characters no text field may hold: control characters and invisible format characters.
//!
//! PostgreSQL refuses a NUL in text (a 500 if it got that far); a BEL, an ESC sequence or a
//! stray CR rewrites a terminal or a log line when the value is printed; the bidi overrides
//! (U+202E…) make `exe.txt` look like `txt.exe` in a list, in an export or in an audit
//! entry; invisible characters make two names that look the same differ, which defeats
//! exact search and the duplicate check. None of them has a use in customer master data,
//! so [`check_text`] refuses them everywhere — the web layer for every string of every
//! request, the use cases for every field — with an error naming the field.
//!
//! Refused in every field:
//! - C0 controls U+0000–U+001F except tab, line feed and a carriage return directly before
//!   a line feed (CRLF); DEL U+007F and the C1 controls U+0080–U+009F;
//! - U+00AD soft hyphen (invisible unless a line breaks there);
//! - bidi marks and controls: U+061C, U+200E, U+200F, the embeddings and overrides
//!   U+202A–U+202E, the isolates U+2066–U+2069, and the deprecated U+206A–U+206F;
//! - U+2028 and U+2029 (line and paragraph separators: line breaks that break JSON in
//!   scripts and log lines; text uses LF);
//! - invisible spacing: U+200B zero-width space, U+2060–U+2064 (word joiner and the
//!   invisible operators), U+FEFF (byte order mark / zero-width no-break space);
//! - U+FFF9–U+FFFB (interlinear annotation) and the tag characters U+E0000–U+E007F (they
//!   carry hidden ASCII).
//!
//! Single-line fields (names, codes, identifiers — everything but the catalog's multi-line
//! texts) also refuse tab, LF and CR. Kept on purpose: U+200C/U+200D (ZWNJ/ZWJ: emoji
//! sequences and Indic and Persian spelling), U+180E (traditional Mongolian), variation
//! selectors (CJK ideographic variants).

use std::borrow::Cow;

use crate::violation::{FieldError, Violation};

/// Whether a field may hold several lines (remarks, addresses) or one (everything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Tab and line breaks refused.
    Single,
    /// Tab, LF and CRLF allowed.
    Multi,
}

/// Why a character is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedKind {
    /// A C0/C1 control, DEL, or a CR not followed by LF.
    Control,
    /// Tab or a line break in a single-line field.
    LineBreak,
    /// An invisible format character (bidi control, zero-width, tag…).
    Invisible,
}

/// The first refused character of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub ch: char,
    /// 1-based position in characters.
    pub position: usize,
    pub kind: RefusedKind,
}

/// Invisible or reordering format characters refused in every field (see the module doc).
pub fn is_refused_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// Why `c` is refused in a field of `lines`, not knowing what follows it (a CR is judged by
/// [`find_refused`], which does).
fn refusal(c: char, lines: Lines) -> Option<RefusedKind> {
    match c {
        '\t' | '\n' | '\r' if lines == Lines::Single => Some(RefusedKind::LineBreak),
        '\t' | '\n' | '\r' => None,
        '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{9F}' => Some(RefusedKind::Control),
        c if is_refused_format(c) => Some(RefusedKind::Invisible),
        _ => None,
    }
}

/// The first character of `s` a field of `lines` may not hold.
pub fn find_refused(s: &str, lines: Lines) -> Option<Refused> {
    // Most text is printable ASCII: one pass over the bytes settles it.
    if s.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return None;
    }
    let mut chars = s.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        let kind = match refusal(c, lines) {
            Some(k) => Some(k),
            // A CR is a line break only as the first half of CRLF.
            None if c == '\r' && chars.peek().map(|p| p.1) != Some('\n') => {
                Some(RefusedKind::Control)
            }
            None => None,
        };
        if let Some(kind) = kind {
            return Some(Refused {
                ch: c,
                position: i + 1,
                kind,
            });
        }
    }
    None
}

/// Check that `s` holds no refused character for a field of `lines`; the error names
/// `field`, the character (as `U+XXXX`, never raw) and its position.
pub fn check_text(field: &str, s: &str, lines: Lines) -> Result<(), FieldError> {
    match find_refused(s, lines) {
        None => Ok(()),
        Some(r) => Err(refused_violation(&r).on(field)),
    }
}

/// The violation for a refused character.
pub fn refused_violation(r: &Refused) -> Violation {
    let u = format!("U+{:04X}", r.ch as u32);
    let n = r.position;
    match r.kind {
        RefusedKind::Control => Violation::new(
            "text.control_char",
            format!("含有不允许的控制字符 {u}（第 {n} 个字符）"),
            format!("contains the control character {u} (character {n}), which is not allowed"),
        ),
        RefusedKind::LineBreak => Violation::new(
            "text.line_break",
            format!("单行字段不能含有制表符或换行（{u}，第 {n} 个字符）"),
            format!("a single-line field cannot hold a tab or line break ({u}, character {n})"),
        ),
        RefusedKind::Invisible => Violation::new(
            "text.invisible_char",
            format!("含有不允许的不可见格式字符 {u}（第 {n} 个字符），如双向文本控制符或零宽字符"),
            format!(
                "contains the invisible format character {u} (character {n}), such as a bidi control or a zero-width character, which is not allowed"
            ),
        ),
    }
}

/// CRLF → LF in a multi-line text that passed [`check_text`] (so every CR is part of a
/// CRLF); borrowed when there is none.
pub fn lf_line_breaks(s: &str) -> Cow<'_, str> {
    if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` with every refused character (of a multi-line field) and every line break written
/// as `U+XXXX`: safe to echo back in a message, e.g. an object key that was refused.
pub fn display_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if refusal(c, Lines::Single).is_some() {
            out.push_str(&format!("U+{:04X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Most errors [`check_json`] reports: a body full of NULs gets a bounded answer.
pub const MAX_JSON_REFUSALS: usize = 20;

/// Check every string and every object key of a JSON value (as a multi-line text: the
/// field rules are not known here), naming each by its path from `root` (`name`,
/// `contacts[0].mobile`, `custom.key`); at most [`MAX_JSON_REFUSALS`] errors.
pub fn check_json(root: &str, v: &serde_json::Value, out: &mut Vec<FieldError>) {
    use serde_json::Value;
    if out.len() >= MAX_JSON_REFUSALS {
        return;
    }
    match v {
        Value::String(s) => {
            if let Some(r) = find_refused(s, Lines::Multi) {
                out.push(refused_violation(&r).on(path_or_body(root)));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if out.len() >= MAX_JSON_REFUSALS {
                    return;
                }
                // Only paths of strings and containers are needed; skip building them for
                // numbers and the like.
                if matches!(item, Value::String(_) | Value::Array(_) | Value::Object(_)) {
                    check_json(&format!("{root}[{i}]"), item, out);
                }
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                if out.len() >= MAX_JSON_REFUSALS {
                    return;
                }
                let path = if root.is_empty() {
                    display_safe(k)
                } else {
                    format!("{root}.{}", display_safe(k))
                };
                if let Some(r) = find_refused(k, Lines::Single) {
                    out.push(refused_violation(&r).on(path.clone()));
                }
                if matches!(item, Value::String(_) | Value::Array(_) | Value::Object(_)) {
                    check_json(&path, item, out);
                }
            }
        }
        _ => {}
    }
}

fn path_or_body(root: &str) -> String {
    if root.is_empty() {
        "body".to_string()
    } else {
        root.to_string()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused_anywhere(c: char) -> bool {
        matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{7F}'..='\u{9F}')
            || is_refused_format(c)
    }

    #[test]
    fn examples() {
        assert_eq!(find_refused("华为技术有限公司", Lines::Single), None);
        assert_eq!(find_refused("Acme (China) Ltd.", Lines::Single), None);
        let r = find_refused("ab\u{0}c", Lines::Multi).unwrap();
        assert_eq!((r.ch, r.position, r.kind), ('\0', 3, RefusedKind::Control));
        let r = find_refused("\u{202E}gpj.exe", Lines::Multi).unwrap();
        assert_eq!(r.kind, RefusedKind::Invisible);
        assert_eq!(
            find_refused("\u{1B}[31m", Lines::Multi).map(|r| r.kind),
            Some(RefusedKind::Control)
        );
        assert_eq!(
            find_refused("bell\u{7}", Lines::Multi).map(|r| r.position),
            Some(5)
        );
        // Line breaks: allowed in multi-line fields, CR only before LF.
        assert_eq!(find_refused("a\tb\nc\r\nd", Lines::Multi), None);
        assert_eq!(
            find_refused("a\rb", Lines::Multi).map(|r| r.kind),
            Some(RefusedKind::Control)
        );
        assert_eq!(
            find_refused("a\r", Lines::Multi).map(|r| r.kind),
            Some(RefusedKind::Control)
        );
        assert_eq!(
            find_refused("a\tb", Lines::Single).map(|r| r.kind),
            Some(RefusedKind::LineBreak)
        );
        assert_eq!(
            find_refused("a\r\nb", Lines::Single).map(|r| r.kind),
            Some(RefusedKind::LineBreak)
        );
        // Kept: ZWJ in an emoji sequence, a CJK variation selector, Mongolian.
        assert_eq!(find_refused("👩\u{200D}💻", Lines::Single), None);
        assert_eq!(find_refused("葛\u{E0100}", Lines::Single), None);
        assert_eq!(find_refused("ᠮᠣᠩᠭᠣᠯ\u{180E}ᠠ", Lines::Single), None);
    }

    #[test]
    fn error_names_field_and_code_point_not_the_raw_character() {
        let e = check_text("name", "x\u{0}", Lines::Single).unwrap_err();
        assert_eq!(e.field, "name");
        assert_eq!(e.violation.code, "text.control_char");
        assert!(e.violation.zh.contains("U+0000"), "{}", e.violation.zh);
        assert!(e.violation.en.contains("U+0000 (character 2)"));
        assert!(!e.violation.zh.contains('\0') && !e.violation.en.contains('\0'));
    }

    #[test]
    fn crlf_becomes_lf_and_display_is_safe() {
        assert_eq!(lf_line_breaks("a\r\nb\r\n"), "a\nb\n");
        assert!(matches!(lf_line_breaks("a\nb"), Cow::Borrowed(_)));
        assert_eq!(display_safe("k\u{0}\u{202E}\n"), "kU+0000U+202EU+000A");
    }

    #[test]
    fn json_paths_name_the_strings_and_keys() {
        let v = serde_json::json!({
            "name": "ok",
            "contacts": [{"name": "a"}, {"name": "b\u{7}"}],
            "custom": {"k\u{0}": "v", "n": 1},
            "remarks": "line\nline",
        });
        let mut out = Vec::new();
        check_json("", &v, &mut out);
        let fields: Vec<&str> = out.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["contacts[1].name", "custom.kU+0000"]);
        let mut out = Vec::new();
        check_json("", &serde_json::json!("\u{202E}"), &mut out);
        assert_eq!(out[0].field, "body");
        let many = serde_json::Value::Array(vec![serde_json::json!("\u{0}"); 1000]);
        let mut out = Vec::new();
        check_json("tags", &many, &mut out);
        assert_eq!(out.len(), MAX_JSON_REFUSALS);
        assert_eq!(out[0].field, "tags[0]");
    }

    fn allowed_char(lines: Lines) -> impl Strategy<Value = char> {
        any::<char>().prop_filter("refused", move |c| match lines {
            Lines::Single => !refused_anywhere(*c) && !matches!(c, '\t' | '\n' | '\r'),
            Lines::Multi => !refused_anywhere(*c) && *c != '\r',
        })
    }

    fn refused_char() -> impl Strategy<Value = char> {
        prop_oneof![
            (0u32..=0x1F)
                .prop_filter("tab, LF, CR", |u| ![9, 10, 13].contains(u))
                .prop_map(|u| char::from_u32(u).unwrap_or('\0')),
            (0x7Fu32..=0x9F).prop_map(|u| char::from_u32(u).unwrap_or('\0')),
            prop::sample::select(vec![
                '\u{00AD}',
                '\u{061C}',
                '\u{200B}',
                '\u{200E}',
                '\u{200F}',
                '\u{2028}',
                '\u{2029}',
                '\u{202A}',
                '\u{202B}',
                '\u{202C}',
                '\u{202D}',
                '\u{202E}',
                '\u{2060}',
                '\u{2064}',
                '\u{2066}',
                '\u{2067}',
                '\u{2068}',
                '\u{2069}',
                '\u{206F}',
                '\u{FEFF}',
                '\u{FFF9}',
                '\u{FFFB}',
                '\u{E0001}',
                '\u{E007F}',
            ]),
        ]
    }

    proptest! {
        #[test]
        fn accepts_every_text_without_refused_characters(
            single in prop::collection::vec(allowed_char(Lines::Single), 0..40),
            multi in prop::collection::vec(
                prop_oneof![4 => allowed_char(Lines::Multi).prop_map(String::from), 1 => Just("\r\n".to_string())],
                0..40,
            ),
        ) {
            let single: String = single.into_iter().collect();
            prop_assert_eq!(find_refused(&single, Lines::Single), None);
            prop_assert_eq!(find_refused(&single, Lines::Multi), None);
            let multi: String = multi.concat();
            prop_assert_eq!(find_refused(&multi, Lines::Multi), None);
            prop_assert!(check_text("f", &multi, Lines::Multi).is_ok());
        }

        #[test]
        fn refuses_every_text_with_a_refused_character(
            before in prop::collection::vec(allowed_char(Lines::Single), 0..20),
            bad in refused_char(),
            after in prop::collection::vec(any::<char>(), 0..20),
        ) {
            let s: String = before.iter().copied().chain([bad]).chain(after).collect();
            for lines in [Lines::Single, Lines::Multi] {
                let r = find_refused(&s, lines);
                prop_assert_eq!(r.map(|r| (r.ch, r.position)), Some((bad, before.len() + 1)));
                prop_assert!(check_text("f", &s, lines).is_err());
            }
        }

        #[test]
        fn single_line_refuses_tab_and_line_breaks(
            before in prop::collection::vec(allowed_char(Lines::Single), 0..20),
            brk in prop::sample::select(vec!['\t', '\n', '\r']),
            after in prop::collection::vec(allowed_char(Lines::Single), 0..20),
        ) {
            let s: String = before.iter().copied().chain([brk]).chain(after).collect();
            let r = find_refused(&s, Lines::Single);
            prop_assert_eq!(r.map(|r| r.kind), Some(RefusedKind::LineBreak));
        }
    }
}
