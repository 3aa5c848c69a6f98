//! Mappings saved by name: kept per user, replaced under the same name, audited; a
//! name is 1–64 characters.

use super::*;

both!(mappings_are_saved_by_name_and_read_back, |t| {
    let mut spec = MappingSpec::default();
    spec.columns.insert("公司全称".into(), "name".into());
    let before = audit_count(&t).await;
    t.app
        .imports()
        .save_import_mapping(&t.admin, " 旧CRM ", spec.clone())
        .await
        .unwrap();
    spec.defaults.insert("source".into(), "历史数据迁移".into());
    t.app
        .imports()
        .save_import_mapping(&t.admin, "旧CRM", spec)
        .await
        .unwrap();
    assert_eq!(audit_count(&t).await, before + 2);
    assert_eq!(
        t.app
            .imports()
            .import_mapping_names(&t.admin)
            .await
            .unwrap(),
        ["旧CRM"]
    );
    let got = t
        .app
        .imports()
        .saved_import_mapping(&t.admin, "旧CRM")
        .await
        .unwrap();
    assert_eq!(
        got.columns.get("公司全称").map(String::as_str),
        Some("name")
    );
    assert_eq!(
        got.defaults.get("source").map(String::as_str),
        Some("历史数据迁移"),
        "saving again under the name replaces it"
    );
    for bad in ["", "   ", &"长".repeat(65)] {
        let err = t
            .app
            .imports()
            .save_import_mapping(&t.admin, bad, MappingSpec::default())
            .await
            .unwrap_err();
        assert_eq!(file_error(Err(err)).0, "mapping_name", "{bad:?}");
    }
    let err = t
        .app
        .imports()
        .saved_import_mapping(&t.admin, "无此映射")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err:?}");
});
