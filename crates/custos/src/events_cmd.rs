//! `custos events tail`: the change feed on the command line (see docs/integration.md).

use clap::Subcommand;

use custos_app::events::{EventQuery, EventView, MAX_LIMIT, MAX_WAIT_SECONDS};
use custos_app::{Actor, App};

use crate::output::outln;
use crate::Failure;

#[derive(Subcommand, Debug, Clone)]
pub enum EventsCommand {
    /// Print events in commit order after a position; with --follow, keep printing new
    /// ones as they commit (Ctrl-C to stop).
    Tail {
        /// Events numbered above this (default 0: from the oldest kept).
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Only these types, comma-separated (e.g. customer.merged,code.issued).
        #[arg(long, value_delimiter = ',')]
        types: Vec<String>,
        /// Keep waiting for new events instead of stopping at the newest.
        #[arg(long)]
        follow: bool,
    },
}

pub async fn run_events(
    app: &App,
    actor: &Actor,
    command: &EventsCommand,
    json: bool,
) -> Result<(), Failure> {
    let EventsCommand::Tail {
        after,
        types,
        follow,
    } = command;
    let mut after = *after;
    loop {
        let page = app
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
