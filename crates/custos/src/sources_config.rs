//! `[sources]` of the server's TOML: how upserts by source key place a system's unknown
//! customers when the duplicate check matches (see docs/integration.md).
//!
//! ```toml
//! [sources]                  # every system not named below
//! definite = "link"          # link | queue
//! possible = "queue"         # create | queue
//! [sources.systems.erp]
//! possible = "create"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use custos_app::sources::{OnDefinite, OnPossible, SourcePolicy, SourcesConfig};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySection {
    pub definite: Option<OnDefinite>,
    pub possible: Option<OnPossible>,
}

impl PolicySection {
    fn over(&self, base: SourcePolicy) -> SourcePolicy {
        SourcePolicy {
            definite: self.definite.unwrap_or(base.definite),
            possible: self.possible.unwrap_or(base.possible),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesSection {
    pub definite: Option<OnDefinite>,
    pub possible: Option<OnPossible>,
    #[serde(default)]
    pub systems: BTreeMap<String, PolicySection>,
}

impl SourcesSection {
    pub fn apply(self, to: &mut SourcesConfig) -> Result<(), String> {
        to.default = PolicySection {
            definite: self.definite,
            possible: self.possible,
        }
        .over(to.default);
        for (system, p) in self.systems {
            // The same rule as a request's system name, and no folding: a name that
            // requests would fold to another never matches.
            if custos_app::xref::check_system(&system).ok().as_deref() != Some(system.as_str()) {
                return Err(format!(
                    "[sources.systems.{system}] 系统标识应为 1–32 位小写字母、数字、_ 或 - / \
                     system names are 1–32 lower-case letters, digits, _ or -"
                ));
            }
            to.systems.insert(system, p.over(to.default));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systems_override_the_default_which_overrides_the_built_in() {
        let s: SourcesSection = toml::from_str(
            "definite = \"queue\"\n[systems.erp]\npossible = \"create\"\n[systems.crm]\n",
        )
        .expect("parse");
        let mut c = SourcesConfig::default();
        s.apply(&mut c).expect("apply");
        assert_eq!(c.policy("oa").definite, OnDefinite::Queue);
        assert_eq!(c.policy("oa").possible, OnPossible::Queue);
        assert_eq!(c.policy("erp").definite, OnDefinite::Queue);
        assert_eq!(c.policy("erp").possible, OnPossible::Create);
        assert_eq!(c.policy("crm"), c.default);
    }

    #[test]
    fn unknown_values_and_bad_system_names_are_refused() {
        assert!(toml::from_str::<SourcesSection>("definite = \"merge\"").is_err());
        assert!(toml::from_str::<SourcesSection>("speed = 1").is_err());
        let s: SourcesSection = toml::from_str("[systems.ERP]\n").expect("parse");
        assert!(s.apply(&mut SourcesConfig::default()).is_err());
    }
}
