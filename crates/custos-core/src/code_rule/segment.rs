//! Segment types of a code rule and what each renders: the JSON shape is public API.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::check::CheckAlgorithm;

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
    pub(super) fn distinguishes(self, reset: Reset) -> bool {
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
pub(super) fn bucket_text(
    reset: Reset,
    year: i32,
    month: Option<u32>,
    day: Option<u32>,
) -> Option<String> {
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
    pub(super) fn length_range(&self) -> (usize, usize) {
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

    pub(super) fn is_variable(&self) -> bool {
        matches!(self, Segment::Sequence { .. } | Segment::Random { .. })
    }

    /// An attribute whose mapped texts differ in length.
    pub(super) fn has_variable_length(&self) -> bool {
        let (min, max) = self.length_range();
        matches!(self, Segment::Attribute { .. }) && min != max
    }
}

/// Shortest and longest code a rule produces.
pub(super) fn code_length_range(segments: &[Segment]) -> (usize, usize) {
    segments.iter().fold((0, 0), |(lo, hi), s| {
        let (a, b) = s.length_range();
        (lo + a, hi + b)
    })
}

/// Characters allowed in constants and attribute texts: upper-case ASCII letters, digits, `-`.
pub(super) fn is_code_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-'
}

pub(super) fn is_crockford(c: char) -> bool {
    CROCKFORD_ALPHABET.contains(c)
}

pub(super) fn pow10(width: u8) -> u64 {
    10u64.saturating_pow(u32::from(width))
}
