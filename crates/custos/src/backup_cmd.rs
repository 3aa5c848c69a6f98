//! `custos backup FILE` and `custos restore FILE`.

use crate::output::outln;
use std::path::Path;
use std::process::ExitCode;

use crate::args::{Cli, PassphraseArgs};
use crate::{actor, config, open, print_json, rule_cmd, Failure};

/// `custos backup`: a consistent online backup of the SQLite database to `file`.
pub(crate) async fn backup(
    cli: &Cli,
    file: &Path,
    passphrase: &PassphraseArgs,
) -> Result<ExitCode, Failure> {
    let passphrase = passphrase.read()?;
    let (app, _, _lock) = open(cli, None).await?;
    let actor = actor(&app, cli).await?;
    let header = app.demo().backup(&actor, file, passphrase.as_ref()).await?;
    if cli.json {
        print_json(&header);
    } else {
        outln!(
            "backup written to {} ({} bytes, sha256 {}{})",
            file.display(),
            header.size,
            header.sha256,
            if header.encryption.is_some() {
                ", encrypted, carries the PII key"
            } else {
                ""
            }
        );
        if header.encryption.is_none() {
            eprintln!(
                "注意：未加密的备份不含 PII 密钥 {id}，请另行保管 pii.key / \
                 note: an unencrypted backup does not carry PII key {id}; keep pii.key safe separately",
                id = header.pii_key_id().unwrap_or("?")
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `custos restore`: a backup `file` into the data directory (the server stopped).
pub(crate) async fn restore(
    cli: &Cli,
    file: &Path,
    force: bool,
    passphrase: &PassphraseArgs,
) -> Result<ExitCode, Failure> {
    // Not config::load: that would create a fresh pii.key in an empty directory
    // before the backup's key can be put there.
    let location = config::locate(
        cli.config.as_deref(),
        cli.data_dir.clone(),
        cli.database_url.clone(),
    )?;
    if location.database_url.is_some() {
        return Err(Failure(
            "restore works on the embedded SQLite database; for PostgreSQL stop every server, \
             use pg_restore, then run custos code resume-after-restore before starting them \
             again (docs/backup.md)"
                .into(),
        ));
    }
    let opts = custos_app::backup::RestoreOptions {
        force,
        passphrase: passphrase.read()?,
        env_key: config::env_pii_key()?,
    };
    let report = custos_app::backup::restore_backup(file, &location.data_dir, opts).await?;
    if cli.json {
        print_json(&report);
    } else {
        outln!(
            "restored {} into {} ({} audit entries verified)",
            file.display(),
            report.target.display(),
            report.audit_entries
        );
        if let Some(note) = pii_key_note(&report) {
            eprintln!("{note}");
        }
        eprintln!("{}", rule_cmd::code_carry_note(&report.codes));
    }
    Ok(ExitCode::SUCCESS)
}

/// What the user should know about the PII key after a restore.
fn pii_key_note(report: &custos_app::backup::RestoreReport) -> Option<String> {
    use custos_app::backup::PiiKeyOutcome;
    let id = report.pii_key_id.as_deref().unwrap_or("?");
    Some(match report.pii_key {
        PiiKeyOutcome::Matches | PiiKeyOutcome::NotNeeded => return None,
        PiiKeyOutcome::Written => {
            format!("已从备份写入 PII 密钥 {id} 到 pii.key / wrote the backup's PII key {id} to pii.key")
        }
        PiiKeyOutcome::Replaced => format!(
            "已用备份的 PII 密钥 {id} 替换 pii.key（旧文件保留为 pii.key.replaced-*） / \
             replaced pii.key with the backup's PII key {id} (the old file is kept as pii.key.replaced-*)"
        ),
        PiiKeyOutcome::Missing => format!(
            "注意：数据目录中没有 PII 密钥；启动前请放入备份时的 pii.key（密钥 {id}） / \
             note: no PII key is in place; put the backup's pii.key (key {id}) in the data directory before starting"
        ),
        PiiKeyOutcome::Mismatch => format!(
            "警告：当前 PII 密钥不是备份的密钥 {id}，加密的个人信息将无法读取 / \
             warning: the PII key in effect is not the backup's key {id}; encrypted personal data cannot be read"
        ),
    })
}
