//! `smolchat-bench` against an in-process server for about a second: the counts must add up
//! (every message reaches every reader, nothing is lost). No timing assertions.

use std::time::Duration;

use smolchat_bench::{self as bench, Options, Report};

/// A small, well-behaved run: a few readers, a few senders, well under any limit.
fn small_run(rate: Option<f64>, inflight: Option<u32>) -> Report {
    let options = Options {
        spawn: true,
        clients: Some(12),
        senders: Some(3),
        rate,
        inflight,
        size: Some(40),
        duration: Some(Duration::from_millis(800)),
        warmup: Some(Duration::from_millis(200)),
        threads: Some(2),
        ..Options::default()
    };
    let plan = options.plan().expect("a valid plan");
    bench::run(&plan, false).expect("the benchmark runs")
}

fn assert_counts_add_up(report: &Report) {
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_eq!(report.connect.failed, 0, "{report}");
    assert!(report.messages_sent > 0, "{report}");
    let deliveries = &report.deliveries;
    // Every message sent in the window is owed to all twelve clients, senders included.
    assert_eq!(deliveries.expected, report.messages_sent * 12, "{report}");
    assert_eq!(deliveries.received, deliveries.expected, "{report}");
    assert_eq!(deliveries.lost, 0, "{report}");
    assert!(report.errors.is_empty(), "{report}");
    assert!(report.departures.is_empty(), "{report}");
    let latency = report.latency_us.as_ref().expect("latency measured");
    assert_eq!(latency.count, deliveries.received, "{report}");
}

#[test]
fn paced_senders_reach_every_reader() {
    let report = small_run(Some(40.0), None);
    assert_counts_add_up(&report);
    // Three senders at 40 msg/s for 0.8 s: about 96 messages; pacing is not exact.
    assert!(report.messages_sent <= 3 * 40, "{report}");
}

#[test]
fn windowed_senders_reach_every_reader() {
    let report = small_run(None, Some(4));
    assert_counts_add_up(&report);
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["deliveries"]["lost"], 0);
}
