//! Reports (统计分析报表) beyond the customer counts of `search::customer_stats`: each in
//! its own file, each over a range of calendar months in the business time zone.

pub mod code_usage;
pub mod months;

pub use code_usage::{CodeUsageReport, RuleUsage};
pub use months::{MonthQuery, MonthRange};
