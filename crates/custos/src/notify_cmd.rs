//! `custos notify channel add|list|pause|resume|remove|test`: group notification channels (DingTalk,
//! WeCom, webhooks), as the `--as` user (who needs `notifications.manage`).

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::Table;

use custos_app::channels::{ChannelPatch, NewChannel, NotificationKind, Provider};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::{print_json, Failure};

#[derive(Subcommand)]
pub(crate) enum NotifyCommand {
    /// 群通知渠道 (channel)：钉钉、企业微信群机器人，通用 Webhook。
    Channel {
        #[command(subcommand)]
        command: ChannelCommand,
    },
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    Provider::parse(s).ok_or_else(|| "provider: dingtalk | wecom | webhook".to_string())
}

fn parse_kind(s: &str) -> Result<NotificationKind, String> {
    NotificationKind::parse(s).ok_or_else(|| {
        let all: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("kind: one of {}", all.join(", "))
    })
}

#[derive(Subcommand)]
pub(crate) enum ChannelCommand {
    /// 添加通知渠道 (add)。
    Add {
        /// 名称（唯一），例如 华东销售群。
        #[arg(long)]
        name: String,
        /// 渠道类型 (provider)：dingtalk | wecom | webhook。
        #[arg(long, value_parser = parse_provider)]
        provider: Provider,
        /// 群机器人或接收方的地址 (URL)，加密保存。
        #[arg(long)]
        url: String,
        /// 存放签名密钥 (signing secret) 的文件（钉钉“加签”或 Webhook 的 HMAC 密钥）；
        /// 从文件读取，以免留在命令历史中。
        #[arg(long)]
        secret_file: Option<PathBuf>,
        /// 接收的通知类型 (kind)，可重复（task_pending、task_overdue、application_decided、
        /// application_progress、quality_assigned、followup_due、duplicates_found 重复客户待处理、
        /// code_capacity 编码容量预警）。
        #[arg(long = "kind", required = true, value_parser = parse_kind)]
        kinds: Vec<NotificationKind>,
        /// 接收哪个部门成员的通知（部门编号，含下级部门）；
        /// 可重复；不给时为全部部门。
        #[arg(long = "department")]
        departments: Vec<i64>,
    },
    /// 列出全部通知渠道，地址脱敏。
    List,
    /// 暂停通知渠道 (pause)：不再推送任何通知，待发送的投递作废（恢复后也不补发）；设置与投递记录保留。
    Pause {
        /// 渠道编号，即 `custos notify channel list` 显示的。
        id: i64,
    },
    /// 恢复通知渠道 (resume)：此后的通知重新推送到该渠道。
    Resume {
        /// 渠道编号，即 `custos notify channel list` 显示的。
        id: i64,
    },
    /// 删除通知渠道（按编号）及其待发送的消息。
    Remove {
        /// 渠道编号，即 `custos notify channel list` 显示的。
        id: i64,
    },
    /// 立即向通知渠道（按编号）发送一条测试消息 (test)。
    Test {
        /// 渠道编号，即 `custos notify channel list` 显示的。
        id: i64,
    },
}

pub(crate) async fn run_notify(
    app: &App,
    actor: &Actor,
    cmd: &NotifyCommand,
    json: bool,
) -> Result<(), Failure> {
    let NotifyCommand::Channel { command } = cmd;
    match command {
        ChannelCommand::Add {
            name,
            provider,
            url,
            secret_file,
            kinds,
            departments,
        } => {
            let secret = match secret_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?
                        .trim()
                        .to_string(),
                ),
                None => None,
            };
            let input = NewChannel {
                name: name.clone(),
                provider: *provider,
                url: url.clone(),
                secret,
                kinds: kinds.clone(),
                departments: departments.clone(),
            };
            let v = app
                .channels()
                .create_notification_channel(actor, input)
                .await?;
            if json {
                print_json(&v);
            } else {
                outln!("added channel {} (id {}, {})", v.name, v.id, v.url_masked);
            }
        }
        ChannelCommand::List => {
            let all = app.channels().list_notification_channels(actor).await?;
            if json {
                print_json(&all);
                return Ok(());
            }
            let mut t = Table::new();
            t.set_header([
                "id",
                "name",
                "provider",
                "state",
                "url",
                "kinds",
                "departments",
                "pending/sent/failed/cancelled",
            ]);
            for c in all {
                let kinds: Vec<&str> = c.kinds.iter().map(|k| k.as_str()).collect();
                let depts: Vec<String> = c.departments.iter().map(i64::to_string).collect();
                t.add_row([
                    c.id.to_string(),
                    c.name,
                    c.provider.as_str().to_string(),
                    if c.active { "active" } else { "paused" }.to_string(),
                    c.url_masked,
                    kinds.join(","),
                    if depts.is_empty() {
                        "all".to_string()
                    } else {
                        depts.join(",")
                    },
                    format!(
                        "{}/{}/{}/{}",
                        c.deliveries.pending,
                        c.deliveries.sent,
                        c.deliveries.failed,
                        c.deliveries.cancelled
                    ),
                ]);
            }
            outln!("{t}");
        }
        ChannelCommand::Pause { id } | ChannelCommand::Resume { id } => {
            let active = matches!(command, ChannelCommand::Resume { .. });
            let patch = ChannelPatch {
                active: Some(active),
                ..ChannelPatch::default()
            };
            let v = app
                .channels()
                .update_notification_channel(actor, *id, patch)
                .await?;
            if json {
                print_json(&v);
            } else if active {
                outln!("resumed channel {} (id {})", v.name, v.id);
            } else {
                outln!(
                    "paused channel {} (id {}): nothing is sent to it, its pending deliveries were cancelled",
                    v.name,
                    v.id
                );
            }
        }
        ChannelCommand::Remove { id } => {
            app.channels()
                .remove_notification_channel(actor, *id)
                .await?;
            outln!("removed channel {id}");
        }
        ChannelCommand::Test { id } => {
            let out = app.outbound_client()?;
            let r = app
                .channels()
                .test_notification_channel(actor, *id, &out)
                .await?;
            if json {
                print_json(&r);
            } else if r.ok {
                outln!("channel {id}: delivered ({} ms)", r.elapsed_ms);
            } else {
                return Err(Failure(format!(
                    "channel {id}: not delivered: {}",
                    r.error.unwrap_or_default()
                )));
            }
        }
    }
    Ok(())
}
