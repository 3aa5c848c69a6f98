//! `custos key status|rotate|activate|rekey|retire`: the PII master key ring.

use crate::output::outln;

use custos_app::keyring::{RekeyJob, RekeyStep};
use custos_app::{Actor, App};

use crate::args::KeyCommand;
use crate::{print_json, Failure};

pub(crate) async fn run_key(
    app: &App,
    actor: &Actor,
    command: &KeyCommand,
    json: bool,
) -> Result<(), Failure> {
    match command {
        KeyCommand::Status => {
            let s = app.keyring().pii_key_status(actor).await?;
            if json {
                print_json(&s);
                return Ok(());
            }
            outln!("active key: {}", s.active);
            outln!("key ring:   {}", s.ring.join(", "));
            let left: Vec<_> = s.to_rekey.iter().filter(|r| r.rows > 0).collect();
            if left.is_empty() {
                outln!("rows under older keys: none");
            }
            for r in left {
                outln!("rows under key {}: {} in {}", r.key_id, r.rows, r.table);
            }
            match &s.job {
                Some(j) => outln!("re-keying: {}", describe(j)),
                None => outln!("re-keying: never ran"),
            }
        }
        KeyCommand::Rotate { stage } => {
            let r = app.keyring().rotate_pii_key(actor, *stage).await?;
            if json {
                print_json(&r);
            } else if r.active {
                outln!(
                    "new key {} is active (was {}); written to {}. Stored data is re-keyed by \
                     a running server, or run `custos key rekey`.",
                    r.key_id,
                    r.previous,
                    r.file
                );
            } else {
                outln!(
                    "new key {} added to {} (not active; {} still is). Copy the file to every \
                     server, then run `custos key activate {}`.",
                    r.key_id,
                    r.file,
                    r.previous,
                    r.key_id
                );
            }
        }
        KeyCommand::Activate { id } => {
            app.keyring().activate_pii_key(actor, id).await?;
            if json {
                print_json(&serde_json::json!({"active": id}));
            } else {
                outln!("key {id} is active; re-keying started");
            }
        }
        KeyCommand::Rekey => {
            actor.require("system.keys")?;
            let started = std::time::Instant::now();
            let mut rows = 0i64;
            let mut last_report = std::time::Instant::now();
            let job = app
                .keyring()
                .run_rekey(|step| {
                    if let RekeyStep::Progress(n) = step {
                        rows += n;
                        if !json && last_report.elapsed().as_secs() >= 2 {
                            eprintln!("re-keyed {rows} rows");
                            last_report = std::time::Instant::now();
                        }
                    }
                })
                .await?;
            let secs = started.elapsed().as_secs_f64();
            if json {
                print_json(&serde_json::json!({
                    "rows": rows, "seconds": secs, "job": job,
                }));
            } else {
                outln!(
                    "re-keyed {rows} rows in {secs:.1} s; {}",
                    job.as_ref()
                        .map(describe)
                        .unwrap_or_else(|| "no rotation to finish".into())
                );
            }
        }
        KeyCommand::Retire { id } => {
            app.keyring().retire_pii_key(actor, id).await?;
            if json {
                print_json(&serde_json::json!({"retired": id}));
            } else {
                outln!("key {id} retired: removed from the ring (its audit keys are kept)");
            }
        }
    }
    Ok(())
}

fn describe(j: &RekeyJob) -> String {
    match (j.finished_at, j.table_name()) {
        (Some(_), _) => format!(
            "to key {} finished, {} rows in {} passes",
            j.target, j.rows_rekeyed, j.pass
        ),
        (None, Some(t)) => format!(
            "to key {} running: pass {}, table {t} after {:?}, {} rows so far",
            j.target, j.pass, j.cursor, j.rows_rekeyed
        ),
        (None, None) => format!(
            "to key {} running: pass {} walked, {} rows so far",
            j.target, j.pass, j.rows_rekeyed
        ),
    }
}
