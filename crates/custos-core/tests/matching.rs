//! Duplicate detection: each kind of evidence, the hard negatives, thresholds and blocking.

use chrono::NaiveDate;
use custos_core::ident::{IdNumber, Uscc};
use custos_core::matching::{
    blocking_keys, compare, match_score, match_score_at_least, prepare, verdict_for_new,
    EvidenceKind, MatchRecord, MatchResult, Prepared, Thresholds, Verdict, MAX_BLOCKING_KEYS,
};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 1).unwrap_or_default()
}

fn uscc(first17: &str) -> String {
    Uscc::with_check(first17)
        .map(|u| u.as_str().to_string())
        .unwrap_or_default()
}

fn id_number(first17: &str) -> String {
    IdNumber::with_check(first17, today())
        .map(|i| i.as_str().to_string())
        .unwrap_or_default()
}

fn org(name: &str) -> MatchRecord {
    MatchRecord {
        customer_type: "enterprise".into(),
        name: name.into(),
        ..Default::default()
    }
}

fn person(name: &str) -> MatchRecord {
    MatchRecord {
        customer_type: "individual".into(),
        name: name.into(),
        ..Default::default()
    }
}

fn prep(r: &MatchRecord) -> Prepared {
    prepare(r, today())
}

fn cmp(a: &MatchRecord, b: &MatchRecord) -> MatchResult {
    compare(&prep(a), &prep(b))
}

fn kind_of(r: &MatchResult, field: &str) -> Option<EvidenceKind> {
    r.field(field).map(|e| e.kind)
}

/// The two records share at least one blocking key.
fn share_key(a: &MatchRecord, b: &MatchRecord) -> bool {
    let ka = blocking_keys(&prep(a));
    blocking_keys(&prep(b)).iter().any(|k| ka.contains(k))
}

const DEFINITE: f64 = 0.9;
const POSSIBLE: f64 = 0.5;

#[test]
fn same_uscc_is_definite() {
    let code = uscc("91440300MA5FXXXX0");
    assert!(!code.is_empty());
    let mut a = org("深圳市腾讯计算机系统有限公司");
    a.uscc = code.clone();
    let mut b = org("腾讯科技");
    b.uscc = code.to_lowercase();
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "uscc"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.score >= DEFINITE, "{r:?}");
    assert!(r.evidence.iter().any(|e| e.to_string() == "uscc: same"));
    assert!(share_key(&a, &b));
}

#[test]
fn same_id_number_is_definite() {
    let id = id_number("11010519491231002");
    let mut a = person("张三");
    a.id_number = id.clone();
    let mut b = person("張叁");
    b.id_number = id;
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "id_number"), Some(EvidenceKind::Same));
    assert!(r.score >= DEFINITE, "{r:?}");
    assert!(share_key(&a, &b));
}

#[test]
fn same_mobile_in_different_formats() {
    let mut a = person("李娜");
    a.phones = vec!["+86 138-0013-8000".into()];
    let mut b = person("李娜");
    b.phones = vec!["１３８ ００１３ ８０００".into()];
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "phone"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.score >= DEFINITE, "{r:?}");
    assert!(blocking_keys(&prep(&a)).contains(&"p:13800138000".to_string()));
    assert!(share_key(&a, &b));
}

#[test]
fn same_email() {
    let mut a = org("杭州云栖科技有限公司");
    a.email = "Info@YunQi.cn".into();
    let mut b = org("云栖科技");
    b.email = " info@yunqi.cn ".into();
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "email"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.score >= DEFINITE, "{r:?}");
    assert!(share_key(&a, &b));
}

/// An organisation name variant, in the same city, with nothing else in common.
fn assert_name_variant(original: &str, variant: &str, expected: EvidenceKind, min_score: f64) {
    let mut a = org(original);
    a.city = "北京市".into();
    let mut b = org(variant);
    b.city = "北京".into();
    let r = cmp(&a, &b);
    assert_eq!(
        kind_of(&r, "name"),
        Some(expected),
        "{original} / {variant}: {r:?}"
    );
    assert!(r.score >= min_score, "{original} / {variant}: {r:?}");
    assert!(share_key(&a, &b), "{original} / {variant}: no shared key");
}

#[test]
fn legal_form_suffix_variants() {
    assert_name_variant(
        "北京华为技术有限公司",
        "北京华为技术有限责任公司",
        EvidenceKind::Same,
        DEFINITE,
    );
}

#[test]
fn region_prefix_variants() {
    for v in [
        "北京市华为技术有限公司",
        "(北京)华为技术有限公司",
        "华为技术(北京)有限公司",
        "华为技术有限公司",
    ] {
        assert_name_variant("北京华为技术有限公司", v, EvidenceKind::Same, DEFINITE);
    }
}

#[test]
fn traditional_and_full_width_variants() {
    assert_name_variant(
        "北京华为技术有限公司",
        "北京華為技術有限公司",
        EvidenceKind::Same,
        DEFINITE,
    );
    assert_name_variant(
        "北京ABC科技有限公司",
        "（北京）ＡＢＣ科技有限公司",
        EvidenceKind::Same,
        DEFINITE,
    );
    assert_name_variant(
        "北京ABC科技有限公司",
        "北京ＡＢＣ 科技有限公司",
        EvidenceKind::Same,
        DEFINITE,
    );
}

#[test]
fn homophone_typo() {
    // 为 and 伟 are both "wei".
    assert_name_variant(
        "北京华为技术有限公司",
        "北京华伟技术有限公司",
        EvidenceKind::Similar,
        POSSIBLE,
    );
    let r = cmp(&org("北京华为技术有限公司"), &org("北京华伟技术有限公司"));
    let e = r
        .field("name")
        .map(|e| e.detail_en.clone())
        .unwrap_or_default();
    assert!(e.contains("pinyin huaweijishu"), "{e}");
}

#[test]
fn short_name_and_former_name_count_as_names() {
    let mut a = org("深圳市腾讯计算机系统有限公司");
    a.short_name = "腾讯".into();
    a.phones = vec!["0755-86013388".into()];
    let mut b = org("腾讯");
    b.phones = vec!["(0755)86013388".into()];
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.score >= DEFINITE, "{r:?}");
    assert!(share_key(&a, &b));

    let mut renamed = org("上海拼多多网络科技有限公司");
    renamed.former_names = vec!["上海寻梦信息技术有限公司".into()];
    let old = org("上海寻梦信息技术有限公司");
    let r = cmp(&renamed, &old);
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.score >= DEFINITE, "{r:?}");
    let name = r
        .field("name")
        .map(|e| e.detail_en.clone())
        .unwrap_or_default();
    assert!(name.contains("former name"), "{name}");
    assert!(share_key(&renamed, &old));
}

#[test]
fn short_name_alone_is_not_definite() {
    // A brand is shared by many companies: the same short name in the same city, with
    // nothing else in common, is worth a look, not a block.
    let mut a = org("正泰");
    a.city = "南京".into();
    let mut b = org("南京正泰机械设备有限公司");
    b.short_name = "正泰".into();
    let r = cmp(&a, &b);
    assert!(r.score < DEFINITE, "{r:?}");
}

#[test]
fn hard_negative_same_brand_other_city() {
    let mut a = org("北京华为技术有限公司");
    a.uscc = uscc("91110108MA00AAAA0");
    let mut b = org("上海华为技术有限公司");
    b.uscc = uscc("91310115MA1BBBBB0");
    assert!(!a.uscc.is_empty() && !b.uscc.is_empty());
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "uscc"), Some(EvidenceKind::Different));
    assert_eq!(kind_of(&r, "region"), Some(EvidenceKind::Different));
    assert!(r.score < POSSIBLE, "{r:?}");
    assert!(r
        .evidence
        .iter()
        .any(|e| e.to_string() == "region: different province"));
    // Without the codes the regions still keep them apart from "definite".
    let r = cmp(&org("北京华为技术有限公司"), &org("上海华为技术有限公司"));
    assert!(r.score < DEFINITE, "{r:?}");
}

#[test]
fn hard_negative_namesakes_in_one_city() {
    let mut a = person("王伟");
    a.city = "北京市".into();
    a.district = "朝阳区".into();
    a.id_number = id_number("11010519800101001");
    a.phones = vec!["13800138000".into()];
    let mut b = person("王伟");
    b.city = "北京市".into();
    b.district = "朝阳区".into();
    b.id_number = id_number("11010519921212002");
    b.phones = vec!["13900139000".into()];
    let r = cmp(&a, &b);
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same));
    assert_eq!(kind_of(&r, "id_number"), Some(EvidenceKind::Different));
    assert!(r.score < 0.05, "{r:?}");
}

#[test]
fn hard_negative_branch_and_parent() {
    let mut parent = org("华为技术有限公司");
    parent.city = "深圳".into();
    let mut branch = org("华为技术有限公司上海分公司");
    branch.city = "深圳".into();
    let r = cmp(&parent, &branch);
    assert_eq!(
        kind_of(&r, "branch"),
        Some(EvidenceKind::Different),
        "{r:?}"
    );
    assert!(r.score < POSSIBLE, "{r:?}");
    // Even sharing the switchboard number.
    parent.phones = vec!["0755-28780808".into()];
    branch.phones = vec!["0755-28780808".into()];
    assert!(cmp(&parent, &branch).score < DEFINITE);
}

#[test]
fn organisation_vs_person() {
    let r = cmp(&org("张伟"), &person("张伟"));
    assert_eq!(kind_of(&r, "customer_type"), Some(EvidenceKind::Different));
}

#[test]
fn thresholds() {
    let t = Thresholds::default();
    assert_eq!(t.verdict(0.95), Verdict::Definite);
    assert_eq!(t.verdict(0.6), Verdict::Possible);
    assert_eq!(t.verdict(0.1), Verdict::Distinct);
    let strict = Thresholds::new(0.99, 0.8).unwrap_or_default();
    assert_eq!(strict.verdict(0.95), Verdict::Possible);
    assert!(Thresholds::new(0.5, 0.9).is_none());
    assert!(Thresholds::new(1.5, 0.9).is_none());
}

#[test]
fn score_is_bounded_symmetric_and_consistent() {
    let mut a = org("北京华为技术有限公司");
    a.phones = vec!["010-12345678".into()];
    a.address = "北京市海淀区中关村大街1号".into();
    let mut b = org("華為技術有限公司");
    b.phones = vec!["(010)12345678".into()];
    b.address = "海淀区中关村大街1号".into();
    let (pa, pb) = (prep(&a), prep(&b));
    let s = match_score(&pa, &pb);
    assert!((0.0..=1.0).contains(&s));
    assert!((s - match_score(&pb, &pa)).abs() < 1e-12);
    assert!((s - compare(&pa, &pb).score).abs() < 1e-12);
    assert_eq!(match_score_at_least(&pa, &pb, 0.5), Some(s));
    let far = prep(&org("上海寻梦信息技术有限公司"));
    assert_eq!(match_score_at_least(&pa, &far, 0.5), None);
}

#[test]
fn evidence_has_both_languages_and_is_sorted() {
    let mut a = org("北京华为技术有限公司");
    a.uscc = uscc("91110108MA00AAAA0");
    let b = a.clone();
    let r = cmp(&a, &b);
    for e in &r.evidence {
        assert!(!e.detail_zh.is_empty() && !e.detail_en.is_empty());
    }
    for w in r.evidence.windows(2) {
        assert!(w[0].weight.abs() >= w[1].weight.abs());
    }
}

#[test]
fn blocking_keys_find_every_variant() {
    let original = org("北京华为技术有限公司");
    for v in [
        "北京市华为技术有限责任公司",
        "华为技术(北京)有限公司",
        "華為技術有限公司",
        "北京华伟技术有限公司", // homophone
        "北京华为技朮有限公司", // other one-character typo
        "北京华为技术股份有限公司",
        "华为", // short name as name
    ] {
        assert!(share_key(&original, &org(v)), "{v}");
    }
    let mut a = person("John Smith");
    a.birth_date = NaiveDate::from_ymd_opt(1980, 1, 2);
    assert!(share_key(&a, &person("smith jon")));
    assert!(share_key(&a, &person("Smith")));
}

#[test]
fn blocking_keys_are_deterministic_and_bounded() {
    let mut r = org("北京华为技术有限公司深圳分公司");
    r.short_name = "华为深圳".into();
    r.former_names = vec![
        "华为深圳办事处".into(),
        "华为技术深圳".into(),
        "深圳华为".into(),
    ];
    r.phones = vec![
        "13800138000".into(),
        "13900139000".into(),
        "010-12345678".into(),
        "021-87654321".into(),
    ];
    r.email = "a@b.cn".into();
    r.uscc = uscc("91110108MA00AAAA0");
    let k1 = blocking_keys(&prep(&r));
    let k2 = blocking_keys(&prep(&r.clone()));
    assert_eq!(k1, k2);
    assert!(k1.len() <= MAX_BLOCKING_KEYS);
    assert!(k1[0].starts_with("u:"));
    let mut sorted = k1.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), k1.len(), "duplicate keys");
    assert!(blocking_keys(&prep(&MatchRecord::default())).is_empty());
}

#[test]
fn latin_name_with_a_space_typed_inside_a_word() {
    let r = cmp(&person("Sophie Nicolle"), &person("Soph ie Nicolle"));
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
    let r = cmp(&person("Sophie Nicolle"), &person("SophieNicolle"));
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
}

#[test]
fn swapped_given_and_family_name_recognised() {
    let r = cmp(&person("Nicolle Sophie"), &person("sophie nicolle"));
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
    // Swapped and a typo in one of them.
    let r = cmp(&person("Frahn Lauren"), &person("Laurex Frahn"));
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Similar), "{r:?}");
    assert!(r.field("name").is_some_and(|e| e.weight > 0.0), "{r:?}");
}

#[test]
fn latin_names_sharing_one_word_weigh_less_against_than_nothing_in_common() {
    let shared = cmp(&person("Robert Smith"), &person("Bob Smith"));
    let none = cmp(&person("Robert Smith"), &person("Alice Jones"));
    assert_eq!(kind_of(&shared, "name"), Some(EvidenceKind::Similar));
    assert_eq!(kind_of(&none, "name"), Some(EvidenceKind::Different));
    let w = |r: &MatchResult| r.field("name").map_or(0.0, |e| e.weight);
    assert!(
        w(&none) < w(&shared) && w(&shared) < 0.0,
        "{shared:?} {none:?}"
    );
    // Name alone sharing a word is far from a duplicate.
    assert!(shared.score < 0.05, "{shared:?}");
}

#[test]
fn chinese_names_do_not_use_latin_rules() {
    // Chinese keys get no letter-order comparison: 王伟 / 王伟东 is not a Latin "shared word".
    let p = prep(&person("王伟"));
    assert!(p.names[0].compact.is_empty());
    let r = cmp(&person("王伟"), &person("李伟"));
    assert_ne!(kind_of(&r, "name"), Some(EvidenceKind::Same));
}

#[test]
fn numbered_shops_stay_distinct() {
    let mut a = org("华信超市3号店");
    let mut b = org("华信超市4号店");
    a.city = "杭州".into();
    b.city = "杭州".into();
    let r = cmp(&a, &b);
    assert_ne!(kind_of(&r, "name"), Some(EvidenceKind::Same), "{r:?}");
    assert!(r.field("name").is_some_and(|e| e.weight < 0.0), "{r:?}");
    assert!(r.score < POSSIBLE, "{r:?}");
}

#[test]
fn unchecked_identifiers_that_differ_weigh_less_than_valid_ones() {
    let mut a = person("John Smith");
    let mut b = person("John Smith");
    a.id_number = "P1234567".into();
    b.id_number = "P7654321".into();
    let unchecked = cmp(&a, &b);
    a.id_number = id_number("11010519800101001");
    b.id_number = id_number("11010519921212002");
    let valid = cmp(&a, &b);
    let w = |r: &MatchResult| r.field("id_number").map_or(0.0, |e| e.weight);
    assert!(w(&valid) < w(&unchecked) && w(&unchecked) < 0.0);
    assert!(unchecked.score < POSSIBLE, "{unchecked:?}");
}

#[test]
fn birth_date_with_day_and_month_swapped_is_similar() {
    let mut a = person("John Smith");
    let mut b = person("John Smith");
    a.birth_date = NaiveDate::from_ymd_opt(1980, 3, 4);
    b.birth_date = NaiveDate::from_ymd_opt(1980, 4, 3);
    let r = cmp(&a, &b);
    assert_eq!(
        kind_of(&r, "birth_date"),
        Some(EvidenceKind::Similar),
        "{r:?}"
    );
    b.birth_date = NaiveDate::from_ymd_opt(1981, 4, 3);
    assert_eq!(
        kind_of(&cmp(&a, &b), "birth_date"),
        Some(EvidenceKind::Different)
    );
}

#[test]
fn twins_with_valid_id_numbers_stay_distinct() {
    // Same family name, birth date and address, other given name: twins. A valid id number
    // each keeps them apart.
    let mut a = person("Dylan Thorpe");
    let mut b = person("Teaha Thorpe");
    for (r, id) in [(&mut a, "11010519800101001"), (&mut b, "11010519800101002")] {
        r.address = "27 Buvelot Street Moonah West".into();
        r.id_number = id_number(id);
    }
    let r = cmp(&a, &b);
    assert!(r.score < POSSIBLE, "{r:?}");
}

mod symmetry {
    use super::*;
    use proptest::prelude::*;

    /// Names that tie in interesting ways: a brand alone, the brand with a legal form,
    /// a branch, a homophone, traditional characters, a Latin name with a space moved.
    const NAMES: &[&str] = &[
        "华信",
        "华信科技有限公司",
        "上海华信科技有限公司",
        "华信科技有限公司北京分公司",
        "华新科技有限公司",
        "華信科技有限公司",
        "华信3号店",
        "华信4号店",
        "恒瑞",
        "恒瑞医药股份有限公司",
        "王伟",
        "王卫",
        "sophie nicolle",
        "soph ie nicolle",
        "bob smith",
        "robert smith",
    ];
    const PHONES: &[&str] = &["", "13800138000", "13800138001", "010-65520000"];
    const REGIONS: &[&str] = &["", "310104", "310101", "110105", "440305"];
    const TYPES: &[&str] = &["enterprise", "individual", ""];

    fn name() -> impl Strategy<Value = String> {
        prop::sample::select(NAMES).prop_map(str::to_string)
    }

    fn record() -> impl Strategy<Value = MatchRecord> {
        (
            prop::sample::select(TYPES),
            name(),
            prop::option::of(name()),
            prop::collection::vec(name(), 0..3),
            prop::sample::select(PHONES),
            prop::sample::select(REGIONS),
        )
            .prop_map(|(t, n, short, former, phone, region)| MatchRecord {
                customer_type: t.into(),
                name: n,
                short_name: short.unwrap_or_default(),
                former_names: former,
                phones: if phone.is_empty() {
                    Vec::new()
                } else {
                    vec![phone.into()]
                },
                region_code: region.into(),
                ..Default::default()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A pair scores the same whichever record comes first (the online check puts
        /// the new record first, the batch run the one read first).
        #[test]
        fn score_does_not_depend_on_the_order(a in record(), b in record()) {
            let (pa, pb) = (prep(&a), prep(&b));
            prop_assert_eq!(match_score(&pa, &pb), match_score(&pb, &pa));
        }
    }

    /// A brand-only name meeting the other's full name exactly, and the full names
    /// meeting too: the stronger evidence counts, in both orders.
    #[test]
    fn a_tie_between_names_takes_the_stronger_evidence() {
        let mut a = org("华信科技有限公司");
        a.short_name = "华信".into();
        let mut b = org("华信");
        b.former_names = vec!["华信科技有限公司".into()];
        let (pa, pb) = (prep(&a), prep(&b));
        assert_eq!(match_score(&pa, &pb), match_score(&pb, &pa));
    }
}

// People and households (个人客户): a shared flat and phone are household evidence;
// given names decide between one person and two.

/// A person at one flat with one mobile.
fn resident(name: &str, mobile: &str) -> MatchRecord {
    let mut r = person(name);
    r.region_code = "110105".into();
    r.address = "北京市朝阳区望京西园三区312号楼2单元1101室".into();
    if !mobile.is_empty() {
        r.phones = vec![mobile.into()];
    }
    r
}

#[test]
fn household_members_are_kept_apart() {
    for (a, b) in [
        ("王嘉天", "王慧"),
        ("毛振强", "毛彬华"),
        ("王嘉天", "王嘉元"),
        // Spouses with different family names.
        ("王嘉天", "李秀英"),
    ] {
        let (x, y) = (resident(a, "13912345678"), resident(b, "13912345678"));
        let r = cmp(&x, &y);
        assert!(r.score < POSSIBLE, "{a}/{b}: {r:?}");
        assert!(r.household, "{a}/{b}: {r:?}");
        assert_eq!(kind_of(&r, "household"), Some(EvidenceKind::Different));
        // A shared phone and flat count for nothing between two people.
        assert!(r.field("phone").is_some_and(|e| e.weight == 0.0), "{r:?}");
        assert!(share_key(&x, &y));
        // The evidence names no phone number or address of the household.
        let told = r
            .field("household")
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!told.contains("139") && !told.contains("望京"), "{told}");
    }
}

#[test]
fn a_different_valid_id_number_decides_against_a_namesake_at_one_address() {
    let mut a = resident("张伟", "13912345678");
    a.id_number = id_number("11010519800101001");
    let mut b = resident("张伟", "13912345678");
    b.id_number = id_number("11010520050101001");
    let r = cmp(&a, &b);
    assert!(r.score < POSSIBLE, "{r:?}");
    assert!(r.household, "{r:?}");
}

#[test]
fn homophone_given_names_of_one_person_are_joined() {
    // Same flat, a new mobile, no ID number on one record.
    for (a, b) in [
        ("张秀荣", "张秀绒"),
        ("张秀荣", "张秀蓉"),
        ("林德军", "林德君"),
        ("欧阳宁钢", "欧阳凝刚"),
    ] {
        let mut x = resident(a, "13912345678");
        x.id_number = id_number("11010519800101001");
        let y = resident(b, "13887654321");
        let r = cmp(&x, &y);
        assert!(r.score >= DEFINITE, "{a}/{b}: {r:?}");
        assert!(!r.household, "{a}/{b}: {r:?}");
        assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Similar));
        assert!(share_key(&x, &y), "{a}/{b}");
    }
}

#[test]
fn look_alike_given_names_of_one_person_are_joined() {
    for (a, b) in [
        ("张秀荣", "张绣荣"),
        ("黎莉洁", "黎俐洁"),
        ("欧宁钢", "欧凝刚"),
    ] {
        let x = resident(a, "13912345678");
        let y = resident(b, "13887654321");
        let r = cmp(&x, &y);
        assert!(r.score >= DEFINITE, "{a}/{b}: {r:?}");
        assert!(share_key(&x, &y), "{a}/{b}");
    }
}

#[test]
fn compound_family_names_are_one_family_name() {
    // 欧阳 is the family name: 欧阳明 and 欧阳敏 share it and differ in the given name.
    let (x, y) = (
        resident("欧阳明", "13912345678"),
        resident("欧阳敏", "13912345678"),
    );
    let r = cmp(&x, &y);
    assert!(r.household && r.score < POSSIBLE, "{r:?}");
    let detail = r
        .field("name")
        .map(|e| e.detail_zh.clone())
        .unwrap_or_default();
    assert!(detail.contains("同姓（欧阳）"), "{detail}");
    // 司马光 and 司马广 (guang1 / guang3): one person's given name read alike.
    let r = cmp(&resident("司马光", ""), &resident("司马广", ""));
    assert_eq!(kind_of(&r, "name"), Some(EvidenceKind::Similar), "{r:?}");
    assert!(!r.household);
}

#[test]
fn a_person_who_moved_without_identifiers_is_left_apart() {
    let a = resident("刘建国", "13912345678");
    let mut b = person("刘建国");
    b.region_code = "440305".into();
    b.address = "广东省深圳市南山区科技园南区高新南一道8号".into();
    b.phones = vec!["13700001111".into()];
    let r = cmp(&a, &b);
    assert!(r.score < POSSIBLE, "{r:?}");
    assert!(!r.household);
}

#[test]
fn one_person_with_one_phone_and_flat_is_still_definite() {
    let r = cmp(
        &resident("王慧", "13912345678"),
        &resident("王慧", "139 1234 5678"),
    );
    assert!(r.score >= DEFINITE && !r.household, "{r:?}");
}

#[test]
fn homophone_company_with_uscc_against_one_without_is_possible_not_definite() {
    let thresholds = Thresholds::default();
    let mut new = org("北京华维科技有限公司");
    new.uscc = uscc("91110108MA00XXXX0");
    new.region_code = "110108".into();
    new.industry = "软件和信息技术服务业".into();
    let mut old = org("北京华为科技有限公司");
    old.region_code = "110108".into();
    old.industry = "软件和信息技术服务业".into();
    let (n, o) = (prep(&new), prep(&old));
    let mut r = compare(&n, &o);
    assert!(r.score >= DEFINITE && r.sound_only_name, "{r:?}");
    assert_eq!(
        verdict_for_new(&n, &o, &mut r, &thresholds),
        Verdict::Possible
    );
    let reason: Vec<String> = r.evidence.iter().map(|e| e.detail_zh.clone()).collect();
    assert!(
        reason.iter().any(|d| d.contains("仅读音相同")),
        "{reason:?}"
    );
    // The other way round (the new record has no USCC, the existing one has) or without
    // a USCC on either side, the homophone stays a definite slip of one name.
    let mut r = compare(&o, &n);
    assert_eq!(
        verdict_for_new(&o, &n, &mut r, &thresholds),
        Verdict::Definite
    );
    new.uscc.clear();
    let n = prep(&new);
    let mut r = compare(&n, &o);
    assert_eq!(
        verdict_for_new(&n, &o, &mut r, &thresholds),
        Verdict::Definite
    );
    // Exact names are not alike "only in sound": a same-name company stays definite.
    let mut same = org("北京华为科技有限公司");
    same.uscc = uscc("91110108MA00XXXX0");
    same.region_code = "110108".into();
    let s = prep(&same);
    let mut r = compare(&s, &o);
    assert!(!r.sound_only_name);
    assert_ne!(
        verdict_for_new(&s, &o, &mut r, &thresholds),
        Verdict::Possible
    );
}

/// A person entered twice at one flat — a new mobile, the ID number on one record only — is
/// found in a batch run even when the name is one of thousands: the `n:` block of 张伟 is
/// then compared as a sorted neighbourhood, but the two share the small `a:` block of the
/// flat. Another family member at that flat is not put with them.
#[test]
fn a_common_name_entered_twice_at_one_flat_is_grouped_in_a_batch() {
    use custos_core::matching::cluster::{cluster, ClusterOptions, Silent};
    let person_at = |i: usize, address: &str, phone: &str| MatchRecord {
        customer_type: "individual".into(),
        name: "张伟".into(),
        phones: vec![phone.into()],
        province: "浙江省".into(),
        city: "杭州市".into(),
        address: address.into(),
        id_number: if i == 0 {
            id_number("33010619800101123")
        } else {
            String::new()
        },
        ..Default::default()
    };
    let flat = "杭州市西湖区文三路88号3栋2单元1501室";
    let mut records = vec![
        person_at(0, flat, "13805710001"),
        MatchRecord {
            name: "张丽".into(),
            ..person_at(1, flat, "13805710002")
        },
    ];
    // Namesakes elsewhere in the city, with mobiles in between the two records' own.
    for i in 0..400 {
        records.push(person_at(
            1,
            &format!(
                "杭州市西湖区文三路{}号{}栋1单元{}室",
                100 + i,
                i % 30 + 1,
                101 + i % 20
            ),
            &format!("138057{:05}", 10003 + i),
        ));
    }
    records.push(person_at(1, flat, "13905719999"));
    let last = (records.len() - 1) as u32;
    let today = today();
    let prepared: Vec<Prepared> = records.iter().map(|r| prepare(r, today)).collect();
    let opts = ClusterOptions {
        threshold: DEFINITE,
        ..ClusterOptions::default()
    };
    let c = cluster(&prepared, &opts, &Silent, &|_, _| false);
    assert_eq!(
        c.roots[last as usize], c.roots[0],
        "the two 张伟 at one flat are one person"
    );
    assert_ne!(
        c.roots[1], c.roots[0],
        "张丽 at that flat is a family member"
    );
    // Without an address, nothing but the crowded name block brings them together.
    let share = |a: &MatchRecord, b: &MatchRecord| share_key(a, b);
    assert!(share(&records[0], &records[last as usize]));
    let no_address = |r: &MatchRecord| MatchRecord {
        address: String::new(),
        ..r.clone()
    };
    let ka = blocking_keys(&prep(&no_address(&records[0])));
    assert!(ka.iter().all(|k| !k.starts_with("a:")), "{ka:?}");
}
