//! Cells of the CSV files custos writes, kept from being run as formulas: see
//! [`custos_files::csv_cell`].

pub use custos_files::csv_cell::*;
