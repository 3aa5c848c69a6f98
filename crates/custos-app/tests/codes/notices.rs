//! The two announcements that reach group channels beside approvals: a duplicate scan's
//! new groups (重复客户待处理), to every holder of `duplicate.manage`, and a code rule's
//! sequence scope running low (编码容量预警), to every holder of `rule.manage`, once per
//! crossing. Each channel that receives the kind gets one delivery per announcement,
//! however many recipients share its departments.

use custos_app::channels::{NewChannel, NotificationKind, Provider};
use custos_app::org::{NewDepartment, NewUser, RoleAssignment};
use custos_core::ident::Uscc;

use super::*;

async fn department(t: &T, name: &str) -> i64 {
    t.app
        .org()
        .create_department(
            &t.admin,
            NewDepartment {
                name: name.into(),
                parent_id: None,
                manager_id: None,
            },
        )
        .await
        .unwrap()
        .id
}

async fn steward(t: &T, name: &str, department_id: i64) -> Actor {
    t.app
        .org()
        .create_user(
            &t.admin,
            NewUser {
                username: name.into(),
                password: "Otter-Basalt-Meridian-42".into(),
                display_name: None,
                department_id: Some(department_id),
                email: None,
                roles: vec![RoleAssignment {
                    role: "steward".into(),
                    scope: "all".into(),
                    expires_at: None,
                }],
            },
        )
        .await
        .unwrap();
    t.app
        .auth()
        .actor_for_username(name, Context::new(Source::System))
        .await
        .unwrap()
}

async fn channel(t: &T, name: &str, kinds: Vec<NotificationKind>, departments: Vec<i64>) -> i64 {
    t.app
        .channels()
        .create_notification_channel(
            &t.admin,
            NewChannel {
                name: name.into(),
                provider: Provider::Webhook,
                // Never posted: no worker runs in these tests.
                url: format!("http://127.0.0.1:9/{name}"),
                secret: None,
                kinds,
                departments,
            },
        )
        .await
        .unwrap()
        .id
}

async fn deliveries(t: &T, channel: i64) -> usize {
    t.app
        .channels()
        .notification_channel_deliveries(&t.admin, channel)
        .await
        .unwrap()
        .len()
}

async fn titles(t: &T, who: &Actor, kind: &str) -> Vec<String> {
    t.app
        .applications()
        .notifications(who, false)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == kind)
        .map(|n| n.title)
        .collect()
}

both!(
    a_scan_with_new_groups_tells_the_stewards_once_per_channel,
    |t| {
        let east = department(&t, "华东销售部").await;
        let north = department(&t, "华北销售部").await;
        let s_east = steward(&t, "steward-east", east).await;
        let s_east2 = steward(&t, "steward-east2", east).await;
        let s_north = steward(&t, "steward-north", north).await;
        let everyone = channel(&t, "all", vec![NotificationKind::DuplicatesFound], vec![]).await;
        let only_north = channel(
            &t,
            "north",
            vec![NotificationKind::DuplicatesFound],
            vec![north],
        )
        .await;
        let tasks = channel(&t, "tasks", vec![NotificationKind::TaskPending], vec![]).await;
        publish(
            &t,
            "ent",
            &["enterprise"],
            json!([{"kind":"constant","value":"C"},{"kind":"sequence","width":5}]),
        )
        .await;
        let uscc = Uscc::with_check("91110105MA0000001").unwrap();
        for (i, name) in ["重复甲有限公司", "重复甲有限公司"].iter().enumerate() {
            let mut c = customer("enterprise", name);
            c.uscc = Some(uscc.as_str().to_string());
            c.override_duplicates = i > 0;
            c.reason = (i > 0).then(|| "测试重复".to_string());
            t.app
                .customers()
                .create_customer(&t.admin, c)
                .await
                .unwrap();
        }
        // Nothing is announced before the scan.
        assert!(titles(&t, &s_east, "duplicates.found").await.is_empty());
        let scan = t
            .app
            .customers()
            .scan_duplicates(&t.admin, None)
            .await
            .unwrap();
        assert_eq!(scan.new_groups, 1);
        for who in [&t.admin, &s_east, &s_east2, &s_north] {
            let got = titles(&t, who, "duplicates.found").await;
            assert_eq!(got.len(), 1, "{}", who.username);
            assert!(got[0].contains("1 组"), "{got:?}");
            assert!(!got[0].contains("重复甲"), "no names: {got:?}");
        }
        // One delivery per channel, not one per steward.
        assert_eq!(deliveries(&t, everyone).await, 1);
        assert_eq!(deliveries(&t, only_north).await, 1);
        assert_eq!(deliveries(&t, tasks).await, 0);
        // A scan that finds nothing new announces nothing.
        let again = t
            .app
            .customers()
            .scan_duplicates(&t.admin, None)
            .await
            .unwrap();
        assert_eq!(again.new_groups, 0);
        assert_eq!(titles(&t, &s_north, "duplicates.found").await.len(), 1);
        assert_eq!(deliveries(&t, everyone).await, 1);
    }
);

fn warn_at_two() -> AppConfig {
    AppConfig {
        code_capacity_warning: custos_app::codes::CapacityWarning {
            percent: 10,
            remaining: Some(2),
        },
        public_url: Some("https://custos.example.com".into()),
        ..AppConfig::default()
    }
}

/// A notifier that keeps what it is given.
#[derive(Default)]
struct Kept(std::sync::Mutex<Vec<custos_app::notify::Mail>>);

impl custos_app::notify::Notifier for Kept {
    fn channel(&self) -> &'static str {
        "kept"
    }
    fn max_attempts(&self) -> i64 {
        3
    }
    fn deliver<'a>(
        &'a self,
        messages: &'a [custos_app::notify::Mail],
    ) -> custos_app::notify::Delivery<'a> {
        self.0.lock().unwrap().extend(messages.iter().cloned());
        Box::pin(async { Ok(()) })
    }
}

both!(
    a_rule_running_low_warns_once_per_crossing,
    warn_at_two(),
    |t| {
        let c = channel(&t, "rules", vec![NotificationKind::CodeCapacity], vec![]).await;
        // An administrator with an e-mail address: the warning reaches it with a link.
        t.app
            .org()
            .create_user(
                &t.admin,
                NewUser {
                    username: "ruler".into(),
                    password: "Otter-Basalt-Meridian-42".into(),
                    display_name: None,
                    department_id: None,
                    email: Some("ruler@example.com".into()),
                    roles: vec![RoleAssignment {
                        role: "admin".into(),
                        scope: "all".into(),
                        expires_at: None,
                    }],
                },
            )
            .await
            .unwrap();
        publish(
            &t,
            "tiny",
            &["enterprise"],
            json!([{"kind":"constant","value":"T"},{"kind":"sequence","width":1}]),
        )
        .await;
        let mut codes = Vec::new();
        let mut warned_after = None;
        for i in 0..12 {
            match t
                .app
                .customers()
                .create_customer(
                    &t.admin,
                    customer("enterprise", &format!("容量{i}有限公司")),
                )
                .await
            {
                Ok(made) => codes.push(made.code),
                Err(e) => {
                    assert_eq!(e.code(), "code_rule.exhausted", "{e}");
                    break;
                }
            }
            let warned = titles(&t, &t.admin, "code.capacity").await;
            if warned_after.is_none() && !warned.is_empty() {
                warned_after = Some(codes.len());
            }
        }
        let warned = titles(&t, &t.admin, "code.capacity").await;
        assert_eq!(warned.len(), 1, "{warned:?}");
        assert!(
            warned[0].contains("tiny") && warned[0].contains("剩余 1 个"),
            "{warned:?}"
        );
        // The draw that left one code below the threshold of two warned, no other.
        assert_eq!(warned_after, Some(codes.len() - 1), "{codes:?}");
        assert_eq!(deliveries(&t, c).await, 1);
        let kept = Kept::default();
        t.app
            .channels()
            .send_notification_emails(&kept)
            .await
            .unwrap();
        let mails = kept.0.lock().unwrap().clone();
        let mail = mails
            .iter()
            .find(|m| m.to == "ruler@example.com")
            .expect("mailed");
        assert!(mail.subject.contains("容量预警"), "{}", mail.subject);
        assert!(
            mail.body
                .contains("查看详情：https://custos.example.com/rules"),
            "{}",
            mail.body
        );
    }
);
