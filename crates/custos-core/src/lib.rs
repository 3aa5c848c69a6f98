//! Pure domain of custos: types, the code-rule engine, validators, normalisation.
//! No I/O, no async, no SQL: everything here is fast to test and fuzz.

pub mod check;
pub mod code_rule;
pub mod ident;
pub mod industry;
pub mod lifecycle;
pub mod lists;
pub mod matching;
pub mod normalize;
pub mod region;
pub mod text_guard;
pub mod violation;
mod width;

pub use violation::{FieldError, Violation};
