//! The page as a fresh server shows it, and as the counters move.

use super::*;
use crate::server::Config;

/// The server state of a fresh server with the default configuration.
fn shared() -> Shared {
    let config = Config::default();
    let chat = crate::core::Chat::new(config.limits());
    Shared::new(config, Arc::new(chat)).expect("no password file to read")
}

#[test]
fn a_fresh_server_shows_every_fixed_series_at_zero() {
    let page = render(&shared());
    for sample in [
        "smolchat_connections_total{protocol=\"chat\"} 0",
        "smolchat_connections_open{protocol=\"irc\"} 0",
        "smolchat_registrations_total{protocol=\"irc\"} 0",
        "smolchat_lines_in_total{protocol=\"chat\"} 0",
        "smolchat_disconnections_total{reason=\"send_queue_full\"} 0",
        "smolchat_rooms 0",
        "smolchat_members 0",
        "smolchat_deliveries_total 0",
        "smolchat_batches_total 0",
        "smolchat_batch_lines_bucket{le=\"+Inf\"} 0",
    ] {
        assert!(page.lines().any(|line| line == sample), "no {sample:?} in\n{page}");
    }
    assert!(!page.contains("smolchat_refusals_total"), "codes show once sent:\n{page}");
    assert!(page.ends_with("# EOF\n"), "{page}");
}

#[test]
fn counts_show_under_their_labels() {
    let shared = shared();
    let metrics = &shared.metrics;
    metrics.opened(Dialect::Irc);
    metrics.opened(Dialect::Irc);
    metrics.line_in(Dialect::Irc);
    metrics.closed(Dialect::Irc, Disconnect::SendQueueFull);
    metrics.refused("433");
    metrics.refused("433");
    let page = render(&shared);
    for sample in [
        "smolchat_connections_total{protocol=\"irc\"} 2",
        "smolchat_connections_open{protocol=\"irc\"} 1",
        "smolchat_lines_in_total{protocol=\"irc\"} 1",
        "smolchat_disconnections_total{reason=\"send_queue_full\"} 1",
        "smolchat_refusals_total{code=\"433\"} 2",
    ] {
        assert!(page.lines().any(|line| line == sample), "no {sample:?} in\n{page}");
    }
}

#[test]
fn every_reason_is_counted_apart() {
    for (index, why) in Disconnect::ALL.into_iter().enumerate() {
        assert_eq!(why as usize, index, "{why:?} indexes its own counter");
    }
    for (index, dialect) in Dialect::ALL.into_iter().enumerate() {
        assert_eq!(dialect.index(), index, "{dialect:?} indexes its own counter");
    }
}
