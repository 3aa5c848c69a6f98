//! `custos dedupe` on a small CSV: BOM, missing and unknown columns, every row written.

use std::collections::HashMap;
use std::process::Command;

fn run_dedupe(csv: &str, extra: &[&str]) -> (std::process::Output, HashMap<String, String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("records.csv");
    let output = dir.path().join("clusters.csv");
    std::fs::write(&input, csv).expect("write input");
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .arg("dedupe")
        .arg("--input")
        .arg(&input)
        .args(["--id-column", "record_id", "--output"])
        .arg(&output)
        .args(extra)
        .output()
        .expect("run custos");
    let mut clusters = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(&output) {
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("record_id,cluster_id"));
        for line in lines {
            let (id, cluster) = line.split_once(',').expect("two columns");
            clusters.insert(id.to_string(), cluster.to_string());
        }
    }
    (out, clusters)
}

#[test]
fn dedupe_csv_with_bom_missing_and_unknown_columns() {
    // No short_name/former_names/email/... columns; an unknown `note` column; a BOM.
    let csv = "\u{feff}record_id,customer_type,name,uscc,phone,city,note\n\
        r1,enterprise,北京华为技术有限公司,,010-12345678,北京,first\n\
        r2,enterprise,华为技术（北京）有限责任公司,,(010)12345678,北京市,\"second, with comma\"\n\
        r3,enterprise,上海华为技术有限公司,,021-87654321,上海,\n\
        r4,individual,王伟,,+86 138 0013 8000,北京,\n\
        r5,individual,王偉,,13800138000,,\n\
        r6,individual,王伟,,13900139000,北京,\n";
    let (out, clusters) = run_dedupe(csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(clusters.len(), 6, "every row, singletons included");
    assert_eq!(clusters["r1"], clusters["r2"]);
    assert_eq!(clusters["r1"], "r1", "cluster id is the first row's id");
    assert_ne!(clusters["r1"], clusters["r3"]);
    assert_eq!(clusters["r4"], clusters["r5"]);
    assert_ne!(clusters["r4"], clusters["r6"]);
    assert_eq!(clusters["r3"], "r3");
}

#[test]
fn dedupe_threshold_and_errors() {
    let csv = "record_id,name,phone\na,北京华为技术有限公司,010-12345678\nb,北京华为技术有限公司,010-12345678\n";
    let (out, clusters) = run_dedupe(csv, &["--threshold", "1.0"]);
    assert!(out.status.success());
    assert_ne!(
        clusters["a"], clusters["b"],
        "nothing reaches a threshold of 1"
    );
    let (out, _) = run_dedupe(csv, &["--threshold", "1.5"]);
    assert!(!out.status.success());
    let (out, _) = run_dedupe("id,name\n1,x\n", &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("record_id"));
}

#[test]
fn dedupe_output_guards_formula_ids() {
    let csv = "record_id,name,phone\n\
        =1+1,北京华为技术有限公司,010-12345678\n\
        @SUM(A1),北京华为技术有限公司,010-12345678\n\
        -3,上海某某贸易有限公司,021-87654321\n";
    let (out, clusters) = run_dedupe(csv, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(clusters["'=1+1"], "'=1+1");
    assert_eq!(clusters["'@SUM(A1)"], "'=1+1");
    assert_eq!(clusters["'-3"], "'-3");
}
