//! `custos webhook add|list|remove|deliveries|replay|test`: webhook subscriptions, as the
//! `--as` user (who needs `webhooks.manage` over everyone). Deliveries are made by
//! `custos serve`.

use clap::Subcommand;
use comfy_table::Table;

use custos_app::webhooks::{NewWebhook, ReplayRequest};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::{print_json, Failure};

#[derive(Subcommand, Debug, Clone)]
pub(crate) enum WebhookCommand {
    /// 新建订阅 (subscribe)：把事件投递到一个地址；签名密钥 (signing secret) 只在这里显示一次。
    Add {
        /// 订阅名称（唯一）。
        name: String,
        /// 接收事件的 http:// 或 https:// 地址。
        url: String,
        /// 只投递这些事件类型，逗号分隔（默认全部）。
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// 按哪个账号的数据范围 (data scope) 过滤事件（默认 --as 的用户）。
        #[arg(long)]
        owner: Option<String>,
        /// 建立后先暂停 (paused)。
        #[arg(long)]
        inactive: bool,
    },
    /// 列出全部订阅及其游标、待投递和已放弃的投递数。
    List,
    /// 删除订阅及其待投递内容和投递记录。
    Remove {
        /// 订阅名称。
        name: String,
    },
    /// 订阅的投递记录 (deliveries)，最新的在前。
    Deliveries {
        /// 订阅名称。
        name: String,
        /// 显示几行（1–200）。
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// 重新投递 (replay) 从编号 FROM 起的事件（事件编号不变）。
    Replay {
        /// 订阅名称。
        name: String,
        /// 重新投递的第一个事件编号 (seq)。
        #[arg(long)]
        from: i64,
    },
    /// 立即发送一个签名的测试事件 (test) 并显示对方的应答。
    Test {
        /// 订阅名称。
        name: String,
    },
}

pub(crate) async fn run_webhook(
    app: &App,
    actor: &Actor,
    cmd: &WebhookCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        WebhookCommand::Add {
            name,
            url,
            types,
            owner,
            inactive,
        } => {
            let input = NewWebhook {
                name: name.clone(),
                url: url.clone(),
                event_types: types.clone(),
                active: Some(!inactive),
                owner: owner.clone(),
            };
            let made = app.webhooks().create_webhook(actor, input).await?;
            if json {
                print_json(&made);
            } else {
                outln!(
                    "webhook {} (id {}) posts to {}, from event {} on",
                    made.webhook.name,
                    made.webhook.id,
                    made.webhook.url,
                    made.webhook.cursor + 1
                );
                outln!("{}", made.secret);
                outln!("the signing secret is shown this once: store it now");
            }
        }
        WebhookCommand::List => {
            let all = app.webhooks().list_webhooks(actor).await?;
            if json {
                print_json(&all);
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header([
                "id", "name", "url", "types", "owner", "cursor", "pending", "dead", "status",
            ]);
            for w in all {
                t.add_row([
                    w.id.to_string(),
                    w.name,
                    w.url,
                    if w.event_types.is_empty() {
                        "all".to_string()
                    } else {
                        w.event_types.join(",")
                    },
                    w.owner,
                    w.cursor.to_string(),
                    w.pending.to_string(),
                    w.dead.to_string(),
                    if w.active { "active" } else { "paused" }.into(),
                ]);
            }
            outln!("{t}");
        }
        WebhookCommand::Remove { name } => {
            let id = app.webhooks().webhook_id(actor, name).await?;
            app.webhooks().delete_webhook(actor, id).await?;
            if json {
                print_json(&serde_json::json!({"deleted": id}));
            } else {
                outln!("webhook {name} deleted");
            }
        }
        WebhookCommand::Deliveries { name, limit } => {
            let id = app.webhooks().webhook_id(actor, name).await?;
            let page = app
                .webhooks()
                .webhook_attempts(actor, id, None, Some(*limit))
                .await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header(["at", "seq", "type", "outcome", "status", "ms", "error"]);
            for a in page.items {
                t.add_row([
                    a.at,
                    a.seq.map(|s| s.to_string()).unwrap_or_default(),
                    a.event_type,
                    a.outcome,
                    a.status.map(|s| s.to_string()).unwrap_or_default(),
                    a.latency_ms.to_string(),
                    a.error
                        .unwrap_or_default()
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(80)
                        .collect(),
                ]);
            }
            outln!("{t}");
        }
        WebhookCommand::Replay { name, from } => {
            let id = app.webhooks().webhook_id(actor, name).await?;
            let r = app
                .webhooks()
                .replay_webhook(actor, id, ReplayRequest { from: *from })
                .await?;
            if json {
                print_json(&r);
            } else {
                outln!(
                    "{} events queued again for {name} (seq {} to {})",
                    r.queued,
                    r.from,
                    r.through
                );
                if let Some(next) = r.next_from {
                    outln!("more remain: replay again with --from {next}");
                }
            }
        }
        WebhookCommand::Test { name } => {
            let id = app.webhooks().webhook_id(actor, name).await?;
            let r = app.webhooks().ping_webhook(actor, id).await?;
            if json {
                print_json(&r);
            } else if r.delivered {
                outln!(
                    "delivered: HTTP {} in {} ms",
                    r.status.unwrap_or_default(),
                    r.latency_ms
                );
            } else {
                return Err(Failure(format!(
                    "not delivered: {}",
                    r.error.unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}
