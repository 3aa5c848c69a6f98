//! GB/T 4754-2017 industry classification (国民经济行业分类): the 20 sections (门类, `A`–`T`)
//! and 97 divisions (大类, `01`–`97`), embedded from `data/industries.tsv`.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Serialize;

use crate::normalize::to_half_width;
use crate::Violation;

const INDUSTRIES_TSV: &str = include_str!("../data/industries.tsv");

/// Level of an industry code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IndustryLevel {
    /// 门类: one letter `A`–`T`.
    Section,
    /// 大类: two digits `01`–`97`.
    Division,
}

/// One section or division.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Industry {
    /// `C` for a section, `13` for a division.
    pub code: &'static str,
    /// Official name, e.g. `农副食品加工业`.
    pub name: &'static str,
    /// Section or division.
    pub level: IndustryLevel,
    /// The section letter (a section's own code for a section).
    pub section: &'static str,
}

struct Table {
    entries: Vec<Industry>,
    by_code: HashMap<&'static str, usize>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut entries = Vec::new();
        for line in INDUSTRIES_TSV.lines() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let code = cols.next().expect("industries.tsv: code column");
            let name = cols.next().expect("industries.tsv: name column");
            let section = cols.next().expect("industries.tsv: section column");
            let level = if code.len() == 1 {
                IndustryLevel::Section
            } else {
                IndustryLevel::Division
            };
            entries.push(Industry {
                code,
                name,
                level,
                section,
            });
        }
        let by_code = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.code, i))
            .collect();
        Table { entries, by_code }
    })
}

/// Parsed shape of user input: a section, a division, or both (`C13`).
enum Input {
    Section(String),
    Division(String),
    Both(String, String),
}

fn parse_input(input: &str) -> Option<Input> {
    let s: String = to_half_width(input.trim())
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let bytes = s.as_bytes();
    match bytes {
        [l] if l.is_ascii_uppercase() => Some(Input::Section(s)),
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some(Input::Division(s)),
        [l, a, b] if l.is_ascii_uppercase() && a.is_ascii_digit() && b.is_ascii_digit() => {
            Some(Input::Both(s[..1].to_string(), s[1..].to_string()))
        }
        _ => None,
    }
}

fn get(code: &str) -> Option<&'static Industry> {
    let t = table();
    t.by_code.get(code).map(|&i| &t.entries[i])
}

/// A section (`C`) or division (`13`); `C13` gives division `13` when 13 is in section C.
/// Case, spaces and full-width characters are ignored.
pub fn lookup(code: &str) -> Option<&'static Industry> {
    match parse_input(code)? {
        Input::Section(s) | Input::Division(s) => get(&s),
        Input::Both(section, division) => get(&division).filter(|d| d.section == section),
    }
}

/// Parse a user-entered industry code, returning the canonical code (`C`, `13`).
pub fn validate_industry(input: &str) -> Result<String, Violation> {
    let shown = input.trim();
    let Some(parsed) = parse_input(input) else {
        return Err(Violation::new(
            "industry.format",
            format!("行业代码格式错误：应为 GB/T 4754-2017 门类字母（如 C）或两位大类代码（如 13）（{shown}）"),
            format!("Industry code must be a GB/T 4754-2017 section letter (C) or two-digit division (13) ({shown})"),
        ));
    };
    let unknown = |code: &str| {
        Violation::new(
            "industry.unknown",
            format!("行业代码不存在：GB/T 4754-2017 中没有 {code}"),
            format!("Unknown industry code: {code} is not in GB/T 4754-2017"),
        )
    };
    match parsed {
        Input::Section(code) | Input::Division(code) => get(&code)
            .map(|i| i.code.to_string())
            .ok_or_else(|| unknown(&code)),
        Input::Both(section, division) => {
            let d = get(&division).ok_or_else(|| unknown(&division))?;
            if d.section != section {
                return Err(Violation::new(
                    "industry.section_mismatch",
                    format!("行业代码门类不符：大类 {division}（{}）属于门类 {}，不属于 {section}（{shown}）", d.name, d.section),
                    format!("Industry division {division} ({}) belongs to section {}, not {section} ({shown})", d.name, d.section),
                ));
            }
            Ok(d.code.to_string())
        }
    }
}

/// The section of a division (`13` → `C 制造业`); a section is its own section.
pub fn section_of(division: &str) -> Option<&'static Industry> {
    lookup(division).and_then(|i| get(i.section))
}

/// Name of a section or division.
pub fn name(code: &str) -> Option<&'static str> {
    lookup(code).map(|i| i.name)
}

/// All 20 sections, `A` to `T`.
pub fn sections() -> Vec<&'static Industry> {
    table()
        .entries
        .iter()
        .filter(|i| i.level == IndustryLevel::Section)
        .collect()
}

/// The divisions of a section, in code order (empty for an unknown section).
pub fn divisions(section: &str) -> Vec<&'static Industry> {
    let section = section.trim().to_ascii_uppercase();
    table()
        .entries
        .iter()
        .filter(|i| i.level == IndustryLevel::Division && i.section == section)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_table() {
        let sections = sections();
        assert_eq!(sections.len(), 20);
        let letters: String = sections.iter().map(|s| s.code).collect();
        assert_eq!(letters, "ABCDEFGHIJKLMNOPQRST");
        let all: Vec<&str> = table()
            .entries
            .iter()
            .filter(|i| i.level == IndustryLevel::Division)
            .map(|i| i.code)
            .collect();
        let expected: Vec<String> = (1..=97).map(|n| format!("{n:02}")).collect();
        assert_eq!(all, expected);
        let ranges = [
            ("A", 1, 5),
            ("B", 6, 12),
            ("C", 13, 43),
            ("D", 44, 46),
            ("E", 47, 50),
            ("F", 51, 52),
            ("G", 53, 60),
            ("H", 61, 62),
            ("I", 63, 65),
            ("J", 66, 69),
            ("K", 70, 70),
            ("L", 71, 72),
            ("M", 73, 75),
            ("N", 76, 79),
            ("O", 80, 82),
            ("P", 83, 83),
            ("Q", 84, 85),
            ("R", 86, 90),
            ("S", 91, 96),
            ("T", 97, 97),
        ];
        for (section, from, to) in ranges {
            let got: Vec<&str> = divisions(section).iter().map(|d| d.code).collect();
            let want: Vec<String> = (from..=to).map(|n| format!("{n:02}")).collect();
            assert_eq!(got, want, "section {section}");
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(name("C"), Some("制造业"));
        assert_eq!(name("13"), Some("农副食品加工业"));
        assert_eq!(name("65"), Some("软件和信息技术服务业"));
        assert_eq!(lookup("c13").map(|i| i.code), Some("13"));
        assert_eq!(lookup(" Ｃ１３ ").map(|i| i.code), Some("13"));
        assert_eq!(lookup("A13"), None);
        assert_eq!(lookup("98"), None);
        assert_eq!(lookup("U"), None);
        assert_eq!(section_of("65").map(|s| s.code), Some("I"));
        assert_eq!(section_of("I").map(|s| s.code), Some("I"));
    }

    #[test]
    fn validation() {
        assert_eq!(validate_industry("c").as_deref(), Ok("C"));
        assert_eq!(validate_industry("I65").as_deref(), Ok("65"));
        assert_eq!(validate_industry("07").as_deref(), Ok("07"));
        let code = |s: &str| validate_industry(s).map_err(|v| v.code);
        assert_eq!(code("6511"), Err("industry.format".into()));
        assert_eq!(code("98"), Err("industry.unknown".into()));
        assert_eq!(code("00"), Err("industry.unknown".into()));
        assert_eq!(code("Z"), Err("industry.unknown".into()));
        assert_eq!(code("A13"), Err("industry.section_mismatch".into()));
        let v = validate_industry("A13").expect_err("mismatch");
        assert!(v.zh.contains("A13") && v.en.contains("A13"));
    }
}
