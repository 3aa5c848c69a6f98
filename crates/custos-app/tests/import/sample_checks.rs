//! 抽查 marks: a sampled row marked checked once (who and when kept, audited once), the
//! count against the sample's size, and rows that were not sampled refused.

use super::*;

both!(sampled_rows_are_marked_checked_once, |t| {
    let out = import(
        &t,
        "bad_rows.csv",
        ImportOptions {
            sample_rate: 1.0,
            ..opts("bad_rows.csv")
        },
    )
    .await
    .unwrap();
    let job = out.report.job_id.unwrap();
    let sampled = job_rows(&t, job, "sampled").await;
    assert_eq!(sampled.len(), 1);
    let row = sampled[0].row_no;
    let marks = t
        .app
        .imports()
        .import_sample_checks(&t.admin, job, 1, 1000)
        .await
        .unwrap();
    assert_eq!((marks.checked, marks.sample_size), (0, 1));
    assert!(marks.rows.is_empty());

    let before = audit_count(&t).await;
    let first = t
        .app
        .imports()
        .check_import_sample(&t.admin, job, row)
        .await
        .unwrap();
    assert_eq!((first.row_no, first.checked_by.as_str()), (row, "admin"));
    let again = t
        .app
        .imports()
        .check_import_sample(&t.admin, job, row)
        .await
        .unwrap();
    assert_eq!(again.checked_at, first.checked_at, "the first mark is kept");
    assert_eq!(audit_count(&t).await, before + 1, "audited once");

    let marks = t
        .app
        .imports()
        .import_sample_checks(&t.admin, job, 1, 1000)
        .await
        .unwrap();
    assert_eq!((marks.checked, marks.sample_size), (1, 1));
    assert_eq!(marks.rows.len(), 1);
    assert_eq!(marks.rows[0].row_no, row);

    // A rejected row is no sample; an unknown job is not found.
    let rejected = job_rows(&t, job, "rejected").await;
    let err = t
        .app
        .imports()
        .check_import_sample(&t.admin, job, rejected[0].row_no)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err:?}");
    let err = t
        .app
        .imports()
        .check_import_sample(&t.admin, job + 100, row)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound { .. }), "{err:?}");
});
