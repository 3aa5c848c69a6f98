//! Code rules: the seed documents' examples, versions that keep old codes valid, overlapping
//! and invalid rules.

use super::*;

// Seed 001 case 1: C0001 / P0001, counted per type.
both!(seed_case_1_type_letter_and_sequence, |t| {
    publish(
        &t,
        "by-type",
        &[],
        json!([{"kind":"attribute","field":"customer_type","map":{"enterprise":"C","individual":"P"}},
               {"kind":"sequence","width":4}]),
    )
    .await;
    assert_eq!(
        create(&t, "enterprise", "北京甲科技有限公司").await,
        "C0001"
    );
    assert_eq!(
        create(&t, "enterprise", "上海乙贸易有限公司").await,
        "C0002"
    );
    assert_eq!(create(&t, "individual", "张三").await, "P0001");
});

// Seed 001 case 2: R/W + yyyyMMdd + 4-digit sequence reset daily.
both!(seed_case_2_daily_reset, |t| {
    t.app
        .customers()
        .set_customer_types(
            &t.admin,
            serde_json::from_value::<Vec<custos_app::customers::CustomerType>>(json!([
                {"key":"retail","label_zh":"零售客户","label_en":"Retail"},
                {"key":"wholesale","label_zh":"批发客户","label_en":"Wholesale"}
            ]))
            .unwrap(),
        )
        .await
        .expect("types");
    publish(
        &t,
        "retail-wholesale",
        &["retail", "wholesale"],
        json!([{"kind":"attribute","field":"customer_type","map":{"retail":"R","wholesale":"W"}},
               {"kind":"date","format":"yyyyMMdd"},
               {"kind":"sequence","width":4,"reset":"daily"}]),
    )
    .await;
    let d = today_yyyymmdd();
    assert_eq!(create(&t, "retail", "零售一").await, format!("R{d}0001"));
    assert_eq!(create(&t, "wholesale", "批发一").await, format!("W{d}0001"));
    assert_eq!(create(&t, "retail", "零售二").await, format!("R{d}0002"));
    // A preview for another day starts that day's scope at 1 and consumes nothing.
    let p = t
        .app
        .codes()
        .preview_code_rule(
            &t.admin,
            "retail-wholesale",
            SampleCustomer {
                customer_type: "retail".into(),
                date: Some("2023-10-01".into()),
                count: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(p.codes, vec!["R202310010001", "R202310010002"]);
    assert_eq!(create(&t, "retail", "零售三").await, format!("R{d}0003"));
});

// Seed 000: type code (2) + province (2) + sequence, with a mod11-2 check character.
both!(seed_000_type_province_sequence_check, |t| {
    publish(
        &t,
        "type-province",
        &[],
        json!([{"kind":"attribute","field":"customer_type","map":{"enterprise":"01","individual":"02"}},
               {"kind":"region","level":"province"},
               {"kind":"sequence","width":5},
               {"kind":"check","algorithm":"mod11-2"}]),
    )
    .await;
    let mut c = customer("enterprise", "北京丙公司");
    c.region_code = Some("110105".into());
    let a = t
        .app
        .customers()
        .create_customer(&t.admin, c)
        .await
        .unwrap()
        .code;
    let mut c = customer("enterprise", "上海丁公司");
    c.region_code = Some("310104".into());
    let b = t
        .app
        .customers()
        .create_customer(&t.admin, c)
        .await
        .unwrap()
        .code;
    assert!(a.starts_with("011100001"), "{a}");
    assert!(b.starts_with("013100001"), "{b}");
    let v = t.app.codes().validate_code(&t.admin, &a).await.unwrap();
    assert!(v.well_formed);
    assert_eq!(v.check_valid, Some(true));
    assert_eq!(v.issued, Some(true));
    assert_eq!(v.registry.as_ref().unwrap().status, "active");
    // One changed character is caught by the check character or the shape.
    let mut bad: Vec<char> = a.chars().collect();
    bad[6] = if bad[6] == '9' { '8' } else { '9' };
    let bad: String = bad.into_iter().collect();
    let v = t.app.codes().validate_code(&t.admin, &bad).await.unwrap();
    assert_ne!(v.check_valid, Some(true));
    assert_eq!(v.issued, Some(false));
    // Missing region: a clear error naming region_code, nothing written.
    let err = t
        .app
        .customers()
        .create_customer(&t.admin, customer("enterprise", "无地区公司"))
        .await
        .unwrap_err();
    match err {
        AppError::Validation(f) => assert_eq!(f[0].field, "region_code"),
        other => panic!("{other:?}"),
    }
});

both!(versions_keep_old_codes_valid, |t| {
    publish(
        &t,
        "ent",
        &["enterprise"],
        json!([{"kind":"constant","value":"E"},{"kind":"sequence","width":3}]),
    )
    .await;
    let old = create(&t, "enterprise", "甲").await;
    assert_eq!(old, "E001");
    // A second draft while one is open is refused; publishing v2 disables v1.
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: "ent".into(),
                name: "企业 v2".into(),
                applies_to: AppliesTo {
                    customer_types: vec!["enterprise".into()],
                    region_prefixes: vec![],
                },
                segments: segments(
                    json!([{"kind":"constant","value":"EN"},{"kind":"sequence","width":5}]),
                ),
            },
        )
        .await
        .unwrap();
    let again = t
        .app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: "ent".into(),
                name: "x".into(),
                applies_to: AppliesTo::default(),
                segments: segments(json!([{"kind":"sequence","width":5}])),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), "code_rule.draft_exists");
    let view = t
        .app
        .codes()
        .publish_code_rule(&t.admin, "ent")
        .await
        .unwrap();
    assert_eq!(view.published_version, Some(2));
    assert_eq!(view.versions[0].status, "disabled");
    assert_eq!(create(&t, "enterprise", "乙").await, "EN00001");
    let v = t.app.codes().validate_code(&t.admin, &old).await.unwrap();
    assert!(v.well_formed);
    assert_eq!(v.matches[0].rule_version, 1);
    // The audit log says who published which version.
    let entries = audit_of(&t, "code_rule.publish", 10).await;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.actor == "admin"));
    // Disabling leaves no applicable rule: creation fails clearly.
    t.app
        .codes()
        .disable_code_rule(&t.admin, "ent")
        .await
        .unwrap();
    let err = t
        .app
        .customers()
        .create_customer(&t.admin, customer("enterprise", "丙"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "code_rule.none_applicable");
});

both!(overlapping_rules_cannot_both_be_published, |t| {
    publish(
        &t,
        "rule-a",
        &["enterprise"],
        json!([{"kind":"constant","value":"A"},{"kind":"sequence","width":3}]),
    )
    .await;
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: "rule-b".into(),
                name: "b".into(),
                applies_to: AppliesTo {
                    customer_types: vec![],
                    region_prefixes: vec!["11".into()],
                },
                segments: segments(
                    json!([{"kind":"constant","value":"B"},{"kind":"sequence","width":3}]),
                ),
            },
        )
        .await
        .unwrap();
    let err = t
        .app
        .codes()
        .publish_code_rule(&t.admin, "rule-b")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "code_rule.overlap");
    assert_eq!(err.status(), 409);
});

both!(invalid_rules_report_every_problem, |t| {
    let err = t
        .app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: "Bad Key".into(),
                name: "".into(),
                applies_to: AppliesTo {
                    customer_types: vec![],
                    region_prefixes: vec!["1x".into()],
                },
                segments: segments(
                    json!([{"kind":"constant","value":"c"},{"kind":"sequence","width":20}]),
                ),
            },
        )
        .await
        .unwrap_err();
    let AppError::Validation(fields) = err else {
        panic!("expected validation")
    };
    let names: BTreeSet<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    for f in [
        "key",
        "name",
        "applies_to.region_prefixes[0]",
        "segments[0].value",
        "segments[1].width",
    ] {
        assert!(names.contains(f), "missing {f} in {names:?}");
    }
});
