//! Writes the import test files of `tests/fixtures/import/` (run from the repository
//! root: `cargo run -p custos-app --example make_import_fixtures`). The files are
//! committed; this program documents how they were made and remakes them.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use chrono::NaiveDate;
use custos_core::ident::{IdNumber, Uscc};
use rust_xlsxwriter::{Format, Workbook};

fn uscc(n: u32) -> String {
    // 9 = industry and commerce, 1 = enterprise, 110105 = Chaoyang, Beijing.
    Uscc::with_check(&format!("91110105{:09}", 100_000_000 + n))
        .unwrap()
        .as_str()
        .to_string()
}

fn id_number(n: u32) -> String {
    let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    IdNumber::with_check(&format!("44030519850101{:03}", n % 1000), today)
        .unwrap()
        .as_str()
        .to_string()
}

const HEADERS: &[&str] = &[
    "客户类型",
    "客户名称",
    "统一社会信用代码",
    "身份证号",
    "手机",
    "联系电话",
    "所属行业",
    "地区",
    "成立日期",
    "客户等级",
];

/// Ten good rows: eight enterprises, two individuals.
fn good_rows(offset: u32) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let names = [
        "北京星河科技有限公司",
        "北京云帆贸易有限责任公司",
        "北京青松物流有限公司",
        "北京蓝海软件股份有限公司",
        "北京金石建材有限公司",
        "北京长风咨询有限公司",
        "北京明远电子有限公司",
        "北京和泰食品有限公司",
    ];
    for (i, n) in names.iter().enumerate() {
        let k = offset + i as u32;
        rows.push(vec![
            "企业客户".into(),
            format!(
                "{n}{}",
                if offset > 0 {
                    format!("{offset}分公司")
                } else {
                    String::new()
                }
            ),
            uscc(k),
            String::new(),
            format!("1380013{:04}", k),
            "010-6552 0000".into(),
            "I".into(),
            "北京市朝阳区".into(),
            "2015-03-18".into(),
            "潜在客户".into(),
        ]);
    }
    for (i, n) in ["张三", "李四"].iter().enumerate() {
        let k = offset + 100 + i as u32;
        rows.push(vec![
            "个人客户".into(),
            n.to_string(),
            String::new(),
            id_number(k),
            format!("1390013{:04}", k),
            String::new(),
            String::new(),
            "440305".into(),
            String::new(),
            "成交客户".into(),
        ]);
    }
    rows
}

fn csv_text(rows: &[Vec<String>], headers: &[&str]) -> String {
    let mut s = headers.join(",");
    s.push_str("\r\n");
    for r in rows {
        s.push_str(&r.join(","));
        s.push_str("\r\n");
    }
    s
}

fn main() {
    let dir = Path::new("tests/fixtures/import");
    std::fs::create_dir_all(dir).unwrap();
    write_encoded_csvs(dir);
    write_xlsx(dir);
    write_bad_rows(dir);
    write_duplicates(dir);
    // Reads customers.xlsx, written above.
    write_bad_files(dir);
    write_mapping(dir);
}

/// The good rows as Excel saves CSV and Unicode text on a Chinese Windows.
fn write_encoded_csvs(dir: &Path) {
    // As Excel's "CSV (逗号分隔)" saves on a Chinese Windows: GBK, CRLF, no BOM.
    let text = csv_text(&good_rows(0), HEADERS);
    let (gbk, _, bad) = encoding_rs::GBK.encode(&text);
    assert!(!bad);
    std::fs::write(dir.join("customers_gbk.csv"), gbk).unwrap();

    // As "CSV UTF-8 (逗号分隔)" saves: UTF-8 with a BOM.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(csv_text(&good_rows(20), HEADERS).as_bytes());
    std::fs::write(dir.join("customers_utf8_bom.csv"), bom).unwrap();

    // As Excel's "Unicode 文本" (Unicode Text, .txt) saves: UTF-16 little-endian with a
    // BOM, cells separated by tabs, CRLF.
    let text = csv_text(&good_rows(40), HEADERS).replace(',', "\t");
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(dir.join("customers_utf16.txt"), utf16).unwrap();
}

fn write_xlsx(dir: &Path) {
    // XLSX: a merged title row, Chinese headers in row 2, a merged header cell over
    // two contact columns, dates as Excel serial numbers (formatted and plain).
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("客户清单").unwrap();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    sheet
        .merge_range(0, 0, 0, 9, "2025 年客户信息导入表", &bold)
        .unwrap();
    let headers = [
        "客户类型",
        "客户名称",
        "统一社会信用代码",
        "手机",
        "所属行业",
        "地区",
        "成立日期",
        "注册资本(万元)",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(1, c as u16, *h, &bold)
            .unwrap();
    }
    // "联系人" merged over columns I:J of the header row; J is empty in the file.
    sheet.merge_range(1, 8, 1, 9, "联系人", &bold).unwrap();
    let names = [
        "上海启明信息技术有限公司",
        "上海远航国际货运代理有限公司",
        "上海百川餐饮管理有限公司",
    ];
    for (i, n) in names.iter().enumerate() {
        let r = 2 + i as u32;
        sheet.write_string(r, 0, "企业").unwrap();
        sheet.write_string(r, 1, *n).unwrap();
        sheet.write_string(r, 2, uscc(40 + i as u32)).unwrap();
        sheet
            .write_number(r, 3, 13_800_138_000.0 + i as f64)
            .unwrap();
        sheet.write_string(r, 4, "G").unwrap();
        sheet.write_string(r, 5, "310104").unwrap();
        // 2018-06-01 is serial 43252.
        if i == 0 {
            sheet.write_number(r, 6, 43252.0).unwrap();
        } else {
            sheet
                .write_number_with_format(r, 6, 43252.0 + i as f64, &date)
                .unwrap();
        }
        sheet.write_number(r, 7, 500.0 * (i + 1) as f64).unwrap();
        sheet
            .write_string(r, 8, ["王经理", "赵主任", "钱总"][i])
            .unwrap();
    }
    let other = book.add_worksheet();
    other.set_name("说明").unwrap();
    other.write_string(0, 0, "本表为导入测试用").unwrap();
    book.save(dir.join("customers.xlsx")).unwrap();
}

/// One row per validation class, with the reason in the last (unknown) column.
fn write_bad_rows(dir: &Path) {
    let bad_rows = bad_rows();
    let mut h = HEADERS.to_vec();
    h.push("说明");
    std::fs::write(dir.join("bad_rows.csv"), csv_text(&bad_rows, &h)).unwrap();
}

/// The rows of `bad_rows.csv`, each with its reason appended.
fn bad_rows() -> Vec<Vec<String>> {
    let mut bad_rows: Vec<Vec<String>> = Vec::new();
    let base = |name: &str| -> Vec<String> {
        vec![
            "企业客户".into(),
            name.into(),
            uscc(60 + name.chars().count() as u32),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]
    };
    let mut r = base("");
    r[2] = uscc(61);
    r.push("缺少名称".into());
    bad_rows.push(r);
    let mut r = base("坏信用代码有限公司");
    r[2] = "91110105MA01ABCD1X".into();
    r.push("统一社会信用代码校验位错误".into());
    bad_rows.push(r);
    let mut r = base("坏手机号有限公司");
    r[4] = "1380013".into();
    r.push("手机号位数不对".into());
    bad_rows.push(r);
    let mut r = base("坏地区有限公司");
    r[7] = "999999".into();
    r.push("地区代码不存在".into());
    bad_rows.push(r);
    let mut r = base("未来成立有限公司");
    r[8] = "2999-01-01".into();
    r.push("成立日期在未来".into());
    bad_rows.push(r);
    let mut r = base("坏行业有限公司");
    r[6] = "Z99".into();
    r.push("行业代码不存在".into());
    bad_rows.push(r);
    let mut r = base("未知类型有限公司");
    r[0] = "外星客户".into();
    r.push("客户类型不存在".into());
    bad_rows.push(r);
    let mut r = base(&"超长名称".repeat(60));
    r.push("名称超过 200 字".into());
    bad_rows.push(r);
    let mut r = base("坏身份证");
    r[0] = "个人客户".into();
    r[2] = String::new();
    // A valid number with its check character changed.
    let good = id_number(5);
    let wrong = if good.ends_with('0') { '1' } else { '0' };
    r[3] = format!("{}{wrong}", &good[..17]);
    r.push("身份证号校验位错误".into());
    bad_rows.push(r);
    let mut r = base("超大单元格有限公司");
    r[5] = "1".repeat(10_001);
    r.push("单元格超过一万字".into());
    bad_rows.push(r);
    let mut r = base("好的有限公司");
    r[2] = uscc(99);
    r.push("正确".into());
    bad_rows.push(r);
    bad_rows
}

fn write_duplicates(dir: &Path) {
    // Duplicates inside the file: same USCC, and the same name after normalising
    // 有限责任公司 → 有限公司.
    let g = good_rows(200);
    let mut dup = vec![g[0].clone(), g[1].clone(), g[2].clone()];
    let mut same_uscc = g[0].clone();
    same_uscc[1] = "北京星河科技（集团）有限公司".into();
    dup.push(same_uscc);
    let mut same_name = g[1].clone();
    same_name[1] = same_name[1].replace("有限责任公司", "有限公司");
    same_name[2] = uscc(250);
    dup.push(same_name);
    std::fs::write(dir.join("duplicates.csv"), csv_text(&dup, HEADERS)).unwrap();
}

fn write_bad_files(dir: &Path) {
    // Bad files.
    std::fs::write(dir.join("empty.csv"), b"").unwrap();
    std::fs::write(
        dir.join("binary.csv"),
        [0x89, b'P', b'N', b'G', 0, 0, 0xFF, 0xFE, 0x80, 0x81],
    )
    .unwrap();
    std::fs::write(
        dir.join("no_name_column.csv"),
        "公司,电话号码,城市\r\n星河,010-1,北京\r\n",
    )
    .unwrap();
    std::fs::write(dir.join("not_really.xlsx"), "客户名称\r\n星河\r\n").unwrap();
    let xlsx = std::fs::read(dir.join("customers.xlsx")).unwrap();
    std::fs::write(dir.join("truncated.xlsx"), &xlsx[..xlsx.len() / 2]).unwrap();
}

/// A mapping of a legacy system's export and a file in its shape.
fn write_mapping(dir: &Path) {
    std::fs::write(
        dir.join("mapping.toml"),
        r#"# 旧系统导出：列名不同，客户类型与等级需要转换
source_system = "legacy_crm"

[columns]
"单位" = "name"
"类别" = "customer_type"
"信用代码" = "uscc"
"旧编号" = "source_id"
"客户分类" = "level"

[values.level]
"潜在客户" = "新客户"
"成交客户" = "老客户"

[values.customer_type]
"公司" = "enterprise"

[defaults]
source = "历史数据迁移"
"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("legacy.csv"),
        format!(
            "旧编号,单位,类别,信用代码,客户分类,无用列\r\nL-001,深圳前海微众测试有限公司,公司,{},潜在客户,x\r\nL-002,深圳南山云测有限公司,公司,{},成交客户,y\r\n",
            uscc(300),
            uscc(301)
        ),
    )
    .unwrap();
}
