//! Decoding: take a code apart against a rule.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

use crate::violation::Violation;

use super::decoded::{Decoded, DecodedPart};
use super::segment::{bucket_text, code_length_range, Segment};
use super::validate::{first_rule_error, validate_segments};
use super::walk::{Matcher, Piece, PieceValue};

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
    let code = checked_code_text(segments, code)?;

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

    let pieces = match_body(body_segments, body, &code, issue_date_for_scope.year())?;
    let mut decoded = assemble(pieces, segments.len(), issue_date_for_scope);
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

/// The code upper-cased, once it holds only characters a code can have and has a length
/// the rule can produce. All ASCII then, so byte offsets are character positions.
fn checked_code_text(segments: &[Segment], code: &str) -> Result<String, Violation> {
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
    Ok(code)
}

/// The pieces of `body` (the code without its check character), one per segment, or the
/// error of the attempt that got furthest.
fn match_body(
    body_segments: &[Segment],
    body: &str,
    code: &str,
    reference_year: i32,
) -> Result<Vec<Piece>, Violation> {
    let mut matcher = Matcher {
        segments: body_segments,
        text: body,
        reference_year,
        failed: HashSet::new(),
        furthest: None,
    };
    let mut pieces = Vec::with_capacity(body_segments.len());
    if !matcher.walk(0, 0, &mut pieces) {
        return Err(matcher.furthest.map(|(_, v)| v).unwrap_or_else(|| {
            Violation::new(
                "code.shape",
                format!("编码“{code}”不符合该编码规则"),
                format!("code '{code}' does not match this code rule"),
            )
        }));
    }
    Ok(pieces)
}

/// The decoded parts, sequence or random text, and the counter scope (流水依据) of matched
/// pieces; `parts` has room for `segment_count` parts.
fn assemble(pieces: Vec<Piece>, segment_count: usize, issue_date_for_scope: NaiveDate) -> Decoded {
    let mut decoded = Decoded {
        parts: Vec::with_capacity(segment_count),
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
    decoded
}
