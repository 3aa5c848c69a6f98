//! The import reader on an arbitrary file taken as XLSX (a ZIP of XML parts), within the
//! reader's limits on parts and cells. Errors are fine; panics and hangs are not.
#![no_main]

use custos_app::import::FileFormat;
use libfuzzer_sys::fuzz_target;

#[path = "read_table.rs"]
mod read_table;

fuzz_target!(|data: &[u8]| {
    read_table::read_all(data, FileFormat::Xlsx);
});
