//! `custos events tail`: the change feed on the command line; `custos events relays`:
//! how far the publishers of the log (NATS) are (see docs/integration.md).

use clap::Subcommand;

use custos_app::events::{EventQuery, EventView, MAX_LIMIT, MAX_WAIT_SECONDS};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::Failure;

#[derive(Subcommand, Debug, Clone)]
pub enum EventsCommand {
    /// 按提交顺序输出某个位置之后的事件 (tail)；加 --follow 时持续输出新提交的事件
    /// （Ctrl-C 停止）。
    Tail {
        /// 只输出编号 (seq) 大于此数的事件（默认 0：从保留的最早事件开始）。
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// 只输出这些类型，逗号分隔（例如 customer.merged,code.issued）。
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// 持续等待新事件 (follow)，而不是输出到最新的就停止。
        #[arg(long)]
        follow: bool,
    },
    /// 显示事件日志的每个转发者 (relay，即 NATS 发布者)：它最后转出的事件
    /// 以及落后最新事件多少条。
    Relays,
}

pub async fn run_events(
    app: &App,
    actor: &Actor,
    command: &EventsCommand,
    json: bool,
) -> Result<(), Failure> {
    let (after, types, follow) = match command {
        EventsCommand::Tail {
            after,
            types,
            follow,
        } => (after, types, follow),
        EventsCommand::Relays => return relays(app, actor, json).await,
    };
    let mut after = *after;
    loop {
        let page = app
            .events()
            .read_events(
                actor,
                EventQuery {
                    after,
                    types: types.clone(),
                    limit: Some(MAX_LIMIT),
                    wait: if *follow { MAX_WAIT_SECONDS } else { 0 },
                },
            )
            .await?;
        for e in &page.events {
            print_event(e, json);
        }
        let moved = page.next != after;
        after = page.next;
        // Without --follow: stop once a read brings nothing new.
        if !*follow && (page.events.is_empty() || !moved) {
            return Ok(());
        }
    }
}

async fn relays(app: &App, actor: &Actor, json: bool) -> Result<(), Failure> {
    let (relays, newest) = app.events().event_relay_positions(actor).await?;
    if json {
        let rows: Vec<serde_json::Value> = relays
            .iter()
            .map(
                |(name, seq)| serde_json::json!({"name": name, "seq": seq, "behind": newest - seq}),
            )
            .collect();
        outln!("{}", serde_json::json!({"newest": newest, "relays": rows}));
        return Ok(());
    }
    if relays.is_empty() {
        outln!("没有发布器在运行过 / no relay has run (newest event: {newest})");
    }
    for (name, seq) in &relays {
        outln!(
            "{name:<12}  seq {seq:>10}  behind {:>8}  (newest {newest})",
            newest - seq
        );
    }
    Ok(())
}

fn print_event(e: &EventView, json: bool) {
    if json {
        // One object per line (JSON Lines), for scripts.
        outln!("{}", serde_json::to_string(e).unwrap_or_default());
        return;
    }
    let at = chrono::DateTime::from_timestamp_micros(e.at)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    outln!(
        "{:>8}  {at}  {:<22}  {:<14}  {:<12}  {}",
        e.seq,
        e.kind,
        e.customer_code.as_deref().unwrap_or("-"),
        e.actor_name,
        e.payload
    );
}
