//! What the matcher compares (one record's fields) and what it concludes (thresholds and
//! verdicts), below the features, the blocking keys and the scores that use them.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The fields of a customer that duplicate check looks at, as entered (unparsed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MatchRecord {
    /// Customer type as configured (`enterprise`, `individual`, `retail`…); `individual`,
    /// `person`, `个人` mean a person, `enterprise`, `organization`, `企业` an organisation;
    /// anything else is inferred from the identifiers and the name.
    pub customer_type: String,
    pub name: String,
    pub short_name: String,
    pub former_names: Vec<String>,
    /// 统一社会信用代码.
    pub uscc: String,
    /// 身份证号 (or another personal identifier, compared as a plain string if not valid).
    pub id_number: String,
    /// Mobile and landline numbers in any common format.
    pub phones: Vec<String>,
    pub email: String,
    /// GB/T 2260 code if known; otherwise the names below are looked up.
    pub region_code: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub address: String,
    pub industry: String,
    /// Birth date of an individual (also taken from a valid id number).
    pub birth_date: Option<NaiveDate>,
}

/// Score cuts: at or above `definite` a creation is blocked, at or above `possible` the
/// user is warned.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub definite: f64,
    pub possible: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            definite: 0.9,
            possible: 0.5,
        }
    }
}

/// What a score means under some [`Thresholds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Definite,
    Possible,
    Distinct,
}

impl Thresholds {
    /// Thresholds with `possible <= definite`, both in [0, 1].
    pub fn new(definite: f64, possible: f64) -> Option<Thresholds> {
        let ok = (0.0..=1.0).contains(&definite)
            && (0.0..=1.0).contains(&possible)
            && possible <= definite;
        ok.then_some(Thresholds { definite, possible })
    }

    pub fn verdict(&self, score: f64) -> Verdict {
        if score >= self.definite {
            Verdict::Definite
        } else if score >= self.possible {
            Verdict::Possible
        } else {
            Verdict::Distinct
        }
    }
}
