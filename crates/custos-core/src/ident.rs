//! Validated identifiers: parse once at the edge, then the type proves validity.
//!
//! Every parser first normalises its input (trim, full-width ASCII → half-width, and drops
//! the spaces/hyphens the format allows) and keeps the canonical form, which is what
//! `Display`, `as_str()` and `Serialize` give back.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::normalize::to_half_width;
use crate::region;
use crate::Violation;

/// Trim and half-width, then drop spaces and hyphens (which no identifier here contains).
fn compact(input: &str) -> String {
    let half = to_half_width(input.trim());
    // Reserved once: batch duplicate detection parses millions of identifiers.
    let mut out = String::with_capacity(half.len());
    out.extend(half.chars().filter(|c| !c.is_whitespace() && *c != '-'));
    out
}

/// `Display`, `as_str()`, `AsRef<str>` and `Serialize` as the canonical string.
macro_rules! canonical_string {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

/// `FromStr` and `Deserialize` through `parse` (validating on the way in).
macro_rules! parse_from_string {
    ($ty:ty) => {
        impl FromStr for $ty {
            type Err = Violation;
            fn from_str(s: &str) -> Result<Self, Violation> {
                <$ty>::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                <$ty>::parse(&s).map_err(|v| serde::de::Error::custom(v.en))
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// 统一社会信用代码 (GB 32100-2015)

/// The 31 characters of GB 32100-2015 in value order (no I, O, Z, S, V).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17: 3^(i-1) mod 31.
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
/// Registration authorities (登记管理部门) of GB 32100-2015 table 1: 1 机构编制, 2 外交,
/// 3 司法行政, 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商/市场监管, A 中央军委改革和编制办公室,
/// N 农业, Y 其他.
const USCC_AUTHORITIES: &str = "123456789ANY";

fn uscc_value(c: char) -> Option<u32> {
    USCC_ALPHABET
        .iter()
        .position(|&a| char::from(a) == c)
        .map(|p| p as u32)
}

/// Check character for 17 characters already known to be in the alphabet.
fn uscc_check_of(values: &[u32; 17]) -> char {
    let sum: u32 = values.iter().zip(USCC_WEIGHTS).map(|(v, w)| v * w).sum();
    let check = (31 - sum % 31) % 31;
    char::from(USCC_ALPHABET[check as usize])
}

/// 统一社会信用代码 (unified social credit code), 18 characters, GB 32100-2015.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc(String);

impl Uscc {
    /// Parse and validate: length, alphabet, check character, registration authority and
    /// region. Lower case, full-width characters, spaces and hyphens are accepted.
    pub fn parse(input: &str) -> Result<Uscc, Violation> {
        let s = compact(input).to_ascii_uppercase();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 18 {
            return Err(Violation::new(
                "uscc.length",
                format!(
                    "统一社会信用代码长度错误：应为 18 位，实为 {} 位（{s}）",
                    chars.len()
                ),
                format!(
                    "Unified social credit code must have 18 characters, not {} ({s})",
                    chars.len()
                ),
            ));
        }
        let values = uscc_values(&chars, &s)?;
        let mut first17 = [0u32; 17];
        first17.copy_from_slice(&values[..17]);
        let expected = uscc_check_of(&first17);
        let actual = chars[17];
        if expected != actual {
            return Err(Violation::new(
                "uscc.check_char",
                format!("统一社会信用代码校验位错误：应为 {expected}，实为 {actual}（{s}）"),
                format!(
                    "Unified social credit code check character is wrong: expected {expected}, got {actual} ({s})"
                ),
            ));
        }
        if !USCC_AUTHORITIES.contains(chars[0]) {
            return Err(Violation::new(
                "uscc.authority",
                format!(
                    "统一社会信用代码第 1 位（登记管理部门代码）无效：{}（{s}）",
                    chars[0]
                ),
                format!(
                    "Unified social credit code position 1 (registration authority) is invalid: {} ({s})",
                    chars[0]
                ),
            ));
        }
        let region_code = &s[2..8];
        // Only province + city (first 4 digits) must be known: counties are merged and
        // abolished over the years, but a code once issued keeps its registration region.
        // `100000` is the nationwide level (central registration, e.g. 民政部).
        let region_ok = region_code.bytes().all(|b| b.is_ascii_digit())
            && (region::city_prefix_known(&region_code[..4]) || region_code == "100000");
        if !region_ok {
            return Err(Violation::new(
                "uscc.region",
                format!(
                    "统一社会信用代码第 3–8 位（登记管理机关行政区划码）无效：{region_code}（{s}）"
                ),
                format!(
                    "Unified social credit code positions 3-8 (registration region) are not a known region: {region_code} ({s})"
                ),
            ));
        }
        Ok(Uscc(s))
    }

    /// Complete 17 characters with their check character: for tests and demo data.
    pub fn with_check(first17: &str) -> Result<Uscc, Violation> {
        let s = compact(first17).to_ascii_uppercase();
        let chars: Vec<char> = s.chars().collect();
        if chars.len() != 17 {
            return Err(Violation::new(
                "uscc.length",
                format!(
                    "统一社会信用代码本体长度错误：应为 17 位，实为 {} 位（{s}）",
                    chars.len()
                ),
                format!(
                    "Unified social credit code body must have 17 characters, not {} ({s})",
                    chars.len()
                ),
            ));
        }
        let values = uscc_values(&chars, &s)?;
        let mut body = [0u32; 17];
        body.copy_from_slice(&values);
        let mut full = s;
        full.push(uscc_check_of(&body));
        Uscc::parse(&full)
    }

    /// The canonical 18 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Position 1: registration authority (`9` = market regulation, `5` = civil affairs…).
    pub fn registration_authority(&self) -> char {
        self.0.chars().next().unwrap_or('0')
    }

    /// Positions 3–8: the registration authority's region code (may be a since-abolished county).
    pub fn region_code(&self) -> &str {
        &self.0[2..8]
    }

    /// Positions 9–17: the organisation code (主体标识码, GB 11714 for older entities).
    pub fn organization_code(&self) -> &str {
        &self.0[8..17]
    }
}

/// Values of characters in the USCC alphabet, or `uscc.charset` naming the first bad one.
fn uscc_values(chars: &[char], shown: &str) -> Result<Vec<u32>, Violation> {
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            uscc_value(c).ok_or_else(|| {
                let pos = i + 1;
                Violation::new(
                    "uscc.charset",
                    format!(
                        "统一社会信用代码第 {pos} 位字符无效：{c}（只允许数字和除 I、O、Z、S、V 以外的大写字母）（{shown}）"
                    ),
                    format!(
                        "Unified social credit code has an invalid character {c:?} at position {pos} (digits and capital letters except I, O, Z, S, V) ({shown})"
                    ),
                )
            })
        })
        .collect()
}

canonical_string!(Uscc);
parse_from_string!(Uscc);

// ---------------------------------------------------------------------------------------
// 居民身份证号码 (GB 11643-1999)

/// ISO 7064 MOD 11-2 check character of 17 ASCII digits (the same algorithm code rules
/// use, so there is one implementation).
fn id_check_of(digits17: &[u8]) -> char {
    let payload = std::str::from_utf8(digits17).unwrap_or_default();
    crate::check::CheckAlgorithm::Mod11_2
        .compute(payload)
        .unwrap_or('?')
}

/// Sex recorded in an ID number (17th digit: odd = male).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// 男
    Male,
    /// 女
    Female,
}

/// 居民身份证号码 (resident identity number), 18 characters, GB 11643-1999.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    value: String,
    birth_date: NaiveDate,
}

impl IdNumber {
    /// Parse and validate against `today` (birth dates after it are rejected). Accepts a
    /// lower-case `x`, full-width digits, spaces, and the 15-digit legacy form, which is
    /// upgraded to 18 digits (century `19` inserted, check character computed).
    pub fn parse(input: &str, today: NaiveDate) -> Result<IdNumber, Violation> {
        let s = compact(input).to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 && n != 15 {
            return Err(Violation::new(
                "id_number.length",
                format!("身份证号码长度错误：应为 18 位（或旧版 15 位），实为 {n} 位（{s}）"),
                format!(
                    "ID number must have 18 characters (or 15 for the old form), not {n} ({s})"
                ),
            ));
        }
        if let Some((i, c)) = s
            .chars()
            .enumerate()
            .find(|&(i, c)| !(c.is_ascii_digit() || (n == 18 && i == 17 && c == 'X')))
        {
            let pos = i + 1;
            return Err(Violation::new(
                "id_number.charset",
                format!("身份证号码第 {pos} 位字符无效：{c}（只允许数字，第 18 位可为 X）（{s}）"),
                format!("ID number has an invalid character {c:?} at position {pos} (digits only, X allowed last) ({s})"),
            ));
        }
        let full = if n == 15 {
            // Legacy numbers were issued to people born in the 1900s.
            let mut body = String::with_capacity(18);
            body.push_str(&s[..6]);
            body.push_str("19");
            body.push_str(&s[6..]);
            let check = id_check_of(body.as_bytes());
            body.push(check);
            body
        } else {
            let expected = id_check_of(&s.as_bytes()[..17]);
            let actual = char::from(s.as_bytes()[17]);
            if expected != actual {
                return Err(Violation::new(
                    "id_number.check_char",
                    format!("身份证号码校验位错误：应为 {expected}，实为 {actual}（{s}）"),
                    format!(
                        "ID number check character is wrong: expected {expected}, got {actual} ({s})"
                    ),
                ));
            }
            s
        };
        let province = &full[..2];
        // Only the province is checked: numbers keep the city/county code of where they were
        // first issued, and many of those codes have since been abolished. 83 is the code of
        // residence permits for Taiwan residents, which use the same number format.
        if !(region::province_prefix_known(province) || province == "83") {
            return Err(Violation::new(
                "id_number.region",
                format!("身份证号码前 2 位不是有效的省级行政区划代码：{province}（{full}）"),
                format!("ID number does not start with a known province code: {province} ({full})"),
            ));
        }
        let birth = &full[6..14];
        let birth_date = match parse_yyyymmdd(birth) {
            Some(d) if d.year() >= 1900 && d <= today => d,
            Some(_) => {
                return Err(Violation::new(
                    "id_number.birth_date",
                    format!(
                    "身份证号码出生日期超出范围：{birth} 应在 1900-01-01 至 {today} 之间（{full}）"
                ),
                    format!(
                    "ID number birth date {birth} must be between 1900-01-01 and {today} ({full})"
                ),
                ))
            }
            None => {
                return Err(Violation::new(
                    "id_number.birth_date",
                    format!("身份证号码出生日期无效：{birth} 不是真实日期（{full}）"),
                    format!("ID number birth date {birth} is not a real date ({full})"),
                ))
            }
        };
        Ok(IdNumber {
            value: full,
            birth_date,
        })
    }

    /// Complete 17 digits with their check character: for tests and demo data.
    pub fn with_check(first17: &str, today: NaiveDate) -> Result<IdNumber, Violation> {
        let s = compact(first17);
        if s.len() != 17 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Violation::new(
                "id_number.length",
                format!("身份证号码本体应为 17 位数字（{s}）"),
                format!("ID number body must be 17 digits ({s})"),
            ));
        }
        let mut full = s;
        let check = id_check_of(full.as_bytes());
        full.push(check);
        IdNumber::parse(&full, today)
    }

    /// The canonical 18 characters.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Date of birth (digits 7–14).
    pub fn birth_date(&self) -> NaiveDate {
        self.birth_date
    }

    /// Sex from the 17th digit: odd male, even female.
    pub fn gender(&self) -> Gender {
        match self.value.as_bytes().get(16).map(|d| (d - b'0') % 2) {
            Some(1) => Gender::Male,
            _ => Gender::Female,
        }
    }

    /// The 6-digit region code where the number was issued (may no longer exist).
    pub fn region_code(&self) -> &str {
        &self.value[..6]
    }

    /// Age in whole years on `today`.
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        today.years_since(self.birth_date).unwrap_or(0)
    }
}

fn parse_yyyymmdd(s: &str) -> Option<NaiveDate> {
    let year: i32 = s.get(..4)?.parse().ok()?;
    let month: u32 = s.get(4..6)?.parse().ok()?;
    let day: u32 = s.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

canonical_string!(IdNumber);

// ---------------------------------------------------------------------------------------
// 手机号码

fn mobile_digits(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// Strip a `+86`, `0086` or `86` country code from a digit string, if what follows is 11 digits.
fn strip_country_code_mobile(s: &str) -> &str {
    for prefix in ["+86", "0086", "86"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            if rest.len() == 11 {
                return rest;
            }
        }
    }
    s
}

/// Mainland mobile number (手机号码), canonical 11 digits like `13800138000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mobile(String);

impl Mobile {
    /// Parse `13800138000`, `+86 138-0013-8000`, `0086 13800138000`, full-width digits.
    pub fn parse(input: &str) -> Result<Mobile, Violation> {
        let s: String = compact(input)
            .chars()
            .filter(|c| !matches!(c, '(' | ')'))
            .collect();
        let digits = strip_country_code_mobile(&s);
        if mobile_digits(digits) {
            Ok(Mobile(digits.to_string()))
        } else {
            let shown = input.trim();
            Err(Violation::new(
                "mobile.format",
                format!("手机号码格式错误：应为 1 开头、第 2 位为 3–9 的 11 位中国大陆手机号（{shown}）"),
                format!("Mobile number must be 11 digits starting with 13-19 (mainland China) ({shown})"),
            ))
        }
    }

    /// The canonical 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

canonical_string!(Mobile);
parse_from_string!(Mobile);

// ---------------------------------------------------------------------------------------
// 联系电话: mobile, landline with area code, or 400/800 service number

/// What kind of number a [`Phone`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 手机: `13800138000`.
    Mobile,
    /// 固定电话: `010-12345678`, `0571-8765432-123`.
    Landline,
    /// 400/800 服务号码: `400-123-4567`.
    Service,
}

/// A contact phone number (联系电话) in canonical form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    value: String,
    kind: PhoneKind,
}

/// Words that introduce an extension: `010-12345678转123`, `… ext. 123`, `… x123`, `…#123`.
const EXTENSION_MARKERS: [&str; 5] = ["转", "分机", "ext", "x", "#"];

fn phone_format_error(shown: &str) -> Violation {
    Violation::new(
        "phone.format",
        format!("电话号码格式错误：应为手机号、带区号的固定电话（如 010-12345678、0571-8765432 转 123）或 400/800 号码（{shown}）"),
        format!("Phone number must be a mobile number, a landline with area code (010-12345678, 0571-8765432 ext 123) or a 400/800 number ({shown})"),
    )
}

fn phone_area_code_error(shown: &str, detail_zh: &str, detail_en: &str) -> Violation {
    Violation::new(
        "phone.area_code",
        format!("固定电话{detail_zh}：请填写区号，如 010-12345678、0571-8765432（{shown}）"),
        format!(
            "Landline number {detail_en}: it needs an area code, e.g. 010-12345678 or 0571-8765432 ({shown})"
        ),
    )
}

/// Length of the area code a landline digit string starts with (`010`, `02x` → 3, `0xxx` → 4).
fn area_code_len(digits: &str) -> Option<usize> {
    let b = digits.as_bytes();
    match (b.first(), b.get(1), b.get(2)) {
        (Some(b'0'), Some(b'1'), Some(b'0')) => Some(3),
        (Some(b'0'), Some(b'2'), Some(_)) => Some(3),
        (Some(b'0'), Some(b'3'..=b'9'), Some(_)) => Some(4),
        _ => None,
    }
}

impl Phone {
    /// Parse a mobile, a landline with area code (brackets, `+86`/`86` with or without the
    /// trunk `0`, extension after `-`, `转`, `ext`), or a 400/800 number.
    pub fn parse(input: &str) -> Result<Phone, Violation> {
        let shown = input.trim();
        let s = to_half_width(shown).to_lowercase();
        let (main, ext) = split_extension(&s).ok_or_else(|| phone_format_error(shown))?;
        let main = main.trim();
        let (main, country_code) = match main
            .strip_prefix("+86")
            .or_else(|| main.strip_prefix("0086"))
        {
            Some(rest) => (rest, true),
            None => (main, false),
        };
        match Phone::parse_national(main, ext, country_code, shown) {
            Err(first) if !country_code => {
                // `86 10 12345678` or `8613800138000`: a bare 86 may be the country code.
                match main.trim_start().strip_prefix("86") {
                    Some(rest) => Phone::parse_national(rest, ext, true, shown).map_err(|_| first),
                    None => Err(first),
                }
            }
            other => other,
        }
    }

    /// Parse what follows the country code: digit groups separated by spaces, hyphens,
    /// dots or brackets.
    fn parse_national(
        main: &str,
        ext: Option<&str>,
        country_code: bool,
        shown: &str,
    ) -> Result<Phone, Violation> {
        let mut groups: Vec<String> = Vec::new();
        let mut current = String::new();
        for c in main.chars() {
            match c {
                '0'..='9' => current.push(c),
                ' ' | '-' | '.' | '(' | ')' => {
                    if !current.is_empty() {
                        groups.push(std::mem::take(&mut current));
                    }
                }
                _ => return Err(phone_format_error(shown)),
            }
        }
        if !current.is_empty() {
            groups.push(current);
        }
        let digits: String = groups.concat();
        if digits.is_empty() {
            return Err(phone_format_error(shown));
        }

        if mobile_digits(&digits) {
            if ext.is_some() {
                return Err(phone_format_error(shown));
            }
            return Ok(Phone {
                value: digits,
                kind: PhoneKind::Mobile,
            });
        }
        if digits.len() == 10 && (digits.starts_with("400") || digits.starts_with("800")) {
            let mut value = format!("{}-{}-{}", &digits[..3], &digits[3..6], &digits[6..]);
            if let Some(e) = ext {
                value.push('-');
                value.push_str(e);
            }
            return Ok(Phone {
                value,
                kind: PhoneKind::Service,
            });
        }

        // Landline. After a country code the trunk 0 is usually left out (+86 10 12345678)
        // or bracketed (+86 (0)10 12345678).
        if country_code && groups.len() > 1 && groups[0] == "0" {
            let zero = groups.remove(0);
            groups[0].insert_str(0, &zero);
        }
        if country_code && !digits.starts_with('0') {
            if let Some(first) = groups.first_mut() {
                first.insert(0, '0');
            }
        }
        let digits: String = groups.concat();
        if !digits.starts_with('0') {
            return Err(if (7..=8).contains(&digits.len()) {
                phone_area_code_error(shown, "缺少区号", "has no area code")
            } else {
                phone_format_error(shown)
            });
        }
        let area_len = area_code_len(&digits)
            .ok_or_else(|| phone_area_code_error(shown, "区号无效", "has an invalid area code"))?;
        // A written area code must be complete (`057-187654321` has none).
        if groups[0].len() < area_len {
            return Err(phone_area_code_error(
                shown,
                &format!("区号 {} 无效", groups[0]),
                &format!("has an invalid area code {}", groups[0]),
            ));
        }
        let area = &digits[..area_len];
        // Groups after the area code; a first group that runs on into the local number
        // (`01012345678`) is split.
        let mut rest: Vec<String> = groups[1..].to_vec();
        if groups[0].len() > area_len {
            rest.insert(0, groups[0][area_len..].to_string());
        }
        let all: String = rest.concat();
        // `010-12345678-123`: a group after a complete local number is an extension. A local
        // number may itself be written in two groups (`010-1234-5678`).
        let hyphen_ext = match rest.split_last() {
            Some((last, init))
                if ext.is_none()
                    && !init.is_empty()
                    && (1..=6).contains(&last.len())
                    && (7..=8).contains(&init.concat().len())
                    && (init[0].len() >= 7 || !(7..=8).contains(&all.len())) =>
            {
                Some((init.concat(), last.clone()))
            }
            _ => None,
        };
        let (local, ext) = match hyphen_ext {
            Some((local, e)) => (local, Some(e)),
            None => (all, ext.map(str::to_string)),
        };
        let local_ok = (7..=8).contains(&local.len())
            && local
                .as_bytes()
                .first()
                .is_some_and(|d| (b'1'..=b'9').contains(d));
        if !local_ok {
            return Err(phone_format_error(shown));
        }
        let mut value = format!("{area}-{local}");
        if let Some(e) = ext {
            value.push('-');
            value.push_str(&e);
        }
        Ok(Phone {
            value,
            kind: PhoneKind::Landline,
        })
    }

    /// The canonical form: `13800138000`, `010-12345678-123`, `400-123-4567`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// Mobile, landline or service number.
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The area code of a landline (`010`, `0571`).
    pub fn area_code(&self) -> Option<&str> {
        match self.kind {
            PhoneKind::Landline => self.value.split('-').next(),
            _ => None,
        }
    }
}

/// Split `main 转 123` into the main part and an extension of 1–6 digits.
/// `None` when a marker is followed by something that is not an extension.
fn split_extension(s: &str) -> Option<(&str, Option<&str>)> {
    let found = EXTENSION_MARKERS
        .iter()
        .filter_map(|m| s.find(m).map(|i| (i, m.len())))
        .min_by_key(|&(i, _)| i);
    let Some((at, len)) = found else {
        return Some((s, None));
    };
    let ext = s[at + len..]
        .trim_start_matches(|c: char| c == '.' || c == ':' || c.is_whitespace())
        .trim_end();
    let ok = (1..=6).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit());
    ok.then_some((&s[..at], Some(ext)))
}

canonical_string!(Phone);
parse_from_string!(Phone);

// ---------------------------------------------------------------------------------------
// 电子邮箱

/// Whether `domain` is `label(.label)+` with alphanumeric/hyphen labels and an alphabetic TLD.
fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic()));
    domain.len() <= 253
        && labels.len() >= 2
        && tld_ok
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// E-mail address; the domain is lower-cased, the local part kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Parse `user@example.com` (pragmatic syntax: one `@`, no spaces, a real-looking domain).
    pub fn parse(input: &str) -> Result<Email, Violation> {
        let s = to_half_width(input.trim());
        let error = || {
            Violation::new(
                "email.format",
                format!("电子邮箱格式错误：应为 名称@域名 的形式，如 name@example.com（{s}）"),
                format!("E-mail address must look like name@example.com ({s})"),
            )
        };
        let (local, domain) = s.split_once('@').ok_or_else(error)?;
        const LOCAL_SPECIALS: &[u8] = b".!#$%&'*+/=?^_`{|}~-";
        let local_ok = (1..=64).contains(&local.len())
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(&b))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let domain = domain.to_ascii_lowercase();
        if !local_ok || !valid_domain(&domain) || s.len() > 254 {
            return Err(error());
        }
        Ok(Email(format!("{local}@{domain}")))
    }

    /// The canonical address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased domain.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

canonical_string!(Email);
parse_from_string!(Email);

// ---------------------------------------------------------------------------------------
// 邮政编码

/// Postal code (邮政编码): 6 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PostalCode(String);

impl PostalCode {
    /// Parse 6 digits (full-width and spaces accepted).
    pub fn parse(input: &str) -> Result<PostalCode, Violation> {
        let s = compact(input);
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(PostalCode(s))
        } else {
            Err(Violation::new(
                "postal_code.format",
                format!("邮政编码格式错误：应为 6 位数字（{s}）"),
                format!("Postal code must be 6 digits ({s})"),
            ))
        }
    }

    /// The 6 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

canonical_string!(PostalCode);
parse_from_string!(PostalCode);

// ---------------------------------------------------------------------------------------
// 网址

/// Website URL: `http(s)://host[:port][/path]`; a bare domain gets `https://`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Website(String);

impl Website {
    /// Parse `https://example.com/a`, `http://Example.com`, `www.example.com`.
    pub fn parse(input: &str) -> Result<Website, Violation> {
        let s = to_half_width(input.trim());
        let error = || {
            Violation::new(
                "website.format",
                format!("网址格式错误：应为 http:// 或 https:// 开头的网址或域名，如 www.example.com（{s}）"),
                format!("Website must be an http(s) URL or a domain such as www.example.com ({s})"),
            )
        };
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(error());
        }
        let lower = s.to_ascii_lowercase();
        let (scheme, rest) = if lower.starts_with("https://") {
            ("https", &s[8..])
        } else if lower.starts_with("http://") {
            ("http", &s[7..])
        } else if s.contains("://") {
            return Err(error());
        } else {
            ("https", s.as_str())
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        };
        let port_ok = port.is_none_or(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0)
        });
        let host = host.to_ascii_lowercase();
        let ipv4 = host.parse::<std::net::Ipv4Addr>().is_ok();
        if !port_ok || !(ipv4 || valid_domain(&host)) {
            return Err(error());
        }
        let mut value = format!("{scheme}://{host}");
        if let Some(p) = port {
            value.push(':');
            value.push_str(p);
        }
        if path != "/" {
            value.push_str(path);
        }
        Ok(Website(value))
    }

    /// The canonical URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

canonical_string!(Website);
parse_from_string!(Website);
