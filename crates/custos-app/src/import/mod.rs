//! Batch import (批量导入) of customers from CSV and XLSX files.
//!
//! Every row goes through the same use case as a single create
//! ([`Customers::insert_new_customer`]: validation, normalisation, permissions, code issue,
//! history, audit), each in its own savepoint so a bad row rolls back alone, while rows
//! are committed in chunks for speed. The job's progress (`rows_done`) is advanced in the
//! transaction of the chunk it counts, so after a crash `resume_import` continues with the
//! first row not committed: no row is imported twice and no code issued twice.

mod checks;
mod columns;
mod duplicates;
mod existing;
mod keys;
pub mod limits;
pub mod mapping;
mod open;
mod options;
mod outcome;
mod queries;
pub mod report;
mod row;
mod run;
pub(crate) mod running;
mod saved_mappings;
mod service;
pub mod source;
mod staged;
mod start;
mod upload;
mod views;
pub use service::Imports;

pub use checks::{SampleCheck, SampleChecks};
pub use limits::ImportLimits;
pub use mapping::{ColumnUse, MappingSpec};
pub use options::{DuplicatePolicy, ImportOptions, BULK_CHUNK_ROWS, MAX_CHUNK_ROWS};
pub use saved_mappings::MAX_SAVED_MAPPINGS;
pub use source::{FileFormat, TextEncoding};
pub use staged::{MappingTarget, StagedColumn, StagedUpload, MAX_VALUE_CHOICES, STAGED_SECONDS};
pub use start::PreparedImport;
pub use upload::Upload;
pub use views::{ImportOutcome, ImportProgress, ImportReport, ReportedRow};
