//! Bounds on what reading one import file may cost, whatever the file says about itself.
//!
//! A file is refused (HTTP 422, nothing imported) when it crosses one: these are guards
//! against files made to exhaust the server (an XLSX is a ZIP archive, and a few
//! megabytes of it can unpack to gigabytes), far above what a real customer list needs.
//! The rules on single values stay where they were: a cell longer than
//! [`crate::table::MAX_CELL_CHARS`] characters rejects its row, more than
//! [`crate::table::MAX_COLUMNS`] columns refuse the file.

/// The bounds of one import file; `AppConfig::import_limits`, `[imports]` in the
/// configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Bytes of one row: a CSV record as decoded (with the line ends inside its quoted
    /// cells), an XLSX row's XML as unpacked. A longer one is refused naming its line
    /// before it is read whole (a file without line ends, a quote never closed). Rows
    /// wait in a queue of 1,024 between reader and importer, so this bounds that
    /// queue's memory too.
    pub row_bytes: u64,
    /// Decompressed bytes of one XLSX cell or shared string, XML markup included.
    pub xlsx_cell_bytes: u64,
    /// Decompressed bytes of one worksheet part (`xl/worksheets/…`), read as a stream.
    pub xlsx_sheet_bytes: u64,
    /// Decompressed bytes of any other part (shared strings, styles, workbook…): these
    /// are held in memory while the sheet is read.
    pub xlsx_part_bytes: u64,
    /// Decompressed bytes of all the parts of one XLSX file together.
    pub xlsx_total_bytes: u64,
    /// Shared strings of one XLSX file: calamine keeps them all in memory, each with a
    /// few dozen bytes of its own besides its text.
    pub xlsx_shared_strings: u64,
    /// Merged cell ranges of one XLSX file: each row read is compared with all of them.
    pub xlsx_merged_cells: u64,
}

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

impl Default for ImportLimits {
    fn default() -> Self {
        ImportLimits {
            // A real row is a few hundred bytes; 500 columns of 2,000 bytes still fit.
            row_bytes: MIB,
            // Excel keeps at most 32,767 characters in a cell: a few hundred KiB of XML
            // even with every character escaped or formatted alone.
            xlsx_cell_bytes: MIB,
            // Excel's 1,048,576 rows of 20 cells are under 1 GiB of sheet XML.
            xlsx_sheet_bytes: 2 * GIB,
            // The shared strings of a million rows of distinct names and addresses.
            xlsx_part_bytes: 256 * MIB,
            xlsx_total_bytes: 4 * GIB,
            // A million rows with four columns of distinct text each.
            xlsx_shared_strings: 5_000_000,
            // Title rows and grouped headers use a few.
            xlsx_merged_cells: 1_000,
        }
    }
}

/// A byte count as people read it, in Chinese and in English: `1 MiB`, `256 KiB`, else
/// `1000 字节` / `1000 bytes`.
pub fn bytes_text(n: u64) -> (String, String) {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if n >= unit && n.is_multiple_of(unit) {
            let t = format!("{} {name}", n / unit);
            return (t.clone(), t);
        }
    }
    (format!("{n} 字节"), format!("{n} bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_as_people_write_them() {
        assert_eq!(bytes_text(MIB).1, "1 MiB");
        assert_eq!(bytes_text(2 * GIB).0, "2 GiB");
        assert_eq!(bytes_text(64 * KIB).1, "64 KiB");
        assert_eq!(bytes_text(1000), ("1000 字节".into(), "1000 bytes".into()));
    }
}
