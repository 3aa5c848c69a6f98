use serde_json::json;

use crate::backend_test;
use crate::helpers::*;

backend_test!(login_ok_and_me, |t| {
    let token = t.admin_token().await;
    let me: serde_json::Value = t.get("/api/v1/me", &token).await.json().await.unwrap();
    assert_eq!(me["username"], "admin");
});

backend_test!(wrong_password_is_401_problem, |t| {
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": "wrong-password"}),
        )
        .await;
    let p = problem(r, 401).await;
    assert_eq!(p["code"], "auth.invalid_credentials");
    assert_eq!(p["title"], "身份验证失败");
});
