//! Validation of a rule's segments: every problem at once, with field paths.

use std::collections::BTreeMap;

use crate::check::CheckAlgorithm;
use crate::violation::{FieldError, Violation};

use super::segment::{
    code_length_range, is_code_char, pow10, Reset, Segment, MAX_CODE_LENGTH, MAX_SEQUENCE_WIDTH,
    RANDOM_WIDTH_RANGE,
};

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
    check_variable_count(&variables, &mut errs);

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
            } => validate_sequence(segments, &path, (*width, *start, *reset), &mut errs),
            Segment::Random { width } => validate_random(&path, *width, &mut errs),
            Segment::Check { algorithm } => {
                let place = CheckPlace {
                    index: i,
                    is_last: i == last,
                    seen_before: seen_check,
                };
                validate_check(segments, &path, *algorithm, place, &mut errs);
                seen_check = true;
            }
        }
    }

    if let [v] = variables.as_slice() {
        check_ambiguous_lengths(segments, *v, &mut errs);
    }
    check_max_length(segments, &mut errs);

    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// A rule needs exactly one sequence or random segment; `variables` are their indexes.
fn check_variable_count(variables: &[usize], errs: &mut Vec<FieldError>) {
    match variables {
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
}

/// Width and start of a sequence segment, and whether its reset period is shown by a date.
fn validate_sequence(
    segments: &[Segment],
    path: &str,
    (width, start, reset): (u8, u64, Reset),
    errs: &mut Vec<FieldError>,
) {
    if !(1..=MAX_SEQUENCE_WIDTH).contains(&width) {
        errs.push(
            Violation::new(
                "rule.sequence.width",
                format!("流水号位数 {width} 无效,应为 1 到 {MAX_SEQUENCE_WIDTH}"),
                format!("sequence width {width} is invalid: it must be 1 to {MAX_SEQUENCE_WIDTH}"),
            )
            .on(format!("{path}.width")),
        );
    } else if start >= pow10(width) {
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
        .any(|s| matches!(s, Segment::Date { format } if format.distinguishes(reset)));
    if reset != Reset::Never && !dated {
        let needs = match reset {
            Reset::Daily => "yyyyMMdd",
            Reset::Monthly => "yyyyMM / yyyyMMdd",
            _ => "yyyy / yy / yyyyMM / yyyyMMdd",
        };
        errs.push(
            Violation::new(
                "rule.sequence.reset_without_date",
                format!("流水号按{}重置时,编码必须包含日期段({needs}),否则重置后会产生重复编码", reset_zh(reset)),
                format!("a sequence with reset {} needs a date segment ({needs}) in the code, otherwise codes repeat after each reset", reset_en(reset)),
            )
            .on(format!("{path}.reset")),
        );
    }
}

/// The width of a random segment must lie in [`RANDOM_WIDTH_RANGE`].
fn validate_random(path: &str, width: u8, errs: &mut Vec<FieldError>) {
    if !RANDOM_WIDTH_RANGE.contains(&width) {
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

/// Where a check segment stands in its rule.
#[derive(Clone, Copy)]
struct CheckPlace {
    index: usize,
    is_last: bool,
    /// Whether an earlier segment was a check already.
    seen_before: bool,
}

/// A check segment comes once, last, and its algorithm accepts what the segments before
/// it render.
fn validate_check(
    segments: &[Segment],
    path: &str,
    algorithm: CheckAlgorithm,
    place: CheckPlace,
    errs: &mut Vec<FieldError>,
) {
    if place.seen_before {
        errs.push(
            Violation::new(
                "rule.check.multiple",
                "编码规则最多只能有一个校验位段",
                "a code rule may have at most one check segment",
            )
            .on(path),
        );
    } else if !place.is_last {
        errs.push(
            Violation::new(
                "rule.check.not_last",
                "校验位段必须是最后一段",
                "the check segment must be the last segment",
            )
            .on(path),
        );
    }
    for (j, before) in segments[..place.index].iter().enumerate() {
        if let Some(v) = check_incompatibility(algorithm, j, before) {
            errs.push(v.on(format!("{path}.algorithm")));
        }
    }
}

/// Variable-length texts on both sides of the counter would let two different
/// (prefix, number, suffix) triples spell the same code: "1"+"23"+"34" = "12"+"33"+"4".
/// `variable` is the index of the one sequence or random segment.
fn check_ambiguous_lengths(segments: &[Segment], variable: usize, errs: &mut Vec<FieldError>) {
    let before = segments[..variable]
        .iter()
        .any(Segment::has_variable_length);
    if before {
        for (j, seg) in segments.iter().enumerate().skip(variable + 1) {
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

/// The longest code the rule can produce must fit [`MAX_CODE_LENGTH`].
fn check_max_length(segments: &[Segment], errs: &mut Vec<FieldError>) {
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
pub(super) fn first_rule_error(errs: Vec<FieldError>) -> Violation {
    match errs.into_iter().next() {
        Some(FieldError { field, violation }) => Violation::new(
            violation.code,
            format!("编码规则无效({field}):{}", violation.zh),
            format!("invalid code rule ({field}): {}", violation.en),
        ),
        None => Violation::new("rule.invalid", "编码规则无效", "invalid code rule"),
    }
}
