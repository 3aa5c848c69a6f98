//! `[quality]` of the server's TOML: the data-quality rules' recommended fields,
//! staleness, weights and KPI targets (see docs/quality.md). Absent keys keep the
//! defaults of `custos_app::quality::QualityConfig`.

use std::collections::BTreeMap;

use serde::Deserialize;

use custos_app::quality::{KpiTarget, QualityConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualitySection {
    /// Recommended fields per customer type (`a|b`: either), replacing the defaults of
    /// the types given.
    pub recommended: Option<BTreeMap<String, Vec<String>>>,
    /// Months without an update after which a customer fails timeliness (default 12).
    pub stale_months: Option<u32>,
    /// Weights of the five dimensions in the score (those given replace the defaults).
    pub dimension_weights: Option<BTreeMap<String, f64>>,
    /// Weights of rules by key or prefix (default 3 for required fields, 1 otherwise).
    pub rule_weights: Option<BTreeMap<String, f64>>,
    /// KPI targets, replacing the default list.
    pub kpis: Option<Vec<KpiTarget>>,
}

impl QualitySection {
    pub fn apply(self, to: &mut QualityConfig) -> Result<(), String> {
        if let Some(r) = self.recommended {
            to.recommended.extend(r);
        }
        if let Some(m) = self.stale_months {
            to.stale_months = m;
        }
        if let Some(w) = self.dimension_weights {
            to.dimension_weights.extend(w);
        }
        if let Some(w) = self.rule_weights {
            to.rule_weights = w;
        }
        if let Some(k) = self.kpis {
            to.kpis = k;
        }
        match to.problems().as_slice() {
            [] => Ok(()),
            problems => Err(format!("[quality] {}", problems.join("; "))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn section_replaces_what_it_names_and_refuses_nonsense() {
        let s: QualitySection = toml::from_str(
            "stale_months = 6\nrecommended = { individual = [\"mobile\", \"email\"] }\n\
             dimension_weights = { uniqueness = 0 }\n\
             rule_weights = { \"completeness.recommended\" = 2 }\n",
        )
        .unwrap();
        let mut c = QualityConfig::default();
        s.apply(&mut c).unwrap();
        assert_eq!(c.stale_months, 6);
        assert_eq!(c.recommended_for("individual"), ["mobile", "email"]);
        assert_eq!(c.recommended_for("enterprise").len(), 7);
        assert_eq!(c.dimension_weights(), [30.0, 25.0, 15.0, 15.0, 0.0]);
        assert_eq!(c.weight_of("completeness.recommended.email"), 2.0);
        assert_eq!(c.weight_of("completeness.required.name"), 3.0);
        assert_eq!(c.kpis.len(), 5);

        let bad: QualitySection = toml::from_str("stale_months = 0\n").unwrap();
        let e = bad.apply(&mut QualityConfig::default()).unwrap_err();
        assert!(e.contains("stale_months"), "{e}");
        let bad: QualitySection = toml::from_str("dimension_weights = { beauty = 5 }\n").unwrap();
        let e = bad.apply(&mut QualityConfig::default()).unwrap_err();
        assert!(e.contains("beauty"), "{e}");
        assert!(toml::from_str::<QualitySection>("stale = 3\n").is_err());
    }
}
