//! The duplicate check on the creation path: changes made by another process, demo data,
//! candidates read ahead for a batch.

use super::*;

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
