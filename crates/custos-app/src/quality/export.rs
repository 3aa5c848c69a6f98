//! The quality report as an XLSX workbook (the console's 下载质量报告): the summary of the
//! caller's scope — average, dimensions, KPIs against targets, customers failing each
//! rule — and the first worklist page. Rules and fields only, never values; audited.

use crate::quality::Quality;
use custos_core::violation::Lang;
use custos_files::xlsx_writer::XlsxStream;
use serde_json::json;

use super::reports::WorklistQuery;
use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};

/// Customers of the worklist the report lists (the lowest scores).
const WORKLIST_ROWS: &str = "200";

impl Quality<'_> {
    /// The report as workbook bytes (`quality.read`; counts the caller's scope only).
    pub async fn export_quality_xlsx(&self, actor: &Actor, lang: Lang) -> AppResult<Vec<u8>> {
        let summary = self.quality_summary(actor, None).await?;
        let worklist = self
            .quality_worklist(
                actor,
                &WorklistQuery {
                    limit: Some(WORKLIST_ROWS.into()),
                    ..Default::default()
                },
            )
            .await?;
        let zh = lang == Lang::Zh;
        let pick = |a: &str, b: &str| if zh { a.to_string() } else { b.to_string() };
        let mut rows: Vec<[String; 5]> = vec![[
            pick("总体", "Overall"),
            String::new(),
            pick("平均得分", "Average score"),
            summary.average_score.to_string(),
            format!("{} {}", summary.customers, pick("个客户", "customers")),
        ]];
        for d in &summary.dimensions {
            rows.push([
                pick("维度", "Dimension"),
                d.dimension.key().into(),
                pick(&d.label_zh, &d.label_en),
                d.score.to_string(),
                format!("{}%", d.pass_rate.unwrap_or(100.0)),
            ]);
        }
        for k in &summary.kpis {
            let verdict = match (k.passed, zh) {
                (true, true) => "达标",
                (false, true) => "未达标",
                (true, false) => "met",
                (false, false) => "not met",
            };
            rows.push([
                pick("指标", "KPI"),
                k.key.clone(),
                pick(&k.label_zh, &k.label_en),
                format!("{}%", k.value),
                format!("≥ {}% {verdict}", k.target),
            ]);
        }
        for r in &summary.rules {
            rows.push([
                pick("规则", "Rule"),
                r.key.clone(),
                pick(r.dimension.label_zh(), r.dimension.label_en()),
                r.failing.to_string(),
                format!("{}%", r.pass_rate),
            ]);
        }
        for w in &worklist.items {
            rows.push([
                pick("待完善", "To mend"),
                w.code.clone(),
                w.name.clone(),
                w.score.to_string(),
                w.failing.join(", "),
            ]);
        }
        let headers: [&str; 5] = if zh {
            ["类别", "标识", "名称", "数值", "说明"]
        } else {
            ["Section", "Key", "Name", "Value", "Note"]
        };
        let sheet = if zh { "数据质量" } else { "Data quality" };
        let io = |e: std::io::Error| AppError::Internal(format!("quality workbook: {e}"));
        let mut book = XlsxStream::named(Vec::new(), &headers, sheet).map_err(io)?;
        for r in &rows {
            book.write_row(r).map_err(io)?;
        }
        let bytes = book.finish().map_err(io)?;
        let mut tx = self.app.db.begin().await?;
        let mut r = record(actor, "quality.export", "quality", "report");
        r.after = Some(
            json!({"format": "xlsx", "rows": rows.len(), "customers": summary.customers})
                .to_string(),
        );
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(bytes)
    }
}
