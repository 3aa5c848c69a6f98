//! Text normalisation and name keys for search and duplicate check (查重).
//!
//! [`normalize_text`] makes two spellings of the same text equal (full-width letters,
//! bracket styles, stray whitespace); [`name_key`] goes further for organisation and person
//! names: traditional → simplified, a leading region and the legal form (有限公司…) removed.

use serde::Serialize;

use crate::region;
use crate::width::half_width_char;
pub use crate::width::to_half_width;

fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{FEFF}')
}

/// Normalise free text: trim; full-width ASCII → half-width; `（）【】〔〕［］｛｝〖〗` → `()`;
/// zero-width characters removed; runs of whitespace collapsed into one space. Idempotent.
/// For matching keys and identifiers; stored names and texts keep what was typed
/// (see [`tidy_text`]).
pub fn normalize_text(s: &str) -> String {
    clean_line(s, |c| match c {
        // Brackets first: the full-width square and curly forms become round brackets,
        // not their ASCII twins.
        '（' | '【' | '〔' | '［' | '｛' | '〖' => '(',
        '）' | '】' | '〕' | '］' | '｝' | '〗' => ')',
        other => half_width_char(other),
    })
}

/// Tidy a text as it is stored: trim, zero-width characters removed, runs of whitespace
/// collapsed into one space — and every other character kept as typed, full-width
/// brackets and punctuation included (`中国建设银行股份有限公司（上海）分行` stays so: an
/// invoice title must match the registered name exactly). Idempotent.
pub fn tidy_text(s: &str) -> String {
    clean_line(s, |c| c)
}

/// One line: zero-width characters dropped, `map` applied, whitespace runs made one
/// space, trimmed.
fn clean_line(s: &str, map: impl Fn(char) -> char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.chars() {
        if is_zero_width(c) {
            continue;
        }
        let c = map(c);
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Normalise a multi-line text (remarks, addresses) for matching: each line as
/// [`normalize_text`] does, line breaks as [`tidy_multiline_text`] keeps them. Idempotent.
pub fn normalize_multiline_text(s: &str) -> String {
    join_lines(s, normalize_text)
}

/// Tidy a multi-line text as it is stored: each line as [`tidy_text`] does, line breaks
/// kept as LF (CRLF too), blank lines at the start and end dropped and runs of blank lines
/// kept as one. Idempotent.
pub fn tidy_multiline_text(s: &str) -> String {
    join_lines(s, tidy_text)
}

fn join_lines(s: &str, line_of: fn(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank_run = false;
    for line in s.split('\n') {
        let line = line_of(line);
        if line.is_empty() {
            blank_run = !out.is_empty();
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run {
                out.push('\n');
            }
        }
        blank_run = false;
        out.push_str(&line);
    }
    out
}

/// Traditional Chinese characters to simplified (`華為` → `华为`), offline, character by
/// character with a few word-level exceptions (乾隆 stays).
pub fn to_simplified(s: &str) -> String {
    fast2s::convert(s)
}

/// Matching key of an organisation or person name, with what was removed to get it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameKey {
    /// The key: simplified, lower-case, letters/digits/CJK only, region and legal form removed.
    pub key: String,
    /// 6-digit code of a region prefix (or bracketed region) removed from the name.
    pub region: Option<String>,
    /// Canonical legal form removed from the end, e.g. `有限公司` (also for 有限责任公司).
    pub legal_form: Option<String>,
    /// The name is a branch (分公司, 分店, 分厂, 办事处…); the branch part stays in the key.
    pub branch: bool,
}

/// Legal-form suffixes and their canonical form. Matched longest first; brackets in the
/// patterns match either bracket style.
const LEGAL_FORMS: &[(&str, &str)] = &[
    ("合伙企业(特殊普通合伙)", "特殊普通合伙"),
    ("合伙企业(有限合伙)", "有限合伙"),
    ("合伙企业(普通合伙)", "普通合伙"),
    ("集团股份有限公司", "集团股份有限公司"),
    ("集团有限责任公司", "集团有限公司"),
    ("(特殊普通合伙)", "特殊普通合伙"),
    ("农民专业合作社", "农民专业合作社"),
    ("集团有限公司", "集团有限公司"),
    ("股份有限公司", "股份有限公司"),
    ("有限责任公司", "有限公司"),
    ("个人独资企业", "个人独资企业"),
    ("(有限合伙)", "有限合伙"),
    ("(普通合伙)", "普通合伙"),
    ("个体工商户", "个体工商户"),
    ("专业合作社", "专业合作社"),
    ("有限公司", "有限公司"),
    ("股份公司", "股份有限公司"),
    ("集团公司", "集团公司"),
    ("合伙企业", "合伙企业"),
    ("合作社", "合作社"),
    ("集团", "集团"),
    ("公司", "公司"),
];

/// English legal forms as trailing words (case-insensitive) and their canonical form.
const ENGLISH_LEGAL_FORMS: &[(&[&str], &str)] = &[
    (&["company", "limited"], "ltd"),
    (&["co", "limited"], "ltd"),
    (&["co", "ltd"], "ltd"),
    (&["corporation"], "corp"),
    (&["limited"], "ltd"),
    (&["ltd"], "ltd"),
    (&["corp"], "corp"),
    (&["inc"], "inc"),
    (&["llc"], "llc"),
    (&["gmbh"], "gmbh"),
    (&["plc"], "plc"),
];

/// Suffixes that mark a branch of an organisation.
const BRANCH_SUFFIXES: &[&str] = &[
    "分公司",
    "分店",
    "分厂",
    "办事处",
    "分行",
    "支行",
    "营业部",
    "代表处",
];

fn fold_bracket(c: char) -> char {
    match c {
        '（' => '(',
        '）' => ')',
        other => other,
    }
}

/// Byte index where `suffix` starts if `s` ends with it (bracket styles folded).
fn suffix_start(s: &str, suffix: &str) -> Option<usize> {
    let mut rest = s;
    for expected in suffix.chars().rev() {
        let c = rest.chars().next_back()?;
        if fold_bracket(c) != expected {
            return None;
        }
        rest = &rest[..rest.len() - c.len_utf8()];
    }
    Some(rest.len())
}

/// Remove a trailing legal form: `华为技术有限责任公司` → (`华为技术`, Some(`有限公司`)),
/// `Apple Inc.` → (`Apple`, Some(`inc`)). Expects simplified text (see [`to_simplified`]);
/// the part before the suffix must not be empty.
pub fn strip_legal_form(s: &str) -> (&str, Option<&'static str>) {
    let trimmed = s.trim_end();
    for (suffix, canonical) in LEGAL_FORMS {
        if let Some(start) = suffix_start(trimmed, suffix) {
            let base = trimmed[..start].trim_end();
            if !base.is_empty() {
                return (base, Some(canonical));
            }
        }
    }
    strip_english_legal_form(trimmed)
}

/// Up to `max` trailing ASCII words of `s` with their byte offsets, last word first;
/// stops at the first non-ASCII character.
fn trailing_ascii_words(s: &str, max: usize) -> Vec<(usize, &str)> {
    let mut words = Vec::new();
    let mut end = s.len();
    while words.len() < max {
        let head =
            s[..end].trim_end_matches(|c: char| c.is_whitespace() || c.is_ascii_punctuation());
        let start = head
            .trim_end_matches(|c: char| c.is_ascii_alphanumeric())
            .len();
        if start == head.len() {
            break;
        }
        words.push((start, &head[start..]));
        end = start;
    }
    words
}

fn strip_english_legal_form(s: &str) -> (&str, Option<&'static str>) {
    let words = trailing_ascii_words(s, 2);
    for (pattern, canonical) in ENGLISH_LEGAL_FORMS {
        if pattern.len() > words.len() {
            continue;
        }
        let matches = pattern
            .iter()
            .rev()
            .zip(&words)
            .all(|(p, (_, w))| w.eq_ignore_ascii_case(p));
        if matches {
            let start = words[pattern.len() - 1].0;
            let base = s[..start]
                .trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == '.' || c == '&');
            if !base.is_empty() {
                return (base, Some(canonical));
            }
        }
    }
    (s, None)
}

/// Keep letters, digits and CJK; drop spaces and punctuation.
fn clean_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    out.extend(s.chars().filter(|c| c.is_alphanumeric()));
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2FA1F}')
}

/// A region written in brackets at the end of `s`: `华为技术(深圳)` → (`华为技术`, 深圳市).
fn strip_trailing_bracket_region(s: &str) -> Option<(&str, &'static region::Region)> {
    let inner_end = suffix_start(s, ")")?;
    let open = s[..inner_end].rfind('(')?;
    let region = region::region_named(s[open + 1..inner_end].trim())?;
    Some((s[..open].trim_end(), region))
}

/// The earliest legal form inside a branch name, followed by the branch part:
/// `华为技术有限公司上海分公司` → (`华为技术`, `有限公司`, `上海分公司`).
fn split_branch(s: &str) -> Option<(&str, &'static str, &str)> {
    let mut best: Option<(usize, usize, &'static str)> = None; // (start, len, canonical)
    for (suffix, canonical) in LEGAL_FORMS {
        if suffix.contains('(') {
            continue;
        }
        for (start, _) in s.match_indices(suffix) {
            let tail = &s[start + suffix.len()..];
            // The legal form must leave a branch part after it and a name before it, and
            // must not itself end a branch suffix (the `公司` of `分公司`).
            if start == 0 || !BRANCH_SUFFIXES.iter().any(|b| tail.ends_with(b)) {
                continue;
            }
            if BRANCH_SUFFIXES
                .iter()
                .any(|b| s[..start + suffix.len()].ends_with(b))
            {
                continue;
            }
            let better = match best {
                None => true,
                Some((b_start, b_len, _)) => {
                    start < b_start || (start == b_start && suffix.len() > b_len)
                }
            };
            if better {
                best = Some((start, suffix.len(), canonical));
            }
        }
    }
    let (start, len, canonical) = best?;
    Some((&s[..start], canonical, &s[start + len..]))
}

/// Matching key of an organisation or person name: `北京市华为技术有限公司`,
/// `华为技术有限责任公司（北京）` and `華為技術有限公司` all give key `华为技术`.
pub fn name_key(name: &str) -> NameKey {
    let text = to_simplified(&normalize_text(name)).to_lowercase();
    let is_branch = BRANCH_SUFFIXES.iter().any(|b| text.ends_with(b));
    let has_legal_form = strip_legal_form(&text).1.is_some();

    // A person's name (2–4 CJK characters, no legal form) is kept whole: 黄山 is a person
    // here, not the city. A name that starts with a region's full name is no person.
    let cleaned = clean_key(&text);
    let n = cleaned.chars().count();
    let region_prefix = region::match_region_prefix(&text);
    let full_region_first = region_prefix.as_ref().is_some_and(|m| m.full);
    if !has_legal_form
        && !is_branch
        && (2..=4).contains(&n)
        && cleaned.chars().all(is_cjk)
        && !full_region_first
    {
        return NameKey {
            key: cleaned,
            region: None,
            legal_form: None,
            branch: false,
        };
    }

    let mut region_code: Option<&'static str> = None;
    let mut rest: &str = &text;
    if let Some(m) = region_prefix {
        region_code = Some(m.region.code);
        rest = &rest[m.consumed..];
    }

    let (base, legal_form, branch_part) = if is_branch {
        match split_branch(rest) {
            Some((base, form, tail)) => (base, Some(form), tail),
            None => (rest, None, ""),
        }
    } else {
        // `华为技术有限责任公司(北京)`: a bracketed region after the legal form.
        if let Some((before, r)) = strip_trailing_bracket_region(rest) {
            region_code.get_or_insert(r.code);
            rest = before;
        }
        let (base, form) = strip_legal_form(rest);
        (base, form, "")
    };
    // `华为技术(深圳)有限公司`: a bracketed region right before the legal form.
    let base = match strip_trailing_bracket_region(base) {
        Some((before, r)) if !before.is_empty() => {
            region_code.get_or_insert(r.code);
            before
        }
        _ => base,
    };

    let mut key = clean_key(base);
    key.push_str(&clean_key(branch_part));
    if key.is_empty() {
        // Nothing left (`北京市有限公司`): better a literal key than an empty one.
        return NameKey {
            key: cleaned,
            region: None,
            legal_form: None,
            branch: is_branch,
        };
    }
    NameKey {
        key,
        region: region_code.map(str::to_string),
        legal_form: legal_form.map(str::to_string),
        branch: is_branch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn multiline_keeps_line_breaks() {
        assert_eq!(
            normalize_multiline_text("\r\n 第一行 \t 内容\r\n\r\n\r\n（二）行\n\n"),
            "第一行 内容\n\n(二)行"
        );
        assert_eq!(normalize_multiline_text("a\nb"), "a\nb");
        assert_eq!(normalize_multiline_text(" \n \n"), "");
    }

    #[test]
    fn normalizes_text() {
        assert_eq!(
            normalize_text("  ＡＢＣ　科技\t\n有限公司 "),
            "ABC 科技 有限公司"
        );
        assert_eq!(
            normalize_text("华为（北京）【深圳】〔上海〕［广州］｛杭州｝"),
            "华为(北京)(深圳)(上海)(广州)(杭州)"
        );
        assert_eq!(normalize_text("a\u{200B}b\u{FEFF}c \u{200D} d"), "abc d");
        assert_eq!(normalize_text("１２３－４５６"), "123-456");
        assert_eq!(normalize_text(""), "");
        assert_eq!(normalize_text(" \u{3000} "), "");
    }

    #[test]
    fn tidy_keeps_what_was_typed() {
        assert_eq!(
            tidy_text("  中国建设银行股份有限公司（上海）分行\u{200B} "),
            "中国建设银行股份有限公司（上海）分行"
        );
        assert_eq!(tidy_text("甲，乙　\t 丙"), "甲，乙 丙");
        assert_eq!(
            tidy_multiline_text("\r\n 第一行，内容\r\n\r\n\r\n（二）行\n"),
            "第一行，内容\n\n（二）行"
        );
        // The matching form of a tidied text is that of the text typed.
        let typed = "ＡＢＣ（上海）　分行";
        assert_eq!(normalize_text(&tidy_text(typed)), normalize_text(typed));
    }

    #[test]
    fn simplifies() {
        assert_eq!(to_simplified("華為技術有限公司"), "华为技术有限公司");
        assert_eq!(to_simplified("臺灣"), "台湾");
        assert_eq!(to_simplified("华为"), "华为");
    }

    #[test]
    fn legal_forms_longest_first() {
        for pair in LEGAL_FORMS.windows(2) {
            assert!(
                pair[0].0.chars().count() >= pair[1].0.chars().count(),
                "{pair:?}"
            );
        }
        assert_eq!(
            strip_legal_form("华为技术有限责任公司"),
            ("华为技术", Some("有限公司"))
        );
        assert_eq!(
            strip_legal_form("华为技术有限公司 "),
            ("华为技术", Some("有限公司"))
        );
        assert_eq!(
            strip_legal_form("招商银行股份有限公司"),
            ("招商银行", Some("股份有限公司"))
        );
        assert_eq!(
            strip_legal_form("红杉投资合伙企业（有限合伙）"),
            ("红杉投资", Some("有限合伙"))
        );
        assert_eq!(
            strip_legal_form("某某会计师事务所(特殊普通合伙)"),
            ("某某会计师事务所", Some("特殊普通合伙"))
        );
        assert_eq!(strip_legal_form("中信集团"), ("中信", Some("集团")));
        assert_eq!(strip_legal_form("公司"), ("公司", None));
        assert_eq!(strip_legal_form("Apple Inc."), ("Apple", Some("inc")));
        assert_eq!(strip_legal_form("ABC Co., Ltd."), ("ABC", Some("ltd")));
        assert_eq!(
            strip_legal_form("Acme Company Limited"),
            ("Acme", Some("ltd"))
        );
        assert_eq!(strip_legal_form("Inc"), ("Inc", None));
        assert_eq!(strip_legal_form("Zinc"), ("Zinc", None));
        assert_eq!(strip_legal_form("华为"), ("华为", None));
    }

    fn key(s: &str) -> NameKey {
        name_key(s)
    }

    #[test]
    fn same_company_same_key() {
        for name in [
            "北京市华为技术有限公司",
            "华为技术有限责任公司（北京）",
            "（北京）华为技术有限公司",
            "北京华为技术有限公司",
            "华为技术(北京)有限公司",
        ] {
            let k = key(name);
            assert_eq!(k.key, "华为技术", "{name}");
            assert_eq!(k.region.as_deref(), Some("110000"), "{name}");
            assert_eq!(k.legal_form.as_deref(), Some("有限公司"), "{name}");
            assert!(!k.branch, "{name}");
        }
        let k = key("華為技術有限公司");
        assert_eq!((k.key.as_str(), k.region), ("华为技术", None));
        assert_eq!(key("ＡＢＣ 科技 有限公司").key, "abc科技");
        assert_eq!(
            key("深圳市腾讯计算机系统有限公司").region.as_deref(),
            Some("440300")
        );
        assert_eq!(
            key("广东省深圳市腾讯计算机系统有限公司").key,
            "腾讯计算机系统"
        );
        assert_eq!(key("Apple Inc.").key, "apple");
    }

    #[test]
    fn branches_stay_distinct() {
        let parent = key("华为技术有限公司");
        let branch = key("华为技术有限公司上海分公司");
        assert!(branch.branch);
        assert_ne!(parent.key, branch.key);
        assert_eq!(branch.key, "华为技术上海分公司");
        assert_eq!(branch.legal_form.as_deref(), Some("有限公司"));
        let k = key("北京市华为技术有限责任公司深圳分公司");
        assert_eq!(k.key, "华为技术深圳分公司");
        assert_eq!(k.region.as_deref(), Some("110000"));
        let k = key("中国移动通信集团公司北京分公司");
        assert_eq!(
            (k.key.as_str(), k.legal_form.as_deref()),
            ("中国移动通信北京分公司", Some("集团公司"))
        );
        let k = key("招商银行深圳分行");
        assert!(k.branch);
        assert_eq!(k.key, "招商银行深圳分行");
    }

    #[test]
    fn person_names_kept_whole() {
        let k = key(" 张三 ");
        assert_eq!(
            (k.key.as_str(), k.region, k.legal_form),
            ("张三", None, None)
        );
        assert_eq!(key("黄山").key, "黄山");
        assert_eq!(key("欧阳娜娜").key, "欧阳娜娜");
        assert_eq!(key("張偉").key, "张伟");
    }

    #[test]
    fn never_empty() {
        for name in [
            "有限公司",
            "公司",
            "北京市有限公司",
            "北京市",
            "(北京)",
            "集团",
        ] {
            assert!(!key(name).key.is_empty(), "{name}");
        }
        assert_eq!(key("").key, "");
    }

    proptest! {
        #[test]
        fn normalize_multiline_text_is_idempotent(s in "[ 　\\t\\n\\r（）ＡＢ１２a-z华为]{0,40}") {
            let once = normalize_multiline_text(&s);
            prop_assert_eq!(normalize_multiline_text(&once), once.clone());
            prop_assert!(!once.contains('\r') && !once.starts_with('\n') && !once.ends_with('\n'));
        }

        #[test]
        fn normalize_text_is_idempotent(s in "\\PC{0,40}|[ 　\\t\\n（）【】ＡＢ１２\u{200B}a-z华为]{0,40}") {
            let once = normalize_text(&s);
            prop_assert_eq!(normalize_text(&once), once);
        }

        #[test]
        fn tidy_text_is_idempotent_and_agrees_with_normalize(s in "\\PC{0,40}|[ 　\\t\\n（）【】，ＡＢ１２\u{200B}a-z华为]{0,40}") {
            let once = tidy_text(&s);
            prop_assert_eq!(tidy_text(&once), once.clone());
            prop_assert_eq!(normalize_text(&once), normalize_text(&s));
        }

        #[test]
        fn name_key_never_panics(s in "\\PC{0,40}") {
            let _ = name_key(&s);
        }
    }
}
