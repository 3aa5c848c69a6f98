//! The kinds of stored records.

pub const FOLLOWUP: &str = "followup";
pub const INTERACTION: &str = "interaction";
pub const SERVICE: &str = "service_record";
pub const CONTRACT: &str = "contract";
pub const ORDER: &str = "order";
pub const PAYMENT: &str = "payment";
pub const CREDIT: &str = "credit";
