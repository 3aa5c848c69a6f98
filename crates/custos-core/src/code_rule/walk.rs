//! The backtracking walk that matches a code body against a rule's segments.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;

use crate::violation::Violation;

use super::decoded::DecodedPart;
use super::segment::{is_crockford, DateFormat, RegionLevel, Reset, Segment};

pub(super) enum PieceValue {
    Plain,
    Sequence(u64, Reset),
    Random(String),
    Date(i32, Option<u32>, Option<u32>),
}

pub(super) struct Piece {
    pub(super) part: DecodedPart,
    pub(super) value: PieceValue,
}

/// Backtracking matcher of a code body against segments.
pub(super) struct Matcher<'a> {
    pub(super) segments: &'a [Segment],
    pub(super) text: &'a str,
    pub(super) reference_year: i32,
    /// (segment, position) pairs already known not to lead to a complete match: the result
    /// does not depend on earlier choices, so remembering them keeps decoding linear-ish
    /// even for rules with many ambiguous attribute texts.
    pub(super) failed: HashSet<(usize, usize)>,
    /// The error of the attempt that got furthest, by (position, segment): the most
    /// useful one to report.
    pub(super) furthest: Option<((usize, usize), Violation)>,
}

impl<'a> Matcher<'a> {
    fn fail(&mut self, idx: usize, pos: usize, v: Violation) {
        if self.furthest.as_ref().is_none_or(|(p, _)| (pos, idx) > *p) {
            self.furthest = Some(((pos, idx), v));
        }
    }

    pub(super) fn walk(&mut self, idx: usize, pos: usize, pieces: &mut Vec<Piece>) -> bool {
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
        let Some(seg) = self.segments.get(idx) else {
            return self.walk_end(idx, pos);
        };
        let at = format!("segments[{idx}]");
        match seg {
            Segment::Constant { value } => self.walk_constant(idx, pos, value, &at, pieces),
            Segment::Attribute { field, map } => {
                self.walk_attribute(idx, pos, (field, map), &at, pieces)
            }
            Segment::Region { level } => self.walk_region(idx, pos, *level, pieces),
            Segment::Date { format } => self.walk_date(idx, pos, *format, &at, pieces),
            Segment::Sequence {
                width,
                start,
                reset,
            } => self.walk_sequence(idx, pos, (*width, *start, *reset), &at, pieces),
            Segment::Random { width } => self.walk_random(idx, pos, *width, &at, pieces),
            // Only the last segment can be a check and the caller strips it.
            Segment::Check { .. } => false,
        }
    }

    /// Past the last segment: a match only when no text is left.
    fn walk_end(&mut self, idx: usize, pos: usize) -> bool {
        let rest = &self.text[pos..];
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
        false
    }

    /// A constant must appear literally at `pos`.
    fn walk_constant(
        &mut self,
        idx: usize,
        pos: usize,
        value: &str,
        at: &str,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        let rest = &self.text[pos..];
        if rest.starts_with(value) {
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

    /// Try each attribute text found at `pos`, longest first, backtracking on failure.
    fn walk_attribute(
        &mut self,
        idx: usize,
        pos: usize,
        (field, map): (&str, &BTreeMap<String, String>),
        at: &str,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        let rest = &self.text[pos..];
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

    /// Region digits at `pos`; their meaning is the region code zero-padded to 6 digits.
    fn walk_region(
        &mut self,
        idx: usize,
        pos: usize,
        level: RegionLevel,
        pieces: &mut Vec<Piece>,
    ) -> bool {
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

    /// Date digits at `pos` that must form a real date in `format`.
    fn walk_date(
        &mut self,
        idx: usize,
        pos: usize,
        format: DateFormat,
        at: &str,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        let Some(t) = self.fixed(idx, pos, format.width(), true) else {
            return false;
        };
        match self.parse_date(format, t) {
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

    /// Sequence digits at `pos`, not below the start value.
    fn walk_sequence(
        &mut self,
        idx: usize,
        pos: usize,
        (width, start, reset): (u8, u64, Reset),
        at: &str,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        let Some(t) = self.fixed(idx, pos, usize::from(width), true) else {
            return false;
        };
        // At most 12 digits: always fits a u64.
        let n: u64 = t.parse().unwrap_or(0);
        if n < start {
            self.fail(
                idx,
                pos,
                Violation::new(
                    "code.sequence.below_start",
                    format!("编码第{}位起的流水号 {n} 小于起始值 {start}({at})", pos + 1),
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
            value: PieceValue::Sequence(n, reset),
        };
        self.step(idx, pos, t.len(), piece, pieces)
    }

    /// Random text at `pos`: `width` Crockford base32 characters.
    fn walk_random(
        &mut self,
        idx: usize,
        pos: usize,
        width: u8,
        at: &str,
        pieces: &mut Vec<Piece>,
    ) -> bool {
        let Some(t) = self.fixed(idx, pos, usize::from(width), false) else {
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
