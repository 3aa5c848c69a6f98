//! The code-rule engine (编码规则引擎).
//!
//! A code rule is an ordered list of [`Segment`]s. Issuing a code happens in two steps so the
//! storage layer can allocate the counter inside its own transaction:
//!
//! 1. [`plan`] renders everything that does not depend on the counter and tells the caller
//!    which counter to draw from ([`CodePlan::sequence_scope`], the 流水依据);
//! 2. [`CodePlan::render`] puts the drawn sequence number (or random text) in and appends
//!    the check character.
//!
//! [`decode`] goes the other way: it takes a code apart against a rule, for codes sent by
//! other systems and for manually assigned codes.

mod decode;
mod decoded;
mod plan;
mod segment;
mod validate;
mod walk;

pub use decode::decode;
pub use decoded::{Decoded, DecodedPart};
pub use plan::{crockford_bytes_needed, crockford_from_bytes, plan, CodeInput, CodePlan};
pub use segment::{
    DateFormat, RegionLevel, Reset, Segment, CROCKFORD_ALPHABET, MAX_CODE_LENGTH,
    MAX_SEQUENCE_WIDTH, RANDOM_WIDTH_RANGE,
};
pub use validate::validate_segments;
