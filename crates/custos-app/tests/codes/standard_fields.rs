//! The standard fields: added once (a second call adds nothing), then validated on
//! customers like any catalog field — a wrong taxpayer number, an intent outside its list
//! and a negative credit limit refused naming their field, good values kept.

use super::*;

both!(standard_fields_are_added_once_and_validate_customers, |t| {
    let first = t.app.fields().add_standard_fields(&t.admin).await.unwrap();
    assert_eq!(first.added.len(), 10);
    assert!(first.already_defined.is_empty());
    let again = t.app.fields().add_standard_fields(&t.admin).await.unwrap();
    assert!(again.added.is_empty());
    assert_eq!(again.already_defined.len(), 10);
    t.app
        .demo()
        .ensure_default_code_rules(&t.admin)
        .await
        .unwrap();

    let mut bad = customer("enterprise", "南京紫金电子科技有限公司");
    bad.custom
        .insert("invoice_tax_number".into(), json!("91320100abc"));
    bad.custom.insert("intent".into(), json!("很高"));
    bad.custom.insert("credit_limit".into(), json!(-5));
    match t.app.customers().create_customer(&t.admin, bad).await {
        Err(AppError::Validation(f)) => {
            let mut fields: Vec<&str> = f.iter().map(|e| e.field.as_str()).collect();
            fields.sort_unstable();
            assert_eq!(
                fields,
                [
                    "custom.credit_limit",
                    "custom.intent",
                    "custom.invoice_tax_number"
                ]
            );
        }
        other => panic!("{other:?}"),
    }

    let mut good = customer("enterprise", "南京紫金电子科技有限公司");
    good.custom
        .insert("invoice_tax_number".into(), json!("91320100MA1X00000X"));
    good.custom.insert("intent".into(), json!("高"));
    good.custom
        .insert("product_needs".into(), json!(["云服务", "运维服务"]));
    good.custom.insert("credit_limit".into(), json!(500000));
    let v = t
        .app
        .customers()
        .create_customer(&t.admin, good)
        .await
        .unwrap();
    assert_eq!(v.custom["intent"], json!("高"));
    assert_eq!(v.custom["product_needs"], json!(["云服务", "运维服务"]));

    // Without field.manage the standard fields are not added.
    let query = t
        .app
        .org()
        .create_user(
            &t.admin,
            custos_app::org::NewUser {
                username: "fields_q".into(),
                password: "Otter-Basalt-Meridian-42".into(),
                display_name: None,
                department_id: None,
                email: None,
                roles: vec![custos_app::org::RoleAssignment {
                    role: "query".into(),
                    scope: "all".into(),
                    expires_at: None,
                }],
            },
        )
        .await
        .unwrap();
    let query = t
        .app
        .auth()
        .actor_for_username(&query.username, Context::new(Source::System))
        .await
        .unwrap();
    let e = t
        .app
        .fields()
        .add_standard_fields(&query)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
});
