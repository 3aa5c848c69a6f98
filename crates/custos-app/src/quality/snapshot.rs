//! Daily snapshots of the whole database's quality figures (one per business day,
//! idempotent), taken by `custos serve` once a day and by `custos quality snapshot`, and
//! the trend read from them.

use crate::quality::Quality;
use custos_store::customer_master::ScopeFilter;
use custos_store::quality::QualitySnapshotRow;
use serde::{Deserialize, Serialize};

use super::reports::{dimension_figures, round1, DimensionFigure, KpiFigure};
use super::rules::stale_cutoff;
use crate::actor::{Actor, Context, Scope, Source};
use crate::audit::{append, record_ctx};
use crate::codes::issue_date;
use crate::error::AppResult;
use crate::paging::invalid;
use crate::{to_json, App};

/// What taking the day's snapshot did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SnapshotOutcome {
    /// `YYYY-MM-DD` in the business time zone.
    pub day: String,
    /// False when the day had its snapshot already.
    pub written: bool,
    /// Customers rescored because they went stale since last written.
    pub rescored_stale: u64,
}

/// Figures of one day.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendPoint {
    pub day: String,
    pub customers: i64,
    pub average_score: f64,
    pub dimensions: Vec<TrendDimension>,
    pub kpis: Vec<TrendKpi>,
}

/// The trend: the daily points, or none with `withheld` when the caller's scope does
/// not reach every customer (the snapshots count them all).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QualityTrend {
    pub points: Vec<TrendPoint>,
    pub withheld: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendDimension {
    pub dimension: super::Dimension,
    pub score: f64,
    pub pass_rate: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrendKpi {
    pub key: String,
    pub value: f64,
    pub target: f64,
    pub passed: bool,
}

#[derive(Serialize, Deserialize)]
struct Figures {
    dimensions: Vec<TrendDimension>,
    kpis: Vec<TrendKpi>,
}

fn figures(dims: &[DimensionFigure], kpis: &[KpiFigure]) -> Figures {
    Figures {
        dimensions: dims
            .iter()
            .map(|d| TrendDimension {
                dimension: d.dimension,
                score: d.score,
                pass_rate: d.pass_rate.unwrap_or(100.0),
            })
            .collect(),
        kpis: kpis
            .iter()
            .map(|k| TrendKpi {
                key: k.key.clone(),
                value: k.value,
                target: k.target,
                passed: k.passed,
            })
            .collect(),
    }
}

impl Quality<'_> {
    /// Rescore customers whose timeliness lapsed since they were scored (the clock moved,
    /// no write did), in chunks; returns how many.
    pub async fn rescore_stale_quality(&self) -> AppResult<u64> {
        let now = custos_store::now_us();
        let Some(cutoff) = stale_cutoff(now, self.app.config.quality.stale_months) else {
            return Ok(0);
        };
        let mut after = 0;
        let mut total = 0u64;
        loop {
            let mut tx = self.app.db.begin().await?;
            let ids = tx.quality_gone_stale(cutoff, after, 1000).await?;
            let Some(last) = ids.last().copied() else {
                tx.rollback().await?;
                return Ok(total);
            };
            self.refresh_quality_of(&mut tx, &ids).await?;
            tx.commit().await?;
            total += ids.len() as u64;
            after = last;
        }
    }

    /// Take today's snapshot (business time zone) unless taken already: stale scores are
    /// caught up first, then the figures over every assessed customer are kept. Run by
    /// the server daily and by `custos quality snapshot`.
    pub async fn take_quality_snapshot(&self, source: Source) -> AppResult<SnapshotOutcome> {
        let day = issue_date(self.app.config.code_timezone).to_string();
        let rescored_stale = self.rescore_stale_quality().await?;
        let mut tx = self.app.db.begin().await?;
        let (total, _, kpis) = self.quality_figures(&mut tx, &ScopeFilter::All).await?;
        let dims = dimension_figures(&total);
        let average = if total.customers == 0 {
            100.0
        } else {
            round1(total.score)
        };
        let row = QualitySnapshotRow {
            day: day.clone(),
            taken_at: custos_store::now_us(),
            customers: total.customers,
            average_score: average,
            figures: to_json(&figures(&dims, &kpis)).unwrap_or_else(|| "{}".into()),
        };
        let written = tx.insert_quality_snapshot(&row).await?;
        if written {
            let mut r = record_ctx(
                None,
                "system",
                &Context::new(source),
                "quality.snapshot",
                "quality",
                &day,
            );
            r.after = to_json(&serde_json::json!({
                "customers": total.customers, "average_score": average,
            }));
            append(&mut tx, r).await?;
            tx.commit().await?;
        } else {
            tx.rollback().await?;
        }
        Ok(SnapshotOutcome {
            day,
            written,
            rescored_stale,
        })
    }

    /// The daily figures of the last `days` days (1–366, default 90), oldest first. The
    /// snapshots count every customer, so only a caller whose `quality.read` reaches all
    /// customers gets them; anyone else gets none, marked `withheld`.
    pub async fn quality_trend(
        &self,
        actor: &Actor,
        days: Option<&str>,
    ) -> AppResult<QualityTrend> {
        let scope = actor.require("quality.read")?;
        let days = match days.map(str::trim).filter(|d| !d.is_empty()) {
            None => 90,
            Some(d) => match d.parse::<u32>() {
                Ok(n) if (1..=366).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "days",
                        d,
                        "应为 1–366 的整数",
                        "must be an integer 1–366",
                    ))
                }
            },
        };
        if scope != Scope::All {
            return Ok(QualityTrend {
                points: Vec::new(),
                withheld: true,
            });
        }
        let today = issue_date(self.app.config.code_timezone);
        let from = today - chrono::Days::new(u64::from(days) - 1);
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.quality_snapshots(&from.to_string(), 366).await?;
        tx.rollback().await?;
        let points = rows
            .into_iter()
            .map(|r| {
                let f: Figures = serde_json::from_str(&r.figures).unwrap_or(Figures {
                    dimensions: Vec::new(),
                    kpis: Vec::new(),
                });
                TrendPoint {
                    day: r.day,
                    customers: r.customers,
                    average_score: r.average_score,
                    dimensions: f.dimensions,
                    kpis: f.kpis,
                }
            })
            .collect();
        Ok(QualityTrend {
            points,
            withheld: false,
        })
    }
}

impl App {
    /// Run by `custos serve`: take the day's snapshot at start and then every hour (a
    /// day that has one is left alone). Errors are logged and retried the next hour.
    pub async fn run_quality_snapshots(self) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match self.quality().take_quality_snapshot(Source::System).await {
                Ok(o) if o.written => tracing::info!(day = %o.day, "quality snapshot taken"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "quality snapshot failed; will retry"),
            }
        }
    }
}
