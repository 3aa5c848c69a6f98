//! The reader thread of CSV rows: decoded to UTF-8, CR LF made LF, each record bounded
//! (see `csv_guard`), cells guarded against formulas restored (see `csv_cell`).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use tokio::sync::mpsc;

use super::{too_many_columns, SourceRow, TextEncoding, MAX_COLUMNS};
use crate::csv_guard::{RecordGuard, Stopped};
use crate::error::{bad_file, FilesError, FilesResult};
use crate::import_limits::bytes_text;
use crate::sealed::{open_maybe_sealed, FileKey};

/// Read the CSV file at `path` and send its non-blank records as rows, then end; the
/// first error ends the stream.
pub(super) fn read_csv(
    path: &Path,
    key: &FileKey,
    enc: TextEncoding,
    delimiter: u8,
    record_limit: u64,
    tx: mpsc::Sender<FilesResult<SourceRow>>,
) {
    let file = match open_maybe_sealed(path, key) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(bad_file(
                "import.file_unreadable",
                format!("无法读取文件：{e}"),
                format!("cannot read the file: {e}"),
            )));
            return;
        }
    };
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(enc.encoding()))
        .bom_override(true)
        .build(BufReader::with_capacity(1 << 16, file));
    let guarded = RecordGuard::new(
        CrlfToLf::new(BufReader::new(decoded)),
        delimiter,
        record_limit,
    );
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(guarded);
    let mut record = csv::StringRecord::new();
    loop {
        let before = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return,
            Ok(true) => {
                if let Some(line) = reader.get_ref().open_quote_at_end(reader.position().byte()) {
                    // The rest of the file was folded into one cell: not a row to import.
                    let _ = tx.blocking_send(Err(unclosed_quote(line, None)));
                    return;
                }
                // The line the record starts on: counted back from the reader's line after
                // it by its own LF (see `CrlfToLf`) and the line ends inside its quoted
                // cells. (The position the record was started at can lie before blank
                // lines the reader skipped.)
                let inner: usize = record.iter().map(|c| c.matches('\n').count()).sum();
                let line = reader
                    .position()
                    .line()
                    .saturating_sub(1 + inner as u64)
                    .max(1);
                if record.len() > MAX_COLUMNS {
                    let _ = tx.blocking_send(Err(too_many_columns(line, record.len())));
                    return;
                }
                if record.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
                let row = SourceRow {
                    line,
                    // A cell an export guarded against formulas gets its value back.
                    cells: record
                        .iter()
                        .map(|c| crate::csv_cell::restore(c).to_string())
                        .collect(),
                };
                if tx.blocking_send(Ok(row)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let err = match reader.get_ref().stopped() {
                    Some(Stopped::QuoteOpen { line }) => unclosed_quote(line, Some(record_limit)),
                    Some(Stopped::TooLong { line }) => {
                        let (zh, en) = bytes_text(record_limit);
                        bad_file(
                            "import.csv_record_too_long",
                            format!("CSV 第 {line} 行起的一行超过 {zh} 仍未结束"),
                            format!("the CSV row starting on line {line} is longer than {en}"),
                        )
                    }
                    None => {
                        let line = before;
                        bad_file(
                            "import.csv_malformed",
                            format!("CSV 第 {line} 行格式错误：{e}"),
                            format!("CSV line {line} is malformed: {e}"),
                        )
                    }
                };
                let _ = tx.blocking_send(Err(err));
                return;
            }
        }
    }
}

/// A quote opened on `line` and not closed: at the end of the file, or within `limit`
/// bytes.
fn unclosed_quote(line: u64, limit: Option<u64>) -> FilesError {
    let (zh, en) = match limit.map(bytes_text) {
        None => (
            "到文件末尾".to_string(),
            "by the end of the file".to_string(),
        ),
        Some((zh, en)) => (format!("在其后 {zh} 内"), format!("within {en}")),
    };
    bad_file(
        "import.csv_unclosed_quote",
        format!("CSV 第 {line} 行的引号{zh}都没有闭合（单元格内的引号应写成两个引号 \"\"）"),
        format!(
            "the quote opened on CSV line {line} is not closed {en} (a quote inside a cell is written as two quotes \"\")"
        ),
    )
}

/// Reads `inner` with every CR LF pair made a single LF (a CR alone is kept), and a LF
/// after the last byte if it is not one. The csv reader ends a record at CR, LF or CR LF
/// but counts lines by LF, and consumes the LF of a CR LF only at its next read; this
/// way every record has consumed its own LF when it is returned (see `read_csv`).
struct CrlfToLf<R> {
    inner: R,
    /// The last byte given out.
    last: Option<u8>,
}

impl<R> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf { inner, last: None }
    }
}

impl<R: BufRead> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.read_pairs(out)?;
        if n > 0 {
            self.last = Some(out[n - 1]);
            return Ok(n);
        }
        if out.is_empty() || self.last.is_none_or(|b| b == b'\n') {
            return Ok(0);
        }
        out[0] = b'\n';
        self.last = Some(b'\n');
        Ok(1)
    }
}

impl<R: BufRead> CrlfToLf<R> {
    /// The bytes of `inner` with CR LF pairs made LF; 0 at its end.
    fn read_pairs(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() || out.is_empty() {
                return Ok(0);
            }
            let (mut r, mut w) = (0, 0);
            // A CR that ends the buffered bytes, to decide by the next byte.
            let mut cr_at_end = false;
            while r < buf.len() && w < out.len() {
                let b = buf[r];
                if b == b'\r' {
                    match buf.get(r + 1) {
                        Some(b'\n') => {
                            r += 1;
                            continue;
                        }
                        None => {
                            cr_at_end = true;
                            break;
                        }
                        Some(_) => {}
                    }
                }
                out[w] = b;
                w += 1;
                r += 1;
            }
            self.inner.consume(r);
            if w > 0 || !cr_at_end {
                return Ok(w);
            }
            // Only that CR is left in the buffer: take it and look at what follows.
            self.inner.consume(1);
            let next = self.inner.fill_buf()?;
            if next.first() != Some(&b'\n') {
                out[0] = b'\r';
                return Ok(1);
            }
            // CR LF: the LF is copied on the next round.
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Everything `CrlfToLf` yields from `data`, buffered `cap` bytes at a time, read
    /// `step` bytes at a time.
    fn through(data: &[u8], cap: usize, step: usize) -> Vec<u8> {
        let mut r = CrlfToLf::new(BufReader::with_capacity(cap, data));
        let mut out = Vec::new();
        let mut buf = vec![0u8; step];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn crlf_pairs_become_lf_at_any_read_size() {
        let data = b"a,b\r\nc\rd\r\n\r\n\"x\r\ny\",z\r";
        for cap in [1, 2, 3, 4, 64] {
            for step in [1, 2, 3, 5, 64] {
                assert_eq!(
                    through(data, cap, step),
                    b"a,b\nc\rd\n\n\"x\ny\",z\r\n".to_vec(),
                    "buffered {cap}, read {step} bytes at a time"
                );
            }
        }
    }

    /// Lines of the rows `read_csv` sends for a file holding `text` (the same whether
    /// the file is plain or sealed).
    fn lines(text: &str) -> Vec<u64> {
        let dir = tempfile::tempdir().unwrap();
        let key = FileKey::random();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let sealed = dir.path().join("s.csv");
        crate::sealed::seal_file(&path, &sealed, &key).unwrap();
        let read = |p: &Path| {
            let (tx, mut rx) = mpsc::channel(64);
            read_csv(p, &key, TextEncoding::Utf8, b',', 1 << 20, tx);
            let mut out = Vec::new();
            while let Ok(row) = rx.try_recv() {
                out.push(row.unwrap().line);
            }
            out
        };
        let out = read(&path);
        assert_eq!(read(&sealed), out);
        out
    }

    /// A row is reported on the line it starts on, whether the file ends its lines as
    /// Windows (Excel) or Unix does, skipping blank lines, after a cell that spans lines.
    #[test]
    fn rows_are_numbered_by_the_line_they_start_on() {
        for nl in ["\n", "\r\n"] {
            let text = format!("名称,手机{nl}甲,1{nl}{nl}\"乙{nl}二\",2{nl}丙,3");
            assert_eq!(lines(&text), vec![1, 2, 4, 6], "line ends {nl:?}");
        }
    }
}
