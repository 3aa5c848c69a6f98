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
    /// 重新计算 (recompute) 每个客户的质量得分（规则或配置改变后，以及升级到有数据质量功能的
    /// 版本后运行一次）。分批进行；可用 --after 续做。
    Recompute {
        /// 从这个客户编号之后开始（中断的运行最后输出的编号）。
        #[arg(long, default_value_t = 0)]
        after: i64,
    },
    /// 生成今天的质量快照 (snapshot)（每天一个，再次运行不做任何事）。
    /// `custos serve` 每天会自动生成。
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
                .quality()
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
            let o = app.quality().take_quality_snapshot(Source::Cli).await?;
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
