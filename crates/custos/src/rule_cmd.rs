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
    /// 添加编码规则 (add)：从 TOML 或 JSON 文件加入规则（或其下一版本）为草稿 (draft)。
    Add {
        /// 规则文件（.toml 或 .json，见 docs/code-rules.md）。
        file: std::path::PathBuf,
        /// 立即发布 (publish)。
        #[arg(long)]
        publish: bool,
    },
    /// 列出编码规则及其版本 (list)。
    List,
    /// 发布 (publish) 规则的草稿。
    Publish {
        /// 规则标识 (rule key)。
        key: String,
    },
    /// 停用 (disable)：此规则不再发放编码；已发放的编码仍然有效。
    Disable {
        /// 规则标识 (rule key)。
        key: String,
    },
    /// 预览 (preview)：示例客户接下来会得到的编码，不占用任何编码。
    Preview {
        /// 规则标识 (rule key)。
        key: String,
        /// 示例客户的客户类型 (customer type)。
        #[arg(long, default_value = "enterprise")]
        customer_type: String,
        /// 示例客户的行政区划代码 (region code，6 位)。
        #[arg(long)]
        region: Option<String>,
        /// 发放日期 YYYY-MM-DD（默认今天）。
        #[arg(long)]
        date: Option<String>,
        /// 显示几个编码。
        #[arg(long, default_value_t = 5)]
        count: usize,
    },
    /// 容量 (capacity)：每个流水依据 (sequence scope) 已用 / 剩余的编码数。
    Capacity {
        /// 规则标识 (rule key)。
        key: String,
    },
}

#[derive(Subcommand)]
pub enum CodeCommand {
    /// 校验编码 (validate)：格式、所属规则、各段含义、校验位 (check character)、发放状态。
    Validate {
        /// 要校验的客户编码 (code)。
        code: String,
    },
    /// 恢复发号 (resume after restore)：恢复备份后暂停的编码发放 (issue hold) 重新开始（见 docs/backup.md）。
    ResumeAfterRestore(ResumeArgs),
}

#[derive(clap::Args)]
#[group(required = true, multiple = true)]
pub struct ResumeArgs {
    /// 已知已发放的编码清单文件，每行一个（例如 ERP 中每条规则、每个流水依据的最后一个编码；
    /// 空行和以 # 开头的行跳过）：流水号计数器越过它们，这些编码记为恢复中丢失
    /// (lost in restore)。
    #[arg(long, value_name = "FILE")]
    confirm_last: Option<std::path::PathBuf>,
    /// 把每个已有的流水号 (sequence) 计数器向前跳过 N 个号。
    #[arg(long, value_name = "N")]
    skip: Option<i64>,
    /// 按现状恢复：确认备份之后没有发放过编码。
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
            let mut view = app.codes().create_code_rule(actor, rule).await?;
            if *publish {
                view = app.codes().publish_code_rule(actor, &key).await?;
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
            let rules = app.codes().list_code_rules(actor).await?;
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
                app.codes().publish_code_rule(actor, key).await?
            } else {
                app.codes().disable_code_rule(actor, key).await?
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
                .codes()
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
            let c = app.codes().code_rule_capacity(actor, key).await?;
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
    let v = app.codes().validate_code(actor, code).await?;
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
    let input = custos_app::resume_issuing::ResumeIssuing {
        issued_codes,
        skip: args.skip,
        accept: args.accept,
    };
    let report = app.backups().resume_code_issuing(actor, input).await?;
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
