//! The check an XLSX file passes before calamine opens it: no part, cell or shared
//! string unpacks to more than [`ImportLimits`] allow.
//!
//! calamine holds a whole XML event in memory (a cell's text, a shared string), loads the
//! shared strings whole, and reads every sheet for its merged cells; a ZIP entry of a few
//! megabytes can unpack to gigabytes of one string. So every entry is unpacked here first,
//! as a stream that stops as soon as a bound is crossed, counting the bytes it really gets
//! (the sizes the ZIP headers declare are not trusted), and read as XML the way calamine
//! reads it, with no event allowed to grow past the cell bound. Only then does calamine
//! read the file, which has become harmless: each of its events, strings and parts is
//! bounded.

use std::io::{BufReader, Read, Seek};

use quick_xml::events::Event;

use crate::error::{bad_file, xlsx_malformed, FilesError, FilesResult};
use crate::import_limits::{bytes_text, ImportLimits};

/// Read size between checks: a bound is crossed by at most this much.
const READ_BUF: usize = 64 * 1024;

/// Which bound a part crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crossed {
    Part(u64),
    Total(u64),
    /// One XML event (a text, a tag) longer than the cell bound.
    Event,
}

/// The bytes of one ZIP entry as it is unpacked, counted, with an error as soon as the
/// entry, all entries together, or the bytes since [`Counted::mark`] pass their bound.
struct Counted<R> {
    inner: R,
    part: u64,
    part_limit: u64,
    /// Bytes of the earlier entries.
    before: u64,
    total_limit: u64,
    since_mark: u64,
    event_limit: u64,
    crossed: Option<Crossed>,
}

impl<R> Counted<R> {
    fn mark(&mut self) {
        self.since_mark = 0;
    }
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        self.part += n as u64;
        self.since_mark += n as u64;
        self.crossed = if self.part > self.part_limit {
            Some(Crossed::Part(self.part_limit))
        } else if self.before + self.part > self.total_limit {
            Some(Crossed::Total(self.total_limit))
        } else if self.since_mark > self.event_limit {
            Some(Crossed::Event)
        } else {
            None
        };
        match self.crossed {
            Some(_) => Err(std::io::Error::other("import limit crossed")),
            None => Ok(n),
        }
    }
}

/// Check every entry of the XLSX (ZIP) archive in `file` against `limits`.
pub fn check_xlsx<R: Read + Seek>(file: R, limits: &ImportLimits) -> FilesResult<()> {
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(xlsx_malformed)?;
    let mut tally = Tally::default();
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(xlsx_malformed)?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        // calamine finds parts by name whatever their case or slashes.
        let sheet = name
            .replace('\\', "/")
            .to_ascii_lowercase()
            .starts_with("xl/worksheets/");
        let counted = Counted {
            inner: entry,
            part: 0,
            part_limit: if sheet {
                limits.xlsx_sheet_bytes
            } else {
                limits.xlsx_part_bytes
            },
            before: tally.bytes,
            total_limit: limits.xlsx_total_bytes,
            since_mark: 0,
            // The reader's buffer may hold a read ahead of the event it is in.
            event_limit: limits.xlsx_cell_bytes.min(limits.row_bytes) + READ_BUF as u64,
            crossed: None,
        };
        tally.bytes += scan_part(&name, counted, limits, &mut tally)?;
    }
    shared_refs_in_table(&tally)
}

/// Every shared-string index a cell names is inside the table calamine will build.
fn shared_refs_in_table(tally: &Tally) -> FilesResult<()> {
    if tally.table.skipped {
        return Err(xlsx_malformed(
            "a shared string (xl/sharedStrings.xml) has no text",
        ));
    }
    match &tally.largest_ref {
        Some((index, cell)) if *index >= tally.table.strings => Err(xlsx_malformed(format!(
            "cell {} refers to shared string {index}, but the file has {}",
            cell.as_deref().unwrap_or("?"),
            tally.table.strings
        ))),
        _ => Ok(()),
    }
}

/// What the parts of one file add up to.
#[derive(Default)]
struct Tally {
    bytes: u64,
    shared_strings: u64,
    merged_cells: u64,
    /// Strings of `xl/sharedStrings.xml` as calamine keeps them (see [`SharedTable`]).
    table: SharedTable,
    /// The largest shared-string index a cell refers to, and the cell.
    largest_ref: Option<(u64, Option<String>)>,
}

/// The shared-string table as calamine builds it: an `si` becomes a string when it holds
/// a `t` outside phonetic runs (`rPh`) or a rich run (`r`), and reading stops at `</sst>`.
/// calamine indexes that list without a bounds check, so a cell's index past its end, or
/// an `si` it skips (which shifts every later index), would panic inside the reader: both
/// are refused here.
#[derive(Default)]
struct SharedTable {
    strings: u64,
    /// Inside an `si`: whether it has produced text yet, and whether in a phonetic run.
    open: Option<(bool, bool)>,
    ended: bool,
    /// An `si` that calamine would skip.
    skipped: bool,
}

impl SharedTable {
    fn start(&mut self, local: &[u8]) {
        if self.ended {
            return;
        }
        match (local, &mut self.open) {
            (b"si", o @ None) => *o = Some((false, false)),
            (b"rPh", Some((_, phonetic))) => *phonetic = true,
            (b"r", Some((text, _))) => *text = true,
            (b"t", Some((text, false))) => *text = true,
            _ => {}
        }
    }

    fn end(&mut self, local: &[u8]) {
        match (local, &mut self.open) {
            (b"rPh", Some((_, phonetic))) => *phonetic = false,
            (b"si", Some((text, _))) => {
                if *text {
                    self.strings += 1;
                } else {
                    self.skipped = true;
                }
                self.open = None;
            }
            (b"sst", None) => self.ended = true,
            _ => {}
        }
    }
}

/// An element being read (a cell, a shared string, a row): where it started, and how a
/// person finds it.
struct Open {
    start: u64,
    what: Element,
}

enum Element {
    /// A cell of a sheet, by its reference (`B7`) when it has one.
    Cell(Option<String>),
    /// The n-th (1-based) shared string.
    Shared(u64),
    /// A row of a sheet, by its number when it has one.
    Row(Option<String>),
}

/// The value of attribute `name` of `e`, cut short: it names an element in a message.
fn attribute(e: &quick_xml::events::BytesStart<'_>, name: &str) -> Option<String> {
    let a = e.try_get_attribute(name).ok().flatten()?;
    Some(String::from_utf8_lossy(&a.value).chars().take(16).collect())
}

/// Read one entry as XML with calamine's settings, checking each cell (`c`), shared
/// string (`si`) and row as it grows, and counting shared strings and merged cells;
/// returns the bytes the entry unpacked to. An entry that is not XML (an image…) is
/// left at its first XML error: calamine cannot read past it either.
fn scan_part<R: Read>(
    name: &str,
    counted: Counted<R>,
    limits: &ImportLimits,
    tally: &mut Tally,
) -> FilesResult<u64> {
    let mut xml = quick_xml::Reader::from_reader(BufReader::with_capacity(READ_BUF, counted));
    {
        let config = xml.config_mut();
        config.check_end_names = false;
        config.trim_text(false);
        config.check_comments = false;
        config.expand_empty_elements = true;
    }
    let mut buf = Vec::new();
    let mut cell: Option<Open> = None;
    let mut row: Option<Open> = None;
    let is_table = name
        .replace('\\', "/")
        .eq_ignore_ascii_case("xl/sharedStrings.xml");
    // A cell of type `s` (its reference), and the text of its `v` while it is read.
    let mut shared_cell: Option<Option<String>> = None;
    let mut value: Option<String> = None;
    loop {
        buf.clear();
        let event = xml.read_event_into(&mut buf);
        let at = xml.buffer_position();
        let counted = xml.get_mut().get_mut();
        if let Some(crossed) = counted.crossed {
            // One event past the smaller of the cell and row bounds: name what it is in.
            let open = match (&cell, &row) {
                (Some(c), _) if limits.xlsx_cell_bytes <= limits.row_bytes => {
                    Some((c, limits.xlsx_cell_bytes))
                }
                (_, Some(r)) => Some((r, limits.row_bytes)),
                (Some(c), None) => Some((c, limits.xlsx_cell_bytes)),
                (None, None) => None,
            };
            return Err(too_large(name, crossed, open, at, limits.xlsx_cell_bytes));
        }
        counted.mark();
        if is_table {
            match &event {
                Ok(Event::Start(e)) => tally.table.start(e.local_name().as_ref()),
                Ok(Event::End(e)) => tally.table.end(e.local_name().as_ref()),
                _ => {}
            }
        }
        match &event {
            Ok(Event::Start(e)) if e.local_name().as_ref() == b"v" && shared_cell.is_some() => {
                value = Some(String::new());
            }
            Ok(Event::Text(t)) => {
                if let (Some(v), Ok(text)) = (value.as_mut(), t.unescape()) {
                    v.push_str(&text);
                }
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == b"v" => {
                if let (Some(v), Some(r)) = (value.take(), &shared_cell) {
                    // calamine reads an index it cannot parse as 0.
                    let index = v.parse::<u64>().unwrap_or(0);
                    if tally.largest_ref.as_ref().is_none_or(|(i, _)| index > *i) {
                        tally.largest_ref = Some((index, r.clone()));
                    }
                }
            }
            _ => {}
        }
        match event {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"si" => {
                    tally.shared_strings += 1;
                    if tally.shared_strings > limits.xlsx_shared_strings {
                        return Err(too_many(name, "shared_strings", limits.xlsx_shared_strings));
                    }
                    let what = Element::Shared(tally.shared_strings);
                    cell = Some(Open { start: at, what });
                }
                b"c" => {
                    let what = Element::Cell(attribute(&e, "r"));
                    shared_cell =
                        (attribute(&e, "t").as_deref() == Some("s")).then(|| attribute(&e, "r"));
                    cell = Some(Open { start: at, what });
                }
                b"row" => {
                    let what = Element::Row(attribute(&e, "r"));
                    row = Some(Open { start: at, what });
                }
                b"mergeCell" => {
                    tally.merged_cells += 1;
                    if tally.merged_cells > limits.xlsx_merged_cells {
                        return Err(too_many(name, "merged_cells", limits.xlsx_merged_cells));
                    }
                }
                _ => {}
            },
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"c" => {
                    cell = None;
                    shared_cell = None;
                }
                b"si" => cell = None,
                b"row" => row = None,
                _ => {}
            },
            Ok(Event::Eof) => break,
            // A part that cannot be read to its end (bad CRC, broken deflate, broken XML)
            // is refused: counting half of it would let calamine read cells never checked.
            Err(e) => return Err(xlsx_malformed(format!("{name}: {e}"))),
            Ok(_) => {}
        }
        for (open, limit) in [(&cell, limits.xlsx_cell_bytes), (&row, limits.row_bytes)] {
            if let Some(o) = open {
                if at.saturating_sub(o.start) > limit {
                    return Err(element_too_large(name, &o.what, limit));
                }
            }
        }
    }
    let counted = xml.into_inner().into_inner();
    Ok(counted.part)
}

fn too_large(
    part: &str,
    crossed: Crossed,
    open: Option<(&Open, u64)>,
    at: u64,
    cell_limit: u64,
) -> FilesError {
    match (crossed, open) {
        (Crossed::Part(limit), _) => {
            let (zh, en) = bytes_text(limit);
            bad_file(
                "import.xlsx_part_too_large",
                format!("XLSX 文件的部件 {part} 解压后超过 {zh}"),
                format!("part {part} of the XLSX file unpacks to more than {en}"),
            )
        }
        (Crossed::Total(limit), _) => {
            let (zh, en) = bytes_text(limit);
            bad_file(
                "import.xlsx_too_large",
                format!("XLSX 文件解压后总计超过 {zh}（读到部件 {part} 时）"),
                format!("the XLSX file unpacks to more than {en} in all (at part {part})"),
            )
        }
        (Crossed::Event, Some((o, limit))) => element_too_large(part, &o.what, limit),
        (Crossed::Event, None) => {
            let (zh, en) = bytes_text(cell_limit);
            bad_file(
                "import.xlsx_cell_too_large",
                format!("XLSX 文件的部件 {part} 在第 {at} 字节后有一段超过 {zh} 的 XML 内容"),
                format!(
                    "part {part} of the XLSX file has a piece of XML longer than {en} after byte {at}"
                ),
            )
        }
    }
}

fn element_too_large(part: &str, what: &Element, limit: u64) -> FilesError {
    let (zh_limit, en_limit) = bytes_text(limit);
    let (code, zh, en) = match what {
        Element::Cell(Some(r)) => ("cell", format!("单元格 {r}"), format!("cell {r}")),
        Element::Cell(None) => ("cell", "一个单元格".to_string(), "a cell".to_string()),
        Element::Shared(n) => (
            "cell",
            format!("第 {n} 个共享字符串"),
            format!("shared string #{n}"),
        ),
        Element::Row(Some(r)) => ("row", format!("第 {r} 行"), format!("row {r}")),
        Element::Row(None) => ("row", "一行".to_string(), "a row".to_string()),
    };
    bad_file(
        &format!("import.xlsx_{code}_too_large"),
        format!("XLSX 文件部件 {part} 中的{zh}解压后超过 {zh_limit}"),
        format!("{en} in part {part} of the XLSX file unpacks to more than {en_limit}"),
    )
}

fn too_many(part: &str, what: &str, limit: u64) -> FilesError {
    let (zh, en) = match what {
        "merged_cells" => ("合并单元格", "merged cells"),
        _ => ("共享字符串", "shared strings"),
    };
    bad_file(
        &format!("import.xlsx_too_many_{what}"),
        format!("XLSX 文件的{zh}超过 {limit} 个（读到部件 {part} 时）"),
        format!("the XLSX file has more than {limit} {en} (at part {part})"),
    )
}

#[cfg(test)]
mod damaged_parts {
    /// A fuzzed archive whose sheet parts fail their CRC: a part that cannot be read to
    /// its end is refused, not half-counted (calamine then read cells the check never saw
    /// and panicked on a shared-string index past its table).
    #[test]
    fn a_part_that_cannot_be_read_whole_is_refused() {
        let bytes = include_bytes!("xlsx_guard_crc_crash.xlsx");
        let r = super::check_xlsx(
            std::io::Cursor::new(&bytes[..]),
            &crate::import_limits::ImportLimits::default(),
        );
        assert!(r.is_err(), "{r:?}");
    }
}
