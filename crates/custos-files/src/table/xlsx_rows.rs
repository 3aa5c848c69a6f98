//! The reader thread of XLSX rows (calamine, after `xlsx_guard` has checked the file),
//! and how a cell's value reads as text.

use std::io::BufReader;
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use tokio::sync::mpsc;

use super::{too_many_columns, SourceRow, MAX_COLUMNS};
use crate::error::{bad_file, xlsx_malformed, FilesResult};
use crate::sealed::{open_maybe_sealed, FileKey};

/// Text of a cell as a person sees it; date cells become `YYYY-MM-DD`.
fn cell_text(v: &DataRef<'_>) -> String {
    match v {
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => float_text(*f),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(d) => excel_serial_date(d.as_f64()).unwrap_or_else(|| d.to_string()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => format!("#{e}"),
        DataRef::Empty => String::new(),
    }
}

pub fn float_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e17 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// An Excel serial day number (1900 date system) as `YYYY-MM-DD` (plus time if any).
pub fn excel_serial_date(serial: f64) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let t = base + chrono::Duration::milliseconds((serial * 86_400_000.0).round() as i64);
    Some(if serial.fract() == 0.0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    })
}

/// Read the first sheet (or the one named `sheet`) of the XLSX file at `path`: its name
/// to `sheet_tx`, then its non-blank rows, merged cells spread over their region.
pub(super) fn read_xlsx(
    path: &Path,
    key: &FileKey,
    sheet: Option<String>,
    sheet_tx: tokio::sync::oneshot::Sender<FilesResult<Option<String>>>,
    tx: mpsc::Sender<FilesResult<SourceRow>>,
) {
    let opened = open_maybe_sealed(path, key)
        .map_err(xlsx_malformed)
        .and_then(|f| Xlsx::new(BufReader::new(f)).map_err(xlsx_malformed));
    let mut book = match opened {
        Ok(b) => b,
        Err(e) => {
            let _ = sheet_tx.send(Err(e));
            return;
        }
    };
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) => match names.iter().find(|n| n.trim() == s.trim()) {
            Some(n) => n.clone(),
            None => {
                let _ = sheet_tx.send(Err(bad_file(
                    "import.sheet_unknown",
                    format!("工作表“{s}”不存在，可选：{}", names.join("、")),
                    format!(
                        "sheet '{s}' does not exist; choose one of {}",
                        names.join(", ")
                    ),
                )));
                return;
            }
        },
        None => match names.first() {
            Some(n) => n.clone(),
            None => {
                let _ = sheet_tx.send(Err(xlsx_malformed("no worksheet")));
                return;
            }
        },
    };
    // Merged cells keep their value in the top-left cell only: spread it over the
    // region so merged header cells name every column they cover.
    let merged: Vec<calamine::Dimensions> = match book.load_merged_regions() {
        Ok(()) => book
            .merged_regions_by_sheet(&name)
            .into_iter()
            .map(|(_, _, d)| *d)
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut cells = match book.worksheet_cells_reader(&name) {
        Ok(c) => c,
        Err(e) => {
            let _ = sheet_tx.send(Err(xlsx_malformed(e)));
            return;
        }
    };
    let _ = sheet_tx.send(Ok(Some(name)));
    let mut current: Option<(u32, Vec<String>)> = None;
    let mut top_left: std::collections::HashMap<(u32, u32), String> = Default::default();
    let flush = |row: u32,
                 mut cells: Vec<String>,
                 top_left: &std::collections::HashMap<(u32, u32), String>| {
        for d in &merged {
            if row >= d.start.0 && row <= d.end.0 {
                let v = top_left.get(&d.start).cloned().unwrap_or_default();
                for c in d.start.1..=d.end.1 {
                    let c = c as usize;
                    if c < MAX_COLUMNS {
                        if cells.len() <= c {
                            cells.resize(c + 1, String::new());
                        }
                        if cells[c].is_empty() {
                            cells[c] = v.clone();
                        }
                    }
                }
            }
        }
        cells
    };
    loop {
        match cells.next_cell() {
            Ok(Some(cell)) => {
                let (r, c) = cell.get_position();
                let text = cell_text(cell.get_value());
                if merged.iter().any(|d| d.start == (r, c)) {
                    top_left.insert((r, c), text.clone());
                }
                if current.as_ref().is_some_and(|(cr, _)| *cr != r) {
                    if let Some((cr, cs)) = current.take() {
                        if !send_row(&tx, cr, flush(cr, cs, &top_left)) {
                            return;
                        }
                    }
                }
                let (_, row) = current.get_or_insert_with(|| (r, Vec::new()));
                let c = c as usize;
                if c >= MAX_COLUMNS {
                    let _ = tx.blocking_send(Err(too_many_columns(r as u64 + 1, c + 1)));
                    return;
                }
                if row.len() <= c {
                    row.resize(c + 1, String::new());
                }
                row[c] = text;
            }
            Ok(None) => {
                if let Some((cr, cs)) = current.take() {
                    send_row(&tx, cr, flush(cr, cs, &top_left));
                }
                return;
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(xlsx_malformed(e)));
                return;
            }
        }
    }
}

fn send_row(tx: &mpsc::Sender<FilesResult<SourceRow>>, r: u32, cells: Vec<String>) -> bool {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return true;
    }
    tx.blocking_send(Ok(SourceRow {
        line: r as u64 + 1,
        cells,
    }))
    .is_ok()
}
