//! The first pass over an import file: its digest and size, its format, and for a CSV
//! its encoding and delimiter; an XLSX is checked against the limits (`xlsx_guard`).

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{delimiter_byte, FileFacts, FileFormat, TextEncoding, DELIMITERS, HEADER_SCAN_ROWS};
use crate::error::{bad_file, xlsx_malformed, FilesResult};
use crate::import_limits::ImportLimits;
use crate::sealed::{open_maybe_sealed, FileKey};

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

/// Digest the file and decide its format and encoding (one streaming pass); an XLSX is
/// then unpacked once as a stream to check it against `limits` (see `xlsx_guard`).
pub fn inspect(
    path: &Path,
    key: &FileKey,
    format: Option<FileFormat>,
    encoding: Option<TextEncoding>,
    delimiter: Option<char>,
    limits: &ImportLimits,
) -> FilesResult<FileFacts> {
    let f = open_maybe_sealed(path, key).map_err(|e| {
        bad_file(
            "import.file_unreadable",
            format!("无法读取文件 {}：{e}", path.display()),
            format!("cannot read file {}: {e}", path.display()),
        )
    })?;
    let scan = Scan::read(f, encoding)?;
    if scan.bytes == 0 {
        return Err(bad_file(
            "import.file_empty",
            "文件为空",
            "the file is empty",
        ));
    }
    let format = decide_format(format, &scan.head)?;
    if format == FileFormat::Xlsx {
        let file = open_maybe_sealed(path, key).map_err(xlsx_malformed)?;
        crate::xlsx_guard::check_xlsx(file, limits)?;
        return Ok(FileFacts {
            sha256: scan.sha256,
            bytes: scan.bytes,
            format,
            encoding: None,
            delimiter: b',',
            approx_rows: 0,
        });
    }
    let (sha256, bytes, mut lines, head) = (scan.sha256, scan.bytes, scan.lines, scan.head);
    let encoding = decide_encoding(encoding, scan.checks)?;
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

/// What one streaming pass over the file found.
struct Scan {
    sha256: String,
    bytes: u64,
    /// Newline bytes.
    lines: u64,
    /// The first bytes: the format's magic, a BOM, and the lines the delimiter is read
    /// from.
    head: Vec<u8>,
    checks: EncodingChecks,
}

/// Which encodings the whole file is valid in, and whether it holds NUL bytes.
struct EncodingChecks {
    utf8: Utf8Check,
    gb: DecodeCheck,
    /// UTF-16 is checked when forced or announced by a BOM (known after the first read).
    utf16: Option<(TextEncoding, DecodeCheck)>,
    nul: bool,
}

impl Scan {
    /// Read `f` to its end, digesting and checking it; `encoding` is the one given, if any.
    fn read(mut f: impl Read, encoding: Option<TextEncoding>) -> FilesResult<Scan> {
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut head: Vec<u8> = Vec::new();
        let mut bytes = 0u64;
        let mut lines = 0u64;
        let mut checks = EncodingChecks {
            utf8: Utf8Check::default(),
            gb: DecodeCheck::new(encoding_rs::GB18030),
            utf16: None,
            nul: false,
        };
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
                checks.utf16 = encoding
                    .filter(|e| e.is_utf16())
                    .or(bom)
                    .map(|e| (e, DecodeCheck::new(e.encoding())));
            }
            bytes += n as u64;
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            checks.feed(chunk);
        }
        Ok(Scan {
            sha256: hex::encode(hasher.finalize()),
            bytes,
            lines,
            head,
            checks,
        })
    }
}

impl EncodingChecks {
    fn feed(&mut self, chunk: &[u8]) {
        self.nul |= chunk.contains(&0);
        self.utf8.feed(chunk);
        self.gb.feed(chunk, false);
        if let Some((_, check)) = &mut self.utf16 {
            check.feed(chunk, false);
        }
    }
}

/// The format given, or told by the file's first bytes (a ZIP archive is an XLSX); an
/// old binary `.xls` and an XLSX that is not a ZIP are refused.
fn decide_format(format: Option<FileFormat>, head: &[u8]) -> FilesResult<FileFormat> {
    let zip = head.starts_with(b"PK\x03\x04");
    let ole = head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]);
    if ole {
        return Err(bad_file(
            "import.xls_unsupported",
            "不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 CSV",
            "old .xls files are not supported; save as .xlsx or CSV in Excel",
        ));
    }
    Ok(match format {
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
    })
}

/// The encoding of a CSV: the one given if the file is valid in it, else the first the
/// file is valid in (UTF-16 with a BOM, UTF-8, GB18030); a file with NUL bytes is text
/// only in UTF-16.
fn decide_encoding(
    encoding: Option<TextEncoding>,
    checks: EncodingChecks,
) -> FilesResult<TextEncoding> {
    let nul = checks.nul;
    let utf8_ok = checks.utf8.finish();
    let gb_ok = checks.gb.finish();
    let utf16 = checks.utf16.map(|(e, check)| (e, check.finish()));
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
    Ok(encoding)
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
