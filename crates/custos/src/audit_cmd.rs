//! `custos audit verify|checkpoint`.

use crate::output::outln;
use std::process::ExitCode;

use custos_app::{App, ChainReport};

use crate::{print_json, Failure};

pub(crate) async fn audit_verify(app: &App, json: bool) -> Result<ExitCode, Failure> {
    match app.audit().verify_audit().await? {
        ChainReport::Ok {
            entries,
            head_hash,
            checkpoints,
            ..
        } => {
            if json {
                print_json(&serde_json::json!({
                    "ok": true, "entries": entries, "head_hash": head_hash,
                    "checkpoints": checkpoints,
                }));
            } else {
                outln!("OK: {entries} entries, head {head_hash}, {checkpoints} checkpoints");
            }
            Ok(ExitCode::SUCCESS)
        }
        ChainReport::Broken { seq, reason } => {
            if json {
                print_json(&serde_json::json!({"ok": false, "seq": seq, "reason": reason}));
            } else {
                outln!("BROKEN at entry {seq}: {reason}");
            }
            Ok(ExitCode::from(2))
        }
    }
}

pub(crate) async fn audit_checkpoint(app: &App, json: bool) -> Result<ExitCode, Failure> {
    use custos_app::audit::CheckpointOutcome;
    match app.audit().write_audit_checkpoint().await? {
        CheckpointOutcome::Written { checkpoint, file } => {
            if json {
                print_json(&serde_json::json!({
                    "ok": true, "file": file.display().to_string(), "checkpoint": checkpoint,
                }));
            } else {
                outln!(
                    "checkpoint written: entry {}, hash {}, at {} ({})",
                    checkpoint.seq,
                    checkpoint.hash,
                    checkpoint.at,
                    file.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckpointOutcome::NotDue => {
            if json {
                print_json(&serde_json::json!({"ok": true, "checkpoint": null}));
            } else {
                outln!("no checkpoint written: nothing new to anchor");
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckpointOutcome::NotConfigured => {
            Err(Failure("no audit checkpoint file is configured".into()))
        }
        CheckpointOutcome::Broken { seq, reason } => {
            if json {
                print_json(&serde_json::json!({"ok": false, "seq": seq, "reason": reason}));
            } else {
                outln!("BROKEN at entry {seq}: {reason}; no checkpoint written");
            }
            Ok(ExitCode::from(2))
        }
    }
}
