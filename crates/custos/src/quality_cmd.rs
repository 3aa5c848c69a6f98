//! `custos quality recompute` and `custos quality snapshot`: data quality from the
//! command line (see docs/quality.md).

use std::io::IsTerminal;

use clap::Subcommand;

use custos_app::actor::Source;
use custos_app::{Actor, App};

use crate::output::outln;
use crate::Failure;

#[derive(Subcommand, Debug, Clone)]
pub enum QualityCommand {
    /// Rescore every assessed customer (after a rule or configuration change, and once
    /// after upgrading to a version with data quality). Chunked; resumable with --after.
    Recompute {
        /// Start after this customer id (the last id an interrupted run printed).
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// Take today's snapshot of the quality figures (one per day; a second run does
    /// nothing). `custos serve` takes it by itself every day.
    Snapshot,
}

pub async fn run_quality(
    app: &App,
    actor: &Actor,
    command: &QualityCommand,
    json: bool,
) -> Result<(), Failure> {
    match command {
        QualityCommand::Recompute { after } => {
            let tty = std::io::stderr().is_terminal() && !json;
            let report = app
                .recompute_quality(actor, *after, |n, last| {
                    if tty {
                        eprint!("\r{n} customers scored (last id {last})");
                    }
                })
                .await?;
            if tty {
                eprintln!();
            }
            if json {
                outln!("{}", serde_json::to_string(&report).unwrap_or_default());
            } else {
                eprintln!(
                    "{} customers scored in {:.1}s (last id {})",
                    report.scored,
                    report.millis as f64 / 1000.0,
                    report.last_id
                );
            }
        }
        QualityCommand::Snapshot => {
            actor.require("quality.manage")?;
            let o = app.take_quality_snapshot(Source::Cli).await?;
            if json {
                outln!("{}", serde_json::to_string(&o).unwrap_or_default());
            } else if o.written {
                eprintln!(
                    "snapshot of {} taken ({} stale customers rescored)",
                    o.day, o.rescored_stale
                );
            } else {
                eprintln!(
                    "{} already has its snapshot ({} stale customers rescored)",
                    o.day, o.rescored_stale
                );
            }
        }
    }
    Ok(())
}
