//! The code-rule engine (编码规则引擎).
//!
//! A code rule is an ordered list of [`Segment`]s. Issuing a code happens in two steps so the
//! storage layer can allocate the counter inside its own transaction:
//!
//! 1. [`plan`] renders everything that does not depend on the counter and tells the caller
//!    which counter to draw from ([`CodePlan::sequence_scope`], the 流水依据);
//! 2. [`CodePlan::render`] puts the drawn sequence number (or random text) in and appends
//!    the check character.
//!
//! [`decode`] goes the other way: it takes a code apart against a rule, for codes sent by
//! other systems and for manually assigned codes.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::check::CheckAlgorithm;
use crate::violation::{FieldError, Violation};

/// Longest code a rule may produce.
pub const MAX_CODE_LENGTH: usize = 40;

/// Crockford base32 alphabet used by random segments: no `I`, `L`, `O`, `U`, so codes read
/// aloud or typed by hand are not confused (1/I/L, 0/O) and do not spell words.
pub const CROCKFORD_ALPHABET: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Widest sequence segment: 10^12 − 1 still fits comfortably in a `u64` and in a JS number.
pub const MAX_SEQUENCE_WIDTH: u8 = 12;

/// Narrowest and widest random segment (4 chars = 20 bits, 16 chars = 80 bits).
pub const RANDOM_WIDTH_RANGE: std::ops::RangeInclusive<u8> = 4..=16;

/// Which part of the customer's 6-digit GB/T 2260 region code a region segment shows.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RegionLevel {
    /// First 2 digits (省级).
    Province,
    /// First 4 digits (地级).
    City,
    /// All 6 digits (县级).
    County,
}

impl RegionLevel {
    /// Number of digits this level renders.
    pub fn width(self) -> usize {
        match self {
            RegionLevel::Province => 2,
            RegionLevel::City => 4,
            RegionLevel::County => 6,
        }
    }
}

/// How a date segment renders the issue date.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateFormat {
    /// `2023`
    #[serde(rename = "yyyy")]
    Yyyy,
    /// `23`
    #[serde(rename = "yy")]
    Yy,
    /// `202310`
    #[serde(rename = "yyyyMM")]
    YyyyMm,
    /// `20231001`
    #[serde(rename = "yyyyMMdd")]
    YyyyMmDd,
}

impl DateFormat {
    /// Number of digits this format renders.
    pub fn width(self) -> usize {
        match self {
            DateFormat::Yyyy => 4,
            DateFormat::Yy => 2,
            DateFormat::YyyyMm => 6,
            DateFormat::YyyyMmDd => 8,
        }
    }

    /// The pattern as written in rules (`yyyyMMdd`).
    pub fn pattern(self) -> &'static str {
        match self {
            DateFormat::Yyyy => "yyyy",
            DateFormat::Yy => "yy",
            DateFormat::YyyyMm => "yyyyMM",
            DateFormat::YyyyMmDd => "yyyyMMdd",
        }
    }

    /// Whether a code showing the date in this format changes at least as often as the
    /// counter resets, so codes from different reset periods cannot collide.
    fn distinguishes(self, reset: Reset) -> bool {
        match reset {
            Reset::Never => true,
            // `yy` repeats after a century; accepted, codes rarely live that long.
            Reset::Yearly => true,
            Reset::Monthly => matches!(self, DateFormat::YyyyMm | DateFormat::YyyyMmDd),
            Reset::Daily => matches!(self, DateFormat::YyyyMmDd),
        }
    }
}

/// When a sequence restarts from its start value.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reset {
    /// One counter forever (default).
    #[default]
    Never,
    /// A new counter each calendar year.
    Yearly,
    /// A new counter each calendar month.
    Monthly,
    /// A new counter each day.
    Daily,
}

impl Reset {
    /// The reset bucket of a date: `""` (never), `Y2026`, `M202611`, `D20261123`.
    pub fn bucket(self, date: NaiveDate) -> String {
        bucket_text(self, date.year(), Some(date.month()), Some(date.day())).unwrap_or_default()
    }
}

/// Reset bucket from date parts; `None` when the parts are too coarse for the reset period.
fn bucket_text(reset: Reset, year: i32, month: Option<u32>, day: Option<u32>) -> Option<String> {
    match reset {
        Reset::Never => Some(String::new()),
        Reset::Yearly => Some(format!("Y{year:04}")),
        Reset::Monthly => month.map(|m| format!("M{year:04}{m:02}")),
        Reset::Daily => match (month, day) {
            (Some(m), Some(d)) => Some(format!("D{year:04}{m:02}{d:02}")),
            _ => None,
        },
    }
}

fn one() -> u64 {
    1
}

/// One segment of a code rule. The JSON shape (`{"kind":"constant","value":"C"}`) is public API.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    /// Fixed text, e.g. a company prefix.
    Constant { value: String },
    /// A customer attribute mapped to text, e.g. `customer_type`: enterprise → `C`.
    Attribute {
        field: String,
        map: BTreeMap<String, String>,
    },
    /// The customer's GB/T 2260 region code cut to a level.
    Region { level: RegionLevel },
    /// The issue date.
    Date { format: DateFormat },
    /// The counter (流水号), zero-padded to `width`, counted per scope (流水依据).
    Sequence {
        width: u8,
        #[serde(default = "one")]
        start: u64,
        #[serde(default)]
        reset: Reset,
    },
    /// One check character (校验位) over everything before it; must be last.
    Check { algorithm: CheckAlgorithm },
    /// Random Crockford base32 characters (无含义码), for codes that must not be guessable.
    Random { width: u8 },
}

impl Segment {
    /// The `kind` name as in JSON (`constant`, `attribute`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Segment::Constant { .. } => "constant",
            Segment::Attribute { .. } => "attribute",
            Segment::Region { .. } => "region",
            Segment::Date { .. } => "date",
            Segment::Sequence { .. } => "sequence",
            Segment::Check { .. } => "check",
            Segment::Random { .. } => "random",
        }
    }

    /// Shortest and longest text this segment renders.
    fn length_range(&self) -> (usize, usize) {
        match self {
            Segment::Constant { value } => (value.len(), value.len()),
            Segment::Attribute { map, .. } => {
                let lens = map.values().map(String::len);
                (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0))
            }
            Segment::Region { level } => (level.width(), level.width()),
            Segment::Date { format } => (format.width(), format.width()),
            Segment::Sequence { width, .. } | Segment::Random { width } => {
                (usize::from(*width), usize::from(*width))
            }
            Segment::Check { .. } => (1, 1),
        }
    }

    fn is_variable(&self) -> bool {
        matches!(self, Segment::Sequence { .. } | Segment::Random { .. })
    }

    /// An attribute whose mapped texts differ in length.
    fn has_variable_length(&self) -> bool {
        let (min, max) = self.length_range();
        matches!(self, Segment::Attribute { .. }) && min != max
    }
}

/// Shortest and longest code a rule produces.
fn code_length_range(segments: &[Segment]) -> (usize, usize) {
    segments.iter().fold((0, 0), |(lo, hi), s| {
        let (a, b) = s.length_range();
        (lo + a, hi + b)
    })
}

/// Characters allowed in constants and attribute texts: upper-case ASCII letters, digits, `-`.
fn is_code_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-'
}

fn is_crockford(c: char) -> bool {
    CROCKFORD_ALPHABET.contains(c)
}

fn pow10(width: u8) -> u64 {
    10u64.saturating_pow(u32::from(width))
}

/// Check a rule and report every problem at once, with paths like `segments[2].width`.
pub fn validate_segments(segments: &[Segment]) -> Result<(), Vec<FieldError>> {
    let mut errs = Vec::new();
    if segments.is_empty() {
        errs.push(
            Violation::new(
                "rule.segments.empty",
                "编码规则至少需要一个段",
                "a code rule needs at least one segment",
            )
            .on("segments"),
        );
        return Err(errs);
    }

    let variables: Vec<usize> = (0..segments.len())
        .filter(|&i| segments[i].is_variable())
        .collect();
    match variables.as_slice() {
        [] => errs.push(
            Violation::new(
                "rule.segments.no_variable",
                "编码规则必须恰好包含一个流水号段(sequence)或随机段(random),否则编码不会变化",
                "a code rule needs exactly one sequence or random segment, otherwise every code would be the same",
            )
            .on("segments"),
        ),
        [_] => {}
        [_, extra @ ..] => {
            for &i in extra {
                errs.push(
                    Violation::new(
                        "rule.segments.multiple_variable",
                        "编码规则只能包含一个流水号段或随机段",
                        "a code rule may have only one sequence or random segment",
                    )
                    .on(format!("segments[{i}]")),
                );
            }
        }
    }

    let last = segments.len() - 1;
    let mut seen_check = false;
    for (i, seg) in segments.iter().enumerate() {
        let path = format!("segments[{i}]");
        match seg {
            Segment::Constant { value } => {
                if let Some(v) =
                    code_text_violation(value, "rule.constant", ("固定段取值", "constant value"))
                {
                    errs.push(v.on(format!("{path}.value")));
                }
            }
            Segment::Attribute { field, map } => {
                validate_attribute(&path, field, map, &mut errs);
            }
            Segment::Region { .. } | Segment::Date { .. } => {}
            Segment::Sequence {
                width,
                start,
                reset,
            } => {
                if !(1..=MAX_SEQUENCE_WIDTH).contains(width) {
                    errs.push(
                        Violation::new(
                            "rule.sequence.width",
                            format!("流水号位数 {width} 无效,应为 1 到 {MAX_SEQUENCE_WIDTH}"),
                            format!("sequence width {width} is invalid: it must be 1 to {MAX_SEQUENCE_WIDTH}"),
                        )
                        .on(format!("{path}.width")),
                    );
                } else if *start >= pow10(*width) {
                    errs.push(
                        Violation::new(
                            "rule.sequence.start",
                            format!("流水号起始值 {start} 超过 {width} 位"),
                            format!("sequence start {start} does not fit in {width} digits"),
                        )
                        .on(format!("{path}.start")),
                    );
                }
                let dated = segments
                    .iter()
                    .any(|s| matches!(s, Segment::Date { format } if format.distinguishes(*reset)));
                if *reset != Reset::Never && !dated {
                    let needs = match reset {
                        Reset::Daily => "yyyyMMdd",
                        Reset::Monthly => "yyyyMM / yyyyMMdd",
                        _ => "yyyy / yy / yyyyMM / yyyyMMdd",
                    };
                    errs.push(
                        Violation::new(
                            "rule.sequence.reset_without_date",
                            format!("流水号按{}重置时,编码必须包含日期段({needs}),否则重置后会产生重复编码", reset_zh(*reset)),
                            format!("a sequence with reset {} needs a date segment ({needs}) in the code, otherwise codes repeat after each reset", reset_en(*reset)),
                        )
                        .on(format!("{path}.reset")),
                    );
                }
            }
            Segment::Random { width } => {
                if !RANDOM_WIDTH_RANGE.contains(width) {
                    errs.push(
                        Violation::new(
                            "rule.random.width",
                            format!(
                                "随机段位数 {width} 无效,应为 {} 到 {}",
                                RANDOM_WIDTH_RANGE.start(),
                                RANDOM_WIDTH_RANGE.end()
                            ),
                            format!(
                                "random width {width} is invalid: it must be {} to {}",
                                RANDOM_WIDTH_RANGE.start(),
                                RANDOM_WIDTH_RANGE.end()
                            ),
                        )
                        .on(format!("{path}.width")),
                    );
                }
            }
            Segment::Check { algorithm } => {
                if seen_check {
                    errs.push(
                        Violation::new(
                            "rule.check.multiple",
                            "编码规则最多只能有一个校验位段",
                            "a code rule may have at most one check segment",
                        )
                        .on(path.clone()),
                    );
                } else if i != last {
                    errs.push(
                        Violation::new(
                            "rule.check.not_last",
                            "校验位段必须是最后一段",
                            "the check segment must be the last segment",
                        )
                        .on(path.clone()),
                    );
                }
                seen_check = true;
                for (j, before) in segments[..i].iter().enumerate() {
                    if let Some(v) = check_incompatibility(*algorithm, j, before) {
                        errs.push(v.on(format!("{path}.algorithm")));
                    }
                }
            }
        }
    }

    // Variable-length texts on both sides of the counter would let two different
    // (prefix, number, suffix) triples spell the same code: "1"+"23"+"34" = "12"+"33"+"4".
    if let [v] = variables.as_slice() {
        let before = segments[..*v].iter().any(Segment::has_variable_length);
        if before {
            for (j, seg) in segments.iter().enumerate().skip(v + 1) {
                if seg.has_variable_length() {
                    errs.push(
                        Violation::new(
                            "rule.attribute.ambiguous_length",
                            "流水号/随机段前后不能都有长度不一的属性映射,否则不同客户可能得到相同编码;请让这一段的映射值等长",
                            "attribute texts of different lengths may appear on only one side of the sequence/random segment, otherwise two customers could get the same code; make this segment's texts equally long",
                        )
                        .on(format!("segments[{j}].map")),
                    );
                }
            }
        }
    }

    let (_, max_len) = code_length_range(segments);
    if max_len > MAX_CODE_LENGTH {
        errs.push(
            Violation::new(
                "rule.length",
                format!("编码最长可达 {max_len} 位,超过上限 {MAX_CODE_LENGTH} 位"),
                format!("codes could be up to {max_len} characters long, more than the limit of {MAX_CODE_LENGTH}"),
            )
            .on("segments"),
        );
    }

    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

fn reset_zh(reset: Reset) -> &'static str {
    match reset {
        Reset::Never => "从不",
        Reset::Yearly => "年",
        Reset::Monthly => "月",
        Reset::Daily => "日",
    }
}

fn reset_en(reset: Reset) -> &'static str {
    match reset {
        Reset::Never => "never",
        Reset::Yearly => "yearly",
        Reset::Monthly => "monthly",
        Reset::Daily => "daily",
    }
}

/// Problem with a constant or attribute text: empty, or a char outside `0-9A-Z-`.
/// `what` names the text in messages, e.g. `("固定段取值", "constant value")`.
fn code_text_violation(
    text: &str,
    code_prefix: &str,
    (what_zh, what_en): (&str, &str),
) -> Option<Violation> {
    if text.is_empty() {
        return Some(Violation::new(
            format!("{code_prefix}.empty"),
            format!("{what_zh}不能为空"),
            format!("the {what_en} must not be empty"),
        ));
    }
    text.chars().find(|&c| !is_code_char(c)).map(|c| {
        Violation::new(
            format!("{code_prefix}.charset"),
            format!("{what_zh}“{text}”含有字符“{c}”:只允许大写字母 A-Z、数字 0-9 和 -"),
            format!("the {what_en} '{text}' contains '{c}': only upper-case letters A-Z, digits 0-9 and '-' are allowed"),
        )
    })
}

fn validate_attribute(
    path: &str,
    field: &str,
    map: &BTreeMap<String, String>,
    errs: &mut Vec<FieldError>,
) {
    if field.trim().is_empty() {
        errs.push(
            Violation::new(
                "rule.attribute.field_empty",
                "属性段必须指明字段名(field)",
                "an attribute segment needs a field name",
            )
            .on(format!("{path}.field")),
        );
    }
    if map.is_empty() {
        errs.push(
            Violation::new(
                "rule.attribute.map_empty",
                format!("属性段(字段 {field})的映射表不能为空"),
                format!("the map of attribute segment '{field}' must not be empty"),
            )
            .on(format!("{path}.map")),
        );
    }
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for (key, text) in map {
        if key.is_empty() {
            errs.push(
                Violation::new(
                    "rule.attribute.key_empty",
                    format!("字段 {field} 的映射表中有空的属性值"),
                    format!("the map of attribute '{field}' has an empty attribute value as key"),
                )
                .on(format!("{path}.map")),
            );
        }
        let key_path = format!("{path}.map.{key}");
        if let Some(v) = code_text_violation(
            text,
            "rule.attribute.value",
            ("属性映射值", "attribute text"),
        ) {
            errs.push(v.on(key_path));
            continue;
        }
        // Two attribute values with one text could not be told apart when decoding.
        if let Some(first) = seen.insert(text, key) {
            errs.push(
                Violation::new(
                    "rule.attribute.duplicate_value",
                    format!("字段 {field} 的“{first}”和“{key}”都映射为“{text}”,解码时无法区分"),
                    format!("'{first}' and '{key}' of attribute '{field}' both map to '{text}', so a code could not be decoded"),
                )
                .on(key_path),
            );
        }
    }
}

/// Why `algorithm` cannot protect what segment `j` (`seg`) renders, if it cannot.
fn check_incompatibility(algorithm: CheckAlgorithm, j: usize, seg: &Segment) -> Option<Violation> {
    let bad_char = |text: &str| {
        // Chars outside 0-9A-Z- are reported by the segment's own charset check.
        text.chars()
            .find(|&c| is_code_char(c) && !algorithm.input_alphabet_ok(c))
    };
    let only = if algorithm == CheckAlgorithm::Mod37_2 {
        "0-9A-Z"
    } else {
        "0-9"
    };
    let offending = match seg {
        Segment::Constant { value } => bad_char(value),
        Segment::Attribute { map, .. } => map.values().find_map(|t| bad_char(t)),
        Segment::Random { .. } if algorithm != CheckAlgorithm::Mod37_2 => {
            return Some(Violation::new(
                "rule.check.alphabet",
                format!("校验算法 {} 只能校验数字({only}),而 segments[{j}] 随机段会产生字母", algorithm.name()),
                format!("check algorithm {} accepts only {only}, but the random segment segments[{j}] produces letters", algorithm.name()),
            ));
        }
        _ => None,
    }?;
    Some(Violation::new(
        "rule.check.alphabet",
        format!(
            "校验算法 {} 只接受 {only},而 segments[{j}]({})可能产生字符“{offending}”",
            algorithm.name(),
            seg.kind()
        ),
        format!(
            "check algorithm {} accepts only {only}, but segments[{j}] ({}) can produce '{offending}'",
            algorithm.name(),
            seg.kind()
        ),
    ))
}

/// The first problem of an invalid rule, with its field path kept in the message.
fn first_rule_error(errs: Vec<FieldError>) -> Violation {
    match errs.into_iter().next() {
        Some(FieldError { field, violation }) => Violation::new(
            violation.code,
            format!("编码规则无效({field}):{}", violation.zh),
            format!("invalid code rule ({field}): {}", violation.en),
        ),
        None => Violation::new("rule.invalid", "编码规则无效", "invalid code rule"),
    }
}

/// What a customer contributes to its code.
#[derive(Clone, Copy, Debug)]
pub struct CodeInput<'a> {
    /// Field → value, e.g. `customer_type` → `enterprise`.
    pub attributes: &'a BTreeMap<String, String>,
    /// The customer's 6-digit GB/T 2260 region code, if any.
    pub region_code: Option<&'a str>,
    /// The issue date, already in the rule's time zone.
    pub issue_date: NaiveDate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Variable {
    Sequence { width: u8, start: u64 },
    Random { width: u8 },
}

/// A code with everything but the counter (or random text) filled in; see [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodePlan {
    prefix: String,
    variable: Variable,
    suffix: String,
    check: Option<CheckAlgorithm>,
    scope: Option<String>,
}

/// Render the parts of a code that do not depend on the counter, for one customer.
///
/// Errors: an invalid rule (the first problem [`validate_segments`] finds), a missing or
/// unmapped attribute, a missing or malformed region code, a date outside years 0–9999.
pub fn plan(segments: &[Segment], input: &CodeInput) -> Result<CodePlan, Violation> {
    validate_segments(segments).map_err(first_rule_error)?;
    let mut prefix = String::new();
    let mut suffix = String::new();
    let mut variable = None;
    let mut scope = None;
    let mut check = None;
    for seg in segments {
        let out = if variable.is_some() {
            &mut suffix
        } else {
            &mut prefix
        };
        match seg {
            Segment::Constant { value } => out.push_str(value),
            Segment::Attribute { field, map } => out.push_str(attribute_text(field, map, input)?),
            Segment::Region { level } => {
                let region = region_code(input.region_code)?;
                out.push_str(&region[..level.width()]);
            }
            Segment::Date { format } => out.push_str(&render_date(*format, input.issue_date)?),
            Segment::Sequence {
                width,
                start,
                reset,
            } => {
                variable = Some(Variable::Sequence {
                    width: *width,
                    start: *start,
                });
                scope = Some(format!("{prefix}|{}", reset.bucket(input.issue_date)));
            }
            Segment::Random { width } => variable = Some(Variable::Random { width: *width }),
            Segment::Check { algorithm } => check = Some(*algorithm),
        }
    }
    // validate_segments guarantees exactly one variable segment; stay total anyway.
    let variable = variable.ok_or_else(|| {
        Violation::new(
            "rule.segments.no_variable",
            "编码规则没有流水号段或随机段",
            "the code rule has no sequence or random segment",
        )
    })?;
    Ok(CodePlan {
        prefix,
        variable,
        suffix,
        check,
        scope,
    })
}

fn attribute_text<'m>(
    field: &str,
    map: &'m BTreeMap<String, String>,
    input: &CodeInput,
) -> Result<&'m str, Violation> {
    let value = input.attributes.get(field).ok_or_else(|| {
        Violation::new(
            "rule.attribute.missing",
            format!("客户缺少编码所需的字段 {field}"),
            format!("the customer has no value for field '{field}', which the code rule needs"),
        )
    })?;
    map.get(value).map(String::as_str).ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        Violation::new(
            "rule.attribute.unmapped",
            format!(
                "字段 {field} 的值“{value}”在编码规则中没有对应编码(已配置:{})",
                known.join("、")
            ),
            format!(
                "value '{value}' of field '{field}' has no mapping in the code rule (mapped: {})",
                known.join(", ")
            ),
        )
    })
}

fn region_code(code: Option<&str>) -> Result<&str, Violation> {
    let code = code.ok_or_else(|| {
        Violation::new(
            "rule.region.missing",
            "编码规则包含地区段,但客户没有行政区划代码",
            "the code rule has a region segment but the customer has no region code",
        )
    })?;
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(Violation::new(
            "rule.region.malformed",
            format!("行政区划代码“{code}”应为 6 位数字(GB/T 2260)"),
            format!("region code '{code}' must be 6 digits (GB/T 2260)"),
        ))
    }
}

fn render_date(format: DateFormat, date: NaiveDate) -> Result<String, Violation> {
    let (y, m, d) = (date.year(), date.month(), date.day());
    if !(0..=9999).contains(&y) {
        return Err(Violation::new(
            "rule.date.out_of_range",
            format!("日期 {date} 超出 0 到 9999 年的范围"),
            format!("date {date} is outside the years 0 to 9999"),
        ));
    }
    Ok(match format {
        DateFormat::Yyyy => format!("{y:04}"),
        DateFormat::Yy => format!("{:02}", y % 100),
        DateFormat::YyyyMm => format!("{y:04}{m:02}"),
        DateFormat::YyyyMmDd => format!("{y:04}{m:02}{d:02}"),
    })
}

impl CodePlan {
    /// The counter key (流水依据): the text of all segments before the sequence, `|`, and the
    /// reset bucket of the issue date (`""`, `Y2026`, `M202611`, `D20261123`).
    /// `None` for random rules.
    pub fn sequence_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// First sequence number of each scope.
    pub fn sequence_start(&self) -> Option<u64> {
        match self.variable {
            Variable::Sequence { start, .. } => Some(start),
            Variable::Random { .. } => None,
        }
    }

    /// Largest sequence number that fits the width (10^width − 1).
    pub fn sequence_max(&self) -> Option<u64> {
        match self.variable {
            Variable::Sequence { width, .. } => Some(pow10(width) - 1),
            Variable::Random { .. } => None,
        }
    }

    /// How many codes one scope can issue (max − start + 1).
    pub fn capacity(&self) -> Option<u64> {
        match self.variable {
            Variable::Sequence { width, start } => Some(pow10(width) - start),
            Variable::Random { .. } => None,
        }
    }

    /// Width of the random segment, for random rules.
    pub fn random_width(&self) -> Option<u8> {
        match self.variable {
            Variable::Random { width } => Some(width),
            Variable::Sequence { .. } => None,
        }
    }

    /// The check algorithm when the rule ends with a check segment.
    pub fn check_algorithm(&self) -> Option<CheckAlgorithm> {
        self.check
    }

    /// The full code for a sequence number (sequence rules) or random text (random rules).
    ///
    /// A number outside `start..=max` is `rule.sequence.exhausted`: codes never wrap around.
    /// Random text must be exactly `width` upper-case Crockford base32 characters.
    pub fn render(&self, seq: Option<u64>, random: Option<&str>) -> Result<String, Violation> {
        let mut code = self.prefix.clone();
        match (self.variable, seq, random) {
            (Variable::Sequence { width, start }, Some(n), None) => {
                let max = pow10(width) - 1;
                if n < start || n > max {
                    return Err(Violation::new(
                        "rule.sequence.exhausted",
                        format!("流水号 {n} 超出范围 {start} 到 {max}:该流水依据下的编码已用尽(不会回绕重用)"),
                        format!("sequence number {n} is outside {start} to {max}: the codes of this scope are used up (they never wrap around)"),
                    ));
                }
                code.push_str(&format!("{n:0w$}", w = usize::from(width)));
            }
            (Variable::Random { width }, None, Some(text)) => {
                let ok = text.len() == usize::from(width) && text.chars().all(is_crockford);
                if !ok {
                    return Err(Violation::new(
                        "rule.random.text",
                        format!("随机段“{text}”应为 {width} 个 Crockford base32 字符({CROCKFORD_ALPHABET})"),
                        format!("random text '{text}' must be exactly {width} Crockford base32 characters ({CROCKFORD_ALPHABET})"),
                    ));
                }
                code.push_str(text);
            }
            (Variable::Sequence { .. }, _, _) => {
                return Err(Violation::new(
                    "rule.render.arguments",
                    "该编码规则使用流水号:需要流水号,不接受随机串",
                    "this code rule uses a sequence: pass a sequence number and no random text",
                ));
            }
            (Variable::Random { .. }, _, _) => {
                return Err(Violation::new(
                    "rule.render.arguments",
                    "该编码规则使用随机段:需要随机串,不接受流水号",
                    "this code rule uses a random segment: pass random text and no sequence number",
                ));
            }
        }
        code.push_str(&self.suffix);
        if let Some(algorithm) = self.check {
            let c = algorithm.compute(&code)?;
            code.push(c);
        }
        Ok(code)
    }
}

/// Random bytes needed by [`crockford_from_bytes`] for `width` characters: ⌈5·width/8⌉.
pub fn crockford_bytes_needed(width: u8) -> usize {
    (usize::from(width) * 5).div_ceil(8)
}

/// Turn random bytes into `width` Crockford base32 characters, 5 bits per character, taken
/// from the bytes' bits in order (most significant first). Pass at least
/// [`crockford_bytes_needed`]`(width)` bytes (10 bytes for 16 characters); with fewer bytes
/// the text is shorter than `width`, which [`CodePlan::render`] rejects.
pub fn crockford_from_bytes(width: u8, bytes: &[u8]) -> String {
    let alphabet = CROCKFORD_ALPHABET.as_bytes();
    let width = usize::from(width);
    let mut out = String::with_capacity(width);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        if out.len() == width {
            break;
        }
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 && out.len() < width {
            bits -= 5;
            out.push(char::from(alphabet[((acc >> bits) & 31) as usize]));
        }
        // Keep only the unread bits so `acc` never overflows.
        acc &= (1 << bits) - 1;
    }
    out
}

/// One segment of a decoded code.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct DecodedPart {
    /// The segment kind (`constant`, `attribute`, `region`, `date`, `sequence`, `random`, `check`).
    pub kind: &'static str,
    /// The characters of the code this segment covers.
    pub text: String,
    /// What they stand for: attribute → the mapped-from value (`enterprise`); region → the
    /// 6-digit region code, zero-padded for province/city levels (`110000`); date → ISO date
    /// (`2023-10-01`, `2023-10`, `2023`); sequence → the number. `None` for the others.
    pub meaning: Option<String>,
}

/// A code taken apart against a rule; see [`decode`].
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// One part per segment, in order.
    pub parts: Vec<DecodedPart>,
    /// `Some(true/false)` when the rule ends with a check: whether the check character is right.
    pub check_valid: Option<bool>,
    /// The sequence number, for sequence rules.
    pub sequence: Option<u64>,
    /// The counter key (流水依据) the code belongs to, as [`CodePlan::sequence_scope`].
    pub sequence_scope: Option<String>,
    /// The random text, for random rules.
    pub random: Option<String>,
}

/// Take `code` apart against a rule (lower case is accepted and upper-cased first).
///
/// A code of the wrong shape is an `Err` saying at which position and segment it goes wrong;
/// a well-formed code with a wrong check character is `Ok` with `check_valid: Some(false)`.
/// Attribute texts of different lengths (`C`, `CP`) are tried longest first with
/// backtracking; the first complete match wins.
///
/// The scope's reset bucket comes from a date segment in the code whenever one is fine
/// enough for the reset period (rules that reset always have one, [`validate_segments`]
/// insists), and otherwise from `issue_date_for_scope`. A `yy` date is read as the year
/// within 50 years of `issue_date_for_scope`.
pub fn decode(
    segments: &[Segment],
    code: &str,
    issue_date_for_scope: NaiveDate,
) -> Result<Decoded, Violation> {
    validate_segments(segments).map_err(first_rule_error)?;
    if let Some((i, c)) = code
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '*'))
    {
        return Err(Violation::new(
            "code.charset",
            format!("编码第{}位的字符“{c}”不可能出现在编码中", i + 1),
            format!(
                "character '{c}' at position {} cannot appear in a code",
                i + 1
            ),
        ));
    }
    // All ASCII from here on, so byte offsets are character positions.
    let code = code.to_ascii_uppercase();
    let (min, max) = code_length_range(segments);
    if code.len() < min || code.len() > max {
        let (zh, en) = if min == max {
            (format!("{min} 位"), format!("{min} characters"))
        } else {
            (
                format!("{min} 到 {max} 位"),
                format!("{min} to {max} characters"),
            )
        };
        return Err(Violation::new(
            "code.length",
            format!("编码“{code}”有 {} 位,按该规则应为{zh}", code.len()),
            format!(
                "code '{code}' has {} characters; this rule makes codes of {en}",
                code.len()
            ),
        ));
    }

    let (body_segments, check) = match segments.split_last() {
        Some((Segment::Check { algorithm }, rest)) => (rest, Some(*algorithm)),
        _ => (segments, None),
    };
    // The length check above guarantees a check character is present when the rule has one.
    let body = if check.is_some() {
        &code[..code.len() - 1]
    } else {
        code.as_str()
    };

    let reference_year = issue_date_for_scope.year();
    let mut matcher = Matcher {
        segments: body_segments,
        text: body,
        reference_year,
        failed: HashSet::new(),
        furthest: None,
    };
    let mut pieces = Vec::with_capacity(segments.len());
    if !matcher.walk(0, 0, &mut pieces) {
        return Err(matcher.furthest.map(|(_, v)| v).unwrap_or_else(|| {
            Violation::new(
                "code.shape",
                format!("编码“{code}”不符合该编码规则"),
                format!("code '{code}' does not match this code rule"),
            )
        }));
    }

    let mut decoded = Decoded {
        parts: Vec::with_capacity(segments.len()),
        check_valid: None,
        sequence: None,
        sequence_scope: None,
        random: None,
    };
    let mut prefix = String::new();
    let mut reset = None;
    let mut dates = Vec::new();
    for piece in pieces {
        match &piece.value {
            PieceValue::Sequence(n, r) => {
                decoded.sequence = Some(*n);
                reset = Some((*r, prefix.clone()));
            }
            PieceValue::Random(text) => decoded.random = Some(text.clone()),
            PieceValue::Date(..) | PieceValue::Plain => {}
        }
        if reset.is_none() {
            prefix.push_str(&piece.part.text);
        }
        if let PieceValue::Date(y, m, d) = piece.value {
            dates.push((y, m, d));
        }
        decoded.parts.push(piece.part);
    }
    if let Some((r, prefix)) = reset {
        let from_code = dates.iter().find_map(|&(y, m, d)| bucket_text(r, y, m, d));
        let bucket = from_code.unwrap_or_else(|| r.bucket(issue_date_for_scope));
        decoded.sequence_scope = Some(format!("{prefix}|{bucket}"));
    }

    if let Some(algorithm) = check {
        let pos = code.len();
        let c = char::from(code.as_bytes()[pos - 1]);
        if !algorithm.check_alphabet_ok(c) {
            return Err(Violation::new(
                "code.check.charset",
                format!("编码第{pos}位“{c}”不可能是 {} 校验位", algorithm.name()),
                format!(
                    "'{c}' at position {pos} cannot be a {} check character",
                    algorithm.name()
                ),
            ));
        }
        decoded.check_valid = Some(algorithm.compute(body)? == c);
        decoded.parts.push(DecodedPart {
            kind: "check",
            text: c.to_string(),
            meaning: None,
        });
    }
    Ok(decoded)
}

enum PieceValue {
    Plain,
    Sequence(u64, Reset),
    Random(String),
    Date(i32, Option<u32>, Option<u32>),
}

struct Piece {
    part: DecodedPart,
    value: PieceValue,
}

/// Backtracking matcher of a code body against segments.
struct Matcher<'a> {
    segments: &'a [Segment],
    text: &'a str,
    reference_year: i32,
    /// (segment, position) pairs already known not to lead to a complete match: the result
    /// does not depend on earlier choices, so remembering them keeps decoding linear-ish
    /// even for rules with many ambiguous attribute texts.
    failed: HashSet<(usize, usize)>,
    /// The error of the attempt that got furthest, by (position, segment): the most
    /// useful one to report.
    furthest: Option<((usize, usize), Violation)>,
}

impl<'a> Matcher<'a> {
    fn fail(&mut self, idx: usize, pos: usize, v: Violation) {
        if self.furthest.as_ref().is_none_or(|(p, _)| (pos, idx) > *p) {
            self.furthest = Some(((pos, idx), v));
        }
    }

    fn walk(&mut self, idx: usize, pos: usize, pieces: &mut Vec<Piece>) -> bool {
        if self.failed.contains(&(idx, pos)) {
            return false;
        }
        let ok = self.walk_uncached(idx, pos, pieces);
        if !ok {
            self.failed.insert((idx, pos));
        }
        ok
    }

    fn walk_uncached(&mut self, idx: usize, pos: usize, pieces: &mut Vec<Piece>) -> bool {
        let text = self.text;
        let rest = &text[pos..];
        let Some(seg) = self.segments.get(idx) else {
            if rest.is_empty() {
                return true;
            }
            self.fail(
                idx,
                pos,
                Violation::new(
                    "code.trailing",
                    format!("编码第{}位起有多余字符“{rest}”", pos + 1),
                    format!(
                        "unexpected characters '{rest}' from position {} after the last segment",
                        pos + 1
                    ),
                ),
            );
            return false;
        };
        let at = format!("segments[{idx}]");
        match seg {
            Segment::Constant { value } => {
                if rest.starts_with(value.as_str()) {
                    return self.step(idx, pos, value.len(), plain("constant", value), pieces);
                }
                let found = &rest[..value.len().min(rest.len())];
                self.fail(
                    idx,
                    pos,
                    Violation::new(
                        "code.constant",
                        format!("编码第{}位应为“{value}”({at}),实际为“{found}”", pos + 1),
                        format!(
                            "expected '{value}' at position {} ({at}), found '{found}'",
                            pos + 1
                        ),
                    ),
                );
                false
            }
            Segment::Attribute { field, map } => {
                let mut options: Vec<(&String, &String)> = map.iter().collect();
                // Longest text first; ties keep key order (BTreeMap) so results are stable.
                options.sort_by_key(|(_, t)| std::cmp::Reverse(t.len()));
                let mut any = false;
                for (key, t) in options {
                    if rest.starts_with(t.as_str()) {
                        any = true;
                        let piece = Piece {
                            part: DecodedPart {
                                kind: "attribute",
                                text: t.clone(),
                                meaning: Some(key.clone()),
                            },
                            value: PieceValue::Plain,
                        };
                        if self.step(idx, pos, t.len(), piece, pieces) {
                            return true;
                        }
                    }
                }
                if !any {
                    let texts: BTreeSet<&str> = map.values().map(String::as_str).collect();
                    let texts: Vec<&str> = texts.into_iter().collect();
                    self.fail(idx,
                        pos,
                        Violation::new(
                            "code.attribute",
                            format!(
                                "编码第{}位起不是字段 {field} 的任何编码({at},可选:{})",
                                pos + 1,
                                texts.join("、")
                            ),
                            format!(
                                "no text of attribute '{field}' matches at position {} ({at}); expected one of {}",
                                pos + 1,
                                texts.join(", ")
                            ),
                        ),
                    );
                }
                false
            }
            Segment::Region { level } => {
                let Some(t) = self.fixed(idx, pos, level.width(), true) else {
                    return false;
                };
                let meaning = format!("{t:0<6}");
                let piece = Piece {
                    part: DecodedPart {
                        kind: "region",
                        text: t.to_string(),
                        meaning: Some(meaning),
                    },
                    value: PieceValue::Plain,
                };
                self.step(idx, pos, t.len(), piece, pieces)
            }
            Segment::Date { format } => {
                let Some(t) = self.fixed(idx, pos, format.width(), true) else {
                    return false;
                };
                match self.parse_date(*format, t) {
                    Some((y, m, d, meaning)) => {
                        let piece = Piece {
                            part: DecodedPart {
                                kind: "date",
                                text: t.to_string(),
                                meaning: Some(meaning),
                            },
                            value: PieceValue::Date(y, m, d),
                        };
                        self.step(idx, pos, t.len(), piece, pieces)
                    }
                    None => {
                        let pattern = format.pattern();
                        self.fail(
                            idx,
                            pos,
                            Violation::new(
                                "code.date",
                                format!("编码第{}位起的“{t}”不是有效日期({pattern},{at})", pos + 1),
                                format!(
                                    "'{t}' at position {} is not a valid date ({pattern}, {at})",
                                    pos + 1
                                ),
                            ),
                        );
                        false
                    }
                }
            }
            Segment::Sequence {
                width,
                start,
                reset,
            } => {
                let Some(t) = self.fixed(idx, pos, usize::from(*width), true) else {
                    return false;
                };
                // At most 12 digits: always fits a u64.
                let n: u64 = t.parse().unwrap_or(0);
                if n < *start {
                    self.fail(idx,
                        pos,
                        Violation::new(
                            "code.sequence.below_start",
                            format!(
                                "编码第{}位起的流水号 {n} 小于起始值 {start}({at})",
                                pos + 1
                            ),
                            format!(
                                "sequence number {n} at position {} is below the start {start} ({at})",
                                pos + 1
                            ),
                        ),
                    );
                    return false;
                }
                let piece = Piece {
                    part: DecodedPart {
                        kind: "sequence",
                        text: t.to_string(),
                        meaning: Some(n.to_string()),
                    },
                    value: PieceValue::Sequence(n, *reset),
                };
                self.step(idx, pos, t.len(), piece, pieces)
            }
            Segment::Random { width } => {
                let Some(t) = self.fixed(idx, pos, usize::from(*width), false) else {
                    return false;
                };
                if let Some((i, c)) = t.char_indices().find(|&(_, c)| !is_crockford(c)) {
                    self.fail(idx,
                        pos + i,
                        Violation::new(
                            "code.random",
                            format!(
                                "编码第{}位字符“{c}”不属于随机段使用的 Crockford base32 字符(不含 I、L、O、U,{at})",
                                pos + i + 1
                            ),
                            format!(
                                "character '{c}' at position {} is not Crockford base32 (no I, L, O, U; {at})",
                                pos + i + 1
                            ),
                        ),
                    );
                    return false;
                }
                let piece = Piece {
                    part: DecodedPart {
                        kind: "random",
                        text: t.to_string(),
                        meaning: None,
                    },
                    value: PieceValue::Random(t.to_string()),
                };
                self.step(idx, pos, t.len(), piece, pieces)
            }
            // Only the last segment can be a check and the caller strips it.
            Segment::Check { .. } => false,
        }
    }

    /// Push `piece`, continue with the next segment, pop again on failure.
    fn step(
        &mut self,
        idx: usize,
        pos: usize,
        len: usize,
        piece: Piece,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        pieces.push(piece);
        if self.walk(idx + 1, pos + len, pieces) {
            return true;
        }
        pieces.pop();
        false
    }

    /// The `width` characters at `pos`, which must exist (and be digits when `digits`).
    fn fixed(&mut self, idx: usize, pos: usize, width: usize, digits: bool) -> Option<&'a str> {
        let text = self.text;
        let kind = self.segments.get(idx).map_or("", Segment::kind);
        let at = format!("segments[{idx}], {kind}");
        if text.len() - pos < width {
            self.fail(
                idx,
                pos,
                Violation::new(
                    "code.too_short",
                    format!("编码在第{}位提前结束:{at} 需要 {width} 位", pos + 1),
                    format!(
                        "code ends at position {}: {at} needs {width} characters",
                        pos + 1
                    ),
                ),
            );
            return None;
        }
        let t = &text[pos..pos + width];
        if digits {
            if let Some((i, c)) = t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                self.fail(
                    idx,
                    pos + i,
                    Violation::new(
                        "code.digits",
                        format!(
                            "编码第{}位“{c}”应为数字({at},共 {width} 位数字)",
                            pos + i + 1
                        ),
                        format!(
                            "'{c}' at position {} must be a digit ({at}, {width} digits)",
                            pos + i + 1
                        ),
                    ),
                );
                return None;
            }
        }
        Some(t)
    }

    /// Year, month, day and ISO meaning of date digits; `None` for impossible dates.
    fn parse_date(
        &self,
        format: DateFormat,
        t: &str,
    ) -> Option<(i32, Option<u32>, Option<u32>, String)> {
        let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<u32>().ok());
        match format {
            DateFormat::Yyyy => {
                let y = i32::try_from(num(0..4)?).ok()?;
                Some((y, None, None, format!("{y:04}")))
            }
            DateFormat::Yy => {
                let yy = i32::try_from(num(0..2)?).ok()?;
                let r = self.reference_year;
                let mut y = r - r.rem_euclid(100) + yy;
                if y > r + 50 {
                    y -= 100;
                } else if y <= r - 50 {
                    y += 100;
                }
                Some((y, None, None, format!("{y:04}")))
            }
            DateFormat::YyyyMm => {
                let y = i32::try_from(num(0..4)?).ok()?;
                let m = num(4..6)?;
                NaiveDate::from_ymd_opt(y, m, 1)?;
                Some((y, Some(m), None, format!("{y:04}-{m:02}")))
            }
            DateFormat::YyyyMmDd => {
                let y = i32::try_from(num(0..4)?).ok()?;
                let (m, d) = (num(4..6)?, num(6..8)?);
                NaiveDate::from_ymd_opt(y, m, d)?;
                Some((y, Some(m), Some(d), format!("{y:04}-{m:02}-{d:02}")))
            }
        }
    }
}

fn plain(kind: &'static str, text: &str) -> Piece {
    Piece {
        part: DecodedPart {
            kind,
            text: text.to_string(),
            meaning: None,
        },
        value: PieceValue::Plain,
    }
}
