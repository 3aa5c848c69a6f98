//! Issuing codes: manual codes checked and skipped by the sequence, a full scope, random
//! codes.

use super::*;

both!(manual_codes_are_checked_and_skipped_by_the_sequence, |t| {
    publish(
        &t,
        "manual",
        &[],
        json!([{"kind":"constant","value":"M"},{"kind":"sequence","width":4},{"kind":"check","algorithm":"mod37-2"}]),
    )
    .await;
    let first = create(&t, "enterprise", "一").await; // M0001?
    let d = t.app.codes().validate_code(&t.admin, &first).await.unwrap();
    assert_eq!(d.matches[0].decoded.sequence, Some(1));
    // Preview the code for number 2, assign it by hand, and the sequence skips it.
    let p = t
        .app
        .codes()
        .preview_code_rule(
            &t.admin,
            "manual",
            SampleCustomer {
                customer_type: "enterprise".into(),
                count: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let manual = p.codes[0].clone();
    let mut c = customer("enterprise", "手动");
    c.code = Some(manual.to_lowercase());
    c.reason = Some("迁移历史编码".into());
    assert_eq!(
        t.app
            .customers()
            .create_customer(&t.admin, c)
            .await
            .unwrap()
            .code,
        manual
    );
    assert_eq!(create(&t, "enterprise", "三").await, p.codes[1]);
    // Reusing, a wrong check character, and the wrong shape are refused.
    let mut c = customer("enterprise", "重复");
    c.code = Some(manual.clone());
    assert_eq!(
        t.app
            .customers()
            .create_customer(&t.admin, c)
            .await
            .unwrap_err()
            .code(),
        "code.taken"
    );
    let mut wrong = manual.clone();
    let last = wrong.pop().unwrap();
    wrong.push(if last == 'A' { 'B' } else { 'A' });
    let mut c = customer("enterprise", "错校验");
    c.code = Some(wrong);
    let AppError::Validation(f) = t
        .app
        .customers()
        .create_customer(&t.admin, c)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(f[0].violation.code, "code.check_char");
    let mut c = customer("enterprise", "错形状");
    c.code = Some("X12".into());
    let AppError::Validation(f) = t
        .app
        .customers()
        .create_customer(&t.admin, c)
        .await
        .unwrap_err()
    else {
        panic!()
    };
    assert_eq!(f[0].violation.code, "code.shape");
});

both!(full_scope_fails_clearly_and_capacity_warns, |t| {
    publish(
        &t,
        "tiny",
        &[],
        json!([{"kind":"constant","value":"T"},{"kind":"sequence","width":1}]),
    )
    .await;
    for i in 1..=9 {
        assert_eq!(
            create(&t, "enterprise", &format!("客户{i}")).await,
            format!("T{i}")
        );
    }
    let cap = t
        .app
        .codes()
        .code_rule_capacity(&t.admin, "tiny")
        .await
        .unwrap();
    assert_eq!(cap.capacity_per_scope, Some(9));
    assert_eq!(cap.scopes[0].used, 9);
    assert_eq!(cap.scopes[0].remaining, 0);
    assert!(cap.scopes[0].warning);
    let err = t
        .app
        .customers()
        .create_customer(&t.admin, customer("enterprise", "第十"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "code_rule.exhausted");
    // Nothing half-written: still 9 customers.
    let mut tx = t.app.db.begin_read().await.unwrap();
    assert_eq!(tx.count_customers().await.unwrap(), 9);
    tx.rollback().await.unwrap();
});

both!(random_codes_are_unique_and_valid, |t| {
    publish(
        &t,
        "rnd",
        &[],
        json!([{"kind":"random","width":6},{"kind":"check","algorithm":"mod37-2"}]),
    )
    .await;
    let mut seen = BTreeSet::new();
    for i in 0..30 {
        let code = create(&t, "enterprise", &format!("随机{i}")).await;
        assert_eq!(code.len(), 7);
        assert!(seen.insert(code.clone()));
        assert_eq!(
            t.app
                .codes()
                .validate_code(&t.admin, &code)
                .await
                .unwrap()
                .check_valid,
            Some(true)
        );
    }
});
