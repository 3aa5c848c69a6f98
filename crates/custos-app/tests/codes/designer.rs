//! The rule designer's use cases: checking a rule being composed with a preview that
//! consumes nothing, the seed 001 templates, the overview with capacity, and replacing a
//! published rule by another in one step.

use super::*;
use custos_app::codes::code_rule_templates;

fn draft(key: &str, types: &[&str], segs: serde_json::Value) -> NewCodeRule {
    NewCodeRule {
        key: key.into(),
        name: format!("规则 {key}"),
        applies_to: AppliesTo {
            customer_types: types.iter().map(|s| s.to_string()).collect(),
            region_prefixes: vec![],
        },
        segments: segments(segs),
    }
}

fn enterprise_sample() -> SampleCustomer {
    SampleCustomer {
        customer_type: "enterprise".into(),
        region_code: Some("110105".into()),
        count: Some(3),
        ..Default::default()
    }
}

// An unsaved rule is previewed from its key's real counters, and nothing moves.
both!(a_composed_rule_is_previewed_without_consuming, |t| {
    publish(
        &t,
        "ent",
        &["enterprise"],
        json!([{"kind":"constant","value":"C"},{"kind":"sequence","width":4}]),
    )
    .await;
    assert_eq!(
        create(&t, "enterprise", "北京甲科技有限公司").await,
        "C0001"
    );
    let rule = draft(
        "ent",
        &["enterprise"],
        json!([{"kind":"constant","value":"C"},{"kind":"sequence","width":4},
               {"kind":"check","algorithm":"mod37-2"}]),
    );
    let check = t
        .app
        .codes()
        .check_code_rule(&t.admin, rule.clone(), enterprise_sample())
        .await
        .unwrap();
    assert!(check.errors.is_empty(), "{:?}", check.errors);
    let preview = check.preview.unwrap();
    assert_eq!(preview.codes.len(), 3);
    assert!(preview.codes[0].starts_with("C0002"), "{:?}", preview.codes);
    assert_eq!(preview.version, 2);
    // Checking again shows the same codes: nothing was consumed, nothing stored.
    let again = t
        .app
        .codes()
        .check_code_rule(&t.admin, rule, enterprise_sample())
        .await
        .unwrap();
    assert_eq!(again.preview.unwrap().codes, preview.codes);
    assert_eq!(
        t.app
            .codes()
            .get_code_rule(&t.admin, "ent")
            .await
            .unwrap()
            .versions
            .len(),
        1
    );
    assert_eq!(
        create(&t, "enterprise", "上海乙贸易有限公司").await,
        "C0002"
    );
});

// Every problem comes back at once, with the engine's field paths; no preview then.
both!(a_composed_rule_reports_every_problem, |t| {
    let rule = draft(
        "Bad Key",
        &["enterprise"],
        json!([{"kind":"check","algorithm":"luhn"},{"kind":"constant","value":"c"},
               {"kind":"sequence","width":4}]),
    );
    let check = t
        .app
        .codes()
        .check_code_rule(&t.admin, rule, enterprise_sample())
        .await
        .unwrap();
    let fields: Vec<&str> = check.errors.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"key"), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("segments[0]")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.starts_with("segments[1]")),
        "{fields:?}"
    );
    assert!(check.preview.is_none());
    // A sample the rule cannot code (no region for a region segment) names the sample.
    let rule = draft(
        "by-region",
        &["enterprise"],
        json!([{"kind":"region","level":"province"},{"kind":"sequence","width":4}]),
    );
    let sample = SampleCustomer {
        customer_type: "enterprise".into(),
        ..Default::default()
    };
    let check = t
        .app
        .codes()
        .check_code_rule(&t.admin, rule, sample)
        .await
        .unwrap();
    assert!(
        check.errors.iter().any(|e| e.field == "sample"),
        "{:?}",
        check.errors
    );
    // Composing needs rule.manage, like saving.
    let clerk = t
        .app
        .auth()
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .unwrap();
    let mut clerk = clerk;
    clerk.permissions.remove("rule.manage");
    let r = t
        .app
        .codes()
        .check_code_rule(&clerk, draft("x1", &[], json!([])), enterprise_sample())
        .await;
    assert!(matches!(r, Err(AppError::Forbidden { .. })), "{r:?}");
});

// The seed 001 templates are sound rules that issue the documented codes.
both!(templates_are_sound_and_issue_the_documented_codes, |t| {
    let templates = code_rule_templates();
    assert_eq!(templates.len(), 3);
    for tpl in &templates {
        let sample = SampleCustomer {
            customer_type: tpl.rule.applies_to.customer_types[0].clone(),
            region_code: Some("110105".into()),
            date: Some("2023-10-01".into()),
            count: Some(1),
            ..Default::default()
        };
        let check = t
            .app
            .codes()
            .check_code_rule(&t.admin, tpl.rule.clone(), sample)
            .await
            .unwrap();
        assert!(check.errors.is_empty(), "{}: {:?}", tpl.id, check.errors);
        let codes = check.preview.unwrap().codes;
        let expected = match tpl.id {
            "by-type" => "C0001",
            "retail-wholesale-daily" => "R202310010001",
            _ => "0111000001",
        };
        assert_eq!(codes, vec![expected.to_string()], "{}", tpl.id);
    }
});

// The overview lists every rule with its fullest scopes and their warnings.
both!(the_overview_shows_capacity_per_scope, |t| {
    publish(
        &t,
        "tiny",
        &["enterprise"],
        json!([{"kind":"constant","value":"T"},{"kind":"sequence","width":1,"start":5}]),
    )
    .await;
    for n in 0..4 {
        create(&t, "enterprise", &format!("容量客户{n:05}")).await;
    }
    let overview = t.app.codes().code_rule_overview(&t.admin).await.unwrap();
    let tiny = overview.iter().find(|o| o.rule.key == "tiny").unwrap();
    assert_eq!(tiny.rule.published_version, Some(1));
    assert_eq!(tiny.scope_count, 1);
    let scope = &tiny.capacity.scopes[0];
    assert_eq!((scope.used, scope.remaining, scope.capacity), (4, 1, 5));
    assert!(scope.warning);
});

// Replacing is one transaction: the new rule published and the old disabled together;
// a refused replacement leaves the old rule published.
both!(replacing_a_rule_leaves_no_gap, |t| {
    publish(
        &t,
        "old",
        &["enterprise"],
        json!([{"kind":"constant","value":"A"},{"kind":"sequence","width":4}]),
    )
    .await;
    assert_eq!(
        create(&t, "enterprise", "北京甲科技有限公司").await,
        "A0001"
    );
    // A narrower rule (another type only) may not replace it.
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            draft(
                "narrow",
                &["individual"],
                json!([{"kind":"constant","value":"N"},{"kind":"sequence","width":4}]),
            ),
        )
        .await
        .unwrap();
    let r = t
        .app
        .codes()
        .replace_code_rule(&t.admin, "narrow", "old")
        .await;
    assert!(
        matches!(&r, Err(AppError::Rejected(v)) if v.code == "code_rule.replace_narrower"),
        "{r:?}"
    );
    assert_eq!(
        t.app
            .codes()
            .get_code_rule(&t.admin, "old")
            .await
            .unwrap()
            .published_version,
        Some(1)
    );
    // Publishing the new one alone is refused: both would apply.
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            draft(
                "new",
                &["enterprise"],
                json!([{"kind":"constant","value":"B"},{"kind":"sequence","width":4}]),
            ),
        )
        .await
        .unwrap();
    let r = t.app.codes().publish_code_rule(&t.admin, "new").await;
    assert!(
        matches!(&r, Err(AppError::Conflict(v)) if v.code == "code_rule.overlap"),
        "{r:?}"
    );

    // Customers are created without pause while the rule is replaced: each gets a code
    // from one rule or the other, none is refused for want of a rule.
    let app = t.app.clone();
    let admin = t.admin.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let creator = tokio::spawn(async move {
        let mut codes = Vec::new();
        let mut n = 0u64;
        while !stop2.load(Ordering::SeqCst) || n < 5 {
            n += 1;
            let c = app
                .customers()
                .create_customer(&admin, customer("enterprise", &format!("替换客户{n:05}")))
                .await;
            match c {
                Ok(v) => codes.push(v.code),
                Err(e) => return Err(e),
            }
        }
        Ok(codes)
    });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let view = t
        .app
        .codes()
        .replace_code_rule(&t.admin, "new", "old")
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    let codes = creator
        .await
        .unwrap()
        .expect("no creation refused during the replacement");
    assert_eq!(view.published_version, Some(1));
    assert_eq!(
        t.app
            .codes()
            .get_code_rule(&t.admin, "old")
            .await
            .unwrap()
            .published_version,
        None
    );
    assert!(
        codes
            .iter()
            .all(|c| c.starts_with('A') || c.starts_with('B')),
        "{codes:?}"
    );
    assert!(create(&t, "enterprise", "上海乙贸易有限公司")
        .await
        .starts_with('B'));
    // The replacement is in the audit log as a disable and a publish.
    assert!(!audit_of(&t, "code_rule.disable", 5).await.is_empty());
    // Querying users may not replace.
    let mut reader = t.admin.clone();
    reader.permissions.remove("rule.publish");
    let r = t.app.codes().replace_code_rule(&reader, "new", "old").await;
    assert!(matches!(r, Err(AppError::Forbidden { .. })), "{r:?}");
});
