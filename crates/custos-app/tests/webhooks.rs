//! Webhooks through the use cases, on SQLite and (when CUSTOS_TEST_PG_URL is set)
//! PostgreSQL, against a small HTTP receiver inside the test: signatures a receiver can
//! verify, retries after 500s and timeouts, dead letters, replay, order per customer with
//! one customer blocked, the owner's data scope, bad input, permissions, two workers on
//! one database without duplicates, and a worker killed mid-delivery.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use custos_app::customers::{CustomerPatch, NewCustomer};
use custos_app::outbound::OutboundConfig;
use custos_app::webhooks::{
    verify_signature, NewWebhook, ReplayRequest, WebhookPatch, WebhooksConfig,
};
use custos_app::AppError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "support/app.rs"]
#[macro_use]
mod app;
use app::*;

fn config() -> AppConfig {
    AppConfig {
        outbound: OutboundConfig {
            connect_timeout: Duration::from_millis(500),
            timeout: Duration::from_millis(700),
            ca_file: None,
        },
        webhooks: WebhooksConfig {
            retry_base: Duration::from_millis(20),
            retry_cap: Duration::from_millis(100),
            lease: Duration::from_millis(100),
            poll: Duration::from_millis(20),
            concurrency: 8,
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn setup(backend: Backend) -> Option<T> {
    setup_with(backend, config()).await
}

/// What the receiver does with a request.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Answer {
    Status(u16),
    /// Never answer (the sender times out).
    Hang,
}

#[derive(Clone, Debug)]
struct Received {
    /// The request's path: the subscription's name in these tests.
    path: String,
    headers: HashMap<String, String>,
    body: String,
    answered: Answer,
}

impl Received {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("json body")
    }
    fn event_id(&self) -> String {
        self.headers["x-custos-event-id"].clone()
    }
}

type Decide = Arc<dyn Fn(&Received) -> Answer + Send + Sync>;

/// A small HTTP/1.1 receiver: records every request and answers as `decide` says.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    decide: Arc<Mutex<Decide>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Receiver::on(listener)
    }

    fn on(listener: tokio::net::TcpListener) -> Receiver {
        let r = Receiver {
            addr: listener.local_addr().expect("addr"),
            got: Default::default(),
            decide: Arc::new(Mutex::new(Arc::new(|_: &Received| Answer::Status(200)))),
        };
        let me = r.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let me = me.clone();
                tokio::spawn(async move { me.serve(socket).await });
            }
        });
        r
    }

    async fn serve(&self, mut socket: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let (head_end, len) = loop {
            let Ok(n) = socket.read(&mut chunk).await else {
                return;
            };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..at]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (at + 4, len);
            }
        };
        while buf.len() < head_end + len {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let headers = head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let path = head
            .split(' ')
            .nth(1)
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        let mut rec = Received {
            path,
            headers,
            body: String::from_utf8_lossy(&buf[head_end..head_end + len]).to_string(),
            answered: Answer::Status(200),
        };
        let decide = self.decide.lock().unwrap().clone();
        rec.answered = decide(&rec);
        self.got.lock().unwrap().push(rec.clone());
        match rec.answered {
            Answer::Hang => tokio::time::sleep(Duration::from_secs(30)).await,
            Answer::Status(s) => {
                let answer = format!(
                    "HTTP/1.1 {s} X\r\ncontent-length: 6\r\nconnection: close\r\n\r\nanswer"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
        }
    }

    fn answer(&self, f: impl Fn(&Received) -> Answer + Send + Sync + 'static) {
        *self.decide.lock().unwrap() = Arc::new(f);
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Requests answered 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| matches!(r.answered, Answer::Status(s) if (200..300).contains(&s)))
            .collect()
    }
}

const NAMES: &[&str] = &[
    "杭州青松贸易有限公司",
    "宁波远帆物流有限公司",
    "苏州明湖精密机械有限公司",
    "成都锦官城餐饮管理有限公司",
    "青岛海澜水产品有限公司",
    "武汉楚天光电科技有限公司",
];

async fn customer(t: &T, actor: &Actor, i: usize) -> String {
    t.app
        .customers()
        .create_customer(
            actor,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: NAMES[i].into(),
                region_code: Some("310104".into()),
                ..Default::default()
            },
        )
        .await
        .expect("create")
        .code
}

/// Change a customer's remarks (one `customer.updated` event).
async fn touch(t: &T, code: &str, n: usize) {
    let version = t
        .app
        .customers()
        .get_customer(&t.admin, code)
        .await
        .expect("customer")
        .version;
    t.app
        .customers()
        .update_customer(
            &t.admin,
            code,
            CustomerPatch {
                version,
                remarks: Some(Some(format!("备注 {n}"))),
                ..Default::default()
            },
        )
        .await
        .expect("update");
}

async fn hook(t: &T, r: &Receiver, name: &str, owner: Option<&str>) -> (i64, String) {
    let made = t
        .app
        .webhooks()
        .create_webhook(
            &t.admin,
            NewWebhook {
                name: name.into(),
                url: format!("http://{}/{name}", r.addr),
                owner: owner.map(String::from),
                ..Default::default()
            },
        )
        .await
        .expect("webhook");
    (made.webhook.id, made.secret)
}

/// Run worker rounds until `done` holds (at most ~10 s).
async fn run_until(t: &T, what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        t.app.webhooks().run_webhooks_once().await.expect("round");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("not reached: {what}");
}

/// The feed's events, as the admin reads them.
async fn feed(t: &T) -> Vec<serde_json::Value> {
    let page = t
        .app
        .events()
        .read_events(
            &t.admin,
            custos_app::events::EventQuery {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .expect("feed");
    page.events
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

both!(deliveries_are_signed_like_the_feed, |t| {
    let r = Receiver::start().await;
    let (id, secret) = hook(&t, &r, "erp", None).await;
    let code = customer(&t, &t.admin, 0).await;
    run_until(&t, "two events", || r.delivered().len() == 2).await;
    let events = feed(&t).await;
    let got = r.delivered();
    for (rec, event) in got.iter().zip(&events) {
        let now = custos_store::now_us() / 1_000_000;
        let sig = &rec.headers["x-custos-signature"];
        assert!(verify_signature(
            &secret,
            sig,
            rec.body.as_bytes(),
            now,
            300
        ));
        assert!(!verify_signature(&secret, sig, b"{}", now, 300));
        assert_eq!(&rec.json(), event, "the body is the feed's event");
        assert_eq!(rec.event_id(), event["id"].as_str().unwrap());
        assert_eq!(
            rec.headers["x-custos-event-type"],
            event["type"].as_str().unwrap()
        );
        assert_eq!(rec.headers["x-custos-delivery"].len(), 36);
        assert_eq!(event["customer_code"], code.as_str());
    }
    // A rotated secret signs from now on; the old one no longer verifies.
    let rotated = t
        .app
        .webhooks()
        .rotate_webhook_secret(&t.admin, id)
        .await
        .unwrap();
    assert_ne!(rotated.secret, secret);
    let ping = t.app.webhooks().ping_webhook(&t.admin, id).await.unwrap();
    assert!(ping.delivered, "{ping:?}");
    let last = r.got().pop().unwrap();
    let now = custos_store::now_us() / 1_000_000;
    let sig = &last.headers["x-custos-signature"];
    assert!(verify_signature(
        &rotated.secret,
        sig,
        last.body.as_bytes(),
        now,
        300
    ));
    assert!(!verify_signature(
        &secret,
        sig,
        last.body.as_bytes(),
        now,
        300
    ));
    assert_eq!(last.json()["type"], "webhook.ping");
    // The secret is sealed at rest.
    let view = t.app.webhooks().get_webhook(&t.admin, id).await.unwrap();
    assert_eq!((view.delivered, view.pending, view.dead), (2, 0, 0));
    let log = t
        .app
        .webhooks()
        .webhook_attempts(&t.admin, id, None, None)
        .await
        .unwrap();
    assert_eq!(log.items.len(), 3);
    assert_eq!(log.items[0].outcome, "ping");
    assert!(log.items[1..].iter().all(|a| a.outcome == "delivered"));
});

both!(failures_are_retried_and_dead_letters_free_the_lane, |t| {
    let r = Receiver::start().await;
    let (id, _) = hook(&t, &r, "crm", None).await;
    // 500, then a timeout, then 2xx.
    let calls = Arc::new(Mutex::new(0));
    let c = calls.clone();
    r.answer(move |_| {
        let mut n = c.lock().unwrap();
        *n += 1;
        match *n {
            1 => Answer::Status(500),
            2 => Answer::Hang,
            _ => Answer::Status(204),
        }
    });
    let code = customer(&t, &t.admin, 1).await;
    run_until(&t, "both delivered", || r.delivered().len() == 2).await;
    let log = t
        .app
        .webhooks()
        .webhook_attempts(&t.admin, id, None, None)
        .await
        .unwrap();
    let outcomes: Vec<&str> = log.items.iter().rev().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["retry", "retry", "delivered", "delivered"]);
    let oldest = log.items.last().unwrap();
    assert_eq!(oldest.status, Some(500));
    assert!(oldest.error.as_deref().unwrap().contains("answer"));
    assert_eq!(log.items[2].status, None);
    assert_eq!(log.items[2].error.as_deref(), Some("timeout"));
    // The same event each time, in order: created, then code issued.
    let got = r.got();
    assert_eq!(got[0].event_id(), got[2].event_id());
    assert_eq!(got[2].json()["type"], "customer.created");
    assert_eq!(got[3].json()["type"], "code.issued");

    // Always 500 with a dead-letter time of zero: dead at the first failure, and the
    // customer's next event goes out after it.
    let mut cfg = (*t.app.config).clone();
    cfg.webhooks.dead_letter_after = Duration::ZERO;
    let strict = App::from_db(t.app.db.clone(), cfg);
    r.answer(|_| Answer::Status(503));
    touch(&t, &code, 1).await;
    for _ in 0..20 {
        strict.webhooks().run_webhooks_once().await.unwrap();
    }
    let view = t.app.webhooks().get_webhook(&t.admin, id).await.unwrap();
    assert_eq!(view.dead, 1);
    assert_eq!(view.pending, 0);
    r.answer(|_| Answer::Status(200));
    touch(&t, &code, 2).await;
    let before = r.delivered().len();
    run_until(&t, "next event after the dead one", || {
        r.delivered().len() == before + 1
    })
    .await;
    let log = t
        .app
        .webhooks()
        .webhook_attempts(&t.admin, id, None, Some(2))
        .await
        .unwrap();
    assert_eq!(log.items[0].outcome, "delivered");
    assert_eq!(log.items[1].outcome, "dead");
    assert!(log.next_before.is_some());
});

both!(one_blocked_customer_holds_back_only_its_own_events, |t| {
    let r = Receiver::start().await;
    let (id, _) = hook(&t, &r, "oa", None).await;
    let a = customer(&t, &t.admin, 2).await;
    let b = customer(&t, &t.admin, 3).await;
    let blocked = Arc::new(Mutex::new(a.clone()));
    let bl = blocked.clone();
    r.answer(move |rec| {
        if rec.json()["customer_code"] == bl.lock().unwrap().as_str() {
            Answer::Status(500)
        } else {
            Answer::Status(200)
        }
    });
    for n in 0..3 {
        touch(&t, &a, n).await;
        touch(&t, &b, n).await;
    }
    // b: created, code issued and three updates.
    run_until(&t, "b's events", || r.delivered().len() == 5).await;
    for _ in 0..5 {
        t.app.webhooks().run_webhooks_once().await.unwrap();
    }
    let seqs = |code: &str, got: &[Received]| -> Vec<i64> {
        got.iter()
            .filter(|r| r.json()["customer_code"] == code)
            .map(|r| r.json()["seq"].as_i64().unwrap())
            .collect()
    };
    let got = r.got();
    let b_seqs = seqs(&b, &r.delivered());
    assert!(b_seqs.windows(2).all(|w| w[0] < w[1]), "{b_seqs:?}");
    // Only a's first event was ever tried.
    let a_tried = seqs(&a, &got);
    assert!(a_tried.len() > 1);
    assert!(a_tried.iter().all(|s| *s == a_tried[0]), "{a_tried:?}");
    // Unblocked: a's five events arrive, in order.
    *blocked.lock().unwrap() = String::new();
    run_until(&t, "a's events", || seqs(&a, &r.delivered()).len() == 5).await;
    let a_seqs = seqs(&a, &r.delivered());
    assert!(a_seqs.windows(2).all(|w| w[0] < w[1]), "{a_seqs:?}");
    assert_eq!(a_seqs[0], a_tried[0]);
    assert_eq!(
        t.app
            .webhooks()
            .get_webhook(&t.admin, id)
            .await
            .unwrap()
            .pending,
        0
    );
});

both!(replay_sends_the_same_event_ids_again, |t| {
    let r = Receiver::start().await;
    let (id, _) = hook(&t, &r, "bi", None).await;
    customer(&t, &t.admin, 4).await;
    customer(&t, &t.admin, 5).await;
    run_until(&t, "four events", || r.delivered().len() == 4).await;
    let by_seq = |got: &[Received]| -> Vec<(i64, String)> {
        let mut v: Vec<(i64, String)> = got
            .iter()
            .map(|r| (r.json()["seq"].as_i64().unwrap(), r.event_id()))
            .collect();
        v.sort();
        v
    };
    let first = by_seq(&r.delivered());
    let seq2 = first[1].0;
    let replay = t
        .app
        .webhooks()
        .replay_webhook(&t.admin, id, ReplayRequest { from: seq2 })
        .await
        .unwrap();
    assert_eq!(replay.queued, 3);
    assert_eq!(replay.next_from, None);
    run_until(&t, "replayed", || r.delivered().len() == 7).await;
    let again = by_seq(&r.delivered()[4..]);
    assert_eq!(again, first[1..].to_vec());
    assert!(matches!(
        t.app.webhooks().replay_webhook(&t.admin, id, ReplayRequest { from: 0 }).await,
        Err(AppError::Validation(f)) if f[0].field == "from"
    ));
    t.app.events().prune_events_before(i64::MAX).await.unwrap();
    assert!(matches!(
        t.app
            .webhooks()
            .replay_webhook(&t.admin, id, ReplayRequest { from: 1 })
            .await,
        Err(AppError::Gone(_))
    ));
});

/// An event about no customer, written behind the use cases' back.
async fn customerless_event(t: &T) {
    t.db.execute("UPDATE event_counter SET last = last + 1 WHERE id = 1")
        .await
        .unwrap();
    t.db.execute(&format!(
        "INSERT INTO events (seq, id, type, customer_code, department_id, owner_id, at, \
         actor_id, actor_name, payload) SELECT last, 'no-customer', 'duplicates.found', \
         NULL, NULL, NULL, {}, 1, 'admin', '{{}}' FROM event_counter WHERE id = 1",
        custos_store::now_us()
    ))
    .await
    .unwrap();
}

both!(the_owner_scope_filters_events, |t| {
    let r = Receiver::start().await;
    let own = user(&t, "steward_own", "steward", "own").await;
    hook(&t, &r, "own", Some("steward_own")).await;
    hook(&t, &r, "all", None).await;
    let other = customer(&t, &t.admin, 0).await;
    let mine = customer(&t, &own, 1).await;
    customerless_event(&t).await;
    run_until(&t, "everything", || r.delivered().len() == 7).await;
    for _ in 0..5 {
        t.app.webhooks().run_webhooks_once().await.unwrap();
    }
    let codes = |path: &str| -> Vec<String> {
        r.got()
            .iter()
            .filter(|r| r.path == path)
            .map(|r| {
                r.json()["customer_code"]
                    .as_str()
                    .unwrap_or("-")
                    .to_string()
            })
            .collect()
    };
    assert_eq!(codes("own"), [mine.clone(), mine.clone()]);
    let mut all = codes("all");
    all.sort();
    let mut want = vec![other.clone(), other, mine.clone(), mine, "-".to_string()];
    want.sort();
    assert_eq!(all, want);

    // The owner disabled: nothing more for its subscription.
    t.db.execute("UPDATE users SET disabled = TRUE WHERE username = 'steward_own'")
        .await
        .unwrap();
    let later = customer(&t, &own, 2).await;
    run_until(&t, "the later customer to `all`", || {
        r.delivered().len() == 9
    })
    .await;
    for _ in 0..5 {
        t.app.webhooks().run_webhooks_once().await.unwrap();
    }
    assert!(!codes("own").contains(&later));
});

both!(bad_input_and_permissions, |t| {
    let r = Receiver::start().await;
    let fields = |e: AppError| match e {
        AppError::Validation(f) => f.into_iter().map(|f| f.field).collect::<Vec<_>>(),
        other => panic!("not a validation error: {other:?}"),
    };
    let bad = t
        .app
        .webhooks()
        .create_webhook(
            &t.admin,
            NewWebhook {
                name: "a\u{7}b".into(),
                url: "ftp://example.com/".into(),
                event_types: vec!["customer.created".into(), "customer.eaten".into()],
                owner: Some("nobody".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(bad), ["name", "url", "event_types", "owner"]);
    for url in [
        "http://u:p@example.com/",
        "https://example.com/a b",
        "http://[::1/x",
        "",
    ] {
        let e = t
            .app
            .webhooks()
            .create_webhook(
                &t.admin,
                NewWebhook {
                    name: "ok".into(),
                    url: url.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(fields(e), ["url"], "{url}");
    }
    let (id, _) = hook(&t, &r, "dup", None).await;
    let e = t
        .app
        .webhooks()
        .create_webhook(
            &t.admin,
            NewWebhook {
                name: "dup".into(),
                url: r.url(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Conflict(v) if v.code == "webhook.name_taken"));
    let e = t
        .app
        .webhooks()
        .update_webhook(
            &t.admin,
            id,
            WebhookPatch {
                event_types: Some(vec!["nope".into()]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(e), ["event_types"]);
    // An owner without events.read would receive nothing: refused.
    user(&t, "clerk1", "clerk", "all").await;
    let e = t
        .app
        .webhooks()
        .update_webhook(
            &t.admin,
            id,
            WebhookPatch {
                owner: Some("clerk1".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(e), ["owner"]);

    // Only holders of webhooks.manage over everyone.
    let steward = user(&t, "steward1", "steward", "all").await;
    let forbidden = |e: AppError| matches!(e, AppError::Forbidden { permission } if permission == "webhooks.manage");
    assert!(forbidden(
        t.app.webhooks().list_webhooks(&steward).await.unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .create_webhook(&steward, NewWebhook::default())
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .get_webhook(&steward, id)
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .ping_webhook(&steward, id)
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .replay_webhook(&steward, id, ReplayRequest { from: 1 })
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .delete_webhook(&steward, id)
            .await
            .unwrap_err()
    ));
    assert!(forbidden(
        t.app
            .webhooks()
            .rotate_webhook_secret(&steward, id)
            .await
            .unwrap_err()
    ));
    // Deleted: gone with its deliveries.
    t.app.webhooks().delete_webhook(&t.admin, id).await.unwrap();
    assert!(matches!(
        t.app.webhooks().get_webhook(&t.admin, id).await,
        Err(AppError::NotFound { .. })
    ));
    assert!(t
        .app
        .webhooks()
        .list_webhooks(&t.admin)
        .await
        .unwrap()
        .is_empty());
});

both!(two_workers_deliver_each_event_once, |t| {
    let r = Receiver::start().await;
    r.answer(|_| Answer::Status(200));
    hook(&t, &r, "a", None).await;
    hook(&t, &r, "b", None).await;
    let mut codes = Vec::new();
    for i in 0..NAMES.len() {
        codes.push(customer(&t, &t.admin, i).await);
    }
    for (n, code) in codes.iter().enumerate() {
        touch(&t, code, n).await;
    }
    let mut cfg = (*t.app.config).clone();
    cfg.webhooks.lease = Duration::from_secs(60);
    // Two servers: two connection pools on one database.
    let first = App::from_db(t.app.db.clone(), cfg.clone());
    let other_pool = custos_app::Db::open(&t.db.options)
        .await
        .expect("second pool");
    let second = App::from_db(other_pool.clone(), cfg);
    let w1 = tokio::spawn(first.run_webhook_worker());
    let w2 = tokio::spawn(second.run_webhook_worker());
    // Three events per customer, two subscriptions.
    let want = NAMES.len() * 3 * 2;
    for _ in 0..500 {
        if r.got().len() >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    w1.abort();
    w2.abort();
    other_pool.close().await;
    let got = r.got();
    assert_eq!(got.len(), want);
    let mut per_copy: HashMap<(String, String), usize> = HashMap::new();
    for rec in &got {
        *per_copy
            .entry((rec.path.clone(), rec.event_id()))
            .or_default() += 1;
    }
    assert_eq!(per_copy.len(), want, "each event once per subscription");
    assert!(per_copy.values().all(|n| *n == 1));
});

both!(a_worker_killed_mid_delivery_and_a_receiver_down, |t| {
    // The receiver is down: nothing listens on its port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{addr}/hook");
    let made = t
        .app
        .webhooks()
        .create_webhook(
            &t.admin,
            NewWebhook {
                name: "down".into(),
                url,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let id = made.webhook.id;
    let code = customer(&t, &t.admin, 0).await;
    for n in 0..3 {
        touch(&t, &code, n).await;
    }
    for _ in 0..5 {
        t.app.webhooks().run_webhooks_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let log = t
        .app
        .webhooks()
        .webhook_attempts(&t.admin, id, None, None)
        .await
        .unwrap();
    assert!(log.items.len() >= 2);
    assert!(log.items.iter().all(|a| a.outcome == "retry"));
    assert!(log.items[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("connect"));

    // It comes back, but holds the first request: the worker is killed mid-delivery.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let r = Receiver::on(listener);
    r.answer(|_| Answer::Hang);
    let mut cfg = (*t.app.config).clone();
    cfg.outbound.timeout = Duration::from_secs(20);
    let doomed = App::from_db(t.app.db.clone(), cfg);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let worker = tokio::spawn(doomed.run_webhook_worker());
    for _ in 0..200 {
        if !r.got().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.abort();
    let hung = r.got();
    assert_eq!(hung.len(), 1, "one request in flight when the worker died");
    // Another worker takes it over once the lease (the 20 s timeout and a second) runs
    // out; here the lease is moved back by hand instead of waiting.
    r.answer(|_| Answer::Status(200));
    t.db.execute("UPDATE webhook_deliveries SET lease_until = 1 WHERE lease_until IS NOT NULL")
        .await
        .unwrap();
    run_until(&t, "all five after the restart", || {
        r.delivered().len() == 5
    })
    .await;
    let got = r.delivered();
    assert_eq!(got[0].event_id(), hung[0].event_id(), "same event id again");
    let seqs: Vec<i64> = got
        .iter()
        .map(|r| r.json()["seq"].as_i64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
});

// The list with each subscription's last attempt (the console's list, one statement for
// all of them) shows the newest line of each one's own log, whatever order the lines
// were written in, and none for a subscription never sent to.
both!(the_list_shows_each_subscriptions_newest_attempt, |t| {
    let r = Receiver::start().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(hook(&t, &r, name, None).await.0);
    }
    let (a, b) = (ids[0], ids[1]);
    // (attempt id, subscription, outcome): a's newest is 15, b's is 14; c has none.
    for (id, hook, outcome) in [
        (11, a, "delivered"),
        (15, a, "dead"),
        (12, b, "ping"),
        (13, a, "retry"),
        (14, b, "delivered"),
    ] {
        t.db.execute(&format!(
            "INSERT INTO webhook_attempts (id, webhook_id, attempt_id, event_id, event_type, \
             at, latency_ms, outcome) VALUES ({id}, {hook}, 'att-{id}', 'ev-{id}', \
             'customer.created', {id}, 1, '{outcome}')"
        ))
        .await
        .expect("attempt");
    }
    let hooks = t.app.webhooks();
    let listed = hooks
        .list_webhooks_with_last_attempt(&t.admin)
        .await
        .unwrap();
    let last: Vec<(String, Option<(i64, String)>)> = listed
        .iter()
        .map(|l| {
            let attempt = l.last_attempt.as_ref().map(|a| (a.id, a.outcome.clone()));
            (l.webhook.name.clone(), attempt)
        })
        .collect();
    assert_eq!(
        last,
        [
            ("a".to_string(), Some((15, "dead".to_string()))),
            ("b".to_string(), Some((14, "delivered".to_string()))),
            ("c".to_string(), None),
        ]
    );
    // The same subscriptions as the plain list, each as the log's first line shows it.
    let plain = hooks.list_webhooks(&t.admin).await.unwrap();
    assert_eq!(plain.len(), listed.len());
    for (p, l) in plain.iter().zip(&listed) {
        assert_eq!(p.id, l.webhook.id);
        let log = hooks.webhook_attempts(&t.admin, p.id, None, Some(1));
        let log = log.await.unwrap();
        let first = log.items.first().map(|a| a.attempt_id.clone());
        assert_eq!(first, l.last_attempt.as_ref().map(|a| a.attempt_id.clone()));
    }
});

// Outcomes are written in batches: a worker that dies after a receiver answered but
// before the outcome was written leaves the delivery pending, and it is posted again
// with the same event id (here another subscription's request hangs, so the batch's
// window stays open until the worker is killed).
both!(a_worker_killed_before_its_outcomes_are_written, |t| {
    let r = Receiver::start().await;
    r.answer(|rec| match rec.path.as_str() {
        "slow" => Answer::Hang,
        _ => Answer::Status(200),
    });
    let (fast, _) = hook(&t, &r, "fast", None).await;
    hook(&t, &r, "slow", None).await;
    customer(&t, &t.admin, 0).await;
    let mut cfg = (*t.app.config).clone();
    cfg.outbound.timeout = Duration::from_secs(20);
    cfg.webhooks.lease = Duration::from_secs(60);
    cfg.webhooks.record_window = Duration::from_secs(10);
    cfg.webhooks.record_batch = 1000;
    let doomed = App::from_db(t.app.db.clone(), cfg);
    let worker = tokio::spawn(doomed.run_webhook_worker());
    let arrived = |path: &str| r.got().iter().filter(|g| g.path == path).count();
    for _ in 0..250 {
        if arrived("fast") >= 1 && arrived("slow") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.abort();
    // The customer's second event waits behind the first, whose outcome was not written.
    let first = r.got();
    let fast_got: Vec<&Received> = first.iter().filter(|g| g.path == "fast").collect();
    assert_eq!(fast_got.len(), 1, "{first:?}");
    let view = |t: &T| {
        let (app, admin) = (t.app.clone(), t.admin.clone());
        async move { app.webhooks().get_webhook(&admin, fast).await.unwrap() }
    };
    let v = view(&t).await;
    assert_eq!((v.pending, v.delivered), (2, 0), "{v:?}");
    // Another worker takes over once the leases run out (moved back by hand here).
    r.answer(|_| Answer::Status(200));
    t.db.execute("UPDATE webhook_deliveries SET lease_until = 1 WHERE lease_until IS NOT NULL")
        .await
        .unwrap();
    run_until(&t, "both events to both", || r.delivered().len() >= 5).await;
    let again: Vec<Received> = r
        .delivered()
        .into_iter()
        .filter(|g| g.path == "fast")
        .collect();
    assert_eq!(again.len(), 3, "the first once more, then the second");
    assert_eq!(
        again[1].event_id(),
        fast_got[0].event_id(),
        "same event id again"
    );
    assert!(again[1].json()["seq"].as_i64() < again[2].json()["seq"].as_i64());
    let v = view(&t).await;
    assert_eq!((v.pending, v.delivered), (0, 2), "{v:?}");
});
