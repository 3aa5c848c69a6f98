//! 审批流程 and 字段目录 over HTTP on both databases: a flow edited in the editor (steps
//! added and moved without saving, errors beside their inputs, saved as a new version),
//! the approver preview, a custom field added and shown in the customer form, the effect
//! of a stricter definition counted before saving, and 403 pages for a query user.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::applications::org;
use crate::backend_test;
use crate::helpers::*;

async fn page(v: &mut Visitor, path: &str, status: u16) -> String {
    let r = v.get(path).await;
    assert_eq!(r.status(), status, "{path}");
    r.text().await.unwrap()
}

backend_test!(edit_a_flow_and_preview_its_approvers, |t| {
    let o = org(&t).await;
    let mut admin = Visitor::new(&t);
    admin.login("admin", ADMIN_PASSWORD).await;
    let html = page(&mut admin, "/flows", 200).await;
    assert!(html.contains("href=\"/flows\""), "navigation entry");
    assert!(html.contains("id=\"flow-default.create\""), "{html}");
    let csrf = admin.csrf().await;

    // Adding a step re-renders the form with two steps and saves nothing.
    let base = [
        ("csrf", csrf.as_str()),
        ("key", "create-big"),
        ("kind", "create"),
        ("name", "大客户新建流程"),
        ("priority", "5"),
        ("conditions.customer_types", "enterprise"),
        ("steps[0].name", "部门负责人"),
        ("steps[0].approvers.type", "department_manager"),
        ("steps[0].mode", "any"),
    ];
    let mut form = base.to_vec();
    form.push(("op", "add"));
    let r = admin.post("/flows/new", &form).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"step-1\""), "a second step");
    assert!(html.contains("value=\"大客户新建流程\""), "values kept");
    let flows = body(t.get("/api/v1/flows", &o.admin).await, 200).await;
    assert!(!flows.to_string().contains("create-big"), "nothing saved");

    // A step whose role does not exist: the use case's message beside the step.
    let mut form = base.to_vec();
    form.extend([
        ("steps[1].name", "数据管理员"),
        ("steps[1].approvers.type", "role"),
        ("steps[1].approvers.role", "no_such_role"),
        ("op", "save"),
    ]);
    let r = admin.post("/flows/new", &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"step-1-approvers-error\""), "{html}");
    assert!(html.contains("no_such_role"));

    // Moving the second step up, then saving with a real role.
    let mut form = base.to_vec();
    form.extend([
        ("steps[1].name", "数据管理员"),
        ("steps[1].approvers.type", "role"),
        ("steps[1].approvers.role", "steward"),
        ("op", "up:1"),
    ]);
    let html = admin.post("/flows/new", &form).await.text().await.unwrap();
    let first = html.find("value=\"数据管理员\"").unwrap();
    let second = html.find("value=\"部门负责人\"").unwrap();
    assert!(first < second, "the steward step moved first");
    let mut form = base.to_vec();
    form.extend([
        ("steps[1].name", "数据管理员"),
        ("steps[1].approvers.type", "role"),
        ("steps[1].approvers.role", "steward"),
        ("op", "save"),
    ]);
    let r = admin.post("/flows/new", &form).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/flows/create-big?saved=1");
    let flows = body(t.get("/api/v1/flows", &o.admin).await, 200).await;
    let saved = flows
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "create-big")
        .unwrap()
        .clone();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["steps"][1]["approvers"]["role"], "steward");

    // Saving again from the editor makes version 2.
    let mut form = base.to_vec();
    form.retain(|(k, _)| *k != "key");
    form.extend([("steps[0].mode", "all"), ("op", "save")]);
    let r = admin.post("/flows/create-big", &form).await;
    assert_eq!(r.status(), 303);
    let html = page(&mut admin, "/flows/create-big?saved=1", 200).await;
    assert!(html.contains("id=\"flow-notice\""));
    assert!(html.contains(">v2<"), "{html}");

    // The preview: the clerk's enterprise application goes to this flow; its first step
    // to the clerk's department manager.
    let html = page(
        &mut admin,
        &format!(
            "/flows/create-big?applicant={}&customer_type=enterprise",
            o.clerk_id
        ),
        200,
    )
    .await;
    assert!(html.contains("id=\"preview-result\""), "{html}");
    assert!(!html.contains("id=\"preview-other\""), "this flow applies");
    let step0 = &html[html.find("id=\"preview-step-0\"").unwrap()..];
    let step0 = &step0[..step0.find("</tr>").unwrap()];
    assert!(step0.contains("manager"), "{step0}");
    // An individual's application would use the default flow: said so.
    let html = page(
        &mut admin,
        &format!(
            "/flows/create-big?applicant={}&customer_type=individual",
            o.clerk_id
        ),
        200,
    )
    .await;
    assert!(html.contains("id=\"preview-other\""), "{html}");
    // An unknown applicant is named.
    let html = page(&mut admin, "/flows/create-big?applicant=999999", 200).await;
    assert!(html.contains("id=\"preview-errors\""), "{html}");
    // The preview submitted nothing.
    let apps = body(t.get("/api/v1/inbox", &o.manager).await, 200).await;
    assert_eq!(apps["counts"]["pending"], 0);

    // Disabling: the list shows it as disabled.
    let r = admin
        .post("/flows/create-big/disable", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    let html = page(&mut admin, "/flows", 200).await;
    let row = &html[html.find("id=\"flow-create-big\"").unwrap()..];
    assert!(row[..row.find("</tr>").unwrap()].contains("已停用"));
    let r = admin.post("/flows/create-big/disable", &[]).await;
    assert_eq!(r.status(), 403, "no CSRF token");
    page(&mut admin, "/flows/no-such-flow", 404).await;
});

backend_test!(add_a_custom_field_and_count_the_effect_of_a_change, |t| {
    let o = org(&t).await;
    let mut admin = Visitor::new(&t);
    admin.login("admin", ADMIN_PASSWORD).await;
    let html = page(&mut admin, "/fields", 200).await;
    assert!(html.contains("id=\"field-uscc\""), "built-ins listed");
    let csrf = admin.csrf().await;

    // A select without allowed values: the use case's message beside the input.
    let form = [
        ("csrf", csrf.as_str()),
        ("key", "channel"),
        ("label_zh", "渠道"),
        ("label_en", "Channel"),
        ("type", "single_select"),
        ("allowed_values", ""),
        ("op", "save"),
    ];
    let r = admin.post("/fields/new", &form).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-allowed_values-error\""), "{html}");
    assert!(html.contains("value=\"渠道\""), "values kept");

    let mut form = form.to_vec();
    form.retain(|(k, _)| *k != "allowed_values");
    form.push(("allowed_values", "直销\n代理\n电商"));
    let r = admin.post("/fields/new", &form).await;
    assert_eq!(r.status(), 303, "nothing breaks: saved at once");
    assert_eq!(location(&r), "/fields?saved=channel");
    let html = page(&mut admin, "/fields", 200).await;
    assert!(html.contains("id=\"field-channel\""));
    // It is in the customer form as a select list.
    let html = page(&mut admin, "/customers/new", 200).await;
    assert!(html.contains("name=\"custom.channel\""), "{html}");
    assert!(html.contains("<option value=\"代理\""));

    // Two customers hold 代理, one holds 直销, one has none.
    for (name, ch) in [
        ("影响甲有限公司", Some("代理")),
        ("影响乙有限公司", Some("代理")),
        ("影响丙有限公司", Some("直销")),
        ("影响丁有限公司", None),
    ] {
        let mut c = crate::applications::new_customer(name);
        if let Some(ch) = ch {
            c["custom"] = json!({"channel": ch});
        }
        body(t.post("/api/v1/customers", Some(&o.admin), c).await, 201).await;
    }
    // 代理 no longer allowed and the field required for enterprises: 2 + 1 customers.
    let change = [
        ("csrf", csrf.as_str()),
        ("label_zh", "渠道"),
        ("label_en", "Channel"),
        ("type", "single_select"),
        ("allowed_values", "直销\n电商"),
        ("required_for", "enterprise"),
    ];
    let mut check = change.to_vec();
    check.push(("op", "check"));
    let r = admin.post("/fields/channel/edit", &check).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<strong id=\"effect-total\">3</strong>"),
        "{html}"
    );
    assert!(html.contains("<span id=\"effect-refused\">2</span>"));
    assert!(html.contains("<span class=\"effect-missing\">1</span>"));
    // Saving without the confirmation shows the effect and keeps the old definition.
    let mut save = change.to_vec();
    save.push(("op", "save"));
    let r = admin.post("/fields/channel/edit", &save).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let print = html
        .split("name=\"confirmed\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a confirmation naming the checked values")
        .to_string();
    let fields = body(t.get("/api/v1/fields", &o.admin).await, 200).await;
    let channel = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "channel")
        .unwrap()
        .clone();
    assert_eq!(channel["allowed_values"].as_array().unwrap().len(), 3);
    // A confirmation of other values (the form changed after the check) is checked
    // again, not saved.
    let mut changed: Vec<(&str, &str)> = save
        .iter()
        .map(|(k, v)| {
            (
                *k,
                if *k == "label_en" {
                    "Sales channel"
                } else {
                    *v
                },
            )
        })
        .collect();
    changed.push(("confirmed", print.as_str()));
    let r = admin.post("/fields/channel/edit", &changed).await;
    assert_eq!(
        r.status(),
        200,
        "changed values are shown with their effect"
    );
    // Confirmed for the values checked: saved.
    save.push(("confirmed", print.as_str()));
    let r = admin.post("/fields/channel/edit", &save).await;
    assert_eq!(r.status(), 303);
    let fields = body(t.get("/api/v1/fields", &o.admin).await, 200).await;
    let channel = fields
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "channel")
        .unwrap()
        .clone();
    assert_eq!(channel["required_for"], json!(["enterprise"]));
    // The form for a new field never replaces an existing one.
    let mut again = change.to_vec();
    again.push(("key", "channel"));
    again.push(("op", "save"));
    again.push(("confirmed", print.as_str()));
    let r = admin.post("/fields/new", &again).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("已存在"));
    // A built-in field has no edit page.
    page(&mut admin, "/fields/uscc/edit", 404).await;
});

backend_test!(a_query_user_gets_403_on_flows_and_fields, |t| {
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "reader",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut v = Visitor::new(&t);
    v.login("reader", USER_PASSWORD).await;
    for path in [
        "/flows",
        "/flows/new",
        "/flows/default.create",
        "/fields",
        "/fields/new",
        "/fields/channel/edit",
    ] {
        let html = page(&mut v, path, 403).await;
        assert!(html.contains("error-message"), "{path}");
    }
    let html = page(&mut v, "/", 200).await;
    assert!(!html.contains("href=\"/flows\""));
    assert!(!html.contains("href=\"/fields\""));
    let csrf = v.csrf().await;
    let r = v
        .post(
            "/fields/new",
            &[("csrf", csrf.as_str()), ("key", "x1"), ("type", "text")],
        )
        .await;
    assert_eq!(r.status(), 403);
    let r = v
        .post("/flows/default.create/disable", &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 403);
});

backend_test!(standard_fields_are_added_from_the_catalog_page, |t| {
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = page(&mut v, "/fields", 200).await;
    assert!(html.contains("id=\"add-standard\""), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");
    let r = v.post("/fields/standard", &[("csrf", csrf.as_str())]).await;
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).starts_with("/fields?standard=intent"),
        "{}",
        location(&r)
    );
    let html = page(&mut v, &location(&r), 200).await;
    assert!(html.contains("id=\"standard-added\""), "{html}");
    for key in [
        "intent",
        "product_needs",
        "credit_limit",
        "invoice_tax_number",
    ] {
        assert!(
            html.contains(&format!("id=\"field-{key}\"")),
            "{key}: {html}"
        );
    }
    // The customer form offers them.
    let form = page(&mut v, "/customers/new", 200).await;
    assert!(
        form.contains("开票抬头") && form.contains("意向程度"),
        "{form}"
    );
    // A second press adds nothing more.
    let r = v.post("/fields/standard", &[("csrf", csrf.as_str())]).await;
    assert_eq!(location(&r), "/fields?standard=");
});
