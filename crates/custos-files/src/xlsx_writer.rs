//! XLSX export written as a stream: the workbook's ZIP archive goes straight into any
//! [`Write`] (a sealed file), entry by entry, each sheet deflated as its rows arrive.
//!
//! Why not rust_xlsxwriter here: its constant-memory mode keeps every sheet's cell XML
//! in plaintext in a temporary file until the workbook is saved, and saving needs a
//! seekable writer (the ZIP headers are patched afterwards), which a sealed file is not.
//! This writer keeps neither: memory is one row and the deflate window, whatever the
//! row count, and nothing but the sink is written.
//!
//! The parts and their XML follow what rust_xlsxwriter writes for the same workbook
//! (inline strings, a bold header row), less the theme and document properties, which
//! are optional: fonts name their colour instead of a theme colour. Sheets carry no
//! `<dimension>` (optional too: it is known only at the end). ZIP entries are written
//! with data descriptors, as streaming ZIP writers do.

use std::io::Write;

use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Excel's last row is 1,048,576: with the header, a sheet holds this many customers.
const ROWS_PER_SHEET: u32 = 1_048_575;
/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL_NS: &str = "http://schemas.openxmlformats.org/package/2006/relationships";

const STYLES: &str = concat!(
    "<styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">",
    "<fonts count=\"2\">",
    "<font><sz val=\"11\"/><color rgb=\"FF000000\"/><name val=\"Calibri\"/><family val=\"2\"/></font>",
    "<font><b/><sz val=\"11\"/><color rgb=\"FF000000\"/><name val=\"Calibri\"/><family val=\"2\"/></font>",
    "</fonts>",
    "<fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill>",
    "<fill><patternFill patternType=\"gray125\"/></fill></fills>",
    "<borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>",
    "<cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>",
    "<cellXfs count=\"2\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>",
    "<xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/></cellXfs>",
    "<cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles>",
    "<dxfs count=\"0\"/>",
    "<tableStyles count=\"0\" defaultTableStyle=\"TableStyleMedium9\" defaultPivotStyle=\"PivotStyleLight16\"/>",
    "</styleSheet>"
);

const SHEET_END: &str = "</sheetData><pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" \
     bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/></worksheet>";

/// The error of a cell Excel cannot hold, or of the sink.
fn too_long(row: u32, col: usize) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "cell {}{row} is longer than Excel's {MAX_CELL_CHARS} characters",
            column_name(col)
        ),
    )
}

fn zip_err(e: zip::result::ZipError) -> std::io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => std::io::Error::other(other),
    }
}

/// `A`, `B`, …, `Z`, `AA`, … for a 0-based column.
fn column_name(col: usize) -> String {
    let mut n = col + 1;
    let mut name = Vec::new();
    while n > 0 {
        let d = (n - 1) % 26;
        name.push(b'A' + d as u8);
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// Append `s` as XML text the way Excel writes it: `&`, `<`, `>` escaped, control
/// characters other than tab and newline as `_xHHHH_`, and a literal `_xHHHH_` guarded as
/// `_x005F_xHHHH_` so it reads back as itself.
fn push_text(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    for (i, ch) in s.char_indices() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' => out.push(ch),
            c if (c as u32) < 0x20 => out.push_str(&format!("_x{:04X}_", c as u32)),
            '_' if bytes.len() >= i + 7
                && bytes[i + 1] == b'x'
                && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
                && bytes[i + 6] == b'_' =>
            {
                out.push_str("_x005F_");
            }
            c => out.push(c),
        }
    }
}

/// A workbook being written: sheets of string cells, the first row of each in bold.
pub struct XlsxStream<W: Write> {
    zip: ZipWriter<StreamWriter<W>>,
    options: SimpleFileOptions,
    headers: Vec<String>,
    /// Name of the first sheet; the next are numbered (`客户`, `客户2`…).
    sheet_base: String,
    sheet_names: Vec<String>,
    /// Number (1-based) of the next row of the current sheet.
    row: u32,
    /// Rows after the header that fit on a sheet (smaller in tests).
    rows_per_sheet: u32,
    line: String,
}

impl<W: Write> XlsxStream<W> {
    /// Start a workbook of customers whose sheets begin with `headers`.
    pub fn new(out: W, headers: &[&str]) -> std::io::Result<XlsxStream<W>> {
        XlsxStream::named(out, headers, "客户")
    }

    /// Start a workbook whose sheets are named `sheet`, `sheet2`… and begin with
    /// `headers`. The name must be a valid sheet name (at most 28 characters, none of
    /// `[]:*?/\`): it is written as it is.
    pub fn named(out: W, headers: &[&str], sheet: &str) -> std::io::Result<XlsxStream<W>> {
        let mut book = XlsxStream {
            zip: ZipWriter::new_stream(out),
            options: SimpleFileOptions::default()
                .compression_method(CompressionMethod::Deflated)
                .last_modified_time(DateTime::default()),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            sheet_base: sheet.to_string(),
            sheet_names: Vec::new(),
            row: 1,
            rows_per_sheet: ROWS_PER_SHEET,
            line: String::new(),
        };
        book.start_sheet()?;
        Ok(book)
    }

    fn start_sheet(&mut self) -> std::io::Result<()> {
        let n = self.sheet_names.len();
        self.sheet_names.push(if n == 0 {
            self.sheet_base.clone()
        } else {
            format!("{}{}", self.sheet_base, n + 1)
        });
        self.zip
            .start_file(format!("xl/worksheets/sheet{}.xml", n + 1), self.options)
            .map_err(zip_err)?;
        let selected = if n == 0 { " tabSelected=\"1\"" } else { "" };
        write!(
            self.zip,
            "{XML_DECL}<worksheet xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\">\
             <sheetViews><sheetView{selected} workbookViewId=\"0\"/></sheetViews>\
             <sheetFormatPr defaultRowHeight=\"15\"/><sheetData>"
        )?;
        self.row = 1;
        let headers = std::mem::take(&mut self.headers);
        let written = self.write_cells(&headers, Some(1));
        self.headers = headers;
        written
    }

    /// Add a row of cells (empty cells are left out); a full sheet continues on a new
    /// sheet that starts with the headers again.
    pub fn write_row(&mut self, cells: &[String]) -> std::io::Result<()> {
        if self.row > self.rows_per_sheet + 1 {
            self.zip.write_all(SHEET_END.as_bytes())?;
            self.start_sheet()?;
        }
        self.write_cells(cells, None)
    }

    fn write_cells(&mut self, cells: &[String], style: Option<u32>) -> std::io::Result<()> {
        let r = self.row;
        self.row += 1;
        if cells.iter().all(String::is_empty) {
            // As Excel does: a row without cells is not written.
            return Ok(());
        }
        let line = &mut self.line;
        line.clear();
        line.push_str(&format!("<row r=\"{r}\">"));
        for (i, c) in cells.iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            if c.len() > MAX_CELL_CHARS && c.chars().count() > MAX_CELL_CHARS {
                return Err(too_long(r, i));
            }
            line.push_str("<c r=\"");
            line.push_str(&column_name(i));
            line.push_str(&r.to_string());
            line.push('"');
            if let Some(s) = style {
                line.push_str(&format!(" s=\"{s}\""));
            }
            line.push_str(" t=\"inlineStr\"><is><t");
            if c.starts_with(['\t', '\n', ' ']) || c.ends_with(['\t', '\n', ' ']) {
                line.push_str(" xml:space=\"preserve\"");
            }
            line.push('>');
            push_text(line, c);
            line.push_str("</t></is></c>");
        }
        line.push_str("</row>");
        self.zip.write_all(line.as_bytes())
    }

    fn part(&mut self, name: &str, xml: &str) -> std::io::Result<()> {
        self.zip.start_file(name, self.options).map_err(zip_err)?;
        self.zip.write_all(XML_DECL.as_bytes())?;
        self.zip.write_all(xml.as_bytes())
    }

    /// End the last sheet, write the parts that list the sheets, close the archive;
    /// returns the sink (flushed).
    pub fn finish(mut self) -> std::io::Result<W> {
        self.zip.write_all(SHEET_END.as_bytes())?;
        let sheets = self.sheet_names.len();
        let mut types = String::from(
            "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>",
        );
        let mut rels = format!("<Relationships xmlns=\"{PKG_REL_NS}\">");
        let mut list = String::new();
        for (i, name) in self.sheet_names.iter().enumerate() {
            let n = i + 1;
            types.push_str(&format!(
                "<Override PartName=\"/xl/worksheets/sheet{n}.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>"
            ));
            rels.push_str(&format!(
                "<Relationship Id=\"rId{n}\" Type=\"{REL_NS}/worksheet\" Target=\"worksheets/sheet{n}.xml\"/>"
            ));
            // Names are ours ("客户", "客户2", …; see `named`): nothing to escape.
            list.push_str(&format!(
                "<sheet name=\"{name}\" sheetId=\"{n}\" r:id=\"rId{n}\"/>"
            ));
        }
        types.push_str("</Types>");
        rels.push_str(&format!(
            "<Relationship Id=\"rId{}\" Type=\"{REL_NS}/styles\" Target=\"styles.xml\"/></Relationships>",
            sheets + 1
        ));
        let workbook = format!(
            "<workbook xmlns=\"{MAIN_NS}\" xmlns:r=\"{REL_NS}\">\
             <fileVersion appName=\"xl\" lastEdited=\"4\" lowestEdited=\"4\" rupBuild=\"4505\"/>\
             <workbookPr defaultThemeVersion=\"124226\"/>\
             <bookViews><workbookView xWindow=\"240\" yWindow=\"15\" windowWidth=\"16095\" windowHeight=\"9660\"/></bookViews>\
             <sheets>{list}</sheets><calcPr calcId=\"124519\" fullCalcOnLoad=\"1\"/></workbook>"
        );
        let root = format!(
            "<Relationships xmlns=\"{PKG_REL_NS}\">\
             <Relationship Id=\"rId1\" Type=\"{REL_NS}/officeDocument\" Target=\"xl/workbook.xml\"/>\
             </Relationships>"
        );
        self.part("xl/styles.xml", STYLES)?;
        self.part("xl/workbook.xml", &workbook)?;
        self.part("xl/_rels/workbook.xml.rels", &rels)?;
        self.part("_rels/.rels", &root)?;
        self.part("[Content_Types].xml", &types)?;
        let mut out = self.zip.finish().map_err(zip_err)?.into_inner();
        out.flush()?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use std::io::Cursor;

    fn read_back(bytes: Vec<u8>) -> Vec<(String, Vec<Vec<String>>)> {
        let mut book = Xlsx::new(Cursor::new(bytes)).unwrap();
        let names = book.sheet_names().to_vec();
        names
            .into_iter()
            .map(|n| {
                let range = book.worksheet_range(&n).unwrap();
                let rows = range
                    .rows()
                    .map(|r| {
                        r.iter()
                            .map(|c| match c {
                                Data::Empty => String::new(),
                                Data::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .collect();
                (n, rows)
            })
            .collect()
    }

    #[test]
    fn column_names() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
        assert_eq!(column_name(27), "AB");
        assert_eq!(column_name(701), "ZZ");
        assert_eq!(column_name(702), "AAA");
    }

    fn rows() -> Vec<Vec<String>> {
        [
            vec!["C001", "", "a<b & \"c\" 'd' >\n\tx"],
            vec![" lead", "trail ", "ctl\u{1}\r\u{1f}_x0041_ _xZZ_ _x12"],
            vec!["", "", ""],
            vec!["张三", "13987654321", "11010519491231002X"],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
    }

    fn sheet_data(xlsx: Vec<u8>) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(xlsx)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
            &mut xml,
        )
        .unwrap();
        let a = xml.find("<sheetData>").unwrap();
        let b = xml.find("</sheetData>").unwrap();
        xml[a..b].to_string()
    }

    #[test]
    fn cells_are_written_as_rust_xlsxwriter_writes_them() {
        let headers = ["客户编码", "名称", "备注"];
        let mut book = XlsxStream::new(Vec::new(), &headers).unwrap();
        for r in rows() {
            book.write_row(&r).unwrap();
        }
        let ours = sheet_data(book.finish().unwrap());
        let mut theirs = rust_xlsxwriter::Workbook::new();
        let sheet = theirs.add_worksheet_with_constant_memory();
        let bold = rust_xlsxwriter::Format::new().set_bold();
        for (i, h) in headers.iter().enumerate() {
            sheet
                .write_string_with_format(0, i as u16, *h, &bold)
                .unwrap();
        }
        for (r, row) in rows().iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if !cell.is_empty() {
                    sheet.write_string(r as u32 + 1, c as u16, cell).unwrap();
                }
            }
        }
        let theirs = sheet_data(theirs.save_to_buffer().unwrap());
        assert_eq!(ours, theirs);
    }

    #[test]
    fn cells_read_back_as_written() {
        let mut book = XlsxStream::new(Vec::new(), &["客户编码", "名称", "备注"]).unwrap();
        // Control characters are written as Excel writes them (`_x0001_`), which Excel
        // reads back and calamine does not: left out here.
        let rows: Vec<Vec<String>> = rows().into_iter().filter(|r| r[0] != " lead").collect();
        for r in &rows {
            book.write_row(r).unwrap();
        }
        let sheets = read_back(book.finish().unwrap());
        assert_eq!(sheets.len(), 1);
        assert_eq!(sheets[0].0, "客户");
        let back = &sheets[0].1;
        assert_eq!(back[0], ["客户编码", "名称", "备注"]);
        assert_eq!(&back[1..], rows.as_slice());
    }

    #[test]
    fn a_cell_longer_than_excel_allows_is_refused() {
        let mut book = XlsxStream::new(Vec::new(), &["a"]).unwrap();
        book.write_row(&["长".repeat(MAX_CELL_CHARS)]).unwrap();
        let e = book
            .write_row(&["x".repeat(MAX_CELL_CHARS + 1)])
            .unwrap_err();
        assert!(e.to_string().contains("A3"), "{e}");
    }

    #[test]
    fn a_full_sheet_continues_on_the_next() {
        let mut book = XlsxStream::new(Vec::new(), &["编码"]).unwrap();
        book.rows_per_sheet = 3;
        for i in 0..7 {
            book.write_row(&[i.to_string()]).unwrap();
        }
        let sheets = read_back(book.finish().unwrap());
        let names: Vec<&str> = sheets.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["客户", "客户2", "客户3"]);
        let column =
            |s: usize| -> Vec<String> { sheets[s].1.iter().map(|r| r[0].clone()).collect() };
        assert_eq!(column(0), ["编码", "0", "1", "2"]);
        assert_eq!(column(1), ["编码", "3", "4", "5"]);
        assert_eq!(column(2), ["编码", "6"]);
    }
}
