//! Identifier validators: real valid examples and each class of invalid input.

use chrono::NaiveDate;
use custos_core::ident::{
    Email, Gender, IdNumber, Mobile, Phone, PhoneKind, PostalCode, Uscc, Website,
};
use custos_core::Violation;
use proptest::prelude::*;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
}

fn today() -> NaiveDate {
    day(2024, 6, 1)
}

fn code<T: std::fmt::Debug>(r: Result<T, Violation>) -> String {
    r.expect_err("should be rejected").code
}

// ---- 统一社会信用代码 -------------------------------------------------------------------

/// Published codes: the GB 32100 example, 小米 (北京), 华为技术 (深圳), 腾讯计算机系统 (深圳),
/// 阿里巴巴(中国) (杭州), 中国移动通信集团 (北京), and a 民政部-registered social organisation
/// (nationwide region `100000`).
const REAL_USCCS: [&str; 7] = [
    "91350100M000100Y43",
    "91110108551385082Q",
    "914403001922038216",
    "91440300708461136T",
    "91330100799655058B",
    "911100007109250324",
    "51100000500010993L",
];

#[test]
fn uscc_real_examples_parse() {
    for s in REAL_USCCS {
        let u = Uscc::parse(s).unwrap_or_else(|v| panic!("{s}: {v}"));
        assert_eq!(u.as_str(), s);
        assert_eq!(u.to_string(), s);
    }
    let u = Uscc::parse("914403001922038216").expect("huawei");
    assert_eq!(u.registration_authority(), '9');
    assert_eq!(u.region_code(), "440300");
    assert_eq!(u.organization_code(), "192203821");
}

#[test]
fn uscc_generated_examples() {
    let cases = [
        ("91440300MA5FXXXX1", "91440300MA5FXXXX1Y"),
        ("92330106MA2KCL0E7", "92330106MA2KCL0E7Y"),
        ("52110000500000001", "52110000500000001B"),
        ("12100000400000624", "12100000400000624D"),
        ("93350128MA34ABCD1", "93350128MA34ABCD1F"),
    ];
    for (body, full) in cases {
        let u = Uscc::with_check(body).unwrap_or_else(|v| panic!("{body}: {v}"));
        assert_eq!(u.as_str(), full);
        assert!(Uscc::parse(full).is_ok());
    }
}

#[test]
fn uscc_normalises_input() {
    let u = Uscc::parse(" 91350100m000100y43 ").expect("lower case");
    assert_eq!(u.as_str(), "91350100M000100Y43");
    let u = Uscc::parse("９１３５０１００Ｍ０００１００Ｙ４３").expect("full width");
    assert_eq!(u.as_str(), "91350100M000100Y43");
    let u = Uscc::parse("913501-00M000-100Y43").expect("hyphens");
    assert_eq!(u.as_str(), "91350100M000100Y43");
    assert_eq!(
        serde_json::to_string(&u).expect("json"),
        "\"91350100M000100Y43\""
    );
    let back: Uscc = serde_json::from_str("\"91350100M000100Y43\"").expect("json");
    assert_eq!(back, u);
    assert!(serde_json::from_str::<Uscc>("\"91350100M000100Y44\"").is_err());
}

#[test]
fn uscc_wrong_check_char() {
    let v = Uscc::parse("91350100M000100Y44").expect_err("check");
    assert_eq!(v.code, "uscc.check_char");
    assert!(v.zh.contains("应为 3，实为 4"), "{}", v.zh);
    assert!(v.zh.contains("91350100M000100Y44"));
    assert!(v.en.contains("expected 3, got 4"), "{}", v.en);
}

#[test]
fn uscc_wrong_length() {
    assert_eq!(code(Uscc::parse("91350100M000100Y4")), "uscc.length");
    assert_eq!(code(Uscc::parse("91350100M000100Y433")), "uscc.length");
    assert_eq!(code(Uscc::parse("")), "uscc.length");
    assert_eq!(code(Uscc::with_check("91350100M000100Y43")), "uscc.length");
}

#[test]
fn uscc_bad_charset() {
    for bad in ['I', 'O', 'Z', 'S', 'V'] {
        let mut s: Vec<char> = "91350100M000100Y43".chars().collect();
        s[8] = bad;
        let s: String = s.into_iter().collect();
        let v = Uscc::parse(&s).expect_err("charset");
        assert_eq!(v.code, "uscc.charset", "{s}");
        assert!(
            v.zh.contains(&format!("第 9 位字符无效：{bad}")),
            "{}",
            v.zh
        );
        assert!(v.en.contains("position 9"), "{}", v.en);
    }
    assert_eq!(code(Uscc::parse("91350100M000100Y4?")), "uscc.charset");
    assert_eq!(code(Uscc::parse("91350100M00010中Y43")), "uscc.charset");
}

#[test]
fn uscc_bad_authority_and_region() {
    // Check character right, but no such registration authority.
    let v = Uscc::with_check("B1440300MA5FXXXX1").expect_err("authority");
    assert_eq!(v.code, "uscc.authority");
    // Province 99 does not exist.
    let v = Uscc::with_check("91990000MA5FXXXX1").expect_err("region");
    assert_eq!(v.code, "uscc.region");
    assert!(v.zh.contains("990000"));
    // Known province, unknown city.
    assert_eq!(code(Uscc::with_check("91449900MA5FXXXX1")), "uscc.region");
    // Letters in the region part.
    assert_eq!(code(Uscc::with_check("9144A300MA5FXXXX1")), "uscc.region");
    // A county code that is not in today's table is fine once the city is known.
    assert!(Uscc::with_check("91440399MA5FXXXX1").is_ok());
}

// ---- 居民身份证号码 ---------------------------------------------------------------------

#[test]
fn id_number_standard_example() {
    let id = IdNumber::parse("11010519491231002X", today()).expect("GB 11643 example");
    assert_eq!(id.as_str(), "11010519491231002X");
    assert_eq!(id.birth_date(), day(1949, 12, 31));
    assert_eq!(id.gender(), Gender::Female);
    assert_eq!(id.region_code(), "110105");
    assert_eq!(id.age_on(today()), 74);
    assert_eq!(
        serde_json::to_string(&id).expect("json"),
        "\"11010519491231002X\""
    );
}

#[test]
fn id_number_more_examples() {
    let cases = [
        ("440305199003071236", Gender::Male, day(1990, 3, 7)),
        ("310104198511200021", Gender::Female, day(1985, 11, 20)),
        ("510107200002290053", Gender::Male, day(2000, 2, 29)),
        ("650102197610155212", Gender::Male, day(1976, 10, 15)),
        // Hong Kong residence permit numbers share the format.
        ("810000199901010014", Gender::Male, day(1999, 1, 1)),
    ];
    for (s, gender, birth) in cases {
        let id = IdNumber::parse(s, today()).unwrap_or_else(|v| panic!("{s}: {v}"));
        assert_eq!((id.gender(), id.birth_date()), (gender, birth), "{s}");
    }
}

#[test]
fn id_number_normalises_input() {
    let id = IdNumber::parse("11010519491231002x", today()).expect("lower-case x");
    assert_eq!(id.as_str(), "11010519491231002X");
    let id = IdNumber::parse("１１０１０５１９４９１２３１００２Ｘ", today()).expect("full width");
    assert_eq!(id.as_str(), "11010519491231002X");
    let id = IdNumber::parse(" 110105 19491231 002X ", today()).expect("spaces");
    assert_eq!(id.as_str(), "11010519491231002X");
}

#[test]
fn id_number_legacy_15_upgraded() {
    let id = IdNumber::parse("110105491231002", today()).expect("15-digit");
    assert_eq!(id.as_str(), "11010519491231002X");
    let id = IdNumber::parse("440305900307123", today()).expect("15-digit");
    assert_eq!(id.as_str(), "440305199003071236");
    assert_eq!(
        code(IdNumber::parse("110105490231002", today())),
        "id_number.birth_date"
    );
}

#[test]
fn id_number_wrong_check_char() {
    let v = IdNumber::parse("110105194912310021", today()).expect_err("check");
    assert_eq!(v.code, "id_number.check_char");
    assert!(v.zh.contains("应为 X，实为 1"), "{}", v.zh);
    assert!(v.en.contains("110105194912310021"));
}

#[test]
fn id_number_bad_birth_dates() {
    // 1949-02-30 does not exist (check character computed so only the date is wrong).
    let v = IdNumber::with_check("11010519490230002", today()).expect_err("no such day");
    assert_eq!(v.code, "id_number.birth_date");
    assert!(v.zh.contains("19490230"), "{}", v.zh);
    assert_eq!(
        code(IdNumber::with_check("11010519491331002", today())),
        "id_number.birth_date"
    );
    // After `today`.
    let v = IdNumber::with_check("11010520240602002", today()).expect_err("future");
    assert_eq!(v.code, "id_number.birth_date");
    assert!(IdNumber::with_check("11010520240601002", today()).is_ok());
    // Before 1900.
    assert_eq!(
        code(IdNumber::with_check("11010518991231002", today())),
        "id_number.birth_date"
    );
    // 2001 was no leap year.
    assert_eq!(
        code(IdNumber::with_check("11010520010229002", today())),
        "id_number.birth_date"
    );
}

#[test]
fn id_number_unknown_province() {
    let v = IdNumber::with_check("99010519491231002", today()).expect_err("region");
    assert_eq!(v.code, "id_number.region");
    assert!(v.zh.contains("99"));
    // Abolished county codes are fine as long as the province is known.
    assert!(IdNumber::with_check("11019919491231002", today()).is_ok());
}

#[test]
fn id_number_wrong_length_and_charset() {
    assert_eq!(
        code(IdNumber::parse("1101051949123100", today())),
        "id_number.length"
    );
    assert_eq!(
        code(IdNumber::parse("11010519491231002X1", today())),
        "id_number.length"
    );
    assert_eq!(code(IdNumber::parse("", today())), "id_number.length");
    let v = IdNumber::parse("11010519491231002Y", today()).expect_err("charset");
    assert_eq!(v.code, "id_number.charset");
    assert!(v.zh.contains("第 18 位"), "{}", v.zh);
    assert_eq!(
        code(IdNumber::parse("1101051949123100X2", today())),
        "id_number.charset"
    );
    assert_eq!(
        code(IdNumber::parse("11010549123100X", today())),
        "id_number.charset"
    );
}

// ---- 手机 / 电话 ------------------------------------------------------------------------

#[test]
fn mobile_forms() {
    for s in [
        "13800138000",
        "+86 138 0013 8000",
        "+8613800138000",
        "8613800138000",
        "0086-138-0013-8000",
        "１３８００１３８０００",
        " 138-0013-8000 ",
    ] {
        assert_eq!(
            Mobile::parse(s).map(|m| m.to_string()).as_deref(),
            Ok("13800138000"),
            "{s}"
        );
    }
    assert!(Mobile::parse("19912345678").is_ok());
    for s in [
        "12800138000",
        "1380013800",
        "138001380000",
        "010-12345678",
        "abc",
        "",
    ] {
        assert_eq!(code(Mobile::parse(s)), "mobile.format", "{s}");
    }
    let v = Mobile::parse("12800138000").expect_err("format");
    assert!(v.zh.contains("12800138000") && v.en.contains("12800138000"));
}

#[test]
fn phone_forms() {
    let cases = [
        ("13800138000", "13800138000", PhoneKind::Mobile),
        ("+86 138 0013 8000", "13800138000", PhoneKind::Mobile),
        ("010-12345678", "010-12345678", PhoneKind::Landline),
        ("01012345678", "010-12345678", PhoneKind::Landline),
        ("(010)12345678", "010-12345678", PhoneKind::Landline),
        ("（010）1234 5678", "010-12345678", PhoneKind::Landline),
        ("010-1234-5678", "010-12345678", PhoneKind::Landline),
        ("0571-8765432", "0571-8765432", PhoneKind::Landline),
        ("0571 87654321", "0571-87654321", PhoneKind::Landline),
        ("020-87654321", "020-87654321", PhoneKind::Landline),
        ("010-12345678-123", "010-12345678-123", PhoneKind::Landline),
        ("0300-2000000-0", "0300-2000000-0", PhoneKind::Landline),
        ("010-1234-5678-12", "010-12345678-12", PhoneKind::Landline),
        ("010-12345678转123", "010-12345678-123", PhoneKind::Landline),
        (
            "010-12345678 ext. 123",
            "010-12345678-123",
            PhoneKind::Landline,
        ),
        ("010-12345678 EXT 9", "010-12345678-9", PhoneKind::Landline),
        (
            "010-12345678#8001",
            "010-12345678-8001",
            PhoneKind::Landline,
        ),
        ("+86 10 12345678", "010-12345678", PhoneKind::Landline),
        ("+86 010 12345678", "010-12345678", PhoneKind::Landline),
        ("+86 (0)10 12345678", "010-12345678", PhoneKind::Landline),
        ("86-571-8765432", "0571-8765432", PhoneKind::Landline),
        ("0086 571 87654321", "0571-87654321", PhoneKind::Landline),
        ("400-123-4567", "400-123-4567", PhoneKind::Service),
        ("4001234567", "400-123-4567", PhoneKind::Service),
        ("800 123 4567", "800-123-4567", PhoneKind::Service),
        (
            "４００－１２３－４５６７",
            "400-123-4567",
            PhoneKind::Service,
        ),
    ];
    for (input, canonical, kind) in cases {
        let p = Phone::parse(input).unwrap_or_else(|v| panic!("{input}: {v}"));
        assert_eq!((p.as_str(), p.kind()), (canonical, kind), "{input}");
    }
    assert_eq!(
        Phone::parse("0571-8765432").expect("ok").area_code(),
        Some("0571")
    );
    assert_eq!(Phone::parse("13800138000").expect("ok").area_code(), None);
}

#[test]
fn phone_needs_area_code() {
    for s in ["12345678", "8765432", "8765-4321", "87654321转123"] {
        let v = Phone::parse(s).expect_err(s);
        assert_eq!(v.code, "phone.area_code", "{s}");
        assert!(
            v.zh.contains("区号") && v.en.contains("area code"),
            "{}",
            v.zh
        );
    }
    assert_eq!(code(Phone::parse("057-187654321")), "phone.area_code");
    assert_eq!(code(Phone::parse("0012345678")), "phone.area_code");
}

#[test]
fn phone_rejects_garbage() {
    for s in [
        "",
        "abc",
        "010-123456",
        "010-123456789",
        "010-02345678",
        "13800138000转1",
        "010-12345678转",
        "010-12345678转1234567",
        "010/12345678",
        "13800138000; 13900139000",
    ] {
        assert_eq!(code(Phone::parse(s)), "phone.format", "{s}");
    }
}

// ---- 邮箱 / 邮编 / 网址 -----------------------------------------------------------------

#[test]
fn email_forms() {
    let e = Email::parse(" Zhang.San+crm@Example.COM.cn ").expect("ok");
    assert_eq!(e.as_str(), "Zhang.San+crm@example.com.cn");
    assert_eq!(e.domain(), "example.com.cn");
    assert_eq!(
        Email::parse("ａ＠ｂ．ｃｏｍ")
            .map(|e| e.to_string())
            .as_deref(),
        Ok("a@b.com")
    );
    for s in [
        "",
        "a",
        "a@",
        "@b.com",
        "a@b",
        "a@b.c",
        "a@b.c0m",
        "a b@c.com",
        "a@@b.com",
        "a@b@c.com",
        ".a@b.com",
        "a.@b.com",
        "a..b@c.com",
        "a@-b.com",
        "a@b-.com",
        "a@b..com",
        "张三@例子.中国",
    ] {
        assert_eq!(code(Email::parse(s)), "email.format", "{s}");
    }
    let long = format!("{}@{}.com", "a".repeat(64), "b".repeat(63));
    assert!(Email::parse(&long).is_ok());
    let too_long_local = format!("{}@b.com", "a".repeat(65));
    assert_eq!(code(Email::parse(&too_long_local)), "email.format");
}

#[test]
fn postal_code_forms() {
    assert_eq!(
        PostalCode::parse("100080")
            .map(|p| p.to_string())
            .as_deref(),
        Ok("100080")
    );
    assert_eq!(
        PostalCode::parse(" ５１８０５７ ")
            .map(|p| p.to_string())
            .as_deref(),
        Ok("518057")
    );
    for s in ["", "10008", "1000800", "10008a"] {
        let v = PostalCode::parse(s).expect_err(s);
        assert_eq!(v.code, "postal_code.format");
    }
}

#[test]
fn website_forms() {
    let cases = [
        ("www.example.com", "https://www.example.com"),
        ("https://www.Example.com/", "https://www.example.com"),
        (
            "HTTP://example.com.cn/about?x=1",
            "http://example.com.cn/about?x=1",
        ),
        ("example.com:8080/a", "https://example.com:8080/a"),
        ("http://192.168.1.10", "http://192.168.1.10"),
        ("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", "https://www.example.com"),
    ];
    for (input, canonical) in cases {
        assert_eq!(
            Website::parse(input).map(|w| w.to_string()).as_deref(),
            Ok(canonical),
            "{input}"
        );
    }
    for s in [
        "",
        "example",
        "ftp://example.com",
        "https://",
        "https://exa mple.com",
        "https://example.com:0",
        "https://example.com:99999",
        "https://user@example.com",
        "javascript:alert(1)",
    ] {
        assert_eq!(code(Website::parse(s)), "website.format", "{s}");
    }
}

// ---- properties -------------------------------------------------------------------------

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

fn alphabet_char() -> impl Strategy<Value = char> {
    proptest::sample::select(ALPHABET.chars().collect::<Vec<_>>())
}

/// A USCC body: a real authority, a known registration region, any organisation code.
fn uscc_body() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec!['1', '5', '9', 'Y', 'N', 'A']),
        alphabet_char(),
        proptest::sample::select(vec![
            "110000", "110105", "440300", "440305", "330106", "650102", "100000",
        ]),
        proptest::collection::vec(alphabet_char(), 9),
    )
        .prop_map(|(a, b, region, org)| {
            let mut s = String::new();
            s.push(a);
            s.push(b);
            s.push_str(region);
            s.extend(org);
            s
        })
}

fn id_body() -> impl Strategy<Value = String> {
    (
        proptest::sample::select(vec!["110105", "440305", "310104", "650102", "220202"]),
        1900i32..=2023,
        1u32..=12,
        1u32..=28,
        0u32..1000,
    )
        .prop_map(|(region, y, m, d, seq)| format!("{region}{y:04}{m:02}{d:02}{seq:03}"))
}

proptest! {
    #[test]
    fn uscc_with_check_always_parses(body in uscc_body()) {
        let u = Uscc::with_check(&body).map_err(|v| TestCaseError::fail(v.to_string()))?;
        prop_assert!(Uscc::parse(u.as_str()).is_ok());
        prop_assert_eq!(&u.as_str()[..17], body.as_str());
    }

    #[test]
    fn uscc_single_change_rejected(body in uscc_body(), pos in 0usize..18, replacement in alphabet_char()) {
        let u = Uscc::with_check(&body).map_err(|v| TestCaseError::fail(v.to_string()))?;
        let mut chars: Vec<char> = u.as_str().chars().collect();
        prop_assume!(chars[pos] != replacement);
        chars[pos] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(Uscc::parse(&changed).is_err(), "{} accepted", changed);
    }

    #[test]
    fn id_number_single_change_rejected(body in id_body(), pos in 0usize..18, replacement in proptest::sample::select("0123456789X".chars().collect::<Vec<_>>())) {
        let id = IdNumber::with_check(&body, today()).map_err(|v| TestCaseError::fail(v.to_string()))?;
        let mut chars: Vec<char> = id.as_str().chars().collect();
        prop_assume!(chars[pos] != replacement);
        chars[pos] = replacement;
        let changed: String = chars.into_iter().collect();
        prop_assert!(IdNumber::parse(&changed, today()).is_err(), "{} accepted", changed);
    }

    #[test]
    fn parsers_never_panic(s in "\\PC{0,30}") {
        let _ = Uscc::parse(&s);
        let _ = IdNumber::parse(&s, today());
        let _ = Mobile::parse(&s);
        let _ = Phone::parse(&s);
        let _ = Email::parse(&s);
        let _ = PostalCode::parse(&s);
        let _ = Website::parse(&s);
    }

    #[test]
    fn phone_canonical_form_reparses(s in "(\\+86 )?(0[1-9][0-9]{1,2}-)?[2-9][0-9]{6,7}(转[0-9]{1,4})?") {
        if let Ok(p) = Phone::parse(&s) {
            let again = Phone::parse(p.as_str()).map_err(|v| TestCaseError::fail(v.to_string()))?;
            prop_assert_eq!(again, p);
        }
    }
}
