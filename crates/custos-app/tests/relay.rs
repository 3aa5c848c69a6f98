//! Relays of the event log (what the NATS publisher runs on), on SQLite and (when
//! CUSTOS_TEST_PG_URL is set) PostgreSQL, with a sink that records what it was given:
//! order and batches, a failing sink moves nothing and gets the same events again, one
//! server holds the lease while another stands by and takes over when it runs out,
//! where a new relay starts, and events pruned before they were handed on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use custos_app::customers::NewCustomer;
use custos_app::events::{
    EventQuery, EventRelay, EventSink, EventView, RelayStart, RelayStep, SinkFuture,
};

#[path = "support/app.rs"]
#[macro_use]
mod app;
use app::*;

/// Records every batch; fails while `failing` is set.
#[derive(Default)]
struct Recorder {
    batches: Mutex<Vec<Vec<(i64, String)>>>,
    failing: AtomicBool,
}

impl EventSink for Recorder {
    fn publish<'a>(&'a self, events: &'a [EventView]) -> SinkFuture<'a> {
        Box::pin(async move {
            if self.failing.load(Ordering::SeqCst) {
                return Err("receiver down".to_string());
            }
            self.batches
                .lock()
                .unwrap()
                .push(events.iter().map(|e| (e.seq, e.id.clone())).collect());
            Ok(())
        })
    }
}

impl Recorder {
    fn seqs(&self) -> Vec<i64> {
        let batches = self.batches.lock().unwrap();
        batches.iter().flatten().map(|(s, _)| *s).collect()
    }
}

// Names, places and trades far apart, so that no two customers look alike.
const FIRST: [&str; 10] = [
    "瑞丰", "博远", "嘉禾", "金鼎", "宏图", "致远", "青松", "海潮", "星河", "松柏",
];
const SECOND: [&str; 10] = [
    "纺织", "物流", "食品", "建材", "电子", "医药", "化工", "印刷", "农业", "酒店",
];
const REGIONS: [&str; 5] = ["310104", "110108", "440305", "330106", "510107"];

async fn create(t: &T, n: u32) {
    t.app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: format!(
                    "{}{}有限公司",
                    FIRST[n as usize % 10],
                    SECOND[n as usize / 10 % 10]
                ),
                region_code: Some(REGIONS[n as usize % 5].into()),
                ..Default::default()
            },
        )
        .await
        .expect("create");
}

/// Every event in the log, in order, as the feed gives them to an admin.
async fn all_events(t: &T) -> Vec<(i64, String)> {
    let page = t
        .app
        .events()
        .read_events(
            &t.admin,
            EventQuery {
                limit: Some(1000),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    page.events.into_iter().map(|e| (e.seq, e.id)).collect()
}

async fn drain(t: &T, relay: &mut EventRelay, sink: &Recorder) {
    for _ in 0..100 {
        if t.app.events().relay_events_once(relay, sink).await.unwrap() == RelayStep::Idle {
            return;
        }
    }
    panic!("the relay did not catch up");
}

both!(relays_every_event_in_order_in_batches, |t| {
    for n in 0..7 {
        create(&t, n).await;
    }
    let log = all_events(&t).await;
    assert!(log.len() >= 7, "each creation emits events: {log:?}");
    let sink = Recorder::default();
    let mut relay = EventRelay::new("test", RelayStart::Oldest, 3);
    drain(&t, &mut relay, &sink).await;
    let batches = sink.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|b| !b.is_empty() && b.len() <= 3));
    let relayed: Vec<(i64, String)> = batches.into_iter().flatten().collect();
    assert_eq!(relayed, log, "every event once, in log order, with its id");
    // Nothing new: idle, nothing handed on twice.
    assert_eq!(
        t.app
            .events()
            .relay_events_once(&mut relay, &sink)
            .await
            .unwrap(),
        RelayStep::Idle
    );
    create(&t, 11).await;
    drain(&t, &mut relay, &sink).await;
    let seqs = sink.seqs();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let (positions, head) = t
        .app
        .events()
        .event_relay_positions(&t.admin)
        .await
        .unwrap();
    assert_eq!(positions, vec![("test".to_string(), head)]);
});

both!(
    a_failing_sink_moves_nothing_and_gets_the_same_events_again,
    |t| {
        create(&t, 1).await;
        let sink = Recorder::default();
        sink.failing.store(true, Ordering::SeqCst);
        let mut relay = EventRelay::new("test", RelayStart::Oldest, 100);
        assert!(t
            .app
            .events()
            .relay_events_once(&mut relay, &sink)
            .await
            .is_err());
        // A restart of the server: a new holder of the same relay, once the lease is free.
        t.app.events().release_event_relay(&relay).await.unwrap();
        let mut relay = EventRelay::new("test", RelayStart::Oldest, 100);
        create(&t, 2).await;
        sink.failing.store(false, Ordering::SeqCst);
        drain(&t, &mut relay, &sink).await;
        let relayed: Vec<(i64, String)> = sink.batches.lock().unwrap().concat();
        assert_eq!(relayed, all_events(&t).await);
    }
);

both!(one_server_relays_the_other_stands_by_and_takes_over, |t| {
    create(&t, 1).await;
    let (a_sink, b_sink) = (Recorder::default(), Recorder::default());
    let mut a = EventRelay::new("shared", RelayStart::Oldest, 100);
    a.lease = Duration::from_millis(600);
    let mut b = EventRelay::new("shared", RelayStart::Oldest, 100);
    b.lease = Duration::from_millis(600);
    drain(&t, &mut a, &a_sink).await;
    assert_eq!(
        t.app
            .events()
            .relay_events_once(&mut b, &b_sink)
            .await
            .unwrap(),
        RelayStep::Standby
    );
    // A stops (crash: no release). Its lease runs out and B goes on where A stopped.
    create(&t, 2).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    drain(&t, &mut b, &b_sink).await;
    let mut seqs = a_sink.seqs();
    seqs.extend(b_sink.seqs());
    let log: Vec<i64> = all_events(&t).await.into_iter().map(|(s, _)| s).collect();
    assert_eq!(seqs, log, "each event handed on by exactly one server");
    assert!(!b_sink.seqs().is_empty());
    // A comes back while B holds the lease: it stands by, and its stale view of the
    // cursor moves nothing.
    assert_eq!(
        t.app
            .events()
            .relay_events_once(&mut a, &a_sink)
            .await
            .unwrap(),
        RelayStep::Standby
    );
});

both!(a_new_relay_starts_at_the_newest_or_the_oldest_event, |t| {
    create(&t, 1).await;
    let head = all_events(&t).await.len() as i64;
    let latest = Recorder::default();
    let mut relay = EventRelay::new("from-now", RelayStart::Latest, 100);
    drain(&t, &mut relay, &latest).await;
    assert!(latest.seqs().is_empty(), "history is not handed on");
    create(&t, 2).await;
    drain(&t, &mut relay, &latest).await;
    assert_eq!(latest.seqs().first(), Some(&(head + 1)));
    let oldest = Recorder::default();
    let mut relay = EventRelay::new("from-start", RelayStart::Oldest, 100);
    drain(&t, &mut relay, &oldest).await;
    assert_eq!(oldest.seqs().first(), Some(&1));
});

both!(events_pruned_before_they_were_handed_on_are_skipped, |t| {
    create(&t, 1).await;
    let sink = Recorder::default();
    let mut relay = EventRelay::new("late", RelayStart::Oldest, 100);
    // Register the relay at position 0 while the receiver is down.
    sink.failing.store(true, Ordering::SeqCst);
    assert!(t
        .app
        .events()
        .relay_events_once(&mut relay, &sink)
        .await
        .is_err());
    create(&t, 2).await;
    let head = all_events(&t).await.len() as i64;
    // Retention deletes everything so far.
    let pruned = t
        .app
        .events()
        .prune_events_before(custos_store::now_us() + 1)
        .await
        .unwrap();
    assert_eq!(pruned, head as u64);
    sink.failing.store(false, Ordering::SeqCst);
    drain(&t, &mut relay, &sink).await;
    assert!(sink.seqs().is_empty());
    create(&t, 3).await;
    drain(&t, &mut relay, &sink).await;
    assert_eq!(sink.seqs().first(), Some(&(head + 1)));
});
