//! Bounds on what reading one import file may cost: see [`custos_files::import_limits`].

pub use custos_files::import_limits::*;
