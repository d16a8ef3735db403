//! The server's counters, for `/metrics` in the Prometheus text format (OpenMetrics).
//!
//! Sessions count what only they see (connections, registrations, lines in,
//! disconnections and their reasons, refusals and their codes) in `prometheus-client`
//! metrics kept here. The core counts rooms, members, batches and deliveries in plain
//! atomics of its own ([`Stats`]), which a collector reads at each scrape, so the core
//! knows nothing of Prometheus. Every label comes from a fixed set (protocols, reasons,
//! error codes), never from a nickname or a room, so the page stays bounded.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    text, DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet,
};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Metric, Registry};
use tracing::warn;

use super::admission::Shared;
use super::listener::Scheme;
use crate::core::{Memory, Stats, BATCH_BOUNDS};

/// The protocol a session speaks, as its counts are labelled. A WebSocket carries the
/// chat protocol, so its sessions count as `chat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The smolchat line protocol.
    Chat,
    /// IRC.
    Irc,
}

impl Dialect {
    /// Every dialect, in the order of [`Dialect::index`].
    const ALL: [Dialect; 2] = [Dialect::Chat, Dialect::Irc];

    /// The label value.
    fn as_str(self) -> &'static str {
        match self {
            Dialect::Chat => "chat",
            Dialect::Irc => "irc",
        }
    }

    /// Where its counters are kept.
    fn index(self) -> usize {
        self as usize
    }
}

/// Why a connection ended, whether or not it had registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disconnect {
    /// The client said goodbye.
    Quit,
    /// The connection closed (or failed) without a goodbye.
    Closed,
    /// The client stopped reading and its queue filled up.
    SendQueueFull,
    /// It stayed over the flood rate.
    Flood,
    /// It did not answer a ping.
    PingTimeout,
    /// It started a line and stalled.
    LineTimeout,
    /// It did not finish registering in time.
    HandshakeTimeout,
    /// The server shut down.
    Shutdown,
    /// Its address gave too many wrong passwords, or it registered with a wrong one.
    BadPassword,
}

impl Disconnect {
    /// Every reason, in the order of their counters.
    const ALL: [Disconnect; 9] = [
        Disconnect::Quit,
        Disconnect::Closed,
        Disconnect::SendQueueFull,
        Disconnect::Flood,
        Disconnect::PingTimeout,
        Disconnect::LineTimeout,
        Disconnect::HandshakeTimeout,
        Disconnect::Shutdown,
        Disconnect::BadPassword,
    ];

    /// The label value.
    fn as_str(self) -> &'static str {
        match self {
            Disconnect::Quit => "quit",
            Disconnect::Closed => "closed",
            Disconnect::SendQueueFull => "send_queue_full",
            Disconnect::Flood => "flood",
            Disconnect::PingTimeout => "ping_timeout",
            Disconnect::LineTimeout => "line_timeout",
            Disconnect::HandshakeTimeout => "handshake_timeout",
            Disconnect::Shutdown => "shutdown",
            Disconnect::BadPassword => "bad_password",
        }
    }
}

/// Counts by protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ByProtocol {
    /// `chat` or `irc`.
    protocol: &'static str,
}

/// Accepted connections by listener scheme.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ByScheme {
    /// `chat`, `irc`, `http`, `chats`, `ircs` or `https`.
    scheme: &'static str,
}

/// Disconnections by reason.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ByReason {
    /// One of [`Disconnect`]'s.
    reason: &'static str,
}

/// Refusals by the code the client was sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ByCode {
    /// A chat `ERROR` code (`nick-taken`) or an IRC error numeric (`433`).
    code: String,
}

/// What the server counts as it runs, and the registry that shows it.
///
/// The counters with a fixed set of labels are created up front and kept by index, so
/// counting a line is one relaxed add, with no lookup and no lock.
#[derive(Debug)]
pub struct Metrics {
    /// Everything on the page, in the order it is shown.
    registry: Registry,
    /// Connections each listener accepted (before admission, TLS or HTTP), by scheme.
    accepted: Family<ByScheme, Counter>,
    /// Connections that reached a session, by protocol.
    connections: [Counter; 2],
    /// Connections in a session now, by protocol.
    open: [Gauge; 2],
    /// Clients that registered a nickname, by protocol.
    registrations: [Counter; 2],
    /// Lines clients sent, by protocol.
    lines_in: [Counter; 2],
    /// Ended sessions, by reason, in the order of [`Disconnect::ALL`].
    disconnections: [Counter; 9],
    /// Errors sent to clients, by code; created as codes are first sent.
    refusals: Family<ByCode, Counter>,
}

impl Metrics {
    /// Counters at zero, beside the core's `stats` and the `memory`'s, registered once.
    pub fn new(stats: Arc<Stats>, memory: Arc<dyn Memory>) -> Metrics {
        let mut registry = Registry::with_prefix("smolchat");
        let accepted = Family::<ByScheme, Counter>::default();
        let help = "Connections accepted, by the scheme of their listener";
        registry.register("accepted", help, accepted.clone());
        let help = "Connections that reached a session, by protocol";
        let connections = per_dialect(&mut registry, "connections", help);
        let open = per_dialect(&mut registry, "connections_open", "Connections in a session now");
        let help = "Nicknames registered, by protocol";
        let registrations = per_dialect(&mut registry, "registrations", help);
        let lines_in = per_dialect(&mut registry, "lines_in", "Lines clients sent, by protocol");
        let by_reason = Family::<ByReason, Counter>::default();
        let disconnections = Disconnect::ALL
            .map(|why| by_reason.get_or_create(&ByReason { reason: why.as_str() }).clone());
        registry.register("disconnections", "Sessions ended, by reason", by_reason);
        let refusals = Family::<ByCode, Counter>::default();
        let help = "Errors sent to clients (chat ERROR codes, IRC error numerics), by code";
        registry.register("refusals", help, refusals.clone());
        registry.register_collector(Box::new(CoreCollector { stats }));
        registry.register_collector(Box::new(StoreCollector { memory }));
        Metrics {
            registry,
            accepted,
            connections,
            open,
            registrations,
            lines_in,
            disconnections,
            refusals,
        }
    }

    /// A listener of `scheme` accepted a connection.
    pub fn accepted(&self, scheme: Scheme) {
        self.accepted.get_or_create(&ByScheme { scheme: scheme.as_str() }).inc();
    }

    /// A connection began a session in `dialect`.
    pub fn opened(&self, dialect: Dialect) {
        self.connections[dialect.index()].inc();
        self.open[dialect.index()].inc();
    }

    /// A session in `dialect` ended, for `why`.
    pub fn closed(&self, dialect: Dialect, why: Disconnect) {
        self.open[dialect.index()].dec();
        self.disconnections[why as usize].inc();
    }

    /// A client registered a nickname.
    pub fn registered(&self, dialect: Dialect) {
        self.registrations[dialect.index()].inc();
    }

    /// A client sent a line (good or refused).
    pub fn line_in(&self, dialect: Dialect) {
        self.lines_in[dialect.index()].inc();
    }

    /// A client was sent the error `code`: a chat `ERROR` code or an IRC error numeric,
    /// always one of the protocol's fixed set.
    pub fn refused(&self, code: &str) {
        self.refusals.get_or_create(&ByCode { code: code.to_string() }).inc();
    }
}

/// Registers the family `name`, labelled by protocol, and returns its metric for each
/// dialect, in the order of [`Dialect::index`]; created now, so each shows from the start.
fn per_dialect<M>(registry: &mut Registry, name: &str, help: &str) -> [M; 2]
where
    M: Clone + Default,
    Family<ByProtocol, M>: Metric,
{
    let family = Family::<ByProtocol, M>::default();
    let metrics = Dialect::ALL
        .map(|dialect| family.get_or_create(&ByProtocol { protocol: dialect.as_str() }).clone());
    registry.register(name, help, family);
    metrics
}

/// The counters and gauges of `shared`, in the Prometheus text format (OpenMetrics,
/// ending with `# EOF`).
pub fn render(shared: &Shared) -> String {
    let mut page = String::new();
    // Writing to a String cannot fail; an error would be a collector's, and the page is
    // still worth showing up to it.
    if let Err(error) = text::encode(&mut page, &shared.metrics.registry) {
        warn!(%error, "metrics could not be encoded whole");
    }
    page
}

/// Reads the core's counters at each scrape.
#[derive(Debug)]
struct CoreCollector {
    /// The chat's counters.
    stats: Arc<Stats>,
}

impl Collector for CoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let stats = &self.stats;
        gauge(&mut encoder, "rooms", "Rooms that exist now.", stats.rooms())?;
        let help = "People in rooms now, each once per room.";
        gauge(&mut encoder, "members", help, stats.members())?;
        let help = "Events rooms handed to their members' queues, once per member reached.";
        counter(&mut encoder, "deliveries", help, stats.deliveries())?;
        encode_batches(&mut encoder, stats)
    }
}

/// Reads the store's counters at each scrape; writes nothing for a server that keeps
/// nothing.
struct StoreCollector {
    /// Where the chat keeps what survives a restart.
    memory: Arc<dyn Memory>,
}

impl fmt::Debug for StoreCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreCollector").finish_non_exhaustive()
    }
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(stats) = self.memory.stats() else { return Ok(()) };
        let counters = [
            (
                "store_commits",
                "Transactions the store committed, each one disk sync.",
                stats.commits,
            ),
            ("store_changes", "Changes the store wrote: messages, accounts, rooms.", stats.changes),
            (
                "store_history_written",
                "Messages and actions kept as history.",
                stats.history_written,
            ),
            ("store_dropped", "Changes dropped because the store's queue was full.", stats.dropped),
        ];
        for (name, help, value) in counters {
            counter(&mut encoder, name, help, value)?;
        }
        let bytes = usize::try_from(stats.bytes).unwrap_or(usize::MAX);
        gauge(&mut encoder, "store_file_bytes", "The size of the store's file.", bytes)
    }
}

/// Writes one counter read at scrape time.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), fmt::Error> {
    let counter = ConstCounter::new(value);
    counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)
}

/// Writes one gauge read at scrape time.
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: usize,
) -> Result<(), fmt::Error> {
    let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)
}

/// The batches rooms flushed: how many, and a histogram of their sizes.
fn encode_batches(encoder: &mut DescriptorEncoder, stats: &Stats) -> Result<(), fmt::Error> {
    let sizes = stats.batch_sizes();
    let batches = ConstCounter::new(sizes.count());
    let help = "Batches rooms flushed to their members.";
    batches.encode(encoder.encode_descriptor("batches", help, None, batches.metric_type())?)?;
    let bounds = BATCH_BOUNDS.iter().map(|&bound| bound as f64).chain([f64::INFINITY]);
    let buckets: Vec<(f64, u64)> = bounds.zip(sizes.buckets).collect();
    let help = "Events (lines, in the chat protocol) per batch a room flushed.";
    let mut histogram =
        encoder.encode_descriptor("batch_lines", help, None, MetricType::Histogram)?;
    let no_exemplars: Option<&HashMap<usize, Exemplar<NoLabelSet, f64>>> = None;
    histogram.encode_histogram(sizes.events as f64, sizes.count(), &buckets, no_exemplars)
}

#[cfg(test)]
mod tests;
