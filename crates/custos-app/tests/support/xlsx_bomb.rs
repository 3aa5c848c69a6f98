//! XLSX files that unpack to far more than they weigh (zip bombs), built by hand without
//! ever holding what they unpack to: a part is a head, a body repeated many times and a
//! tail, and the body is deflated once and its compressed bytes repeated (each piece is
//! compressed alone and ends on a byte boundary with a sync flush, so their concatenation
//! is one valid deflate stream). Shared by the tests of custos-app and custos-web.

#![allow(dead_code, clippy::unwrap_used)]

use flate2::{Compress, Compression, FlushCompress};

/// One ZIP entry: `head`, `body` × `times`, `tail`.
pub struct Part {
    pub name: String,
    pub head: String,
    pub body: String,
    pub times: u64,
    pub tail: String,
    /// The uncompressed size the headers declare; the true one when `None`.
    pub declared: Option<u32>,
}

impl Part {
    pub fn plain(name: &str, text: &str) -> Part {
        Part {
            name: name.into(),
            head: text.into(),
            body: String::new(),
            times: 0,
            tail: String::new(),
            declared: None,
        }
    }

    /// Bytes the part really unpacks to.
    pub fn size(&self) -> u64 {
        (self.head.len() + self.tail.len()) as u64 + self.body.len() as u64 * self.times
    }
}

fn deflate(data: &[u8], last: bool) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let mut out = Vec::with_capacity(data.len() + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    c.compress_vec(data, &mut out, flush).unwrap();
    assert_eq!(c.total_in(), data.len() as u64, "deflated whole");
    out
}

fn compressed(p: &Part) -> (Vec<u8>, u32) {
    let mut crc = crc32fast::Hasher::new();
    crc.update(p.head.as_bytes());
    let mut out = deflate(p.head.as_bytes(), false);
    if p.times > 0 {
        let body = deflate(p.body.as_bytes(), false);
        let mut body_crc = crc32fast::Hasher::new();
        body_crc.update(p.body.as_bytes());
        for _ in 0..p.times {
            out.extend_from_slice(&body);
            crc.combine(&body_crc);
        }
    }
    crc.update(p.tail.as_bytes());
    out.extend_from_slice(&deflate(p.tail.as_bytes(), true));
    (out, crc.finalize())
}

/// A ZIP archive of `parts`, deflated.
pub fn zip(parts: &[Part]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for p in parts {
        let (data, crc) = compressed(p);
        let size = p.declared.unwrap_or(u32::try_from(p.size()).unwrap());
        let offset = out.len() as u32;
        let name = p.name.as_bytes();
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes()); // version needed
            v.extend_from_slice(&0u16.to_le_bytes()); // flags
            v.extend_from_slice(&8u16.to_le_bytes()); // deflate
            v.extend_from_slice(&0u16.to_le_bytes()); // time
            v.extend_from_slice(&0x21u16.to_le_bytes()); // date: 1980-01-01
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes()); // extra
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name);
        out.extend_from_slice(&data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut central);
        central.extend_from_slice(&[0; 6]); // comment, disk, internal attributes
        central.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(parts.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

const MAIN_NS: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const XML_DECL: &str = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"#;

/// The start of a sheet whose header row names the customer name and type columns.
pub fn sheet_head() -> String {
    format!(
        r#"{XML_DECL}<worksheet xmlns="{MAIN_NS}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>客户类型</t></is></c><c r="B1" t="inlineStr"><is><t>客户名称</t></is></c></row>"#
    )
}

pub const SHEET_TAIL: &str = "</sheetData></worksheet>";

/// A workbook of one sheet (`sheet` is its part, named anything) and, when given,
/// shared strings.
pub fn workbook(sheet: Part, shared: Option<Part>) -> Vec<u8> {
    let rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
    let mut parts = vec![
        Part::plain(
            "[Content_Types].xml",
            &format!(
                r#"{XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#
            ),
        ),
        Part::plain(
            "_rels/.rels",
            &format!(
                r#"{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
            ),
        ),
        Part::plain(
            "xl/workbook.xml",
            &format!(
                r#"{XML_DECL}<workbook xmlns="{MAIN_NS}" xmlns:r="{rel}"><sheets><sheet name="客户" sheetId="1" r:id="rId1"/></sheets></workbook>"#
            ),
        ),
        Part::plain(
            "xl/_rels/workbook.xml.rels",
            &format!(
                r#"{XML_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
            ),
        ),
    ];
    parts.push(Part {
        name: "xl/worksheets/sheet1.xml".into(),
        ..sheet
    });
    if let Some(s) = shared {
        parts.push(Part {
            name: "xl/sharedStrings.xml".into(),
            ..s
        });
    }
    zip(&parts)
}

/// A sheet whose row 2 holds one inline-string name of `times` × `body`.
pub fn inline_string_bomb(body: &str, times: u64) -> Vec<u8> {
    workbook(
        Part {
            name: String::new(),
            head: format!(
                r#"{}<row r="2"><c r="A2" t="inlineStr"><is><t>企业客户</t></is></c><c r="B2" t="inlineStr"><is><t>"#,
                sheet_head()
            ),
            body: body.into(),
            times,
            tail: format!("</t></is></c></row>{SHEET_TAIL}"),
            declared: None,
        },
        None,
    )
}

/// A sheet whose row 2 names shared string 0, which is `times` × `body`.
pub fn shared_string_bomb(body: &str, times: u64) -> Vec<u8> {
    workbook(
        Part::plain(
            "",
            &format!(
                r#"{}<row r="2"><c r="A2" t="inlineStr"><is><t>企业客户</t></is></c><c r="B2" t="s"><v>0</v></c></row>{SHEET_TAIL}"#,
                sheet_head()
            ),
        ),
        Some(Part {
            name: String::new(),
            head: format!(r#"{XML_DECL}<sst xmlns="{MAIN_NS}" count="1" uniqueCount="1"><si><t>"#),
            body: body.into(),
            times,
            tail: "</t></si></sst>".into(),
            declared: None,
        }),
    )
}

/// A sheet of `times` copies of a `row` (rows of small cells: no cell is large, the
/// part is), its uncompressed size declared as `declared` when given.
pub fn sheet_bomb(row: &str, times: u64, declared: Option<u32>) -> Vec<u8> {
    workbook(
        Part {
            name: String::new(),
            head: sheet_head(),
            body: row.into(),
            times,
            tail: SHEET_TAIL.into(),
            declared,
        },
        None,
    )
}
