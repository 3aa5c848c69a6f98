//! Issuing: render everything but the counter ([`plan`]), then the full code
//! ([`CodePlan::render`]).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};

use crate::check::CheckAlgorithm;
use crate::violation::Violation;

use super::segment::{is_crockford, pow10, DateFormat, Segment, CROCKFORD_ALPHABET};
use super::validate::{first_rule_error, validate_segments};

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
