//! File formats and file crypto of custos. Nothing here knows about users, permissions
//! or the database: the use cases in `custos-app` decide *whether* a file is read or
//! written; this crate decides *how* its bytes look.

pub mod backup_format;
pub mod csv_cell;
mod csv_guard;
pub mod error;
pub mod import_limits;
pub mod private_files;
pub mod sealed;
pub mod table;
mod xlsx_guard;
pub mod xlsx_writer;

pub use error::{FilesError, FilesResult};
