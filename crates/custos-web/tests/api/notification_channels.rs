//! Group notification channels through the API and the delivery worker, against a local
//! HTTP receiver that keeps every request: DingTalk's signed URL, WeCom's and the
//! webhook's formats, the webhook's signature, kind and department filters, retry with
//! backoff and giving up, the test message, bad input and permissions, pausing and
//! resuming.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::applications::{id, new_customer, ok, org, submit};
use crate::backend_test;
use crate::helpers::{body, problem, problem_fields, TestApp};
use custos_app::channels::MAX_ATTEMPTS;
use custos_app::outbound::{Outbound, OutboundConfig};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Path and query.
    pub(crate) target: String,
    headers: Vec<(String, String)>,
    pub(crate) body: Value,
}

impl Hit {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!("http://x{}", self.target)).expect("target");
        url.query_pairs().into_owned().collect()
    }
}

/// A local HTTP receiver: answers scripted (status, body) pairs in order, then `fallback`.
pub(crate) struct Receiver {
    pub(crate) base: String,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<VecDeque<(u16, String)>>>,
}

impl Receiver {
    pub(crate) async fn start(fallback: (u16, &str)) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let hits = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::new()));
        let fallback = (fallback.0, fallback.1.to_string());
        let (h, sc) = (hits.clone(), script.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (h, sc, fb) = (h.clone(), sc.clone(), fallback.clone());
                tokio::spawn(async move {
                    let mut r = BufReader::new(sock);
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let target = line.split(' ').nth(1).unwrap_or("").to_string();
                    let mut headers = Vec::new();
                    let mut len = 0usize;
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let l = l.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                            headers.push((k.trim().to_string(), v.trim().to_string()));
                        }
                    }
                    let mut raw = vec![0u8; len];
                    if r.read_exact(&mut raw).await.is_err() {
                        return;
                    }
                    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                    h.lock().expect("hits").push(Hit {
                        target,
                        headers,
                        body,
                    });
                    let (status, text) = sc.lock().expect("script").pop_front().unwrap_or(fb);
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let mut sock = r.into_inner();
                    let _ = sock.write_all(answer.as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Receiver { base, hits, script }
    }

    pub(crate) fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("hits").clone()
    }

    fn hits_on(&self, path_start: &str) -> Vec<Hit> {
        self.hits()
            .into_iter()
            .filter(|h| h.target.starts_with(path_start))
            .collect()
    }
}

const ROBOT_OK: &str = r#"{"errcode":0,"errmsg":"ok"}"#;
const DING_SECRET: &str = "SEC0123456789abcdef0123456789";
const HOOK_SECRET: &str = "whsec-0123456789abcdef";

fn hmac_sha256(key: &str, data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn outbound() -> Outbound {
    Outbound::new(&OutboundConfig::default()).expect("outbound")
}

async fn add_channel(t: &TestApp, admin: &str, b: Value) -> i64 {
    id(&body(
        t.post("/api/v1/notification-channels", Some(admin), b)
            .await,
        201,
    )
    .await)
}

async fn department_of(t: &TestApp, admin: &str, user: i64) -> i64 {
    let u = body(t.get(&format!("/api/v1/users/{user}"), admin).await, 200).await;
    u["department_id"].as_i64().expect("department")
}

backend_test!(
    channels_get_signed_messages_of_their_kinds_and_departments,
    |t| {
        let o = org(&t).await;
        let sales = department_of(&t, &o.admin, o.manager_id).await;
        let hq = t.create_department(&o.admin, "总部", None).await;
        let finance = t.create_department(&o.admin, "财务部", None).await;
        let r = t
            .patch(
                &format!("/api/v1/departments/{sales}"),
                &o.admin,
                json!({"parent_id": hq}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let rx = Receiver::start((200, ROBOT_OK)).await;
        let base = &rx.base;
        // Tasks of 总部 and below (销售部 is under it), signed.
        let ding = add_channel(
            &t,
            &o.admin,
            json!({"name": "总部审批群", "provider": "dingtalk",
        "url": format!("{base}/robot/send?access_token=A"), "secret": DING_SECRET,
        "kinds": ["task_pending"], "departments": [hq]}),
        )
        .await;
        // Tasks of 财务部 only: none here.
        add_channel(
            &t,
            &o.admin,
            json!({"name": "财务群", "provider": "dingtalk",
        "url": format!("{base}/robot/send?access_token=B"),
        "kinds": ["task_pending"], "departments": [finance]}),
        )
        .await;
        // Decisions of every department.
        add_channel(
            &t,
            &o.admin,
            json!({"name": "企业微信群", "provider": "wecom",
        "url": format!("{base}/cgi-bin/webhook/send?key=K1"), "kinds": ["application_decided"]}),
        )
        .await;
        add_channel(
            &t,
            &o.admin,
            json!({"name": "OA", "provider": "webhook",
        "url": format!("{base}/hook"), "secret": HOOK_SECRET,
        "kinds": ["task_pending", "application_decided", "task_pending"]}),
        )
        .await;

        let a = submit(&t, &o.clerk, "create", new_customer("渠道通知有限公司")).await;
        ok(
            &t,
            &o.manager,
            id(&a),
            "return",
            json!({"comment": "电话 13800138000 有误"}),
        )
        .await;
        let now = custos_store::now_us();
        // Two servers at once: the leases let each delivery be posted exactly once.
        let (out1, out2) = (outbound(), outbound());
        let channels = t.app.channels();
        let (r1, r2) = tokio::join!(
            channels.deliver_channel_notifications(&out1, now),
            channels.deliver_channel_notifications(&out2, now)
        );
        let (r1, r2) = (r1.expect("deliver"), r2.expect("deliver"));
        assert_eq!((r1.sent + r2.sent, r1.retrying + r2.retrying), (4, 0));
        assert_eq!(rx.hits().len(), 4);
        let again = t
            .app
            .channels()
            .deliver_channel_notifications(&outbound(), now)
            .await
            .expect("deliver");
        assert!(again.is_empty(), "nothing is posted twice");
        let app_no = format!("#{}", id(&a));

        // DingTalk: one task, signed in the URL, title and number only.
        let ding_hits = rx.hits_on("/robot/send");
        assert_eq!(ding_hits.len(), 1, "{ding_hits:?}");
        let q = ding_hits[0].query();
        assert_eq!(q[0], ("access_token".to_string(), "A".to_string()));
        assert_eq!(q[1].0, "timestamp");
        let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(
            DING_SECRET,
            format!("{}\n{DING_SECRET}", q[1].1).as_bytes(),
        ));
        assert_eq!(q[2], ("sign".to_string(), expected));
        let msg = &ding_hits[0].body;
        assert_eq!(msg["msgtype"], "markdown");
        let text = msg["markdown"]["text"].as_str().expect("text");
        assert!(msg["markdown"]["title"]
            .as_str()
            .is_some_and(|s| s.contains("待审批")));
        assert!(text.contains(&app_no), "{text}");
        // WeCom: the decision, without the comment (a phone number) or names.
        let wecom = rx.hits_on("/cgi-bin/webhook/send");
        assert_eq!(wecom.len(), 1);
        let content = wecom[0].body["markdown"]["content"]
            .as_str()
            .expect("content");
        assert!(
            content.contains("退回") && content.contains(&app_no),
            "{content}"
        );
        for group in [text, content] {
            assert!(
                !group.contains("13800138000") && !group.contains("clerk"),
                "{group}"
            );
        }
        // Webhook: both, each signed over its exact body, with the recipient's department.
        let hooks = rx.hits_on("/hook");
        assert_eq!(hooks.len(), 2);
        let mut kinds: Vec<&str> = hooks
            .iter()
            .filter_map(|h| h.body["kind"].as_str())
            .collect();
        kinds.sort_unstable();
        assert_eq!(kinds, ["application_decided", "task_pending"]);
        for h in &hooks {
            let sig = h.header("x-custos-signature").expect("signature");
            let (t_part, v1) = sig.split_once(",v1=").expect("v1");
            let ts = t_part.strip_prefix("t=").expect("t");
            let raw = serde_json::to_vec(&h.body).expect("body");
            let mut data = format!("{ts}.").into_bytes();
            data.extend_from_slice(&raw);
            assert_eq!(v1, hex::encode(hmac_sha256(HOOK_SECRET, &data)), "{sig}");
            assert_eq!(h.body["department"]["name"], "销售部");
            assert_eq!(h.body["application_id"], id(&a));
        }
        assert!(hooks.iter().any(|h| h.body["body"]
            .as_str()
            .is_some_and(|b| b.contains("13800138000"))));

        // The list shows neither the token nor the secret, and counts deliveries.
        let v = body(
            t.get(&format!("/api/v1/notification-channels/{ding}"), &o.admin)
                .await,
            200,
        )
        .await;
        assert_eq!(v["url_masked"], format!("{base}/…"));
        assert_eq!(v["has_secret"], true);
        assert_eq!(v["deliveries"]["sent"], 1);
        let all = t.get("/api/v1/notification-channels", &o.admin).await;
        let text = all.text().await.expect("text");
        for hidden in ["access_token", "K1", DING_SECRET, HOOK_SECRET] {
            assert!(!text.contains(hidden), "{hidden} shown: {text}");
        }
        let kinds = &serde_json::from_str::<Value>(&text).expect("json")[3]["kinds"];
        assert_eq!(kinds, &json!(["task_pending", "application_decided"]));
    }
);

backend_test!(failed_deliveries_back_off_and_are_given_up, |t| {
    let o = org(&t).await;
    let rx = Receiver::start((200, r#"{"errcode":310000,"errmsg":"sign not match"}"#)).await;
    let ding = add_channel(
        &t,
        &o.admin,
        json!({"name": "坏签名", "provider": "dingtalk",
        "url": format!("{}/robot/send?access_token=T", rx.base), "kinds": ["task_pending"]}),
    )
    .await;
    let flaky = Receiver::start((204, "")).await;
    flaky
        .script
        .lock()
        .expect("script")
        .push_back((502, "bad gateway".into()));
    let hook = add_channel(
        &t,
        &o.admin,
        json!({"name": "偶发故障", "provider": "webhook",
        "url": format!("{}/hook", flaky.base), "kinds": ["task_pending"]}),
    )
    .await;
    submit(&t, &o.clerk, "create", new_customer("重试有限公司")).await;
    let out = outbound();
    let start = custos_store::now_us();
    let r = t
        .app
        .channels()
        .deliver_channel_notifications(&out, start)
        .await
        .expect("round");
    assert_eq!((r.sent, r.retrying, r.given_up), (0, 2, 0));
    // Not again before the backoff has passed.
    let r = t
        .app
        .channels()
        .deliver_channel_notifications(&out, start + 1_000_000)
        .await
        .expect("round");
    assert!(r.is_empty());
    let d = body(
        t.get(
            &format!("/api/v1/notification-channels/{ding}/deliveries"),
            &o.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d[0]["state"], "pending");
    assert_eq!(d[0]["attempts"], 1);
    assert!(
        d[0]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("310000")),
        "{d}"
    );
    // The flaky receiver takes the second attempt; the robot keeps refusing.
    let hour = 3_600_000_000_i64;
    let r = t
        .app
        .channels()
        .deliver_channel_notifications(&out, start + hour)
        .await
        .expect("round");
    assert_eq!((r.sent, r.retrying), (1, 1));
    assert_eq!(flaky.hits().len(), 2);
    for n in 3..=MAX_ATTEMPTS {
        let r = t
            .app
            .channels()
            .deliver_channel_notifications(&out, start + n * hour)
            .await
            .expect("round");
        let expected = if n == MAX_ATTEMPTS {
            (0, 0, 1)
        } else {
            (0, 1, 0)
        };
        assert_eq!((r.sent, r.retrying, r.given_up), expected, "attempt {n}");
    }
    let later = start + 100 * hour;
    assert!(t
        .app
        .channels()
        .deliver_channel_notifications(&out, later)
        .await
        .expect("round")
        .is_empty());
    assert_eq!(rx.hits().len() as i64, MAX_ATTEMPTS);
    let d = body(
        t.get(
            &format!("/api/v1/notification-channels/{ding}/deliveries"),
            &o.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(d[0]["state"], "failed");
    assert_eq!(d[0]["attempts"], MAX_ATTEMPTS);
    let v = body(
        t.get(&format!("/api/v1/notification-channels/{hook}"), &o.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(
        v["deliveries"],
        json!({"pending": 0, "sent": 1, "failed": 0, "cancelled": 0})
    );
    // Retention (30 days by default): nothing goes before; after it the finished
    // deliveries go, a pending one stays.
    submit(&t, &o.clerk, "create", new_customer("保留有限公司")).await;
    let day = 24 * hour;
    assert_eq!(
        t.app
            .channels()
            .prune_channel_deliveries(start + 29 * day)
            .await
            .expect("prune"),
        0
    );
    assert_eq!(
        t.app
            .channels()
            .prune_channel_deliveries(start + 31 * day)
            .await
            .expect("prune"),
        2
    );
    let counts = |id: i64| {
        let t = &t;
        let admin = &o.admin;
        async move {
            body(
                t.get(&format!("/api/v1/notification-channels/{id}"), admin)
                    .await,
                200,
            )
            .await["deliveries"]
                .clone()
        }
    };
    assert_eq!(
        counts(ding).await,
        json!({"pending": 1, "sent": 0, "failed": 0, "cancelled": 0})
    );
    assert_eq!(
        counts(hook).await,
        json!({"pending": 1, "sent": 0, "failed": 0, "cancelled": 0})
    );
});

backend_test!(test_message_bad_input_and_permissions, |t| {
    let o = org(&t).await;
    let rx = Receiver::start((200, ROBOT_OK)).await;
    let wecom = add_channel(
        &t,
        &o.admin,
        json!({"name": "测试群", "provider": "wecom",
        "url": format!("{}/cgi-bin/webhook/send?key=K", rx.base), "kinds": ["followup_due"]}),
    )
    .await;
    let v = body(
        t.post(
            &format!("/api/v1/notification-channels/{wecom}/test"),
            Some(&o.admin),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["status"], 200);
    let hits = rx.hits();
    assert_eq!(hits.len(), 1);
    assert!(hits[0].body["markdown"]["content"]
        .as_str()
        .is_some_and(|c| c.contains("通知渠道测试")));
    // A receiver that is down: 200 with ok false and the reason.
    let down = add_channel(
        &t,
        &o.admin,
        json!({"name": "关闭的", "provider": "webhook",
        "url": "http://127.0.0.1:1/hook", "kinds": ["task_pending"]}),
    )
    .await;
    let v = body(
        t.post(
            &format!("/api/v1/notification-channels/{down}/test"),
            Some(&o.admin),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["ok"], false);
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("connect")),
        "{v}"
    );

    // Bad input names the field.
    let good = json!({"name": "x", "provider": "webhook", "url": "https://example.com/h",
                      "kinds": ["task_pending"]});
    let cases: Vec<(Value, &str)> = vec![
        (json!({"url": "ftp://example.com/h"}), "url"),
        (json!({"url": "https://example.com/a\nb"}), "url"),
        (
            json!({"provider": "wecom", "url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}),
            "url",
        ),
        (
            json!({"provider": "dingtalk", "url": "https://oapi.dingtalk.com/robot/send?access_token="}),
            "url",
        ),
        (
            json!({"provider": "wecom", "url": "https://q.example/send?key=k", "secret": "0123456789abcdef"}),
            "secret",
        ),
        (json!({"secret": "short"}), "secret"),
        (json!({"secret": "has space 0123456789"}), "secret"),
        (json!({"kinds": []}), "kinds"),
        (json!({"departments": [987654]}), "departments"),
        (json!({"name": ""}), "name"),
        (json!({"name": "a\u{7}b"}), "name"),
    ];
    for (patch, field) in cases {
        let mut b = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            b[k] = v.clone();
        }
        let p = problem(
            t.post("/api/v1/notification-channels", Some(&o.admin), b.clone())
                .await,
            422,
        )
        .await;
        assert!(problem_fields(&p).contains(&field.to_string()), "{b} → {p}");
    }
    for (k, v) in [
        ("kinds", json!(["customer_merged"])),
        ("provider", json!("slack")),
    ] {
        let mut b = good.clone();
        b[k] = v;
        let p = problem(
            t.post("/api/v1/notification-channels", Some(&o.admin), b)
                .await,
            422,
        )
        .await;
        assert!(p.to_string().contains(k), "{p}");
    }
    let mut dup = good.clone();
    dup["name"] = json!("测试群");
    problem(
        t.post("/api/v1/notification-channels", Some(&o.admin), dup)
            .await,
        409,
    )
    .await;

    // Only holders of notifications.manage.
    for token in [&o.clerk, &o.manager, &o.steward] {
        problem(t.get("/api/v1/notification-channels", token).await, 403).await;
        problem(
            t.post("/api/v1/notification-channels", Some(token), good.clone())
                .await,
            403,
        )
        .await;
        problem(
            t.post(
                &format!("/api/v1/notification-channels/{wecom}/test"),
                Some(token),
                json!({}),
            )
            .await,
            403,
        )
        .await;
    }
    assert_eq!(rx.hits().len(), 1, "a refused test sends nothing");

    // Changes are checked like a new channel; the secret can be set and removed.
    let path = format!("/api/v1/notification-channels/{wecom}");
    let v = body(
        t.patch(
            &path,
            &o.admin,
            json!({"name": "改名群", "kinds": ["task_pending", "task_overdue"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["name"], "改名群");
    assert_eq!(v["kinds"], json!(["task_pending", "task_overdue"]));
    assert_eq!(v["url_masked"], format!("{}/…", rx.base));
    let p = problem(
        t.patch(&path, &o.admin, json!({"secret": "0123456789abcdef"}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["secret"]);
    let p = problem(
        t.patch(&path, &o.admin, json!({"url": "https://q.example/x"}))
            .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), ["url"]);
    problem(
        t.patch(&path, &o.admin, json!({"name": "关闭的"})).await,
        409,
    )
    .await;
    problem(
        t.patch(&path, &o.admin, json!({"provider": "webhook"}))
            .await,
        422,
    )
    .await;
    problem(t.patch(&path, &o.clerk, json!({"name": "x"})).await, 403).await;
    let down_path = format!("/api/v1/notification-channels/{down}");
    let v = body(
        t.patch(
            &down_path,
            &o.admin,
            json!({"secret": "0123456789abcdef-x"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(v["has_secret"], true);
    let v = body(
        t.patch(&down_path, &o.admin, json!({"secret": null})).await,
        200,
    )
    .await;
    assert_eq!(v["has_secret"], false);
    assert_eq!(v["kinds"], json!(["task_pending"]));
    let r = t
        .delete(&format!("/api/v1/notification-channels/{wecom}"), &o.admin)
        .await;
    assert_eq!(r.status(), 204);
    problem(
        t.get(&format!("/api/v1/notification-channels/{wecom}"), &o.admin)
            .await,
        404,
    )
    .await;
    let audit = body(
        t.get("/api/v1/audit?target_type=notification_channel", &o.admin)
            .await,
        200,
    )
    .await;
    let text = audit.to_string();
    for action in [
        "notification_channel.create",
        "notification_channel.test",
        "notification_channel.remove",
    ] {
        assert!(text.contains(action), "{action} audited");
    }
    assert!(!text.contains("key=K"), "the URL is not in the audit log");
});

backend_test!(
    a_paused_channel_gets_nothing_and_a_resumed_one_the_next,
    |t| {
        let o = org(&t).await;
        let rx = Receiver::start((204, "")).await;
        let paused = add_channel(
            &t,
            &o.admin,
            json!({"name": "暂停的", "provider": "webhook",
        "url": format!("{}/paused", rx.base), "kinds": ["task_pending"]}),
        )
        .await;
        let other = add_channel(
            &t,
            &o.admin,
            json!({"name": "照常的", "provider": "webhook",
        "url": format!("{}/other", rx.base), "kinds": ["task_pending"]}),
        )
        .await;
        let path = format!("/api/v1/notification-channels/{paused}");
        let deliveries = |id: i64| {
            let (t, admin) = (&t, &o.admin);
            async move {
                let url = format!("/api/v1/notification-channels/{id}/deliveries");
                body(t.get(&url, admin).await, 200).await
            }
        };
        let round = || async {
            t.app
                .channels()
                .deliver_channel_notifications(&outbound(), custos_store::now_us())
                .await
                .expect("round")
        };
        // Queued before the pause: cancelled by it, never sent.
        submit(&t, &o.clerk, "create", new_customer("暂停前有限公司")).await;
        // Only a holder of notifications.manage pauses.
        for token in [&o.clerk, &o.manager, &o.steward] {
            problem(t.patch(&path, token, json!({"active": false})).await, 403).await;
        }
        assert_eq!(deliveries(paused).await[0]["state"], "pending");
        let v = body(
            t.patch(&path, &o.admin, json!({"active": false})).await,
            200,
        )
        .await;
        assert_eq!(v["active"], false);
        assert_eq!(
            v["deliveries"],
            json!({"pending": 0, "sent": 0, "failed": 0, "cancelled": 1})
        );
        // Paused: nothing new is queued for it; the other channel goes on.
        submit(&t, &o.clerk, "create", new_customer("暂停中有限公司")).await;
        assert_eq!(deliveries(paused).await.as_array().map(Vec::len), Some(1));
        let r = round().await;
        assert_eq!((r.sent, r.retrying), (2, 0));
        assert!(
            rx.hits_on("/paused").is_empty(),
            "a paused channel gets nothing"
        );
        assert_eq!(rx.hits_on("/other").len(), 2);
        let d = deliveries(paused).await;
        assert_eq!(d[0]["state"], "cancelled");
        assert!(
            d[0]["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("paused")),
            "{d}"
        );
        // Pausing twice changes nothing; the settings were kept.
        let v = body(
            t.patch(&path, &o.admin, json!({"active": false})).await,
            200,
        )
        .await;
        assert_eq!(
            (v["name"].as_str(), v["active"].as_bool()),
            (Some("暂停的"), Some(false))
        );
        // Resumed: only what happens afterwards is sent.
        let v = body(t.patch(&path, &o.admin, json!({"active": true})).await, 200).await;
        assert_eq!(v["active"], true);
        assert!(round().await.is_empty(), "nothing from before the resume");
        let a = submit(&t, &o.clerk, "create", new_customer("恢复后有限公司")).await;
        let r = round().await;
        assert_eq!(r.sent, 2);
        let hits = rx.hits_on("/paused");
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].body["application_id"], id(&a));
        let v = body(t.get(&path, &o.admin).await, 200).await;
        assert_eq!(
            v["deliveries"],
            json!({"pending": 0, "sent": 1, "failed": 0, "cancelled": 1})
        );
        let all = body(t.get("/api/v1/notification-channels", &o.admin).await, 200).await;
        assert!(all
            .as_array()
            .is_some_and(|a| a.iter().all(|c| c["active"] == true)));
        assert_eq!(other, all[1]["id"].as_i64().expect("id"));
        // One audit entry per pause and resume (the repeated pause wrote none), none for
        // the refused ones.
        let audit = body(
            t.get("/api/v1/audit?target_type=notification_channel", &o.admin)
                .await,
            200,
        )
        .await;
        let text = audit.to_string();
        assert_eq!(
            text.matches("notification_channel.pause").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("notification_channel.resume").count(),
            1,
            "{text}"
        );
        assert!(!text.contains("notification_channel.update"), "{text}");
    }
);
