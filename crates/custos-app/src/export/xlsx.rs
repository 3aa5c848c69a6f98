//! The XLSX export written as a stream: see [`custos_files::xlsx_writer`].

pub use custos_files::xlsx_writer::*;
