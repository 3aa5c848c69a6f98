//! The closed value lists of a customer: its status (客户状态) and its scale (企业规模).
//! Each value has its key (what the API, the database and exports hold), its Chinese and
//! its English label, written once here; everything else names the variant.

use std::fmt;
use std::str::FromStr;

use custos_core::violation::Lang;
use custos_core::Violation;
use serde::{Deserialize, Serialize};

/// An enum whose values are keys, with a label in each language, `as_str`, `FromStr`
/// (the error names the field and the value), `Display` and serde as the key.
macro_rules! keyed_values {
    (
        $(#[$meta:meta])*
        $name:ident, field $field:literal,
        [$($(#[$vmeta:meta])* $variant:ident = ($key:literal, $zh:literal, $en:literal)),+ $(,)?]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $key)] $variant),+
        }

        impl $name {
            /// Every value, in the order lists show them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// `(key, 中文, English)` of every value, in the order of [`Self::ALL`].
            pub const TERMS: &'static [(&'static str, &'static str, &'static str)] =
                &[$(($key, $zh, $en)),+];

            /// The key, as stored and as the API spells it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $key),+
                }
            }

            /// The label a person reads.
            pub const fn label(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(($name::$variant, Lang::Zh) => $zh, ($name::$variant, Lang::En) => $en),+
                }
            }
        }

        impl FromStr for $name {
            type Err = Violation;

            fn from_str(s: &str) -> Result<Self, Violation> {
                match s {
                    $($key => Ok($name::$variant),)+
                    other => {
                        let keys: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        Err(Violation::new(
                            "value.not_allowed",
                            format!(
                                "字段“{}”的取值“{other}”不在允许范围内：{}",
                                $field,
                                keys.join("、")
                            ),
                            format!(
                                "field '{}' value '{other}' is not allowed; choose one of {}",
                                $field,
                                keys.join(", ")
                            ),
                        ))
                    }
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}

keyed_values!(
    /// The status of a customer (客户状态). Create and update give the editable ones;
    /// retiring, archiving and merging are operations (and applications) of their own.
    CustomerStatus, field "status",
    [
        /// 待生效: created, not yet in force.
        Pending = ("pending", "待生效", "Pending"),
        /// 正常: the status a new customer gets when none is given.
        Active = ("active", "正常", "Active"),
        /// 休眠
        Dormant = ("dormant", "休眠", "Dormant"),
        /// 已废止: retired (its code too), kept for the record.
        Retired = ("retired", "已废止", "Retired"),
        /// 已归档: readable only through a retrieval (调阅).
        Archived = ("archived", "已归档", "Archived"),
        /// 已合并: merged into another customer, its code redirects there.
        Merged = ("merged", "已合并", "Merged"),
    ]
);

impl CustomerStatus {
    /// Statuses a customer can be given by create or update.
    pub const EDITABLE: &'static [CustomerStatus] = &[
        CustomerStatus::Pending,
        CustomerStatus::Active,
        CustomerStatus::Dormant,
    ];

    /// Statuses of customers that still count for duplicate checks (all but merged ones).
    pub const LIVE: &'static [CustomerStatus] = &[
        CustomerStatus::Pending,
        CustomerStatus::Active,
        CustomerStatus::Dormant,
        CustomerStatus::Retired,
        CustomerStatus::Archived,
    ];

    /// Can a customer in this status be changed, merged or split?
    pub fn is_editable(self) -> bool {
        Self::EDITABLE.contains(&self)
    }

    /// Does a customer in this status still count (duplicate checks, indexes)?
    pub fn is_live(self) -> bool {
        Self::LIVE.contains(&self)
    }

    /// The keys of `statuses`, as the database holds them.
    pub fn keys(statuses: &[CustomerStatus]) -> Vec<&'static str> {
        statuses.iter().map(|s| s.as_str()).collect()
    }

    /// Is `stored` (a row's status) this status?
    pub fn is(self, stored: &str) -> bool {
        Self::of(stored) == Some(self)
    }

    /// Is `stored` (a row's status) one a customer can be changed in?
    pub fn editable(stored: &str) -> bool {
        Self::of(stored).is_some_and(Self::is_editable)
    }

    /// The status of a stored row; `None` for a value custos never writes.
    pub fn of(stored: &str) -> Option<CustomerStatus> {
        stored.parse().ok()
    }
}

impl Default for CustomerStatus {
    /// A customer created without a status is active.
    fn default() -> Self {
        CustomerStatus::Active
    }
}

keyed_values!(
    /// The scale of an enterprise (企业规模).
    Scale, field "scale",
    [
        Micro = ("micro", "微型", "Micro"),
        Small = ("small", "小型", "Small"),
        Medium = ("medium", "中型", "Medium"),
        Large = ("large", "大型", "Large"),
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_as_their_keys() {
        for s in CustomerStatus::ALL {
            assert_eq!(s.as_str().parse::<CustomerStatus>().ok(), Some(*s));
            let json = serde_json::to_value(s).unwrap_or_default();
            assert_eq!(json, serde_json::Value::String(s.as_str().to_string()));
            let back: Option<CustomerStatus> = serde_json::from_value(json).ok();
            assert_eq!(back, Some(*s));
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(CustomerStatus::ALL.len(), CustomerStatus::TERMS.len());
        for (s, (key, zh, en)) in CustomerStatus::ALL.iter().zip(CustomerStatus::TERMS) {
            assert_eq!(
                (s.as_str(), s.label(Lang::Zh), s.label(Lang::En)),
                (*key, *zh, *en)
            );
        }
    }

    #[test]
    fn an_unknown_status_is_refused_naming_it() {
        let Err(v) = "Active ".parse::<CustomerStatus>() else {
            panic!("accepted");
        };
        assert_eq!(v.code, "value.not_allowed");
        assert!(
            v.zh.contains("Active ") && v.zh.contains("status"),
            "{}",
            v.zh
        );
        assert!(v.en.contains("'Active '"), "{}", v.en);
        assert!(serde_json::from_str::<CustomerStatus>("\"lost\"").is_err());
        assert_eq!(CustomerStatus::of("gone"), None);
    }

    #[test]
    fn editable_and_live_statuses() {
        assert!(CustomerStatus::Dormant.is_editable());
        assert!(!CustomerStatus::Archived.is_editable());
        assert!(CustomerStatus::Archived.is_live());
        assert!(!CustomerStatus::Merged.is_live());
        assert_eq!(CustomerStatus::default(), CustomerStatus::Active);
    }

    #[test]
    fn scales_round_trip_as_their_keys() {
        for s in Scale::ALL {
            assert_eq!(s.as_str().parse::<Scale>().ok(), Some(*s));
        }
        assert!("huge".parse::<Scale>().is_err());
        assert_eq!(Scale::Small.label(Lang::Zh), "小型");
    }
}
