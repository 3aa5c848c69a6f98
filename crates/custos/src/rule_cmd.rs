//! `custos rule …` and `custos code …`: code rules from files, previews, capacity, and code
//! validation, through the same use cases as the API.

use crate::output::outln;
use std::path::Path;

use clap::Subcommand;
use comfy_table::Table;

use custos_app::codes::{NewCodeRule, SampleCustomer};
use custos_app::{Actor, App};

use crate::{print_json, Failure};

#[derive(Subcommand)]
pub enum RuleCommand {
    /// Add a rule (or its next version) as a draft from a TOML or JSON file.
    Add {
        /// The rule file (.toml or .json; see docs/code-rules.md).
        file: std::path::PathBuf,
        /// Publish it right away.
        #[arg(long)]
        publish: bool,
    },
    /// List rules and their versions.
    List,
    /// Publish the draft of a rule.
    Publish {
        /// The rule's key.
        key: String,
    },
    /// Stop issuing codes from a rule.
    Disable {
        /// The rule's key.
        key: String,
    },
    /// The next codes for a sample customer (nothing is consumed).
    Preview {
        /// The rule's key.
        key: String,
        /// Customer type of the sample customer.
        #[arg(long, default_value = "enterprise")]
        customer_type: String,
        /// Region code (6 digits) of the sample customer.
        #[arg(long)]
        region: Option<String>,
        /// Issue date YYYY-MM-DD (default today).
        #[arg(long)]
        date: Option<String>,
        /// How many codes to show.
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
    /// Used / remaining codes per sequence scope.
    Capacity {
        /// The rule's key.
        key: String,
    },
}

#[derive(Subcommand)]
pub enum CodeCommand {
    /// Check a code: shape, rule, decoded segments, check character, issue status.
    Validate {
        /// The code to check.
        code: String,
    },
    /// Let code issuing resume after a restore put it on hold (docs/backup.md).
    ResumeAfterRestore(ResumeArgs),
}

#[derive(clap::Args)]
#[group(required = true, multiple = true)]
pub struct ResumeArgs {
    /// File of codes known to be issued, one per line (e.g. the last codes in ERP per
    /// rule and scope; blank lines and lines starting with # are skipped): counters are
    /// raised past them and they are recorded as lost in the restore.
    #[arg(long, value_name = "FILE")]
    confirm_last: Option<std::path::PathBuf>,
    /// Raise every existing sequence counter by N numbers.
    #[arg(long, value_name = "N")]
    skip: Option<i64>,
    /// Resume as it is: nothing was issued after the backup.
    #[arg(long, conflicts_with_all = ["confirm_last", "skip"])]
    accept: bool,
}

/// Most bytes of a --confirm-last file (100,000 codes of up to 64 characters).
const MAX_CONFIRM_FILE: u64 = 7 << 20;

fn read_confirmed(path: &Path) -> Result<Vec<String>, Failure> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    let mut text = String::new();
    file.take(MAX_CONFIRM_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    if text.len() as u64 > MAX_CONFIRM_FILE {
        return Err(Failure(format!(
            "{} is larger than {MAX_CONFIRM_FILE} bytes",
            path.display()
        )));
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// What a restore did about codes, for the terminal.
pub fn code_carry_note(c: &custos_app::restore_guard::CodeCarry) -> String {
    use custos_app::restore_guard::LiveDatabase;
    match (&c.hold, c.live) {
        (None, _) => format!(
            "编码：已从被替换的数据库带入 {} 个计数器、{} 个备份后发放的编码（状态 lost_in_restore） /              codes: carried {} sequence counters and {} codes issued after the backup (status lost_in_restore) from the replaced database",
            c.sequences_raised, c.codes_lost, c.sequences_raised, c.codes_lost
        ),
        (Some(h), live) => format!(
            "注意：客户编码发放已暂停（{}）：核对 ERP 中最后发放的编码后运行 custos code resume-after-restore /              note: code issuing is on hold ({}{}): check the last codes issued (e.g. in ERP), then run custos code resume-after-restore",
            h.reason,
            h.reason,
            if live == LiveDatabase::Carried {
                format!("; carried {} counters and {} codes", c.sequences_raised, c.codes_lost)
            } else {
                String::new()
            }
        ),
    }
}

fn read_rule(file: &Path) -> Result<NewCodeRule, Failure> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure(format!("cannot read {}: {e}", file.display())))?;
    let is_json = file
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        serde_json::from_str(&text).map_err(|e| {
            Failure(format!(
                "{} is not a valid rule (JSON): {e}",
                file.display()
            ))
        })
    } else {
        toml::from_str(&text).map_err(|e| {
            Failure(format!(
                "{} is not a valid rule (TOML): {e}",
                file.display()
            ))
        })
    }
}

pub async fn run_rule(
    app: &App,
    actor: &Actor,
    cmd: &RuleCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        RuleCommand::Add { file, publish } => {
            let rule = read_rule(file)?;
            let key = rule.key.clone();
            let mut view = app.create_code_rule(actor, rule).await?;
            if *publish {
                view = app.publish_code_rule(actor, &key).await?;
            }
            if json {
                print_json(&view);
            } else {
                let v = view.versions.last().map(|v| (v.version, v.status.clone()));
                if let Some((version, status)) = v {
                    outln!("rule {key} version {version}: {status}");
                }
            }
        }
        RuleCommand::List => {
            let rules = app.list_code_rules(actor).await?;
            if json {
                print_json(&rules);
            } else {
                let mut t = Table::new();
                t.set_header(["key", "name", "version", "status", "applies to", "segments"]);
                for r in rules {
                    for v in r.versions {
                        let segs: Vec<String> = v
                            .segments
                            .iter()
                            .map(|s| serde_json::to_string(s).unwrap_or_default())
                            .collect();
                        t.add_row([
                            r.key.clone(),
                            v.name,
                            v.version.to_string(),
                            v.status,
                            serde_json::to_string(&v.applies_to).unwrap_or_default(),
                            segs.join(" + "),
                        ]);
                    }
                }
                outln!("{t}");
            }
        }
        RuleCommand::Publish { key } | RuleCommand::Disable { key } => {
            let view = if matches!(cmd, RuleCommand::Publish { .. }) {
                app.publish_code_rule(actor, key).await?
            } else {
                app.disable_code_rule(actor, key).await?
            };
            if json {
                print_json(&view);
            } else {
                outln!(
                    "rule {key}: published version {}",
                    view.published_version
                        .map(|v| v.to_string())
                        .unwrap_or_else(|| "none".into())
                );
            }
        }
        RuleCommand::Preview {
            key,
            customer_type,
            region,
            date,
            count,
        } => {
            let p = app
                .preview_code_rule(
                    actor,
                    key,
                    SampleCustomer {
                        customer_type: customer_type.clone(),
                        region_code: region.clone(),
                        date: date.clone(),
                        count: Some(*count),
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                print_json(&p);
            } else {
                outln!(
                    "rule {key} v{}{}:",
                    p.version,
                    if p.examples_only {
                        " (random: examples)"
                    } else {
                        ""
                    }
                );
                for c in p.codes {
                    outln!("  {c}");
                }
            }
        }
        RuleCommand::Capacity { key } => {
            let c = app.code_rule_capacity(actor, key).await?;
            if json {
                print_json(&c);
            } else {
                let mut t = Table::new();
                t.set_header(["scope", "used", "remaining", "capacity", "% used", ""]);
                for s in &c.scopes {
                    t.add_row([
                        s.scope.clone(),
                        s.used.to_string(),
                        s.remaining.to_string(),
                        s.capacity.to_string(),
                        format!("{:.2}", s.percent_used),
                        if s.warning {
                            "⚠ ≥80%".into()
                        } else {
                            String::new()
                        },
                    ]);
                }
                outln!("{t}");
                for w in c.warnings {
                    outln!("warning: {w}");
                }
            }
        }
    }
    Ok(())
}

pub async fn run_code(
    app: &App,
    actor: &Actor,
    cmd: &CodeCommand,
    json: bool,
) -> Result<bool, Failure> {
    let code = match cmd {
        CodeCommand::Validate { code } => code,
        CodeCommand::ResumeAfterRestore(args) => {
            resume(app, actor, args, json).await?;
            return Ok(true);
        }
    };
    let v = app.validate_code(actor, code).await?;
    if json {
        print_json(&v);
    } else {
        outln!(
            "code {}: {}",
            v.code,
            if v.well_formed {
                "well-formed"
            } else {
                "fits no rule"
            }
        );
        if let Some(m) = v.matches.first() {
            outln!(
                "  rule {} v{} ({})",
                m.rule_key,
                m.rule_version,
                m.rule_status
            );
            for p in &m.decoded.parts {
                outln!(
                    "  {:<9} {:<12} {}",
                    p.kind,
                    p.text,
                    p.meaning.clone().unwrap_or_default()
                );
            }
        }
        match v.check_valid {
            Some(true) => outln!("  check character: correct"),
            Some(false) => outln!("  check character: WRONG"),
            None => {}
        }
        if let Some(issued) = v.issued {
            match &v.registry {
                Some(r) if issued => {
                    outln!("  issued: yes, status {}", r.status);
                    if let Some(reason) = &r.reason {
                        outln!("  {reason}");
                    }
                }
                _ => outln!("  issued: no"),
            }
        }
        for e in &v.errors {
            outln!("  {e}");
        }
    }
    Ok(v.well_formed && v.check_valid != Some(false))
}

async fn resume(app: &App, actor: &Actor, args: &ResumeArgs, json: bool) -> Result<(), Failure> {
    let issued_codes = match &args.confirm_last {
        Some(path) => read_confirmed(path)?,
        None => Vec::new(),
    };
    let input = custos_app::restore_guard::ResumeIssuing {
        issued_codes,
        skip: args.skip,
        accept: args.accept,
    };
    let report = app.resume_code_issuing(actor, input).await?;
    if json {
        print_json(&report);
        return Ok(());
    }
    for r in &report.raised {
        outln!(
            "  {} / {}: {} -> {}",
            r.rule_key,
            r.scope,
            r.from.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
            r.to
        );
    }
    outln!(
        "code issuing resumed: {} counters raised, {} confirmed codes recorded as lost_in_restore{}",
        report.raised.len(),
        report.codes_recorded,
        if report.lifted.is_some() {
            ", hold lifted"
        } else {
            ""
        }
    );
    Ok(())
}
