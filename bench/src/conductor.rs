//! The conductor: runs one benchmark from start to finish on the calling thread. It raises
//! the open-file limit, starts the server if asked (over TLS or WebSocket if asked), finds
//! the server or servers the clients connect to, lets the generator threads join, opens the
//! measured window, waits out warmup, measurement and drain, then stops everyone.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::board::Board;
use super::config::{Plan, Target};
use super::connection::{Destination, Transport};
use super::fd_limit;
use super::local_server::{bench_config, LocalServer};
use super::meter::{self, Meter};
use super::report::{Counts, Marks, Observation, Report};
use super::shard::{self, Signals};
use super::tally::Tally;
use super::tls::{self, TlsClient};
use super::watch::{Phase, Watch};
use super::BenchError;

/// The longest the joining phase may take; each handshake has its own shorter timeout.
const JOIN_PHASE_LIMIT: Duration = Duration::from_secs(600);

/// After the window closes, the longest wait for deliveries still on their way.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// The drain also ends when no delivery has arrived for this long: the rest are lost.
const DRAIN_SILENCE: Duration = Duration::from_secs(1);

/// Runs the benchmark described by `plan` and returns its figures. With `show_progress`, a
/// progress bar is drawn on standard error while it runs.
pub fn run(plan: &Plan, show_progress: bool) -> Result<Report, BenchError> {
    let in_process = plan.target == Target::Spawn;
    let fd_limit = fd_limit::raise_open_files(fd_limit::needed(plan.clients, in_process));
    let server = if in_process { Some(spawn(plan).map_err(BenchError::Spawn)?) } else { None };
    let destinations = destinations(plan, server.as_ref());
    let meter = match (&server, plan.server_pid) {
        (Some(_), _) => Meter::InProcess,
        (None, Some(pid)) => Meter::Process(pid),
        (None, None) => Meter::Blind,
    };
    let report = destinations
        .and_then(|destinations| drive(plan, destinations, meter, fd_limit, show_progress));
    if let Some(server) = server {
        server.stop().map_err(BenchError::Spawn)?;
    }
    report
}

/// The in-process server for `plan`: a listener for its protocol, over TLS or WebSocket
/// as the clients speak.
fn spawn(plan: &Plan) -> std::io::Result<LocalServer> {
    if plan.websocket {
        return LocalServer::start_web(bench_config());
    }
    LocalServer::start(plan.protocol, plan.tls.is_some())
}

/// Where the clients connect: the spawned server, or each `--addr` in its order (the
/// order [`Plan::server_of`] deals the clients in).
fn destinations(plan: &Plan, server: Option<&LocalServer>) -> Result<Vec<Destination>, BenchError> {
    if let Some(server) = server {
        let transport = transport(plan, &server.addr.to_string(), Some(server))?;
        return Ok(vec![Destination { addr: server.addr, transport }]);
    }
    if plan.target == Target::Spawn {
        return Err(BenchError::Resolve("no server was started".into()));
    }
    let found = |host_port: &String| {
        Ok(Destination { addr: resolve(host_port)?, transport: transport(plan, host_port, None)? })
    };
    plan.target.addrs().iter().map(found).collect()
}

/// How the bytes travel to the server named `host_port`: plain, in TLS (with what the
/// clients trust, for that server's host) or in WebSocket frames (naming it as `Host`).
fn transport(
    plan: &Plan,
    host_port: &str,
    server: Option<&LocalServer>,
) -> Result<Transport, BenchError> {
    if plan.websocket {
        return Ok(Transport::WebSocket(host_port.to_string()));
    }
    let Some(trust) = &plan.tls else { return Ok(Transport::Plain) };
    let host = match server {
        Some(server) => server.addr.ip().to_string(),
        None => tls::host_of(host_port).to_string(),
    };
    let spawned = server.and_then(|server| server.fingerprint.as_deref());
    let client = TlsClient::new(trust, &host, spawned).map_err(BenchError::Tls)?;
    Ok(Transport::Tls(client))
}

/// The first address `addr` resolves to.
fn resolve(addr: &str) -> Result<SocketAddr, BenchError> {
    addr.to_socket_addrs()
        .map_err(|error| BenchError::Resolve(format!("{addr}: {error}")))?
        .next()
        .ok_or_else(|| BenchError::Resolve(format!("{addr} resolves to no address")))
}

/// Joins, sends, measures, drains and stops.
fn drive(
    plan: &Plan,
    destinations: Vec<Destination>,
    meter: Meter,
    fd_limit: u64,
    show_progress: bool,
) -> Result<Report, BenchError> {
    let load_before = meter::load_average();
    let board = Arc::new(Board::new(plan.rooms.map_or(0, |rooms| rooms.count)));
    let (go, go_rx) = async_channel::bounded::<()>(1);
    let (stop, stop_rx) = async_channel::bounded::<()>(1);
    let signals = Signals { go: go_rx, stop: stop_rx };
    let mut watch = Watch::new(board.clone(), meter, show_progress);
    let before = watch.sample(Phase::Connect);
    let plan_shared = Arc::new(plan.clone());
    let threads = shard::spawn_all(&plan_shared, destinations, &board, &signals)
        .map_err(BenchError::Threads)?;

    watch.expect_clients(plan.clients);
    let clients = plan.clients;
    let joined = watch.run_phase(Phase::Connect, Instant::now() + JOIN_PHASE_LIMIT, |b| {
        b.welcomed.load(Ordering::Relaxed) + b.failed.load(Ordering::Relaxed) >= clients
    });
    if board.welcomed.load(Ordering::Relaxed) == 0 {
        stop.close();
        let tally = collect(threads)?;
        watch.finish();
        return Err(BenchError::NobodyJoined(first_error(&tally)));
    }

    board.open_window(plan.warmup, plan.duration);
    go.close();
    watch.sending(plan.warmup + plan.duration);
    let (start_us, end_us) = board.window();
    let window_start = watch.run_phase(Phase::Warmup, board.instant_at(start_us), |_| false);
    let window_end = watch.run_phase(Phase::Measure, board.instant_at(end_us), |_| false);
    drain(&mut watch);
    board.over.store(true, Ordering::Relaxed);
    stop.close();
    let tally = collect(threads)?;
    watch.finish();

    Ok(Report::new(Observation {
        plan: plan.clone(),
        fd_limit,
        load_before,
        load_after: meter::load_average(),
        welcomed: board.welcomed.load(Ordering::Relaxed),
        failed: board.failed.load(Ordering::Relaxed),
        marks: Marks { before, joined, window_start, window_end },
        samples: watch.samples,
        sent: Board::get(&board.sent),
        expected: Board::get(&board.expected),
        received: Board::get(&board.received),
        room_members: board.room_members(),
        shared: plan.shared_sender().map(|_| Counts {
            sent: Board::get(&board.shared_sent),
            expected: Board::get(&board.shared_expected),
            received: Board::get(&board.shared_received),
        }),
        tally,
        meter,
        go_us: board.go_us(),
    }))
}

/// Waits until every expected delivery has arrived, deliveries stop coming, or the limit.
fn drain(watch: &mut Watch) {
    let deadline = Instant::now() + DRAIN_LIMIT;
    let progress = std::cell::Cell::new((0, Instant::now()));
    watch.run_phase(Phase::Drain, deadline, |b| {
        let delivered = Board::get(&b.delivered);
        let (seen, since) = progress.get();
        if delivered != seen {
            progress.set((delivered, Instant::now()));
        }
        let complete = b.sending.load(Ordering::Acquire) == 0
            && Board::get(&b.received) >= Board::get(&b.expected);
        complete || since.elapsed() >= DRAIN_SILENCE
    });
}

/// Waits for every generator thread and merges what they saw.
fn collect(threads: Vec<JoinHandle<Tally>>) -> Result<Tally, BenchError> {
    let mut total = Tally::new();
    for thread in threads {
        total.merge(thread.join().map_err(|_| BenchError::ThreadPanicked)?);
    }
    Ok(total)
}

/// The most frequent error, to explain a run where nobody got in.
fn first_error(tally: &Tally) -> String {
    tally
        .errors
        .iter()
        .max_by_key(|(_, count)| **count)
        .map_or_else(|| "no error recorded".into(), |(what, _)| what.clone())
}
