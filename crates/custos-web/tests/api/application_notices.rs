//! Notices of the approval flow through the HTTP API: e-mails in Chinese through an SMTP
//! sink, any notification channel, one reminder per period for overdue tasks.

use serde_json::json;

use crate::applications::{id, new_customer, ok, org, submit};
use crate::backend_test;
use crate::helpers::body;
/// A local SMTP sink: accepts every message and keeps (recipient, raw message).
async fn smtp_sink() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind sink");
    let port = listener.local_addr().expect("addr").port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = got.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let _ = w.write_all(b"220 sink ready\r\n").await;
                let mut rcpt = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.trim_end().to_string();
                    let upper = cmd.to_ascii_uppercase();
                    if upper.starts_with("EHLO") {
                        let _ = w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await;
                    } else if upper.starts_with("RCPT TO:") {
                        rcpt = cmd[8..].trim_matches(|c| c == '<' || c == '>').to_string();
                        let _ = w.write_all(b"250 ok\r\n").await;
                    } else if upper == "DATA" {
                        let _ = w.write_all(b"354 go on\r\n").await;
                        let mut msg = String::new();
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return;
                            }
                            if l == ".\r\n" {
                                break;
                            }
                            msg.push_str(&l);
                        }
                        store.lock().expect("sink lock").push((rcpt.clone(), msg));
                        let _ = w.write_all(b"250 queued\r\n").await;
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else {
                        let _ = w.write_all(b"250 ok\r\n").await;
                    }
                }
            });
        }
    });
    (port, got)
}

/// Decode the subject and the body of a message the sink received.
fn decode_mail(raw: &str) -> (String, String) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (head, body) = raw.split_once("\r\n\r\n").expect("headers and body");
    let subject = head
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .expect("subject");
    let subject = match subject
        .strip_prefix("=?UTF-8?B?")
        .and_then(|s| s.strip_suffix("?="))
    {
        Some(enc) => String::from_utf8(b64.decode(enc).expect("b64")).expect("utf8"),
        None => subject.to_string(),
    };
    let body: String = body.lines().collect();
    let body = String::from_utf8(b64.decode(body.trim()).expect("b64 body")).expect("utf8");
    (subject, body)
}

backend_test!(emails_reach_smtp_sink_in_chinese, |t| {
    let o = org(&t).await;
    for (user, mail) in [
        (o.manager_id, "manager@example.cn"),
        (o.clerk_id, "clerk@example.cn"),
    ] {
        let r = t
            .patch(
                &format!("/api/v1/users/{user}"),
                &o.admin,
                json!({"email": mail}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let (port, got) = smtp_sink().await;
    let cfg = custos_app::mail::SmtpConfig::new("127.0.0.1", port, "custos@example.cn");
    let a = submit(&t, &o.clerk, "create", new_customer("邮件通知有限公司")).await;
    let sent = t
        .app
        .channels()
        .send_notification_emails(&cfg)
        .await
        .expect("send");
    assert_eq!(sent, 1);
    // Nothing is sent twice.
    assert_eq!(
        t.app
            .channels()
            .send_notification_emails(&cfg)
            .await
            .expect("send"),
        0
    );
    ok(
        &t,
        &o.manager,
        id(&a),
        "return",
        json!({"comment": "请补充地址"}),
    )
    .await;
    t.app
        .channels()
        .send_notification_emails(&cfg)
        .await
        .expect("send");
    let mails: Vec<(String, String, String)> = got
        .lock()
        .expect("lock")
        .iter()
        .map(|(to, raw)| {
            let (s, b) = decode_mail(raw);
            (to.clone(), s, b)
        })
        .collect();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert_eq!(mails[0].0, "manager@example.cn");
    assert_eq!(
        mails[0].1,
        format!("【custos】待审批：新客户编码申请 #{}", id(&a))
    );
    assert!(
        mails[0].2.contains("等待您在步骤“部门负责人审核”审批"),
        "{}",
        mails[0].2
    );
    assert_eq!(mails[1].0, "clerk@example.cn");
    assert!(mails[1].1.contains("申请被退回修改"), "{}", mails[1].1);
    assert!(mails[1].2.contains("请补充地址"), "{}", mails[1].2);
    // A relay that is down: the e-mail waits for a later attempt, approvals go on.
    let down = custos_app::mail::SmtpConfig::new("127.0.0.1", 1, "custos@example.cn");
    ok(&t, &o.clerk, id(&a), "resubmit", json!({})).await;
    assert!(t
        .app
        .channels()
        .send_notification_emails(&down)
        .await
        .is_err());
});

/// A channel beside SMTP: keeps what it is given, or fails while `down` is set.
struct Recorder {
    sent: std::sync::Mutex<Vec<custos_app::notify::Mail>>,
    down: std::sync::atomic::AtomicBool,
}

impl custos_app::notify::Notifier for Recorder {
    fn channel(&self) -> &'static str {
        "recorder"
    }

    fn max_attempts(&self) -> i64 {
        3
    }

    fn deliver<'a>(
        &'a self,
        messages: &'a [custos_app::notify::Mail],
    ) -> custos_app::notify::Delivery<'a> {
        Box::pin(async move {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(custos_app::AppError::Internal("recorder down".into()));
            }
            self.sent.lock().expect("lock").extend_from_slice(messages);
            Ok(())
        })
    }
}

backend_test!(notifications_go_through_any_channel, |t| {
    let o = org(&t).await;
    let r = t
        .patch(
            &format!("/api/v1/users/{}", o.manager_id),
            &o.admin,
            json!({"email": "manager@example.cn"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let channel = Recorder {
        sent: Default::default(),
        down: true.into(),
    };
    let a = submit(&t, &o.clerk, "create", new_customer("渠道通知有限公司")).await;
    // A channel that is down: the notification stays leased to this attempt, so an
    // immediate second round neither delivers nor sends it twice.
    assert!(t
        .app
        .channels()
        .send_notification_emails(&channel)
        .await
        .is_err());
    assert_eq!(
        t.app
            .channels()
            .send_notification_emails(&channel)
            .await
            .expect("send"),
        0
    );
    assert!(channel.sent.lock().expect("lock").is_empty());
    // A working channel gets the message the SMTP relay would.
    let up = Recorder {
        sent: Default::default(),
        down: false.into(),
    };
    ok(
        &t,
        &o.manager,
        id(&a),
        "return",
        json!({"comment": "请补充地址"}),
    )
    .await;
    assert_eq!(
        t.app
            .channels()
            .send_notification_emails(&up)
            .await
            .expect("send"),
        0
    );
    let r = t
        .patch(
            &format!("/api/v1/users/{}", o.clerk_id),
            &o.admin,
            json!({"email": "clerk@example.cn"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        t.app
            .channels()
            .send_notification_emails(&up)
            .await
            .expect("send"),
        1
    );
    let sent = up.sent.lock().expect("lock").clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "clerk@example.cn");
    assert!(
        sent[0].subject.starts_with("【custos】"),
        "{}",
        sent[0].subject
    );
    assert!(sent[0].body.contains("请补充地址"), "{}", sent[0].body);
});

backend_test!(overdue_tasks_get_one_reminder_per_period, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("催办测试有限公司")).await;
    let period = std::time::Duration::from_secs(1);
    assert_eq!(
        t.app
            .applications()
            .remind_overdue_tasks(period)
            .await
            .expect("remind"),
        0
    );
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        t.app
            .applications()
            .remind_overdue_tasks(period)
            .await
            .expect("remind"),
        1
    );
    assert_eq!(
        t.app
            .applications()
            .remind_overdue_tasks(period)
            .await
            .expect("remind"),
        0
    );
    let notes = body(t.get("/api/v1/notifications", &o.manager).await, 200).await;
    let reminder = notes
        .as_array()
        .expect("list")
        .iter()
        .find(|n| n["kind"] == "reminder")
        .expect("reminder");
    assert_eq!(reminder["application_id"], id(&a));
    assert!(reminder["title"].as_str().unwrap_or("").starts_with("催办"));
});
