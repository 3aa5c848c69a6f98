//! Shared by the reader targets: write the input to a file and read it as an import does.

use std::io::Write;

use custos_app::import::source::{inspect, open_table};
use custos_app::import::{FileFormat, ImportLimits};
use custos_app::pii::PiiKey;

pub fn read_all(data: &[u8], format: FileFormat) {
    let Ok(mut file) = tempfile::NamedTempFile::new() else {
        return;
    };
    if file.write_all(data).is_err() || file.flush().is_err() {
        return;
    }
    let key = PiiKey::from_master(&[7u8; 32]);
    // The default bounds, as a server applies them.
    let limits = ImportLimits::default();
    let Ok(facts) = inspect(file.path(), &key, Some(format), None, None, &limits) else {
        return;
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let Ok(mut table) = open_table(file.path(), &key, &facts, None, &limits, |_| true).await else {
            return;
        };
        let mut rows = 0u64;
        while let Some(row) = table.rows.recv().await {
            match row {
                Ok(r) => {
                    assert!(r.line >= table.header_line, "rows come after the header");
                    rows += 1;
                }
                Err(_) => break,
            }
        }
        if matches!(format, FileFormat::Csv) {
            assert!(rows <= data.len() as u64 + 1, "no more CSV rows than bytes");
        }
    });
}
