//! The life cycle of a customer (客户状态): a stage derived from its business records by
//! configurable rules, evaluated on a given date.
//!
//! Precedence, first match wins, on the evaluation date `on`:
//! 1. `lost` (流失): it has records and the last is `lost_months` or more before `on`;
//! 2. `dormant` (休眠): it has records and the last is `dormant_months` or more before `on`;
//! 3. `repeat` (老客户/复购): two or more orders, or a first deal (first signed contract
//!    or first order) `new_months` or more before `on`;
//! 4. `new` (新客户): a first deal less than `new_months` before `on`;
//! 5. `prospect` (潜在客户): no deal yet (no signed contract, no order).
//!
//! Inactivity comes first so a silent customer is flagged whatever it bought before; any
//! new record moves it back to the stage its deals give it.

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The stages, in the order the API lists them.
pub const STAGES: [&str; 5] = ["prospect", "new", "repeat", "dormant", "lost"];

/// The months each rule looks back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRules {
    /// A first deal this recent makes a new customer (default 12).
    pub new_months: u32,
    /// No record for this long: dormant (default 6).
    pub dormant_months: u32,
    /// No record for this long: lost (default 12).
    pub lost_months: u32,
}

impl Default for LifecycleRules {
    fn default() -> Self {
        LifecycleRules {
            new_months: 12,
            dormant_months: 6,
            lost_months: 12,
        }
    }
}

impl LifecycleRules {
    /// Why the rules cannot be used, if they cannot: each 1–120 months, and a customer
    /// goes dormant before it is lost.
    pub fn problem(&self) -> Option<&'static str> {
        let range = 1..=120;
        if !range.contains(&self.new_months)
            || !range.contains(&self.dormant_months)
            || !range.contains(&self.lost_months)
        {
            return Some("months must be 1–120");
        }
        if self.dormant_months >= self.lost_months {
            return Some("dormant_months must be less than lost_months");
        }
        None
    }
}

/// What the rules read about one customer (dates in the business time zone).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The first signed contract or first order.
    pub first_deal_on: Option<NaiveDate>,
    /// The latest business record of any kind.
    pub last_activity_on: Option<NaiveDate>,
    pub order_count: i64,
}

/// The rule that decided a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// No signed contract and no order.
    NoDeal,
    /// First deal within `new_months`.
    FirstDeal,
    /// Two or more orders.
    RepeatOrders,
    /// First deal `new_months` or more ago.
    DealAged,
    /// No record for `dormant_months`.
    InactiveDormant,
    /// No record for `lost_months`.
    InactiveLost,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NoDeal => "no_deal",
            Rule::FirstDeal => "first_deal",
            Rule::RepeatOrders => "repeat_orders",
            Rule::DealAged => "deal_aged",
            Rule::InactiveDormant => "inactive_dormant",
            Rule::InactiveLost => "inactive_lost",
        }
    }

    /// The stage the rule gives.
    pub fn stage(self) -> &'static str {
        match self {
            Rule::NoDeal => "prospect",
            Rule::FirstDeal => "new",
            Rule::RepeatOrders | Rule::DealAged => "repeat",
            Rule::InactiveDormant => "dormant",
            Rule::InactiveLost => "lost",
        }
    }
}

/// `on` less `months` (the earliest day when the month is shorter).
fn months_before(on: NaiveDate, months: u32) -> NaiveDate {
    on.checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDate::MIN)
}

/// The rule that decides the stage of a customer with `facts` on `on`.
pub fn evaluate(facts: &Facts, rules: &LifecycleRules, on: NaiveDate) -> Rule {
    if let Some(last) = facts.last_activity_on {
        if last <= months_before(on, rules.lost_months) {
            return Rule::InactiveLost;
        }
        if last <= months_before(on, rules.dormant_months) {
            return Rule::InactiveDormant;
        }
    }
    if facts.order_count >= 2 {
        return Rule::RepeatOrders;
    }
    match facts.first_deal_on {
        Some(first) if first <= months_before(on, rules.new_months) => Rule::DealAged,
        Some(_) => Rule::FirstDeal,
        None => Rule::NoDeal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    fn facts(first: Option<&str>, last: Option<&str>, orders: i64) -> Facts {
        Facts {
            first_deal_on: first.map(d),
            last_activity_on: last.map(d),
            order_count: orders,
        }
    }

    #[test]
    fn each_stage_by_its_rule() {
        let r = LifecycleRules::default();
        let on = d("2026-07-15");
        assert_eq!(evaluate(&Facts::default(), &r, on), Rule::NoDeal);
        // Follow-ups only, recent: still a prospect.
        assert_eq!(
            evaluate(&facts(None, Some("2026-07-01"), 0), &r, on),
            Rule::NoDeal
        );
        let first = facts(Some("2026-03-01"), Some("2026-03-01"), 1);
        assert_eq!(evaluate(&first, &r, on), Rule::FirstDeal);
        let two = facts(Some("2026-03-01"), Some("2026-05-01"), 2);
        assert_eq!(evaluate(&two, &r, on), Rule::RepeatOrders);
        // One order 13 months ago and a follow-up last month: an old customer.
        let aged = facts(Some("2025-06-15"), Some("2026-06-20"), 1);
        assert_eq!(evaluate(&aged, &r, on), Rule::DealAged);
        // Exactly six months without a record: dormant; exactly twelve: lost.
        let six = facts(Some("2025-12-01"), Some("2026-01-15"), 2);
        assert_eq!(evaluate(&six, &r, on), Rule::InactiveDormant);
        let day_less = facts(Some("2025-12-01"), Some("2026-01-16"), 2);
        assert_eq!(evaluate(&day_less, &r, on), Rule::RepeatOrders);
        let twelve = facts(Some("2025-07-15"), Some("2025-07-15"), 1);
        assert_eq!(evaluate(&twelve, &r, on), Rule::InactiveLost);
        // Inactivity wins over deals, also for a prospect.
        assert_eq!(
            evaluate(&facts(None, Some("2025-01-01"), 0), &r, on),
            Rule::InactiveLost
        );
    }

    #[test]
    fn rules_are_checked() {
        assert_eq!(LifecycleRules::default().problem(), None);
        let bad = LifecycleRules {
            dormant_months: 12,
            ..Default::default()
        };
        assert!(bad.problem().is_some());
        let zero = LifecycleRules {
            new_months: 0,
            ..Default::default()
        };
        assert!(zero.problem().is_some());
    }
}
