//! Data quality (数据质量, seed 002 §三(一), seed 004 §2.2): rules in five dimensions
//! (completeness 完整性, validity 有效性, consistency 一致性, timeliness 及时性,
//! uniqueness 唯一性) give every assessed customer a weighted score 0–100, kept current
//! by every write (`keep`); a full recompute for rule changes (`recompute`); aggregates,
//! KPIs and the worklist 待完善 within the caller's data scope (`reports`); assignment of
//! the worklist (`assign`); one snapshot per day for the trend (`snapshot`).
//!
//! Answers name rules and fields only, never a value.

mod assign;
mod config;
mod dimensions;
mod export;
mod keep;
mod recompute;
mod reports;
mod rules;
mod service;
mod snapshot;
pub use service::Quality;

pub use assign::{AssignInput, AssignOutcome};
pub use config::{KpiTarget, QualityConfig};
pub use dimensions::Dimension;
pub use recompute::RecomputeReport;
pub use reports::{
    CustomerQuality, DimensionFigure, GroupFigure, KpiFigure, QualitySummary, RuleFigure,
    WorklistItem, WorklistPage, WorklistQuery,
};
pub use rules::{assess, stale_cutoff, Assessment, ContactFacts, Context, Facts, RuleInfo};
pub use snapshot::{QualityTrend, SnapshotOutcome, TrendDimension, TrendKpi, TrendPoint};
