//! Sections of `custos.toml` about what the use cases do — `[api_keys]`, `[codes]`,
//! `[events]`, `[lifecycle]`, `[activities]`, `[stats]`, `[audit]`, `[imports]` — each checked and applied onto
//! the use cases' configuration (see `config.rs` for the layering).

use std::path::PathBuf;

use serde::Deserialize;

/// `[api_keys]`: the rate limit of every API key that has none of its own. Counted per
/// server process: with several servers on one database a key may make this many
/// requests on each.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysSection {
    /// Requests a second per key on average (default 20; 0: no limit).
    pub rate_per_second: Option<u32>,
    /// Requests one key may make at once (default 40).
    pub burst: Option<u32>,
}

/// `[codes]`: the capacity warning of code rules (编码容量预警).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodesSection {
    /// Warn when fewer than this percent of a sequence scope's codes remain (default 10,
    /// 0–100; 0: never).
    pub capacity_warning_percent: Option<u8>,
    /// Warn when fewer than this many codes remain instead (at least 1).
    pub capacity_warning_remaining: Option<u64>,
}

impl CodesSection {
    pub(crate) fn apply(self, to: &mut custos_app::codes::CapacityWarning) -> Result<(), String> {
        if let Some(p) = self.capacity_warning_percent {
            if p > 100 {
                return Err(
                    "[codes] capacity_warning_percent 须为 0–100 / must be 0–100".to_string(),
                );
            }
            to.percent = p;
        }
        if let Some(r) = self.capacity_warning_remaining {
            if r == 0 {
                return Err(
                    "[codes] capacity_warning_remaining 须大于 0 / must be greater than 0"
                        .to_string(),
                );
            }
            to.remaining = Some(r);
        }
        Ok(())
    }
}

/// `[events]`: the event log behind the change feed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSection {
    /// Days an event is kept before the daily job deletes it (default 90, 1–3650).
    pub retention_days: Option<u32>,
}

impl EventsSection {
    pub(crate) fn apply(self, to: &mut custos_app::events::EventsConfig) -> Result<(), String> {
        if let Some(d) = self.retention_days {
            if !(1..=3650).contains(&d) {
                return Err("[events] retention_days 须为 1–3650 / must be 1–3650".to_string());
            }
            to.retention_days = d;
        }
        Ok(())
    }
}

/// `[lifecycle]`: the customer life cycle (客户状态), its daily job and reminders.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleSection {
    /// A first deal this many months back or less makes a new customer (default 12).
    pub new_months: Option<u32>,
    /// Months without a record before a customer is dormant (default 6).
    pub dormant_months: Option<u32>,
    /// Months without a record before a customer is lost (default 12).
    pub lost_months: Option<u32>,
    /// Local hour (business time zone) of the daily job, 0–23 (default 2).
    pub daily_hour: Option<u32>,
    /// Days before a contract's service expiry its owner is reminded (default 30).
    pub expiry_notice_days: Option<u32>,
}

impl LifecycleSection {
    pub(crate) fn apply(
        self,
        to: &mut custos_app::lifecycle::LifecycleConfig,
    ) -> Result<(), String> {
        let r = &mut to.rules;
        r.new_months = self.new_months.unwrap_or(r.new_months);
        r.dormant_months = self.dormant_months.unwrap_or(r.dormant_months);
        r.lost_months = self.lost_months.unwrap_or(r.lost_months);
        if let Some(p) = r.problem() {
            return Err(format!(
                "[lifecycle] 月数须为 1–120 且 dormant_months 小于 lost_months / {p}"
            ));
        }
        if let Some(h) = self.daily_hour {
            if h > 23 {
                return Err("[lifecycle] daily_hour 须为 0–23 / must be 0–23".to_string());
            }
            to.daily_hour = h;
        }
        if let Some(d) = self.expiry_notice_days {
            if d > 366 {
                return Err("[lifecycle] expiry_notice_days 须为 0–366 / must be 0–366".to_string());
            }
            to.expiry_notice_days = d;
        }
        Ok(())
    }
}

/// `[activities]`: the business records of customers.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivitiesSection {
    /// The results a follow-up may have (default 需求确认, 方案提交, 合同待签, 已成交, 无意向).
    pub followup_results: Option<Vec<String>>,
    /// Levels (客户等级) that signing the first contract moves; `""` is no level yet
    /// (default "", 潜在客户, 新客户).
    pub cooperation_from: Option<Vec<String>>,
    /// The level they move to (default 成交客户).
    pub cooperation_to: Option<String>,
}

impl ActivitiesSection {
    pub(crate) fn apply(
        self,
        to: &mut custos_app::activities::ActivityConfig,
    ) -> Result<(), String> {
        let too_long = |v: &str| v.trim().is_empty() || v.chars().count() > 32;
        if let Some(results) = self.followup_results {
            if results.is_empty() || results.len() > 50 || results.iter().any(|r| too_long(r)) {
                return Err(
                    "[activities] followup_results 须为 1–50 项、每项 1–32 个字符 / \
                            must have 1–50 items of 1–32 characters"
                        .to_string(),
                );
            }
            to.followup_results = results;
        }
        if let Some(from) = self.cooperation_from {
            if from.len() > 50 || from.iter().any(|f| f.chars().count() > 32) {
                return Err("[activities] cooperation_from 每项最多 32 个字符 / \
                            items may have at most 32 characters"
                    .to_string());
            }
            to.cooperation.from = from;
        }
        if let Some(level) = self.cooperation_to {
            if too_long(&level) {
                return Err("[activities] cooperation_to 须为 1–32 个字符 / \
                            must have 1–32 characters"
                    .to_string());
            }
            to.cooperation.to = level;
        }
        Ok(())
    }
}

/// `[stats]`: customer statistics of the dashboard and `/stats`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsSection {
    /// Seconds the counts of one data scope are reused on PostgreSQL (default 60; 0: count
    /// every time). SQLite reads tallies kept with every change and never reuses.
    pub cache_seconds: Option<u64>,
}

/// `[audit]`: checkpoints of the audit chain, kept outside the database.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSection {
    /// The append-only checkpoint file (default `<data_dir>/audit-checkpoints.log`; also
    /// `CUSTOS_AUDIT_CHECKPOINT_FILE`). Best on another disk or host than the database.
    pub checkpoint_file: Option<PathBuf>,
    /// `custos serve` writes a checkpoint when this many minutes passed since the last
    /// one and entries were added (default 60; 0: only on entry count, backups and demand).
    pub checkpoint_interval_minutes: Option<u64>,
    /// … or when this many entries were added since the last one (default 10000).
    pub checkpoint_every_entries: Option<i64>,
}

/// `[imports]`: bounds on what reading one import file may cost (see
/// `custos_app::import::ImportLimits`; a file past one is refused). Bytes, or counts
/// for `xlsx_shared_strings` and `xlsx_merged_cells`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportsSection {
    pub row_bytes: Option<u64>,
    pub xlsx_cell_bytes: Option<u64>,
    pub xlsx_sheet_bytes: Option<u64>,
    pub xlsx_part_bytes: Option<u64>,
    pub xlsx_total_bytes: Option<u64>,
    pub xlsx_shared_strings: Option<u64>,
    pub xlsx_merged_cells: Option<u64>,
}

impl ImportsSection {
    /// The limits with the ones given here; each must be above zero.
    pub(crate) fn apply(
        &self,
        limits: &mut custos_app::import::ImportLimits,
    ) -> Result<(), String> {
        for (name, given, field) in [
            ("row_bytes", self.row_bytes, &mut limits.row_bytes),
            (
                "xlsx_cell_bytes",
                self.xlsx_cell_bytes,
                &mut limits.xlsx_cell_bytes,
            ),
            (
                "xlsx_sheet_bytes",
                self.xlsx_sheet_bytes,
                &mut limits.xlsx_sheet_bytes,
            ),
            (
                "xlsx_part_bytes",
                self.xlsx_part_bytes,
                &mut limits.xlsx_part_bytes,
            ),
            (
                "xlsx_total_bytes",
                self.xlsx_total_bytes,
                &mut limits.xlsx_total_bytes,
            ),
            (
                "xlsx_shared_strings",
                self.xlsx_shared_strings,
                &mut limits.xlsx_shared_strings,
            ),
            (
                "xlsx_merged_cells",
                self.xlsx_merged_cells,
                &mut limits.xlsx_merged_cells,
            ),
        ] {
            match given {
                Some(0) => {
                    return Err(format!(
                        "[imports] {name} 须大于 0 / must be greater than 0"
                    ))
                }
                Some(n) => *field = n,
                None => {}
            }
        }
        Ok(())
    }
}
