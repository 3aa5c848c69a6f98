//! Reading an import file as a stream of rows: CSV in UTF-8 (with or without BOM) or
//! GBK/GB18030, and XLSX (first sheet or a named one). Rows are produced by a reader
//! thread into a bounded channel, so a file of any length is read in bounded memory.
//!
//! The first pass over a file ([`inspect`]) is in `table/inspect.rs`; the reader threads
//! of CSV and XLSX rows in `table/csv_rows.rs` and `table/xlsx_rows.rs`.

mod csv_rows;
mod inspect;
mod shapes;
mod xlsx_rows;

use std::path::Path;

use tokio::sync::mpsc;

use crate::error::{bad_file, FilesError, FilesResult};
use crate::import_limits::ImportLimits;
use crate::sealed::FileKey;

pub use inspect::inspect;
use shapes::too_many_columns;
pub use shapes::*;
pub use xlsx_rows::{excel_serial_date, float_text};
/// Open the file and find its header: the row among the first ten with the most cells
/// `known` recognises (title rows above it are skipped). Errors of the rows after the
/// header reach the table's stream as `E`.
pub async fn open_table<E: From<FilesError> + Send + 'static>(
    path: &Path,
    key: &FileKey,
    facts: &FileFacts,
    sheet: Option<&str>,
    limits: &ImportLimits,
    known: impl Fn(&str) -> bool,
) -> FilesResult<Table<E>> {
    let (tx, mut rx) = mpsc::channel::<FilesResult<SourceRow>>(1024);
    let (sheet_tx, sheet_rx) = tokio::sync::oneshot::channel::<FilesResult<Option<String>>>();
    let (path, key) = (path.to_path_buf(), key.clone());
    match facts.format {
        FileFormat::Csv => {
            let enc = facts.encoding.unwrap_or(TextEncoding::Utf8);
            let delimiter = facts.delimiter;
            let record_limit = limits.row_bytes;
            let _ = sheet_tx.send(Ok(None));
            spawn_reader(tx, move |tx| {
                csv_rows::read_csv(&path, &key, enc, delimiter, record_limit, tx)
            });
        }
        FileFormat::Xlsx => {
            let sheet = sheet.map(str::to_string);
            spawn_reader(tx, move |tx| {
                xlsx_rows::read_xlsx(&path, &key, sheet, sheet_tx, tx)
            });
        }
    }
    // The sender is dropped unsent only when the reader panicked (see `spawn_reader`).
    let sheet = sheet_rx.await.map_err(|_| reader_failed())??;
    let mut first = Vec::new();
    while first.len() < HEADER_SCAN_ROWS {
        match rx.recv().await {
            Some(r) => first.push(r?),
            None => break,
        }
    }
    if first.is_empty() {
        return Err(bad_file(
            "import.file_empty",
            "文件没有任何数据行（连表头也没有）",
            "the file has no rows at all, not even a header",
        ));
    }
    let mut best = (0usize, 0usize);
    for (i, r) in first.iter().enumerate() {
        let n = r.cells.iter().filter(|c| known(&header_key(c))).count();
        if n > best.1 {
            best = (i, n);
        }
    }
    let (idx, _) = best;
    let mut rest = first.split_off(idx);
    let header = rest.remove(0);
    // Re-queue the rows read past the header in front of the stream.
    let (tx2, rx2) = mpsc::channel::<Result<SourceRow, E>>(1024);
    tokio::spawn(async move {
        for r in rest {
            if tx2.send(Ok(r)).await.is_err() {
                return;
            }
        }
        while let Some(r) = rx.recv().await {
            if tx2.send(r.map_err(E::from)).await.is_err() {
                return;
            }
        }
    });
    let mut headers: Vec<String> = header.cells.iter().map(|c| c.trim().to_string()).collect();
    while headers.last().is_some_and(|h| h.is_empty()) {
        headers.pop();
    }
    Ok(Table {
        headers,
        header_line: header.line,
        sheet,
        rows: rx2,
    })
}

/// Run a reader thread. A panic inside a file parser (hostile input meeting a defect of
/// ours or of a library) becomes an error row, so the consumer never takes a reader that
/// died for the end of the file and imports half of it as if it were all.
fn spawn_reader(
    tx: mpsc::Sender<FilesResult<SourceRow>>,
    read: impl FnOnce(mpsc::Sender<FilesResult<SourceRow>>) + Send + 'static,
) {
    std::thread::spawn(move || {
        let last_word = tx.clone();
        let run = std::panic::AssertUnwindSafe(move || read(tx));
        if std::panic::catch_unwind(run).is_err() {
            let _ = last_word.blocking_send(Err(reader_failed()));
        }
    });
}

/// The refusal of a file whose reader stopped on contents it could not make sense of.
fn reader_failed() -> FilesError {
    bad_file(
        "import.file_unreadable",
        "文件无法读取：其中的内容前后不一致",
        "the file cannot be read: its contents contradict each other",
    )
}

#[cfg(test)]
mod reader_tests {
    use super::*;

    #[test]
    fn a_reader_that_panics_leaves_an_error_not_an_end_of_file() {
        let (tx, mut rx) = mpsc::channel::<FilesResult<SourceRow>>(4);
        spawn_reader(tx, |_tx| panic!("a parser defect"));
        match rx.blocking_recv() {
            Some(Err(FilesError::Invalid { violation, .. })) => {
                assert_eq!(violation.code, "import.file_unreadable")
            }
            _ => panic!("the reader's panic was taken for the end of the file"),
        }
        assert!(rx.blocking_recv().is_none());
    }
}
