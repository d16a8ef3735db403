//! `smolchat-bench` against the baseline server for about a second: its handshake is enough
//! for the bench, and every message reaches every reader, the sender included.

use std::net::TcpListener;
use std::time::Duration;

use smolchat_bench::{self as bench, baseline, Options};

#[test]
fn the_bench_runs_against_the_baseline_and_counts_add_up() {
    runs_and_counts_add_up(1);
}

/// Three writers share each line: every member still gets every line.
#[test]
fn the_baseline_with_helpers_loses_nothing() {
    runs_and_counts_add_up(3);
}

fn runs_and_counts_add_up(writers: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("its address");
    // The baseline serves until the process ends; the test's end is its end.
    std::thread::spawn(move || baseline::serve(listener, writers));
    let options = Options {
        addr: Some(addr.to_string()),
        clients: Some(12),
        senders: Some(3),
        rate: Some(40.0),
        size: Some(40),
        duration: Some(Duration::from_millis(800)),
        warmup: Some(Duration::from_millis(200)),
        threads: Some(2),
        ..Options::default()
    };
    let report = bench::run(&options.plan().expect("a valid plan"), false).expect("it runs");
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_eq!(report.connect.failed, 0, "{report}");
    assert!(report.messages_sent > 0, "{report}");
    let deliveries = &report.deliveries;
    assert_eq!(deliveries.expected, report.messages_sent * 12, "{report}");
    assert_eq!(deliveries.received, deliveries.expected, "{report}");
    assert_eq!(deliveries.lost, 0, "{report}");
    assert!(report.errors.is_empty(), "{report}");
    assert!(report.departures.is_empty(), "{report}");
    // Everyone heard everyone who came after it: 12 * 11 / 2 arrivals.
    assert_eq!(report.connect.joins_expected, Some(66), "{report}");
}
