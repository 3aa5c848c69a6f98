//! An import run whose `review` rows put new duplicate groups in the review queue
//! announces them as a duplicate scan does: one notification per run to every holder of
//! `duplicate.manage` with the number of groups (no names), one delivery per channel of
//! `duplicates_found`, and one `duplicates.found` event per group; a run without new
//! groups, or a dry run, announces nothing.

use custos_app::channels::{NewChannel, NotificationKind, Provider};
use custos_app::events::EventQuery;

use super::*;

async fn announcements(t: &T, who: &custos_app::Actor) -> Vec<String> {
    t.app
        .applications()
        .notifications(who, false)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.kind == "duplicates.found")
        .map(|n| n.title)
        .collect()
}

both!(an_import_announces_its_new_duplicate_groups_once, |t| {
    let steward = user(&t, "steward-1", "steward", "all").await;
    let clerk = user(&t, "clerk-1", "clerk", "own").await;
    let channel = t
        .app
        .channels()
        .create_notification_channel(
            &t.admin,
            NewChannel {
                name: "查重群".into(),
                provider: Provider::Webhook,
                // Never posted: no worker runs in these tests.
                url: "http://127.0.0.1:9/dup".into(),
                secret: None,
                kinds: vec![NotificationKind::DuplicatesFound],
                departments: vec![],
            },
        )
        .await
        .unwrap()
        .id;
    let deliveries = || async {
        t.app
            .channels()
            .notification_channel_deliveries(&t.admin, channel)
            .await
            .unwrap()
            .len()
    };
    // A file without duplicates announces nothing.
    let r = import(&t, "customers_gbk.csv", opts("g")).await.unwrap();
    assert_eq!(r.report.duplicate_groups, 0);
    assert!(announcements(&t, &steward).await.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let file = duplicate_rows(&t, dir.path()).await;
    let run = |policy: DuplicatePolicy, dry_run: bool| {
        let (app, admin, file) = (t.app.clone(), t.admin.clone(), file.clone());
        async move {
            app.imports()
                .import_file(
                    &admin,
                    &file,
                    ImportOptions {
                        policy,
                        dry_run,
                        // One row per chunk: still one announcement for the run.
                        chunk_rows: 1,
                        ..opts("again.csv")
                    },
                    &|_| {},
                )
                .await
                .unwrap()
                .report
        }
    };
    // Neither a dry run nor a run that skips duplicates announces anything.
    assert_eq!(run(DuplicatePolicy::Review, true).await.duplicate_groups, 2);
    assert_eq!(run(DuplicatePolicy::Skip, false).await.duplicate_groups, 0);
    assert!(announcements(&t, &steward).await.is_empty());
    assert_eq!(deliveries().await, 0);

    let r = run(DuplicatePolicy::Review, false).await;
    assert_eq!((r.created, r.duplicate_groups), (2, 2), "{r:?}");
    for who in [&t.admin, &steward] {
        let got = announcements(&t, who).await;
        assert_eq!(got.len(), 1, "{}: {got:?}", who.username);
        assert!(got[0].contains("2 组"), "{got:?}");
        assert!(!got[0].contains("北京"), "no names: {got:?}");
    }
    assert!(announcements(&t, &clerk).await.is_empty(), "only stewards");
    assert_eq!(deliveries().await, 1, "one delivery per channel");
    let events = t
        .app
        .events()
        .read_events(
            &t.admin,
            EventQuery {
                types: vec!["duplicates.found".into()],
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .events;
    assert_eq!(events.len(), 2, "one event per group");
    // The stored job reports the count too.
    let job = t
        .app
        .imports()
        .import_job(&t.admin, r.job_id.unwrap())
        .await
        .unwrap();
    assert_eq!(job.duplicate_groups, 2);
});
