//! What each receiver is sent and how it is signed, and how its answer is judged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{NotificationKind, Provider};
use crate::outbound::{OutboundError, Reply};

/// Characters of an error kept with a delivery.
const ERROR_CHARS: usize = 300;

/// A notification as channels see it.
#[derive(Debug, Clone)]
pub(crate) struct Notice {
    pub id: i64,
    /// The stored kind (`task`, `approved`…); `test` for a test message.
    pub raw_kind: String,
    pub kind: Option<NotificationKind>,
    pub title: String,
    /// What the recipient reads; only the generic webhook gets it.
    pub body: String,
    pub time: String,
    /// The same time as people read it (`2026-12-07 14:30`, the code time zone).
    pub local_time: String,
    pub application_id: Option<i64>,
    pub department: Option<(i64, String)>,
    /// The page about it in the console (`public_url` configured), else `None`.
    pub link: Option<String>,
}

/// A request ready to post: the URL (signed for DingTalk), headers and body.
pub(crate) struct Post {
    pub url: reqwest::Url,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// DingTalk's sign (加签): base64(HMAC-SHA256(secret, "<timestamp>\n<secret>")).
pub(crate) fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let data = format!("{timestamp_ms}\n{secret}");
    STANDARD.encode(hmac_sha256(secret.as_bytes(), data.as_bytes()))
}

/// `X-Custos-Signature`: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
pub(crate) fn webhook_signature(secret: &str, unix: i64, body: &[u8]) -> String {
    let mut data = format!("{unix}.").into_bytes();
    data.extend_from_slice(body);
    format!(
        "t={unix},v1={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &data))
    )
}

/// The lines a group robot shows: title, kind, time. Nothing of the body.
fn group_lines(n: &Notice) -> (String, String) {
    let kind = n.kind.map(NotificationKind::zh).unwrap_or("通知渠道测试");
    let title = format!("【custos】{}", n.title);
    // The link only: a page a member of the group must sign in to read.
    let how = match &n.link {
        Some(link) => format!("[在 custos 中查看详情]({link})"),
        None => "请登录客户主数据与编码管理系统 custos 查看详情。".to_string(),
    };
    let text = format!("类型：{kind}\n\n时间：{}\n\n{how}", n.local_time);
    (title, text)
}

/// The JSON body for `provider`.
pub(crate) fn render(provider: Provider, n: &Notice) -> Value {
    match provider {
        Provider::Dingtalk => {
            let (title, text) = group_lines(n);
            json!({
                "msgtype": "markdown",
                "markdown": {"title": title, "text": format!("#### {title}\n\n{text}")},
            })
        }
        Provider::Wecom => {
            let (title, text) = group_lines(n);
            json!({
                "msgtype": "markdown",
                "markdown": {"content": format!("**{title}**\n{text}")},
            })
        }
        Provider::Webhook => json!({
            "id": n.id,
            "kind": n.kind.map(NotificationKind::as_str).unwrap_or("test"),
            "notification_kind": n.raw_kind,
            "title": n.title,
            "body": n.body,
            "time": n.time,
            "application_id": n.application_id,
            "link": n.link,
            "department": n.department.as_ref().map(|(id, name)| json!({"id": id, "name": name})),
        }),
    }
}

/// The request to post `n` to a channel at `now_ms`.
pub(crate) fn prepare(
    provider: Provider,
    url: &reqwest::Url,
    secret: Option<&str>,
    n: &Notice,
    now_ms: i64,
) -> Post {
    let body = render(provider, n).to_string().into_bytes();
    let mut url = url.clone();
    let mut headers = Vec::new();
    match (provider, secret) {
        (Provider::Dingtalk, Some(secret)) => {
            url.query_pairs_mut()
                .append_pair("timestamp", &now_ms.to_string())
                .append_pair("sign", &dingtalk_sign(secret, now_ms));
        }
        (Provider::Webhook, Some(secret)) => {
            headers.push((
                "x-custos-signature",
                webhook_signature(secret, now_ms / 1000, &body),
            ));
        }
        _ => {}
    }
    Post { url, headers, body }
}

fn clip(text: &str) -> String {
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(ERROR_CHARS)
        .collect();
    clean.trim().to_string()
}

/// `Ok` when the receiver took the message; else why not (kept as the last error).
pub(crate) fn judge(
    provider: Provider,
    answer: Result<Reply, OutboundError>,
) -> Result<(), String> {
    let reply = answer.map_err(|e| clip(&e.to_string()))?;
    if !reply.is_success() {
        return Err(clip(&format!("HTTP {}: {}", reply.status, reply.body)));
    }
    if provider == Provider::Webhook {
        return Ok(());
    }
    // Robots answer 200 with `errcode` 0 on success and another code on failure.
    let v: Value = serde_json::from_str(&reply.body)
        .map_err(|_| clip(&format!("answer is not JSON: {}", reply.body)))?;
    match v.get("errcode").and_then(Value::as_i64) {
        Some(0) => Ok(()),
        Some(code) => Err(clip(&format!(
            "errcode {code}: {}",
            v.get("errmsg").and_then(Value::as_str).unwrap_or("")
        ))),
        None => Err(clip(&format!("answer has no errcode: {}", reply.body))),
    }
}

/// What a list shows of a URL: its scheme and host (and port), the rest hidden.
pub(crate) fn mask_url(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(p) => format!("{}://{host}:{p}/…", url.scheme()),
        None => format!("{}://{host}/…", url.scheme()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn notice() -> Notice {
        Notice {
            id: 7,
            raw_kind: "reject".into(),
            kind: Some(NotificationKind::ApplicationDecided),
            title: "申请被驳回：新建客户 #12".into(),
            body: "您的申请单 #12 被 张三 驳回，原因：电话 13800138000 有误".into(),
            time: "2026-12-07T02:00:00Z".into(),
            local_time: "2026-12-07 10:00".into(),
            application_id: Some(12),
            department: Some((3, "华东销售部".into())),
            link: None,
        }
    }

    fn reply(status: u16, body: &str) -> Result<Reply, OutboundError> {
        Ok(Reply {
            status,
            body: body.into(),
            elapsed: Duration::ZERO,
        })
    }

    #[test]
    fn signatures_match_known_values() {
        // Reference values computed with Python's hmac module.
        assert_eq!(
            dingtalk_sign("SECabc", 1_700_000_000_000),
            "jcUpW0QmtKduN03n4JqQ0PBosVjqnM8gU7fIIvsDmCM="
        );
        assert_eq!(
            webhook_signature("s3cret-s3cret-16", 5, br#"{"a":1}"#),
            "t=5,v1=f76d75e3c42cfa523d9a3c9afdd41281c3e5dd4aa7fb6a61ca4e77d79caa8af6"
        );
    }

    #[test]
    fn group_messages_carry_no_body() {
        for p in [Provider::Dingtalk, Provider::Wecom] {
            let text = render(p, &notice()).to_string();
            assert!(
                text.contains("#12") && text.contains("2026-12-07 10:00"),
                "{text}"
            );
            assert!(!text.contains("13800138000"), "{text}");
            assert!(!text.contains("张三"), "{text}");
            assert!(!text.contains("华东销售部"), "{text}");
        }
        let hook = render(Provider::Webhook, &notice());
        assert_eq!(hook["kind"], "application_decided");
        assert_eq!(hook["department"]["name"], "华东销售部");
        assert!(hook["body"].as_str().is_some_and(|b| b.contains("驳回")));
    }

    #[test]
    fn messages_carry_the_link_only() {
        let mut n = notice();
        n.link = Some("https://custos.example.com/applications/12".into());
        for p in [Provider::Dingtalk, Provider::Wecom] {
            let text = render(p, &n).to_string();
            assert!(
                text.contains("(https://custos.example.com/applications/12)"),
                "{text}"
            );
            assert!(
                !text.contains("13800138000") && !text.contains("张三"),
                "{text}"
            );
        }
        let hook = render(Provider::Webhook, &n);
        assert_eq!(hook["link"], "https://custos.example.com/applications/12");
        let text = render(Provider::Dingtalk, &notice()).to_string();
        assert!(!text.contains("http"), "no link unconfigured: {text}");
    }

    #[test]
    fn dingtalk_url_is_signed_and_webhook_gets_a_header() {
        let url = reqwest::Url::parse("https://oapi.dingtalk.com/robot/send?access_token=t")
            .expect("url");
        let post = prepare(Provider::Dingtalk, &url, Some("SEC+/="), &notice(), 1_000);
        let pairs: Vec<(String, String)> = post.url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("access_token".into(), "t".into()));
        assert_eq!(pairs[1], ("timestamp".into(), "1000".into()));
        assert_eq!(pairs[2].1, dingtalk_sign("SEC+/=", 1_000));
        // Base64's + / = are percent-encoded in the query.
        assert!(!post.url.query().unwrap_or("").contains('+'));
        assert!(post.headers.is_empty());
        let post = prepare(
            Provider::Webhook,
            &url,
            Some("s3cret-s3cret-16"),
            &notice(),
            5_000,
        );
        let sig = webhook_signature("s3cret-s3cret-16", 5, &post.body);
        assert_eq!(post.headers, vec![("x-custos-signature", sig)]);
        let post = prepare(Provider::Webhook, &url, None, &notice(), 5_000);
        assert!(post.headers.is_empty());
    }

    #[test]
    fn answers_are_judged() {
        assert!(judge(
            Provider::Dingtalk,
            reply(200, r#"{"errcode":0,"errmsg":"ok"}"#)
        )
        .is_ok());
        let e = judge(
            Provider::Dingtalk,
            reply(200, r#"{"errcode":310000,"errmsg":"sign not match"}"#),
        )
        .expect_err("errcode");
        assert!(e.contains("310000") && e.contains("sign not match"), "{e}");
        assert!(judge(Provider::Wecom, reply(200, "<html>")).is_err());
        assert!(judge(Provider::Wecom, reply(200, "{}")).is_err());
        assert!(judge(Provider::Wecom, reply(502, r#"{"errcode":0}"#)).is_err());
        assert!(judge(Provider::Webhook, reply(204, "")).is_ok());
        assert!(judge(Provider::Webhook, reply(500, "x\ny")).is_err());
        assert!(judge(Provider::Webhook, Err(OutboundError::Timeout)).is_err());
        let long = judge(Provider::Webhook, reply(500, &"x".repeat(5000))).expect_err("500");
        assert!(long.chars().count() <= ERROR_CHARS);
    }

    #[test]
    fn urls_are_masked() {
        let u = reqwest::Url::parse("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")
            .expect("url");
        assert_eq!(mask_url(&u), "https://qyapi.weixin.qq.com/…");
        let u = reqwest::Url::parse("http://127.0.0.1:9000/hook/secret-path").expect("url");
        assert_eq!(mask_url(&u), "http://127.0.0.1:9000/…");
    }
}
