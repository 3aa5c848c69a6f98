//! Input refused by the use cases themselves, without the web layer's guard.

use super::*;

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
