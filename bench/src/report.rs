//! The figures of a run, worked out from what the conductor and the threads observed, as a
//! table for people and JSON for machines.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::config::{Plan, Target};
use super::meter::{Meter, Usage};
use super::protocol::Protocol;
use super::rooms::SHARED_ROOM;
use super::tally::{Departure, Tally};
use super::watch::{Phase, Sample};

/// Everything a run observed, before the figures are worked out.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The run.
    pub plan: Plan,
    /// The open-file limit in force.
    pub fd_limit: u64,
    /// The machine's load averages before the run.
    pub load_before: Option<[f64; 3]>,
    /// The machine's load averages after the run.
    pub load_after: Option<[f64; 3]>,
    /// Clients that joined.
    pub welcomed: usize,
    /// Clients that failed to join.
    pub failed: usize,
    /// Samples at the run's turning points.
    pub marks: Marks,
    /// The whole timeline.
    pub samples: Vec<Sample>,
    /// Messages sent in the window.
    pub sent: u64,
    /// Deliveries owed for them.
    pub expected: u64,
    /// Deliveries of them seen.
    pub received: u64,
    /// Clients that joined each room `#r0..`, with `--rooms`.
    pub room_members: Vec<usize>,
    /// Of the window's messages, those said in the shared room, with `--shared-room`.
    pub shared: Option<Counts>,
    /// The threads' merged observations.
    pub tally: Tally,
    /// Where the server's figures came from.
    pub meter: Meter,
    /// When sending started, in microseconds since the board's epoch.
    pub go_us: u64,
}

/// Messages sent in the window, deliveries owed for them, and deliveries seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Messages sent.
    pub sent: u64,
    /// Deliveries owed.
    pub expected: u64,
    /// Deliveries seen.
    pub received: u64,
}

/// Samples taken exactly at the run's turning points.
#[derive(Debug, Clone, Copy)]
pub struct Marks {
    /// Before any client connected.
    pub before: Sample,
    /// When every client had joined (or failed to).
    pub joined: Sample,
    /// When the measured window opened.
    pub window_start: Sample,
    /// When the measured window closed.
    pub window_end: Sample,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was run.
    pub plan: Plan,
    /// The open-file limit in force.
    pub fd_limit: u64,
    /// Load averages (1, 5, 15 min) before the run: other work on the machine.
    pub load_before: Option<[f64; 3]>,
    /// Load averages after the run.
    pub load_after: Option<[f64; 3]>,
    /// How joining went.
    pub connect: Connect,
    /// Messages sent inside the measured window.
    pub messages_sent: u64,
    /// Deliveries of those messages.
    pub deliveries: Deliveries,
    /// End-to-end latency of those deliveries, if there were any.
    pub latency_us: Option<Latency>,
    /// With `--rooms`: the rooms, and the figures of their messages apart from the shared
    /// room's.
    pub rooms: Option<RoomFigures>,
    /// The generator's own CPU use.
    pub generator: GeneratorCpu,
    /// The server's memory and CPU, when it could be seen.
    pub server: Option<ServerFigures>,
    /// Errors by description.
    pub errors: BTreeMap<String, u64>,
    /// Clients the server announced as gone during the run, with the reason.
    pub departures: BTreeMap<String, Left>,
    /// Server lines that were none of the above kinds.
    pub other_lines: u64,
    /// The latency distribution, for plotting.
    pub latency_curve: Vec<CurvePoint>,
    /// The timeline, one point per tenth of a second.
    pub timeline: Vec<TimelinePoint>,
}

/// How joining went.
#[derive(Debug, Clone, Serialize)]
pub struct Connect {
    /// Clients asked for.
    pub clients: usize,
    /// Clients that got in: registered, and in their rooms.
    pub welcomed: usize,
    /// Clients that did not.
    pub failed: usize,
    /// From the first connect to the last welcome.
    pub seconds: f64,
    /// `JOIN` lines owed: each client hears of everyone who joined a room it is in after
    /// it, once per such room (only without `--no-read`, whose clients hear but never read).
    pub joins_expected: Option<u64>,
    /// `JOIN` lines received by all clients together, by the end of the run.
    pub joins_received: u64,
    /// From the first connect until every `JOIN` had arrived, if they all did.
    pub joins_settled_s: Option<f64>,
}

/// Deliveries of the messages sent inside the window.
#[derive(Debug, Clone, Serialize)]
pub struct Deliveries {
    /// Messages sent times the clients that read (but the sender, over IRC, which does
    /// not echo).
    pub expected: u64,
    /// Deliveries seen.
    pub received: u64,
    /// Expected but never seen.
    pub lost: u64,
    /// Received over the window's length.
    pub per_second: f64,
    /// Tenths of a second inside the window with no delivery at all (only with senders).
    pub stalled_intervals: Option<usize>,
}

/// A run with rooms: how full they were, and the figures of the messages said in the rooms
/// `#r0..` and in the shared room apart.
#[derive(Debug, Clone, Serialize)]
pub struct RoomFigures {
    /// Rooms the clients were spread over.
    pub rooms: usize,
    /// Clients in the emptiest room.
    pub members_min: usize,
    /// Clients in the fullest room.
    pub members_max: usize,
    /// Messages said in the rooms `#r0..`.
    pub rooms_talk: Talk,
    /// Messages said in the shared room, with `--shared-room`.
    pub shared_talk: Option<Talk>,
}

/// The figures of the messages said in some of the rooms.
#[derive(Debug, Clone, Serialize)]
pub struct Talk {
    /// Messages sent inside the window.
    pub messages_sent: u64,
    /// Deliveries owed for them.
    pub expected: u64,
    /// Deliveries seen.
    pub received: u64,
    /// Expected but never seen.
    pub lost: u64,
    /// Received over the window's length.
    pub per_second: f64,
    /// Their end-to-end latency, if any were seen.
    pub latency_us: Option<Latency>,
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Deliveries measured.
    pub count: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

/// The generator's CPU use, to tell when it, not the server, is the bottleneck.
#[derive(Debug, Clone, Serialize)]
pub struct GeneratorCpu {
    /// CPU seconds while clients joined.
    pub connect_cpu_s: f64,
    /// CPU seconds inside the measured window.
    pub measure_cpu_s: f64,
    /// Of one core, inside the window (200 is both cores of a two-core machine).
    pub measure_cpu_percent: f64,
}

/// The server's memory and CPU.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFigures {
    /// Its process id, when it was another process.
    pub pid: Option<u32>,
    /// True when it ran in this process: its memory then includes the generator's.
    pub in_process: bool,
    /// RSS before any client connected.
    pub rss_before_bytes: u64,
    /// RSS when every client had joined.
    pub rss_joined_bytes: u64,
    /// RSS when the window closed.
    pub rss_end_bytes: u64,
    /// The largest RSS sampled.
    pub rss_max_bytes: u64,
    /// RSS added per client, when the window closed.
    pub rss_per_client_bytes: u64,
    /// RSS change per second inside the window (flat is near zero).
    pub rss_growth_bytes_per_s: f64,
    /// Anonymous memory (`RssAnon`) before any client connected: the RSS without the
    /// binary's file pages, which move with the page cache from one build to the next.
    /// `None` where the kernel does not report it.
    pub anon_before_bytes: Option<u64>,
    /// Anonymous memory when the window closed.
    pub anon_end_bytes: Option<u64>,
    /// Anonymous memory added per client, when the window closed: the per-client figure
    /// that file pages cannot move.
    pub anon_per_client_bytes: Option<u64>,
    /// CPU seconds while clients joined.
    pub connect_cpu_s: f64,
    /// Of one core, while clients joined.
    pub connect_cpu_percent: f64,
    /// CPU seconds inside the measured window.
    pub measure_cpu_s: f64,
    /// Of one core, inside the window.
    pub measure_cpu_percent: f64,
}

/// A client the server announced as gone.
#[derive(Debug, Clone, Serialize)]
pub struct Left {
    /// The reason it gave.
    pub reason: String,
    /// Seconds after sending started (negative: while clients joined).
    pub t_s: f64,
}

/// One point of the latency distribution.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CurvePoint {
    /// The percentile, 0 to 100.
    pub percentile: f64,
    /// `-log10(1 - percentile/100)`: 1 is the 90th, 2 the 99th, 3 the 99.9th.
    pub nines: f64,
    /// The latency at that percentile, in milliseconds.
    pub latency_ms: f64,
}

/// One point of the timeline.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimelinePoint {
    /// Seconds since sending started (negative while clients joined).
    pub t_s: f64,
    /// The phase of the run.
    pub phase: Phase,
    /// Deliveries per second since the previous point.
    pub deliveries_per_s: f64,
    /// Clients in the room.
    pub welcomed: usize,
    /// Server RSS.
    pub server_rss_bytes: Option<u64>,
    /// Server CPU since the previous point, percent of one core.
    pub server_cpu_percent: Option<f64>,
    /// Generator CPU since the previous point, percent of one core.
    pub generator_cpu_percent: f64,
}

impl Report {
    /// Works out the figures.
    pub fn new(seen: Observation) -> Report {
        let marks = seen.marks;
        let window = span(&marks.window_start, &marks.window_end);
        let lost = seen.expected.saturating_sub(seen.received);
        Report {
            fd_limit: seen.fd_limit,
            load_before: seen.load_before,
            load_after: seen.load_after,
            connect: connect(&seen, &marks),
            messages_sent: seen.sent,
            deliveries: Deliveries {
                expected: seen.expected,
                received: seen.received,
                lost,
                per_second: per_second(seen.received as f64, window),
                stalled_intervals: (seen.plan.talkers() > 0).then(|| stalls(&seen.samples, &marks)),
            },
            latency_us: latency(&seen.tally.latency),
            rooms: room_figures(&seen, window),
            generator: generator_cpu(&marks),
            server: server_figures(&seen, &marks),
            errors: seen.tally.errors.clone(),
            departures: departures(&seen),
            other_lines: seen.tally.other_lines,
            latency_curve: curve(&seen.tally),
            timeline: timeline(&seen.samples, &marks.joined),
            plan: seen.plan,
        }
    }

    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|error| format!("{{\"error\":\"{error}\"}}"))
    }
}

fn connect(seen: &Observation, marks: &Marks) -> Connect {
    let joins_expected = (seen.plan.no_read == 0).then(|| joins_owed(seen));
    let settled =
        joins_expected.and_then(|expected| seen.samples.iter().find(|s| s.joins >= expected));
    Connect {
        clients: seen.plan.clients,
        welcomed: seen.welcomed,
        failed: seen.failed,
        seconds: span(&marks.before, &marks.joined),
        joins_expected,
        joins_received: seen.samples.last().map_or(0, |s| s.joins),
        joins_settled_s: settled.map(|s| span(&marks.before, s)),
    }
}

/// The `JOIN` lines owed to all clients together: in each room, its n members hear
/// n(n - 1)/2 arrivals, each of those who came after them.
fn joins_owed(seen: &Observation) -> u64 {
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let everyone = pairs(seen.welcomed as u64);
    match seen.plan.rooms {
        None => everyone,
        Some(rooms) => {
            let in_rooms: u64 = seen.room_members.iter().map(|&n| pairs(n as u64)).sum();
            in_rooms + if rooms.shared { everyone } else { 0 }
        }
    }
}

/// The rooms' figures, the shared room's apart, with `--rooms`.
fn room_figures(seen: &Observation, window_s: f64) -> Option<RoomFigures> {
    let rooms = seen.plan.rooms?;
    let all = Counts { sent: seen.sent, expected: seen.expected, received: seen.received };
    let shared = seen.shared.unwrap_or(Counts { sent: 0, expected: 0, received: 0 });
    let in_rooms = Counts {
        sent: all.sent.saturating_sub(shared.sent),
        expected: all.expected.saturating_sub(shared.expected),
        received: all.received.saturating_sub(shared.received),
    };
    let mut rooms_latency = seen.tally.latency.clone();
    let rooms_latency =
        rooms_latency.subtract(&seen.tally.shared_latency).ok().map(|_| rooms_latency);
    let shared_talk =
        seen.shared.map(|counts| talk(counts, Some(&seen.tally.shared_latency), window_s));
    Some(RoomFigures {
        rooms: rooms.count,
        members_min: seen.room_members.iter().copied().min().unwrap_or(0),
        members_max: seen.room_members.iter().copied().max().unwrap_or(0),
        rooms_talk: talk(in_rooms, rooms_latency.as_ref(), window_s),
        shared_talk,
    })
}

/// The figures of some messages, from their counts and latencies.
fn talk(counts: Counts, latencies: Option<&Histogram<u64>>, window_s: f64) -> Talk {
    Talk {
        messages_sent: counts.sent,
        expected: counts.expected,
        received: counts.received,
        lost: counts.expected.saturating_sub(counts.received),
        per_second: per_second(counts.received as f64, window_s),
        latency_us: latencies.and_then(latency),
    }
}

/// The departures, timed from when sending started.
fn departures(seen: &Observation) -> BTreeMap<String, Left> {
    let since_go = |at_us: u64| (at_us as f64 - seen.go_us as f64) / 1e6;
    let left = |d: &Departure| Left { reason: d.reason.clone(), t_s: since_go(d.at_us) };
    seen.tally.departures.iter().map(|(nick, d)| (nick.clone(), left(d))).collect()
}

/// Seconds from one sample to another.
fn span(from: &Sample, to: &Sample) -> f64 {
    to.at.saturating_sub(from.at).as_secs_f64()
}

fn per_second(count: f64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count / seconds
    } else {
        0.0
    }
}

fn cpu_between(from: Duration, to: Duration) -> f64 {
    to.saturating_sub(from).as_secs_f64()
}

/// Sample intervals inside the window in which nothing was delivered.
fn stalls(samples: &[Sample], marks: &Marks) -> usize {
    let inside = |s: &&Sample| s.at >= marks.window_start.at && s.at <= marks.window_end.at;
    let window: Vec<&Sample> = samples.iter().filter(inside).collect();
    window.windows(2).filter(|pair| pair[1].delivered == pair[0].delivered).count()
}

fn latency(h: &Histogram<u64>) -> Option<Latency> {
    (!h.is_empty()).then(|| Latency {
        count: h.len(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    })
}

/// The latency at percentiles spaced evenly in nines, up to what the sample size supports.
fn curve(tally: &Tally) -> Vec<CurvePoint> {
    let h = &tally.latency;
    if h.is_empty() {
        return Vec::new();
    }
    let most_nines = (h.len() as f64).log10().clamp(1.0, 6.0);
    let steps = (most_nines * 20.0) as usize;
    let mut points: Vec<CurvePoint> = (0..=steps)
        .map(|i| {
            let nines = i as f64 / 20.0;
            let quantile = 1.0 - 10f64.powf(-nines);
            CurvePoint {
                percentile: quantile * 100.0,
                nines,
                latency_ms: h.value_at_quantile(quantile) as f64 / 1000.0,
            }
        })
        .collect();
    points.push(CurvePoint {
        percentile: 100.0,
        nines: most_nines + 0.05,
        latency_ms: h.max() as f64 / 1000.0,
    });
    points
}

fn generator_cpu(marks: &Marks) -> GeneratorCpu {
    let cpu = |from: &Sample, to: &Sample| {
        cpu_between(from.reading.generator_cpu, to.reading.generator_cpu)
    };
    let measure = cpu(&marks.window_start, &marks.window_end);
    GeneratorCpu {
        connect_cpu_s: cpu(&marks.before, &marks.joined),
        measure_cpu_s: measure,
        measure_cpu_percent: 100.0
            * per_second(measure, span(&marks.window_start, &marks.window_end)),
    }
}

fn server_figures(seen: &Observation, marks: &Marks) -> Option<ServerFigures> {
    let usage = |s: &Sample| s.reading.server;
    let (before, joined) = (usage(&marks.before)?, usage(&marks.joined)?);
    let (start, end) = (usage(&marks.window_start)?, usage(&marks.window_end)?);
    let rss_max = seen.samples.iter().filter_map(usage).map(|u| u.rss_bytes).max();
    let connect_s = span(&marks.before, &marks.joined);
    let window_s = span(&marks.window_start, &marks.window_end);
    let cpu = |a: Usage, b: Usage| cpu_between(a.cpu, b.cpu);
    Some(ServerFigures {
        pid: match seen.meter {
            Meter::Process(pid) => Some(pid),
            _ => None,
        },
        in_process: seen.meter == Meter::InProcess,
        rss_before_bytes: before.rss_bytes,
        rss_joined_bytes: joined.rss_bytes,
        rss_end_bytes: end.rss_bytes,
        rss_max_bytes: rss_max.unwrap_or(end.rss_bytes),
        rss_per_client_bytes: per_client(before.rss_bytes, end.rss_bytes, seen.welcomed),
        rss_growth_bytes_per_s: per_second(end.rss_bytes as f64 - start.rss_bytes as f64, window_s),
        anon_before_bytes: before.anon_bytes,
        anon_end_bytes: end.anon_bytes,
        anon_per_client_bytes: before
            .anon_bytes
            .zip(end.anon_bytes)
            .map(|(before, end)| per_client(before, end, seen.welcomed)),
        connect_cpu_s: cpu(before, joined),
        connect_cpu_percent: 100.0 * per_second(cpu(before, joined), connect_s),
        measure_cpu_s: cpu(start, end),
        measure_cpu_percent: 100.0 * per_second(cpu(start, end), window_s),
    })
}

/// Memory added from `before` to `end`, shared among the clients that joined.
fn per_client(before: u64, end: u64, welcomed: usize) -> u64 {
    end.saturating_sub(before) / welcomed.max(1) as u64
}

/// Rates between consecutive samples, timed from when everyone had joined.
fn timeline(samples: &[Sample], joined: &Sample) -> Vec<TimelinePoint> {
    samples
        .windows(2)
        .filter(|pair| pair[1].at > pair[0].at)
        .map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            let seconds = span(a, b);
            let server_cpu = a
                .reading
                .server
                .zip(b.reading.server)
                .map(|(a, b)| 100.0 * per_second(cpu_between(a.cpu, b.cpu), seconds));
            TimelinePoint {
                t_s: b.at.as_secs_f64() - joined.at.as_secs_f64(),
                phase: b.phase,
                deliveries_per_s: per_second((b.delivered - a.delivered) as f64, seconds),
                welcomed: b.welcomed,
                server_rss_bytes: b.reading.server.map(|u| u.rss_bytes),
                server_cpu_percent: server_cpu,
                generator_cpu_percent: 100.0
                    * per_second(
                        cpu_between(a.reading.generator_cpu, b.reading.generator_cpu),
                        seconds,
                    ),
            }
        })
        .collect()
}

impl fmt::Display for Report {
    /// The table printed at the end of a run.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (label, value) in self.rows() {
            writeln!(f, "{label:<16} {value}")?;
        }
        Ok(())
    }
}

impl Report {
    /// The table's rows: a label and its figures.
    fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![("scenario", self.scenario()), ("machine", self.machine())];
        let c = &self.connect;
        rows.push((
            "connect",
            format!(
                "{}/{} joined in {:.3} s ({} failed)",
                c.welcomed, c.clients, c.seconds, c.failed
            ),
        ));
        rows.push(("announcements", announcements(c)));
        let d = &self.deliveries;
        if self.plan.talkers() > 0 {
            rows.push((
                "messages sent",
                format!("{} in the window", thousands(self.messages_sent)),
            ));
            rows.push((
                "deliveries",
                format!(
                    "{}/s; expected {}, received {}, lost {}",
                    si(d.per_second),
                    thousands(d.expected),
                    thousands(d.received),
                    thousands(d.lost)
                ),
            ));
            let stalled = d.stalled_intervals.unwrap_or(0);
            rows.push((
                "stalls",
                format!("{stalled} of the window's 100 ms intervals had no delivery"),
            ));
        }
        if let Some(l) = &self.latency_us {
            rows.push(("latency", percentiles(l)));
        }
        if let Some(rooms) = &self.rooms {
            rows.extend(room_rows(rooms, self.connect.welcomed));
        }
        rows.push(("generator CPU", self.generator_row()));
        if let Some(s) = &self.server {
            rows.extend(server_rows(s));
        }
        rows.push(("errors", summary(&self.errors, |n| n.to_string())));
        rows.push(("departures", summary_departures(&self.departures)));
        rows
    }

    fn scenario(&self) -> String {
        let p = &self.plan;
        let pace = match (p.rate, p.window) {
            _ if p.talkers() == 0 => "none sending".to_string(),
            (Some(rate), None) => format!("{rate} msg/s"),
            (Some(rate), Some(w)) => format!("{rate} msg/s, at most {w} unseen"),
            (None, w) => format!("max rate, at most {} unseen", w.unwrap_or(0)),
        };
        let name = p.preset.map_or("custom".to_string(), |p| format!("{p:?}"));
        let rooms = match p.rooms {
            None => String::new(),
            Some(rooms) if rooms.shared => {
                format!(" in {} rooms, + 1 sender in {SHARED_ROOM}", rooms.count)
            }
            Some(rooms) => format!(" in {} rooms", rooms.count),
        };
        let protocol = match (p.protocol, p.tls.is_some()) {
            _ if p.websocket => " over WebSocket",
            (Protocol::Chat, false) => "",
            (Protocol::Chat, true) => " over TLS",
            (Protocol::Irc, false) => " over IRC",
            (Protocol::Irc, true) => " over IRC over TLS",
        };
        // One server goes unnamed, as it always has; a cluster says how many share the load.
        let servers = match &p.target {
            Target::Cluster(addrs) => format!(" on {} servers", addrs.len()),
            Target::Addr(_) | Target::Spawn => String::new(),
        };
        format!(
            "{name}{protocol}: {} clients{servers}, {} senders{rooms} ({pace}), {} B, {} no-read, {:?} after {:?} warmup, {} threads",
            p.clients, p.senders, p.size, p.no_read, p.duration, p.warmup, p.threads
        )
    }

    fn machine(&self) -> String {
        let load =
            |l: Option<[f64; 3]>| l.map_or("?".into(), |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
        format!(
            "load average {} before, {} after; open-file limit {}",
            load(self.load_before),
            load(self.load_after),
            self.fd_limit
        )
    }

    fn generator_row(&self) -> String {
        let g = &self.generator;
        format!(
            "{:.2} s in the window ({:.0}% of a core); {:.2} s while joining",
            g.measure_cpu_s, g.measure_cpu_percent, g.connect_cpu_s
        )
    }
}

fn announcements(c: &Connect) -> String {
    let received = thousands(c.joins_received);
    match (c.joins_expected, c.joins_settled_s) {
        (Some(expected), Some(s)) => {
            format!("{received} of {} JOIN lines, all in by {s:.3} s", thousands(expected))
        }
        (Some(expected), None) => {
            format!("{received} of {} JOIN lines; not all arrived", thousands(expected))
        }
        (None, _) => format!("{received} JOIN lines"),
    }
}

/// `p50 / p90 / p99 / p99.9 / max` in milliseconds.
fn percentiles(l: &Latency) -> String {
    format!(
        "p50 {} / p90 {} / p99 {} / p99.9 {} / max {} ms",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max)
    )
}

/// The rooms' sizes, then the rooms' messages and the shared room's, each on its own.
fn room_rows(r: &RoomFigures, welcomed: usize) -> Vec<(&'static str, String)> {
    let mut sizes = format!("{} rooms of {} to {} members", r.rooms, r.members_min, r.members_max);
    if r.shared_talk.is_some() {
        let _ = write!(sizes, ", and {SHARED_ROOM} of {welcomed}");
    }
    let mut rows = vec![("rooms", sizes), ("in the rooms", talk_row(&r.rooms_talk))];
    if let Some(shared) = &r.shared_talk {
        rows.push(("in #all", talk_row(shared)));
    }
    rows
}

/// One kind of message: how many, deliveries, and latency.
fn talk_row(t: &Talk) -> String {
    let latency = t.latency_us.as_ref().map_or_else(|| "no latency".into(), percentiles);
    format!(
        "{} messages, {} deliveries/s, lost {} of {}; {latency}",
        thousands(t.messages_sent),
        si(t.per_second),
        thousands(t.lost),
        thousands(t.expected)
    )
}

fn server_rows(s: &ServerFigures) -> Vec<(&'static str, String)> {
    let whose = if s.in_process { " (whole process: server and generator)" } else { "" };
    vec![
        (
            "server RSS",
            format!(
                "{} before, {} joined, {} end, {} max{whose}",
                mb(s.rss_before_bytes),
                mb(s.rss_joined_bytes),
                mb(s.rss_end_bytes),
                mb(s.rss_max_bytes)
            ),
        ),
        (
            "server memory",
            format!(
                "{} per client; {}/s growth in the window",
                kb(s.rss_per_client_bytes),
                mb(s.rss_growth_bytes_per_s.max(0.0) as u64)
            ),
        ),
        ("server anonymous", anon_row(s, whose)),
        (
            "server CPU",
            format!(
                "{:.2} s in the window ({:.0}% of a core); {:.2} s while joining ({:.0}%)",
                s.measure_cpu_s, s.measure_cpu_percent, s.connect_cpu_s, s.connect_cpu_percent
            ),
        ),
    ]
}

/// The anonymous memory (`RssAnon`): the RSS without the binary's file pages; `whose`
/// says when it is the whole process's.
fn anon_row(s: &ServerFigures, whose: &str) -> String {
    match (s.anon_before_bytes, s.anon_end_bytes, s.anon_per_client_bytes) {
        (Some(before), Some(end), Some(per_client)) => {
            format!("{} before, {} end; {} per client{whose}", mb(before), mb(end), kb(per_client))
        }
        _ => "not reported (no RssAnon in /proc/PID/status)".into(),
    }
}

fn summary(map: &BTreeMap<String, u64>, show: impl Fn(u64) -> String) -> String {
    if map.is_empty() {
        return "none".into();
    }
    map.iter().map(|(what, n)| format!("{what} ×{}", show(*n))).collect::<Vec<_>>().join("; ")
}

fn summary_departures(map: &BTreeMap<String, Left>) -> String {
    if map.is_empty() {
        return "none".into();
    }
    let mut by_reason: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (nick, left) in map {
        by_reason.entry(&left.reason).or_default().push(format!("{nick} at {:.2} s", left.t_s));
    }
    let mut out = String::new();
    for (reason, nicks) in by_reason {
        let shown: Vec<&str> = nicks.iter().take(5).map(String::as_str).collect();
        let more = nicks.len().saturating_sub(shown.len());
        let _ = write!(out, "{} ({reason})", shown.join(", "));
        if more > 0 {
            let _ = write!(out, " and {more} more");
        }
        out.push_str("; ");
    }
    out.trim_end_matches("; ").to_string()
}

/// Microseconds as milliseconds.
fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn kb(bytes: u64) -> String {
    format!("{:.1} kB", bytes as f64 / 1e3)
}

/// A rate with a k/M suffix.
fn si(value: f64) -> String {
    super::watch::si(value)
}

/// An integer with thin thousands separators.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_numbers_are_readable() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(si(12_345_678.0), "12.35M");
        assert_eq!(ms(1500), "1.500");
    }

    #[test]
    fn memory_per_client_is_never_negative_even_with_no_clients() {
        assert_eq!(per_client(1_000, 21_000, 10), 2_000);
        assert_eq!(per_client(21_000, 1_000, 10), 0);
        assert_eq!(per_client(1_000, 3_000, 0), 2_000);
    }

    #[test]
    fn the_curve_climbs_to_the_maximum() {
        let mut tally = Tally::new();
        for us in 1..=10_000 {
            tally.latency.saturating_record(us);
        }
        let points = curve(&tally);
        assert!(points.windows(2).all(|p| p[0].latency_ms <= p[1].latency_ms));
        let last = points.last().expect("points");
        assert!((last.latency_ms - 10.0).abs() < 0.01, "{last:?}");
    }
}
