//! Code rules and code issuing through the use cases, on SQLite and (when
//! CUSTOS_TEST_PG_URL is set) PostgreSQL.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use custos_app::codes::{AppliesTo, NewCodeRule, SampleCustomer};
use custos_app::customers::NewCustomer;
use custos_app::{Actor, App, AppConfig, AppError, Backend, Context, FaultAfterDraw, Source};
use custos_core::code_rule::Segment;
use custos_store::testing::TestDb;
use serde_json::json;

struct T {
    app: App,
    admin: Actor,
    db: TestDb,
}

async fn setup(backend: Backend, config: AppConfig) -> Option<T> {
    let db = TestDb::new(backend).await.expect("test db")?;
    let app = App::from_db(db.db.clone(), config);
    app.org().ensure_builtin_roles().await.expect("roles");
    app.auth()
        .ensure_admin(Some("Quokka-Saffron-Lattice-19".into()))
        .await
        .expect("admin");
    let admin = app
        .auth()
        .actor_for_username("admin", Context::new(Source::System))
        .await
        .expect("admin actor");
    Some(T { app, admin, db })
}

macro_rules! both {
    ($name:ident, |$t:ident| $body:block) => {
        both!($name, AppConfig::default(), |$t| $body);
    };
    ($name:ident, $config:expr, |$t:ident| $body:block) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $t = setup(Backend::Sqlite, $config).await.expect("sqlite");
                $body
                $t.db.cleanup().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($t) = setup(Backend::Postgres, $config).await else {
                    eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
                    return;
                };
                $body
                $t.db.cleanup().await;
            }
        }
    };
}

fn segments(v: serde_json::Value) -> Vec<Segment> {
    serde_json::from_value(v).expect("segments")
}

async fn publish(t: &T, key: &str, types: &[&str], segs: serde_json::Value) {
    t.app
        .codes()
        .create_code_rule(
            &t.admin,
            NewCodeRule {
                key: key.into(),
                name: format!("规则 {key}"),
                applies_to: AppliesTo {
                    customer_types: types.iter().map(|s| s.to_string()).collect(),
                    region_prefixes: vec![],
                },
                segments: segments(segs),
            },
        )
        .await
        .expect("create rule");
    t.app
        .codes()
        .publish_code_rule(&t.admin, key)
        .await
        .expect("publish");
}

fn customer(ty: &str, name: &str) -> NewCustomer {
    NewCustomer {
        customer_type: ty.into(),
        name: name.into(),
        // Individuals need an ID number or a mobile.
        mobile: (ty == "individual").then(|| "13800138000".to_string()),
        ..Default::default()
    }
}

async fn create(t: &T, ty: &str, name: &str) -> String {
    t.app
        .customers()
        .create_customer(&t.admin, customer(ty, name))
        .await
        .expect("create customer")
        .code
}

/// The newest `limit` audit entries of `action`.
async fn audit_of(t: &T, action: &str, limit: i64) -> Vec<custos_app::audit::AuditView> {
    t.app
        .audit()
        .list_audit(
            &t.admin,
            custos_app::AuditFilter {
                action: Some(action.into()),
                limit,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

fn today_yyyymmdd() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y%m%d")
        .to_string()
}

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

/// 64 concurrent tasks × 200 creations on one scope: 12,800 distinct codes, exactly
/// 1..=12,800, and the audit chain intact.
async fn hammer(t: &T, tasks: usize, per_task: usize) -> (usize, u64) {
    publish(
        t,
        "load",
        &[],
        json!([{"kind":"constant","value":"L"},{"kind":"sequence","width":6}]),
    )
    .await;
    let failures = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for w in 0..tasks {
        let app = t.app.clone();
        let actor = t.admin.clone();
        let failures = failures.clone();
        handles.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for i in 0..per_task {
                match app
                    .customers()
                    .create_customer(
                        &actor,
                        customer("enterprise", &format!("并发客户{w:03}{i:05}")),
                    )
                    .await
                {
                    Ok(c) => codes.push(c.code),
                    Err(AppError::Internal(msg)) if msg.starts_with("injected") => {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => panic!("unexpected error: {e:?}"),
                }
            }
            codes
        }));
    }
    let mut all = BTreeSet::new();
    let mut total = 0;
    for h in handles {
        for c in h.await.unwrap() {
            total += 1;
            assert!(all.insert(c.clone()), "code {c} issued twice");
        }
    }
    assert_eq!(all.len(), total);
    let mut tx = t.app.db.begin_read().await.unwrap();
    let seqs = tx.scope_sequences("load", "L|").await.unwrap();
    tx.rollback().await.unwrap();
    let expected: Vec<i64> = (1..=total as i64).collect();
    assert_eq!(seqs, expected, "sequence has a gap or a duplicate");
    let expected_codes: BTreeSet<String> = (1..=total).map(|n| format!("L{n:06}")).collect();
    assert_eq!(all, expected_codes);
    assert!(matches!(
        t.app.audit().verify_audit().await.unwrap(),
        custos_app::ChainReport::Ok { .. }
    ));
    (total, failures.load(Ordering::Relaxed))
}

fn load_size() -> (usize, usize) {
    // Full size by default; CUSTOS_TEST_LIGHT=1 shrinks it for quick local runs.
    if std::env::var("CUSTOS_TEST_LIGHT").is_ok() {
        (16, 25)
    } else {
        (64, 200)
    }
}

both!(concurrent_creations_are_gapless_and_unique, |t| {
    let (tasks, per) = load_size();
    let (total, _) = hammer(&t, tasks, per).await;
    assert_eq!(total, tasks * per);
});

fn failing_every_tenth() -> AppConfig {
    let n = Arc::new(AtomicU64::new(0));
    AppConfig {
        fault_after_code_draw: Some(FaultAfterDraw(Arc::new(move |_code: &str| {
            if n.fetch_add(1, Ordering::Relaxed) % 10 == 9 {
                Err("injected failure after the code was drawn".to_string())
            } else {
                Ok(())
            }
        }))),
        ..AppConfig::default()
    }
}

both!(
    rolled_back_creations_leave_no_gap,
    failing_every_tenth(),
    |t| {
        let (tasks, per) = load_size();
        let (total, failed) = hammer(&t, tasks, per).await;
        assert_eq!(total as u64 + failed, (tasks * per) as u64);
        // Every tenth *call* fails; a batch whose jobs first ran without savepoints
        // runs again after a failure, so slightly fewer than a tenth of the creations
        // end up failed.
        assert!(
            failed >= (tasks * per / 20) as u64,
            "failures injected: {failed}"
        );
    }
);

// The duplicate check keeps prepared copies of customers it has met (keyed by row
// version). A customer changed through another server process must be compared as it is
// now: here the candidate is still found through its unchanged phone, and its name must
// be the new one.
both!(duplicate_check_sees_changes_made_by_another_process, |t| {
    t.app
        .demo()
        .ensure_default_code_rules(&t.admin)
        .await
        .expect("rules");
    let other = App::from_db(t.db.db.clone(), (*t.app.config).clone());
    let old_name = "华东精密机械制造有限公司";
    let created = t
        .app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: old_name.into(),
                phone: Some("021-55551234".into()),
                region_code: Some("310115".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create");
    let draft = || NewCustomer {
        customer_type: "enterprise".into(),
        name: old_name.into(),
        phone: Some("021-55551234".into()),
        ..Default::default()
    };
    // The name evidence of the created customer, if it is a candidate at all.
    let name_kind = |r: &custos_app::duplicates::DuplicateReport| {
        r.candidates
            .iter()
            .find(|c| c.code == created.code)
            .and_then(|c| c.evidence.iter().find(|e| e.field == "name"))
            .map(|e| e.kind.clone())
    };
    let before = t
        .app
        .customers()
        .check_duplicates(&t.admin, draft())
        .await
        .expect("check");
    assert_eq!(before.verdict, "definite", "{before:?}");
    assert_eq!(name_kind(&before).as_deref(), Some("same"), "{before:?}");

    let patch: custos_app::customers::CustomerPatch = serde_json::from_value(json!({
        "version": created.version,
        "name": "西部新材料股份有限公司",
        "reason": "更名",
    }))
    .expect("patch");
    other
        .customers()
        .update_customer(&t.admin, &created.code, patch)
        .await
        .expect("update through the other process");

    let after = t
        .app
        .customers()
        .check_duplicates(&t.admin, draft())
        .await
        .expect("check");
    // The rename made by the other process is seen: the customer now has its new name,
    // and its old one is compared as the former name (曾用名) that a rename keeps.
    let renamed = after
        .candidates
        .iter()
        .find(|c| c.code == created.code)
        .expect("still a candidate under its former name");
    assert_eq!(renamed.name, "西部新材料股份有限公司", "{after:?}");
    let name = renamed.evidence.iter().find(|e| e.field == "name");
    assert!(
        name.is_some_and(|e| e.detail_zh.contains("曾用名")),
        "{after:?}"
    );
});

// Demo data goes through the real creation path, duplicate check included: generated
// companies must not collide with each other (a collision refuses the whole batch).
both!(demo_customers_pass_the_duplicate_check, |t| {
    let n = t
        .app
        .demo()
        .add_demo_customers(&t.admin, 2500, 1, &[], |_| {})
        .await
        .expect("demo customers");
    assert_eq!(n, 2500);
    // Five batches, each generated while the one before was written: all of them land.
    let stats = t
        .app
        .customers()
        .customer_stats(&t.admin)
        .await
        .expect("stats");
    assert_eq!(stats.total, 2500);
});

// A transaction that draws many codes checks the next ones in the registry ahead of time.
// A code assigned by hand in the same transaction, inside that look-ahead, must still be
// skipped by the sequence: here it is number 7, assigned after numbers 1–4 were drawn.
both!(manual_code_inside_the_look_ahead_is_skipped, |t| {
    publish(
        &t,
        "ahead",
        &[],
        json!([{"kind":"constant","value":"A"},{"kind":"sequence","width":4},{"kind":"check","algorithm":"mod37-2"}]),
    )
    .await;
    let preview = t
        .app
        .codes()
        .preview_code_rule(
            &t.admin,
            "ahead",
            SampleCustomer {
                customer_type: "enterprise".into(),
                count: Some(9),
                ..Default::default()
            },
        )
        .await
        .expect("preview");
    let names = [
        "华北重工",
        "江南纺织",
        "岭南食品",
        "西域矿业",
        "东海渔业",
        "中原粮油",
        "塞北牧业",
        "天府茶业",
        "湘江电力",
    ];
    let mut inputs: Vec<NewCustomer> = names
        .iter()
        .map(|n| customer("enterprise", &format!("{n}有限公司")))
        .collect();
    inputs[4].code = Some(preview.codes[6].clone());
    inputs[4].reason = Some("迁移历史编码".into());
    let codes = t
        .app
        .customers()
        .create_customers(&t.admin, inputs)
        .await
        .expect("one transaction");
    let p = &preview.codes;
    let expected = [
        &p[0], &p[1], &p[2], &p[3], &p[6], &p[4], &p[5], &p[7], &p[8],
    ];
    assert_eq!(codes.iter().collect::<Vec<_>>(), expected);
    let mut tx = t.app.db.begin_read().await.expect("read");
    assert_eq!(
        tx.scope_sequences("ahead", "A|").await.expect("seqs"),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9]
    );
    tx.rollback().await.expect("rollback");
});

// What a write transaction keeps of the audit head and of the sequences it drew goes
// back with a rollback to a savepoint, so the numbers and chain places drawn there are
// drawn again, and the counters drawn in memory reach the database at the commit.
both!(
    savepoint_rollback_restores_drawn_numbers_and_chain_head,
    |t| {
        let entry = |n: i64| custos_store::AuditRecord {
            at: n,
            actor_id: None,
            actor_name: "test".into(),
            source: "system".into(),
            action: "test.entry".into(),
            target_type: "test".into(),
            target_id: n.to_string(),
            before: None,
            after: None,
            reason: None,
            request_id: None,
            ip: None,
            api_key: None,
        };
        let mut tx = t.app.db.begin().await.expect("begin");
        tx.lock_audit_head().await.expect("lock");
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 1);
        let first = tx.append_audit(&entry(1)).await.unwrap();
        tx.savepoint().await.unwrap();
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 2);
        assert_eq!(tx.draw_sequence("sp", "y", 1).await.unwrap(), 1);
        assert_eq!(tx.append_audit(&entry(2)).await.unwrap(), first + 1);
        tx.rollback_to_savepoint().await.unwrap();
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 2);
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 3);
        assert_eq!(tx.append_audit(&entry(3)).await.unwrap(), first + 1);
        tx.savepoint().await.unwrap();
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 4);
        tx.release_savepoint().await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = t.app.db.begin().await.expect("begin");
        assert_eq!(tx.peek_sequence("sp", "x").await.unwrap(), Some(5));
        assert_eq!(tx.peek_sequence("sp", "y").await.unwrap(), None);
        assert_eq!(tx.draw_sequence("sp", "x", 1).await.unwrap(), 5);
        assert_eq!(tx.append_audit(&entry(4)).await.unwrap(), first + 2);
        tx.commit().await.unwrap();
        assert!(matches!(
            t.app.audit().verify_audit().await.unwrap(),
            custos_app::ChainReport::Ok { .. }
        ));
    }
);

// A batch of creations reads its duplicate candidates ahead in one go, and still finds
// what one-by-one checks find: customers already stored — here beyond the cap of
// candidates per key, 70 customers sharing a name prefix — and a customer created
// earlier in the same batch. (Debug builds also compare every answer from the
// read-ahead with the database's.)
both!(a_batch_finds_duplicates_created_earlier_in_it, |t| {
    publish(
        &t,
        "dup",
        &[],
        json!([{"kind":"constant","value":"D"},{"kind":"sequence","width":5}]),
    )
    .await;
    let stored: Vec<NewCustomer> = (0..70)
        .map(|i| customer("enterprise", &format!("星河{}贸易有限公司", 1000 + i * 7)))
        .collect();
    t.app
        .customers()
        .create_customers(&t.admin, stored)
        .await
        .unwrap();
    let first = customer("enterprise", "北京启明测算科技有限公司");
    let mut again = customer("enterprise", "启明测算科技（北京）有限公司");
    again.override_duplicates = true;
    again.reason = Some("同名不同主体，已核实".into());
    let mut near_stored = customer("enterprise", "星河1063贸易有限公司");
    near_stored.override_duplicates = true;
    near_stored.reason = Some("已核实".into());
    let batch = vec![
        customer("enterprise", "星河北辰物流有限公司"),
        first,
        again,
        near_stored,
    ];
    let codes = t
        .app
        .customers()
        .create_customers(&t.admin, batch)
        .await
        .unwrap();
    let created = audit_of(&t, "customer.create", 4).await;
    let overridden = |code: &str| {
        let e = created.iter().find(|e| e.target_id == code).unwrap();
        e.after.as_ref().unwrap()["duplicates_overridden"] == json!(true)
    };
    assert!(!overridden(&codes[0]));
    assert!(!overridden(&codes[1]));
    // Found its batch-mate (same name after the region prefix moved) ...
    assert!(overridden(&codes[2]), "batch-mate not found");
    // ... and a stored customer among 70 sharing its prefix.
    assert!(overridden(&codes[3]), "stored customer not found");
});

/// The field names of a validation error.
fn refused_fields(e: AppError) -> Vec<String> {
    match e {
        AppError::Validation(fs) => fs.into_iter().map(|f| f.field).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// The CLI, the importer and programs call the use cases directly, without the web
// layer's guard: each refuses control characters itself (PostgreSQL would answer a NUL
// with an error).
both!(
    use_cases_refuse_control_characters_without_the_web_layer,
    |t| {
        let user = custos_app::org::NewUser {
            username: "cli\u{0}user".into(),
            password: "Velvet-Orbit-Canyon-77".into(),
            ..Default::default()
        };
        let e = t.app.org().create_user(&t.admin, user).await.unwrap_err();
        assert_eq!(refused_fields(e), ["username"]);
        // Logging in is refused by the use case too, before anything is audited.
        let ctx = custos_app::Context::new(custos_app::Source::Api);
        let e = t
            .app
            .auth()
            .login("ad\u{0}min", "whatever", &ctx)
            .await
            .unwrap_err();
        assert_eq!(refused_fields(e), ["username"]);
        let user = custos_app::org::NewUser {
            username: "cliuser".into(),
            password: "Velvet-Orbit-Canyon-77".into(),
            roles: vec![custos_app::org::RoleAssignment {
                role: "clerk\u{0}".into(),
                scope: "own".into(),
                expires_at: None,
            }],
            ..Default::default()
        };
        let e = t.app.org().create_user(&t.admin, user).await.unwrap_err();
        assert_eq!(refused_fields(e), ["roles[0].role"]);

        let q = custos_app::search::CustomerQuery {
            name: Some("甲\u{0}".into()),
            custom: vec![("k".into(), "\u{1b}[2J".into())],
            ..Default::default()
        };
        let e = t
            .app
            .customers()
            .search_customers(&t.admin, q)
            .await
            .unwrap_err();
        assert_eq!(refused_fields(e), ["name", "custom.k"]);

        let rule = NewCodeRule {
            key: "r".into(),
            name: "规则".into(),
            applies_to: AppliesTo::default(),
            segments: segments(json!([{"kind": "constant", "value": "C\u{0}"}])),
        };
        let e = t
            .app
            .codes()
            .create_code_rule(&t.admin, rule)
            .await
            .unwrap_err();
        assert_eq!(refused_fields(e), ["segments[0].value"]);

        let e = custos_app::import::MappingSpec::parse("[columns]\n\"名称\" = \"name\\u0000\"\n")
            .unwrap_err();
        assert_eq!(refused_fields(e), ["mapping.columns.名称"]);

        let c = NewCustomer {
            customer_type: "enterprise".into(),
            name: "甲\u{202E}乙".into(),
            tags: vec!["ok".into(), "b\u{7}".into()],
            remarks: Some("两行\n备注".into()),
            ..Default::default()
        };
        let e = t
            .app
            .customers()
            .create_customer(&t.admin, c)
            .await
            .unwrap_err();
        assert_eq!(refused_fields(e), ["name", "tags[1]"]);
    }
);

#[path = "codes/designer.rs"]
mod designer;
#[path = "codes/notices.rs"]
mod notices;
#[path = "codes/restore_hold.rs"]
mod restore_hold;
#[path = "codes/standard_fields.rs"]
mod standard_fields;
#[path = "codes/usage.rs"]
mod usage;
