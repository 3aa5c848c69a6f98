//! Data quality through the use cases, on SQLite and (when CUSTOS_TEST_PG_URL is set)
//! PostgreSQL: a hand-computed score, a failing example per dimension, scores kept current
//! by writes (update, merge, duplicate groups opened and dismissed) and by the recompute,
//! the summary, worklist and KPIs within a data scope, assignment with its notification
//! and audit, and the daily snapshot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use custos_app::customers::{CustomerPatch, NewCustomer};
use custos_app::merge::MergeRequest;
use custos_app::quality::{AssignInput, WorklistQuery};
use custos_app::{Actor, AppError, AuditFilter, Source};
use custos_core::ident::Uscc;

#[path = "support/app.rs"]
#[macro_use]
mod app;
use app::*;

/// Run a statement behind the use cases' back (old or imported data).
async fn raw(t: &T, sql: &str) {
    t.db.execute(sql).await.expect("raw statement");
}

/// An enterprise with a name, a region and a mobile number (ending in `n`) only.
fn bare(name: &str, n: u32) -> NewCustomer {
    NewCustomer {
        customer_type: "enterprise".into(),
        name: name.into(),
        region_code: Some("310104".into()),
        mobile: Some(format!("1380013{n:04}")),
        ..Default::default()
    }
}

async fn create(t: &T, actor: &Actor, n: NewCustomer) -> String {
    t.app
        .customers()
        .create_customer(actor, n)
        .await
        .expect("create")
        .code
}

async fn failing(t: &T, code: &str) -> Vec<String> {
    let q = t
        .app
        .quality()
        .customer_quality(&t.admin, code)
        .await
        .unwrap();
    q.failing.into_iter().map(|r| r.key).collect()
}

both!(bare_enterprise_scores_as_hand_computed, |t| {
    let code = create(&t, &t.admin, bare("评分甲有限公司", 1)).await;
    let q = t
        .app
        .quality()
        .customer_quality(&t.admin, &code)
        .await
        .unwrap();
    assert!(q.assessed);
    // Completeness: name and type (3 each) pass, region (1) passes, six recommended
    // fields (1 each) fail: 100 × 7 / 13 = 53.8. Everything else applies and passes:
    // 0.30 × 53.8 + 0.25 × 100 + 0.45 × 100 = 86.1.
    assert_eq!(q.score, Some(86.1));
    let dims: Vec<f64> = q.dimensions.iter().map(|d| d.score).collect();
    assert_eq!(dims, vec![53.8, 100.0, 100.0, 100.0, 100.0]);
    let keys: Vec<String> = q.failing.iter().map(|r| r.key.clone()).collect();
    assert_eq!(
        keys,
        vec![
            "completeness.recommended.address",
            "completeness.recommended.industry",
            "completeness.recommended.legal_representative",
            "completeness.recommended.phone",
            "completeness.recommended.primary_contact",
            "completeness.recommended.uscc",
        ]
    );
    // Stored with the creation, not computed for the answer.
    assert!(q.computed_at.is_some());
    // Labels name the field, never its value.
    let address = &q.failing[0];
    assert_eq!(address.field, "address");
    assert!(address.label_zh.contains("地址"), "{}", address.label_zh);
});

both!(a_failing_example_in_each_dimension, |t| {
    // Consistency: registered in Beijing (11…), located in Shanghai (31…).
    let uscc = Uscc::with_check("91110105MA0000001").unwrap();
    let mut n = bare("一致性乙有限公司", 2);
    n.uscc = Some(uscc.as_str().to_string());
    let inconsistent = create(&t, &t.admin, n).await;
    assert!(failing(&t, &inconsistent)
        .await
        .contains(&"consistency.uscc_region".to_string()));

    // Validity: imported data with a wrong check character, found by the recompute.
    let code = create(&t, &t.admin, bare("有效性丙有限公司", 3)).await;
    let mut broken = uscc.as_str().to_string();
    let last = broken.pop().unwrap();
    broken.push(if last == '0' { '1' } else { '0' });
    raw(
        &t,
        &format!("UPDATE customers SET uscc = '{broken}' WHERE code = '{code}'"),
    )
    .await;
    assert!(!failing(&t, &code)
        .await
        .contains(&"validity.uscc".to_string()));
    let report = t
        .app
        .quality()
        .recompute_quality(&t.admin, 0, |_, _| {})
        .await
        .unwrap();
    assert_eq!(report.scored, 2);
    let f = failing(&t, &code).await;
    assert!(f.contains(&"validity.uscc".to_string()), "{f:?}");

    // Completeness: an individual without an address.
    let person = create(
        &t,
        &t.admin,
        NewCustomer {
            customer_type: "individual".into(),
            name: "张三".into(),
            mobile: Some("13912345678".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        failing(&t, &person).await,
        vec!["completeness.recommended.address".to_string()]
    );

    // Timeliness: not touched for two years; the daily snapshot rescores it.
    let two_years = custos_store::now_us() - 2 * 366 * 86_400_000_000;
    raw(
        &t,
        &format!("UPDATE customers SET updated_at = {two_years} WHERE code = '{person}'"),
    )
    .await;
    let snap = t
        .app
        .quality()
        .take_quality_snapshot(Source::Cli)
        .await
        .unwrap();
    assert!(snap.written);
    assert_eq!(snap.rescored_stale, 1);
    assert_eq!(
        failing(&t, &person).await,
        vec![
            "completeness.recommended.address".to_string(),
            "timeliness.updated".to_string()
        ]
    );
    // One snapshot a day: a second run writes nothing.
    assert!(
        !t.app
            .quality()
            .take_quality_snapshot(Source::Cli)
            .await
            .unwrap()
            .written
    );
    let trend = t.app.quality().quality_trend(&t.admin, None).await.unwrap();
    assert!(!trend.withheld);
    assert_eq!(trend.points.len(), 1);
    assert_eq!(trend.points[0].customers, 3);

    // Uniqueness: a second customer of the same name and identifier, then a scan.
    let mut twin = bare("一致性乙有限公司", 4);
    twin.uscc = Some(uscc.as_str().to_string());
    twin.override_duplicates = true;
    twin.reason = Some("测试重复".into());
    let twin = create(&t, &t.admin, twin).await;
    assert!(!failing(&t, &twin)
        .await
        .contains(&"uniqueness.no_open_duplicate".to_string()));
    let scan = t
        .app
        .customers()
        .scan_duplicates(&t.admin, None)
        .await
        .unwrap();
    assert_eq!(scan.new_groups, 1);
    for c in [&twin, &inconsistent] {
        assert!(failing(&t, c)
            .await
            .contains(&"uniqueness.no_open_duplicate".to_string()));
    }
    // Dismissing the group clears it in the same transaction.
    let groups = t
        .app
        .customers()
        .duplicate_groups(&t.admin, Default::default())
        .await
        .unwrap();
    let id = groups.items[0].id;
    t.app
        .customers()
        .dismiss_duplicate_group(
            &t.admin,
            id,
            custos_app::customers::review::DismissRequest {
                reason: Some("不同主体".into()),
            },
        )
        .await
        .unwrap();
    assert!(!failing(&t, &twin)
        .await
        .contains(&"uniqueness.no_open_duplicate".to_string()));
});

both!(writes_keep_the_score_current, |t| {
    let code = create(&t, &t.admin, bare("保持丙有限公司", 5)).await;
    let before = t
        .app
        .quality()
        .customer_quality(&t.admin, &code)
        .await
        .unwrap();
    let patch = CustomerPatch {
        version: 1,
        address: Some(Some("上海市徐汇区漕溪北路 1 号".into())),
        phone: Some(Some("021-64870000".into())),
        legal_representative: Some(Some("李四".into())),
        industry: Some(Some("C13".into())),
        ..Default::default()
    };
    t.app
        .customers()
        .update_customer(&t.admin, &code, patch)
        .await
        .unwrap();
    let after = t
        .app
        .quality()
        .customer_quality(&t.admin, &code)
        .await
        .unwrap();
    // Four recommended fields filled: 100 × 11 / 13 = 84.6; 0.3 × 84.6 + 70 = 95.4.
    assert_eq!(after.score, Some(95.4));
    assert!(after.score > before.score);

    // A merged customer is no longer assessed; its score row goes with the merge.
    let mut other = bare("保持丁有限公司", 6);
    other.override_duplicates = true;
    other.reason = Some("先录入，后合并".into());
    let other = create(&t, &t.admin, other).await;
    t.app
        .customers()
        .merge_customers(
            &t.admin,
            MergeRequest {
                survivor: code.clone(),
                merged: vec![other.clone()],
                fields: Default::default(),
                reason: Some("同一主体".into()),
            },
        )
        .await
        .unwrap();
    let merged = t.app.quality().customer_quality(&t.admin, &other).await;
    match merged {
        Ok(q) => assert!(!q.assessed),
        Err(AppError::NotFound { .. }) => {}
        Err(e) => panic!("{e}"),
    }
    let summary = t
        .app
        .quality()
        .quality_summary(&t.admin, None)
        .await
        .unwrap();
    assert_eq!(summary.customers, 1);
});

both!(summary_worklist_and_assignment_within_scope, |t| {
    let clerk = user(&t, "clerk1", "clerk", "own").await;
    let steward = user(&t, "steward1", "steward", "all").await;
    let query = user(&t, "query1", "query", "all").await;
    let mut mine = bare("范围戊有限公司", 7);
    mine.owner_id = Some(clerk.user_id);
    let mine = create(&t, &t.admin, mine).await;
    let full = NewCustomer {
        customer_type: "individual".into(),
        name: "王五".into(),
        mobile: Some("13912345679".into()),
        address: Some("上海市".into()),
        ..Default::default()
    };
    create(&t, &t.admin, full).await;

    // Whole database: the enterprise 86.1, the individual 100 → 93.05 → 93.1 (AVG rounds).
    let all = t
        .app
        .quality()
        .quality_summary(&steward, Some("customer_type"))
        .await
        .unwrap();
    assert_eq!(all.customers, 2);
    assert_eq!(all.average_score, 93.1);
    let completeness = &all.dimensions[0];
    assert_eq!(completeness.pass_rate, Some(50.0));
    let required = all
        .kpis
        .iter()
        .find(|k| k.key == "required_completeness")
        .unwrap();
    assert_eq!((required.value, required.passed), (100.0, true));
    assert_eq!(all.groups.len(), 2);
    let uscc_rule = all
        .rules
        .iter()
        .find(|r| r.key == "completeness.recommended.uscc")
        .unwrap();
    assert_eq!((uscc_rule.failing, uscc_rule.pass_rate), (1, 50.0));

    // A query user holds no quality permission.
    assert!(matches!(
        t.app.quality().quality_summary(&query, None).await,
        Err(AppError::Forbidden { .. })
    ));

    let page = t
        .app
        .quality()
        .quality_worklist(
            &steward,
            &WorklistQuery {
                dimension: Some("completeness".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].code, mine);
    let bad = t
        .app
        .quality()
        .quality_worklist(
            &steward,
            &WorklistQuery {
                dimension: Some("beauty".into()),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(bad, Err(AppError::Validation(f)) if f[0].field == "dimension"));

    let out = t
        .app
        .quality()
        .assign_quality_work(
            &steward,
            AssignInput {
                codes: vec![mine.clone()],
                assignee_id: clerk.user_id,
                note: Some("请补充统一社会信用代码".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(out.assigned, 1);
    let notes = t
        .app
        .applications()
        .notifications(&clerk, false)
        .await
        .unwrap();
    assert!(notes
        .iter()
        .any(|n| n.kind == "quality.assigned" && n.body.contains(&mine)));
    let audit = t
        .app
        .audit()
        .list_audit(
            &t.admin,
            AuditFilter {
                action: Some("quality.assign".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    let assigned = t
        .app
        .quality()
        .quality_worklist(
            &steward,
            &WorklistQuery {
                assignee_id: Some(clerk.user_id.to_string()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(assigned.items.len(), 1);

    // A clerk cannot assign; the trend needs an all-customers scope.
    assert!(matches!(
        t.app
            .quality()
            .assign_quality_work(
                &clerk,
                AssignInput {
                    codes: vec![mine.clone()],
                    assignee_id: clerk.user_id,
                    note: None,
                },
            )
            .await,
        Err(AppError::Forbidden { .. })
    ));
});

// A new installation has no scored customer yet: the summary answers, it does not fail.
both!(summary_of_an_empty_database, |t| {
    for by in [
        None,
        Some(""),
        Some("owner"),
        Some("department"),
        Some("customer_type"),
    ] {
        let s = t.app.quality().quality_summary(&t.admin, by).await.unwrap();
        assert_eq!(s.customers, 0);
        assert_eq!(s.average_score, 100.0);
        assert!(s.groups.is_empty());
    }
});

// Old or imported data with a status outside the list: reading the customer, alone or in
// a list, fails with an internal error (logged; callers see the generic message) that
// names the customer, the field and the value, so the row can be found and mended. A
// scale outside its list is kept as it is and read.
both!(a_stored_value_outside_its_list_is_named, |t| {
    let mut n = bare("状态损坏甲有限公司", 7);
    n.scale = Some("small".into());
    let code = create(&t, &t.admin, n).await;
    raw(
        &t,
        &format!("UPDATE customers SET data = REPLACE(data, '\"small\"', '\"huge\"') WHERE code = '{code}'"),
    )
    .await;
    let read = t.app.customers().get_customer(&t.admin, &code).await;
    assert_eq!(
        read.expect("a stored scale outside the list")
            .scale
            .as_deref(),
        Some("huge")
    );

    raw(
        &t,
        &format!("UPDATE customers SET status = 'gone' WHERE code = '{code}'"),
    )
    .await;
    let named = |e: AppError| match e {
        AppError::Internal(msg) => {
            assert!(
                msg.contains(&code) && msg.contains("'status'") && msg.contains("\"gone\""),
                "{msg}"
            );
            assert!(msg.contains("active"), "the values allowed: {msg}");
        }
        other => panic!("expected an internal error, got {other:?}"),
    };
    named(
        t.app
            .customers()
            .get_customer(&t.admin, &code)
            .await
            .expect_err("a stored status outside the list"),
    );
    named(
        t.app
            .customers()
            .customer_list(&t.admin, Default::default())
            .await
            .map(|_| ())
            .expect_err("a list holding it"),
    );
});
