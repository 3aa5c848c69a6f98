//! Reading an import file as a stream of rows: CSV in UTF-8 (with or without BOM) or
//! GBK/GB18030, and XLSX (first sheet or a named one). Rows are produced by a reader
//! thread into a bounded channel, so a file of any length is read in bounded memory.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use custos_core::Violation;

use super::csv_guard::{RecordGuard, Stopped};
use super::limits::{bytes_text, ImportLimits};
use crate::error::{AppError, AppResult};
use crate::pii::PiiKey;
use crate::sealed::open_maybe_sealed;

/// Longest accepted cell (characters); longer cells reject their row.
pub const MAX_CELL_CHARS: usize = 10_000;
/// Most columns of a file.
pub const MAX_COLUMNS: usize = 500;
/// Rows looked at to find the header row (title rows above it are skipped).
const HEADER_SCAN_ROWS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

/// Text encodings of CSV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TextEncoding {
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "gb18030")]
    Gb18030,
    /// Excel's "Unicode 文本" (Unicode Text): UTF-16 little-endian with a BOM, tabs.
    #[serde(rename = "utf-16le")]
    Utf16Le,
    #[serde(rename = "utf-16be")]
    Utf16Be,
}

impl TextEncoding {
    /// `utf-8`/`utf8`, `gbk`, `gb2312`, `gb18030` (GBK and GB2312 are subsets of GB18030),
    /// `utf-16`/`unicode`/`utf-16le`, `utf-16be`.
    pub fn parse(s: &str) -> AppResult<TextEncoding> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" | "utf-8-sig" => Ok(TextEncoding::Utf8),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Ok(TextEncoding::Gb18030),
            "utf-16" | "utf16" | "utf-16le" | "utf16le" | "unicode" | "ucs-2" => {
                Ok(TextEncoding::Utf16Le)
            }
            "utf-16be" | "utf16be" => Ok(TextEncoding::Utf16Be),
            other => Err(bad_file(
                "import.encoding_unknown",
                format!("不支持的编码“{other}”，可选 utf-8、gbk、gb18030、utf-16le、utf-16be"),
                format!(
                    "unsupported encoding '{other}'; use utf-8, gbk, gb18030, utf-16le or utf-16be"
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Gb18030 => "gb18030",
            TextEncoding::Utf16Le => "utf-16le",
            TextEncoding::Utf16Be => "utf-16be",
        }
    }

    fn encoding(self) -> &'static encoding_rs::Encoding {
        match self {
            TextEncoding::Utf8 => encoding_rs::UTF_8,
            TextEncoding::Gb18030 => encoding_rs::GB18030,
            TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
            TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
        }
    }

    fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    }
}

/// Cell separators of CSV (and tab-separated text) files.
const DELIMITERS: [u8; 4] = [b',', b'\t', b';', b'|'];

/// `,`/`comma`, `tab`/`\t`, `;`/`semicolon`, `|`/`pipe`.
pub fn parse_delimiter(s: &str) -> AppResult<char> {
    if s == "\t" {
        return Ok('\t');
    }
    match s.trim().to_ascii_lowercase().as_str() {
        "comma" | "," => Ok(','),
        "tab" | "\\t" => Ok('\t'),
        "semicolon" | ";" => Ok(';'),
        "pipe" | "|" => Ok('|'),
        other => Err(unknown_delimiter(other)),
    }
}

fn unknown_delimiter(given: &str) -> AppError {
    AppError::validation(
        "delimiter",
        Violation::new(
            "import.delimiter_unknown",
            format!("不支持的分隔符“{given}”，可选 comma、tab、semicolon、pipe（, ; |）"),
            format!("unsupported delimiter '{given}'; use comma, tab, semicolon or pipe (, ; |)"),
        ),
    )
}

/// The byte of a delimiter the options give, if it is one of [`DELIMITERS`] (however
/// the options were made: the command line and the form parse names, a program may
/// give any character).
fn delimiter_byte(c: char) -> AppResult<u8> {
    DELIMITERS
        .into_iter()
        .find(|d| char::from(*d) == c)
        .ok_or_else(|| unknown_delimiter(&c.to_string()))
}

/// How reports name a delimiter.
pub fn delimiter_name(d: u8) -> &'static str {
    match d {
        b'\t' => "tab",
        b';' => ";",
        b'|' => "|",
        _ => ",",
    }
}

/// The separator of a CSV from its first lines (`text`, decoded): the candidate most
/// frequent, outside quotes, on the line where any candidate is most frequent (the
/// header; title rows above it have few). Comma when none occurs.
fn detect_delimiter(text: &str) -> u8 {
    let mut best = (0usize, b',');
    for line in text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(HEADER_SCAN_ROWS)
    {
        let mut counts = [0usize; DELIMITERS.len()];
        let mut quoted = false;
        for b in line.bytes() {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                if let Some(i) = DELIMITERS.iter().position(|d| *d == b) {
                    counts[i] += 1;
                }
            }
        }
        for (i, n) in counts.iter().enumerate() {
            if *n > best.0 {
                best = (*n, DELIMITERS[i]);
            }
        }
    }
    best.1
}

/// A problem with the file as a whole (HTTP 422, nothing imported).
pub(crate) fn bad_file(code: &str, zh: impl Into<String>, en: impl Into<String>) -> AppError {
    AppError::validation("file", Violation::new(code, zh, en))
}

/// What a first pass over the file found: its digest, size, encoding, approximate rows.
#[derive(Debug, Clone)]
pub struct FileFacts {
    pub sha256: String,
    pub bytes: u64,
    pub format: FileFormat,
    /// CSV only.
    pub encoding: Option<TextEncoding>,
    /// CSV only: the cell separator (given, or detected from the first lines).
    pub delimiter: u8,
    /// Lines (CSV) or sheet rows (XLSX), for progress; an estimate.
    pub approx_rows: u64,
}

/// One row of the source: its physical line/row number (1-based) and cells.
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub line: u64,
    pub cells: Vec<String>,
}

/// An open file: its header and a stream of data rows after it.
pub struct Table {
    pub headers: Vec<String>,
    pub header_line: u64,
    pub sheet: Option<String>,
    /// Data rows; an `Err` ends the stream (unreadable file part).
    pub rows: mpsc::Receiver<AppResult<SourceRow>>,
}

/// Digest the file and decide its format and encoding (one streaming pass); an XLSX is
/// then unpacked once as a stream to check it against `limits` (see `xlsx_guard`).
pub fn inspect(
    path: &Path,
    key: &PiiKey,
    format: Option<FileFormat>,
    encoding: Option<TextEncoding>,
    delimiter: Option<char>,
    limits: &ImportLimits,
) -> AppResult<FileFacts> {
    let mut f = open_maybe_sealed(path, key).map_err(|e| {
        bad_file(
            "import.file_unreadable",
            format!("无法读取文件 {}：{e}", path.display()),
            format!("cannot read file {}: {e}", path.display()),
        )
    })?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    // The first bytes: the format's magic, a BOM, and the lines the delimiter is read from.
    let mut head: Vec<u8> = Vec::new();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut utf8 = Utf8Check::default();
    let mut gb = DecodeCheck::new(encoding_rs::GB18030);
    // UTF-16 is checked when forced or announced by a BOM (known after the first read).
    let mut utf16: Option<(TextEncoding, DecodeCheck)> = None;
    let mut nul = false;
    loop {
        let n = f.read(&mut buf).map_err(|e| {
            bad_file(
                "import.file_unreadable",
                format!("读取文件出错：{e}"),
                format!("error reading the file: {e}"),
            )
        })?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        hasher.update(chunk);
        if head.len() < 1 << 16 {
            head.extend_from_slice(&chunk[..chunk.len().min((1 << 16) - head.len())]);
        }
        if bytes == 0 {
            let bom = if head.starts_with(&[0xFF, 0xFE]) {
                Some(TextEncoding::Utf16Le)
            } else if head.starts_with(&[0xFE, 0xFF]) {
                Some(TextEncoding::Utf16Be)
            } else {
                None
            };
            utf16 = encoding
                .filter(|e| e.is_utf16())
                .or(bom)
                .map(|e| (e, DecodeCheck::new(e.encoding())));
        }
        bytes += n as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        nul |= chunk.contains(&0);
        utf8.feed(chunk);
        gb.feed(chunk, false);
        if let Some((_, check)) = &mut utf16 {
            check.feed(chunk, false);
        }
    }
    let sha256 = hex::encode(hasher.finalize());
    if bytes == 0 {
        return Err(bad_file(
            "import.file_empty",
            "文件为空",
            "the file is empty",
        ));
    }
    let zip = head.starts_with(b"PK\x03\x04");
    let ole = head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    if ole {
        return Err(bad_file(
            "import.xls_unsupported",
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV",
            "old .xls files are not supported; save as .xlsx or CSV in Excel",
        ));
    }
    let format = match format {
        Some(FileFormat::Xlsx) if !zip => {
            return Err(bad_file(
                "import.xlsx_malformed",
                "文件不是有效的 XLSX（不是 ZIP 压缩包）",
                "the file is not a valid XLSX (not a ZIP archive)",
            ))
        }
        Some(f) => f,
        None if zip => FileFormat::Xlsx,
        None => FileFormat::Csv,
    };
    if format == FileFormat::Xlsx {
        let file = open_maybe_sealed(path, key).map_err(xlsx_error)?;
        super::xlsx_guard::check_xlsx(file, limits)?;
        return Ok(FileFacts {
            sha256,
            bytes,
            format,
            encoding: None,
            delimiter: b',',
            approx_rows: 0,
        });
    }
    let utf8_ok = utf8.finish();
    let gb_ok = gb.finish();
    let utf16 = utf16.map(|(e, check)| (e, check.finish()));
    let encoding = match (encoding, utf16) {
        (Some(TextEncoding::Utf8), _) if !utf8_ok => {
            return Err(bad_file(
                "import.encoding_invalid",
                "文件不是有效的 UTF-8 编码；如由 Excel 保存为 CSV，请使用 --encoding gbk",
                "the file is not valid UTF-8; if Excel saved it as CSV, use --encoding gbk",
            ))
        }
        (Some(TextEncoding::Gb18030), _) if !gb_ok => {
            return Err(bad_file(
                "import.encoding_invalid",
                "文件不是有效的 GBK/GB18030 编码",
                "the file is not valid GBK/GB18030",
            ))
        }
        (Some(e), Some((_, false))) | (None, Some((e, false))) if e.is_utf16() => {
            return Err(bad_file(
                "import.encoding_invalid",
                format!("文件不是有效的 {} 编码", e.as_str().to_uppercase()),
                format!("the file is not valid {}", e.as_str().to_uppercase()),
            ))
        }
        (Some(e), _) => e,
        (None, Some((e, true))) => e,
        (None, _) if nul => TextEncoding::Utf8,
        (None, _) if utf8_ok => TextEncoding::Utf8,
        (None, _) if gb_ok => TextEncoding::Gb18030,
        (None, _) => {
            return Err(bad_file(
                "import.encoding_invalid",
                "无法识别文件编码：既不是 UTF-8、GBK/GB18030，也不是带 BOM 的 UTF-16",
                "cannot tell the file's encoding: it is neither UTF-8 nor GBK/GB18030, nor UTF-16 with a BOM",
            ))
        }
    };
    if nul && !encoding.is_utf16() {
        return Err(bad_file(
            "import.encoding_invalid",
            "文件含有二进制内容（NUL 字节），不是文本 CSV",
            "the file has binary content (NUL bytes); it is not a text CSV",
        ));
    }
    let delimiter = match delimiter {
        Some(c) => delimiter_byte(c)?,
        None => detect_delimiter(&encoding.encoding().decode_without_bom_handling(&head).0),
    };
    if encoding.is_utf16() {
        // Newline bytes counted in UTF-16 are one per line (plus a few inside characters).
        lines = lines.min(bytes / 2);
    }
    Ok(FileFacts {
        sha256,
        bytes,
        format,
        encoding: Some(encoding),
        delimiter,
        approx_rows: lines,
    })
}

/// Whether a stream is valid in one encoding, fed a chunk at a time.
struct DecodeCheck {
    decoder: encoding_rs::Decoder,
    ok: bool,
    scratch: String,
}

impl DecodeCheck {
    fn new(encoding: &'static encoding_rs::Encoding) -> DecodeCheck {
        DecodeCheck {
            decoder: encoding.new_decoder_without_bom_handling(),
            ok: true,
            scratch: String::new(),
        }
    }

    fn feed(&mut self, mut input: &[u8], last: bool) {
        while self.ok {
            self.scratch.clear();
            self.scratch.reserve(input.len() * 3 + 16);
            let (r, read) =
                self.decoder
                    .decode_to_string_without_replacement(input, &mut self.scratch, last);
            input = &input[read..];
            match r {
                encoding_rs::DecoderResult::Malformed(_, _) => self.ok = false,
                encoding_rs::DecoderResult::InputEmpty => return,
                encoding_rs::DecoderResult::OutputFull => {}
            }
        }
    }

    /// Valid to the end (an incomplete character at the end is not).
    fn finish(mut self) -> bool {
        self.feed(&[], true);
        self.ok
    }
}

/// Incremental UTF-8 validation across chunk boundaries.
#[derive(Default)]
struct Utf8Check {
    carry: Vec<u8>,
    bad: bool,
}

impl Utf8Check {
    fn feed(&mut self, chunk: &[u8]) {
        if self.bad {
            return;
        }
        let mut data = std::mem::take(&mut self.carry);
        data.extend_from_slice(chunk);
        match std::str::from_utf8(&data) {
            Ok(_) => {}
            Err(e) if e.error_len().is_none() => {
                self.carry = data[e.valid_up_to()..].to_vec();
            }
            Err(_) => self.bad = true,
        }
    }

    fn finish(self) -> bool {
        !self.bad && self.carry.is_empty()
    }
}

/// Normalise a header cell for matching: no spaces, required markers or line breaks.
pub fn header_key(h: &str) -> String {
    custos_core::normalize::to_half_width(h)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '*' && *c != '\u{feff}')
        .collect::<String>()
        .to_lowercase()
}

/// Open the file and find its header: the row among the first ten with the most cells
/// `known` recognises (title rows above it are skipped).
pub async fn open_table(
    path: &Path,
    key: &PiiKey,
    facts: &FileFacts,
    sheet: Option<&str>,
    limits: &ImportLimits,
    known: impl Fn(&str) -> bool,
) -> AppResult<Table> {
    let (tx, mut rx) = mpsc::channel::<AppResult<SourceRow>>(1024);
    let (sheet_tx, sheet_rx) = tokio::sync::oneshot::channel::<AppResult<Option<String>>>();
    let (path, key) = (path.to_path_buf(), key.clone());
    match facts.format {
        FileFormat::Csv => {
            let enc = facts.encoding.unwrap_or(TextEncoding::Utf8);
            let delimiter = facts.delimiter;
            let record_limit = limits.row_bytes;
            let _ = sheet_tx.send(Ok(None));
            std::thread::spawn(move || read_csv(&path, &key, enc, delimiter, record_limit, tx));
        }
        FileFormat::Xlsx => {
            let sheet = sheet.map(str::to_string);
            std::thread::spawn(move || read_xlsx(&path, &key, sheet, sheet_tx, tx));
        }
    }
    let sheet = sheet_rx
        .await
        .map_err(|_| AppError::Internal("file reader stopped".into()))??;
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
    let (tx2, rx2) = mpsc::channel::<AppResult<SourceRow>>(1024);
    tokio::spawn(async move {
        for r in rest {
            if tx2.send(Ok(r)).await.is_err() {
                return;
            }
        }
        while let Some(r) = rx.recv().await {
            if tx2.send(r).await.is_err() {
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

fn too_many_columns(line: u64, n: usize) -> AppError {
    bad_file(
        "import.too_many_columns",
        format!("第 {line} 行有 {n} 列，最多 {MAX_COLUMNS} 列"),
        format!("row {line} has {n} columns; at most {MAX_COLUMNS}"),
    )
}

fn read_csv(
    path: &Path,
    key: &PiiKey,
    enc: TextEncoding,
    delimiter: u8,
    record_limit: u64,
    tx: mpsc::Sender<AppResult<SourceRow>>,
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
fn unclosed_quote(line: u64, limit: Option<u64>) -> AppError {
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

fn xlsx_error(e: impl std::fmt::Display) -> AppError {
    bad_file(
        "import.xlsx_malformed",
        format!("XLSX 文件损坏或格式不正确：{e}"),
        format!("the XLSX file is damaged or malformed: {e}"),
    )
}

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

pub(crate) fn float_text(f: f64) -> String {
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

fn read_xlsx(
    path: &Path,
    key: &PiiKey,
    sheet: Option<String>,
    sheet_tx: tokio::sync::oneshot::Sender<AppResult<Option<String>>>,
    tx: mpsc::Sender<AppResult<SourceRow>>,
) {
    let opened = open_maybe_sealed(path, key)
        .map_err(xlsx_error)
        .and_then(|f| Xlsx::new(BufReader::new(f)).map_err(xlsx_error));
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
                let _ = sheet_tx.send(Err(xlsx_error("no worksheet")));
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
            let _ = sheet_tx.send(Err(xlsx_error(e)));
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
                let _ = tx.blocking_send(Err(xlsx_error(e)));
                return;
            }
        }
    }
}

fn send_row(tx: &mpsc::Sender<AppResult<SourceRow>>, r: u32, cells: Vec<String>) -> bool {
    if cells.iter().all(|c| c.trim().is_empty()) {
        return true;
    }
    tx.blocking_send(Ok(SourceRow {
        line: r as u64 + 1,
        cells,
    }))
    .is_ok()
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
        let key = PiiKey::random();
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
