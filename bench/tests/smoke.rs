//! `smolchat-bench` against an in-process server for about a second: the counts must add up
//! (every message reaches every reader, nothing is lost). No timing assertions.

use std::time::Duration;

use smolchat_bench::local_server::{bench_config, LocalServer};
use smolchat_bench::{self as bench, Options, Report};

/// A small, well-behaved run: a few readers, a few senders, well under any limit.
fn small_options(rate: Option<f64>, inflight: Option<u32>) -> Options {
    Options {
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
    }
}

fn small_run(rate: Option<f64>, inflight: Option<u32>) -> Report {
    run(small_options(rate, inflight))
}

fn run(options: Options) -> Report {
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
    assert_everything_arrived(report);
}

fn assert_everything_arrived(report: &Report) {
    let deliveries = &report.deliveries;
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

/// Twelve clients in three rooms of four, one sender in each, everyone also in `#all`
/// where a fourth sender talks; half a second, as the counts are what matters here.
fn rooms_options() -> Options {
    Options {
        rooms: Some(3),
        shared_room: true,
        duration: Some(Duration::from_millis(400)),
        warmup: Some(Duration::from_millis(100)),
        ..small_options(Some(40.0), None)
    }
}

/// A room's message is owed to its four members, an `#all` message to all twelve, and the
/// two kinds add up to the whole.
fn assert_rooms_add_up(report: &Report) {
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_eq!(report.connect.failed, 0, "{report}");
    assert_everything_arrived(report);
    let rooms = report.rooms.as_ref().expect("room figures");
    assert_eq!((rooms.rooms, rooms.members_min, rooms.members_max), (3, 4, 4), "{report}");
    let (talk, shared) = (&rooms.rooms_talk, rooms.shared_talk.as_ref().expect("#all figures"));
    assert!(talk.messages_sent > 0 && shared.messages_sent > 0, "{report}");
    assert_eq!(talk.expected, talk.messages_sent * 4, "{report}");
    assert_eq!(shared.expected, shared.messages_sent * 12, "{report}");
    assert_eq!(talk.messages_sent + shared.messages_sent, report.messages_sent, "{report}");
    assert_eq!(talk.expected + shared.expected, report.deliveries.expected, "{report}");
    assert_eq!((talk.lost, shared.lost), (0, 0), "{report}");
    let counted = |t: &bench::report::Talk| t.latency_us.as_ref().map_or(0, |l| l.count);
    assert_eq!(counted(talk), talk.received, "{report}");
    assert_eq!(counted(shared), shared.received, "{report}");
    // Each room of four hears 6 arrivals, #all of twelve 66; the lobby's are not counted.
    assert_eq!(report.connect.joins_expected, Some(3 * 6 + 66), "{report}");
}

/// Both ways into the rooms at once (the two runs share the time): leaving the default
/// room a server puts newcomers in, and a server without one.
#[test]
fn rooms_count_per_room_with_and_without_a_default_room() {
    let config = smolchat::server::Config { default_room: None, ..bench_config() };
    let server = LocalServer::start_with(config, bench::Protocol::Chat).expect("a server");
    let elsewhere =
        Options { spawn: false, addr: Some(server.addr.to_string()), ..rooms_options() };
    let (lobby, no_lobby) = std::thread::scope(|scope| {
        let no_lobby = scope.spawn(|| run(elsewhere));
        (run(rooms_options()), no_lobby.join().expect("the run does not panic"))
    });
    server.stop().expect("the server stops");
    assert_rooms_add_up(&lobby);
    assert_rooms_add_up(&no_lobby);
}

/// The same small windowed run, the clients speaking IRC to an in-process IRC listener.
#[test]
fn over_irc_every_message_reaches_everyone_but_its_sender() {
    let options = Options { protocol: bench::Protocol::Irc, ..small_options(None, Some(4)) };
    let report = run(options);
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_eq!(report.connect.failed, 0, "{report}");
    assert!(report.messages_sent > 0, "{report}");
    // IRC does not echo: each message is owed to the eleven others.
    assert_eq!(report.deliveries.expected, report.messages_sent * 11, "{report}");
    assert_eq!(report.connect.joins_expected, Some(66), "{report}");
    assert_eq!(report.connect.joins_received, 66, "{report}");
    assert_everything_arrived(&report);
}

/// IRC with rooms: a room's message is owed to its other three members, an `#all`
/// message to the other eleven.
#[test]
fn over_irc_rooms_count_per_room() {
    let report = run(Options { protocol: bench::Protocol::Irc, ..rooms_options() });
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_everything_arrived(&report);
    let rooms = report.rooms.as_ref().expect("room figures");
    let (talk, shared) = (&rooms.rooms_talk, rooms.shared_talk.as_ref().expect("#all figures"));
    assert!(talk.messages_sent > 0 && shared.messages_sent > 0, "{report}");
    assert_eq!(talk.expected, talk.messages_sent * 3, "{report}");
    assert_eq!(shared.expected, shared.messages_sent * 11, "{report}");
    assert_eq!(report.connect.joins_expected, Some(3 * 6 + 66), "{report}");
}

#[test]
fn help_opens_with_the_bench_s_own_description() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_smolchat-bench"))
        .arg("--help")
        .output()
        .expect("run --help");
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.starts_with("smolchat-bench: measures a smolchat server"), "{help}");
}

/// The same small paced run over TLS: the in-process server listens on `chats://` with a
/// certificate made for the run, which the clients pin by fingerprint. Paced rather than
/// at max rate: in a room of twelve at max rate the server's queue of 16 batches per client
/// lasts a millisecond or two (it flushes the room every 7 µs per member), and a debug
/// build encrypting on a busy machine can fall that far behind and drop a reader.
#[test]
fn over_tls_every_message_reaches_every_reader() {
    let report = run(Options { tls: true, ..small_options(Some(40.0), None) });
    assert_counts_add_up(&report);
    assert_eq!(report.plan.tls, Some(bench::TlsTrust::Spawned), "{report}");
}

/// IRC over TLS (`ircs://`), paced, so that the reading and the sending of one connection
/// share its TLS session.
#[test]
fn over_irc_and_tls_every_message_reaches_everyone_but_its_sender() {
    let options =
        Options { protocol: bench::Protocol::Irc, tls: true, ..small_options(Some(40.0), None) };
    let report = run(options);
    assert_eq!(report.connect.welcomed, 12, "{report}");
    assert_eq!(report.deliveries.expected, report.messages_sent * 11, "{report}");
    assert_everything_arrived(&report);
}

/// The same small windowed run over WebSocket: the in-process server listens on
/// `http://`, every client upgrades to `/ws`, and a sender's window of lines goes out as
/// several frames in one write.
#[test]
fn over_websocket_every_message_reaches_every_reader() {
    let report = run(Options { websocket: true, ..small_options(None, Some(4)) });
    assert_counts_add_up(&report);
    assert!(report.plan.websocket, "{report}");
}

/// A client that pins another certificate is refused in the TLS handshake, and says why.
#[test]
fn a_wrong_fingerprint_is_refused_with_the_reason() {
    let server = LocalServer::start_tls(bench_config(), bench::Protocol::Chat).expect("a server");
    let wrong = ["AB"; 32].join(":");
    let options = Options {
        spawn: false,
        addr: Some(server.addr.to_string()),
        tls: true,
        tls_fingerprint: Some(wrong),
        clients: Some(2),
        senders: Some(1),
        ..small_options(None, Some(4))
    };
    let plan = options.plan().expect("a valid plan");
    let error = bench::run(&plan, false).expect_err("nobody gets in").to_string();
    server.stop().expect("the server stops");
    assert!(error.contains("TLS handshake failed"), "{error}");
    assert!(error.contains("not the pinned"), "{error}");
}

/// Two servers in one `--addr`, dealt the clients in turn. Two rooms over two servers
/// that share nothing: client i is in `#r{i % 2}` and on server `i % 2`, so each room
/// lives whole on one server and every message still reaches its room, as a cluster
/// would deliver it across servers.
#[test]
fn several_addresses_share_the_clients_and_every_room_hears_its_messages() {
    let servers =
        [(); 2].map(|_| LocalServer::start(bench::Protocol::Chat, false).expect("a server"));
    let options = Options {
        spawn: false,
        addr: Some(format!("{},{}", servers[0].addr, servers[1].addr)),
        clients: Some(8),
        senders: Some(2),
        rooms: Some(2),
        ..small_options(None, Some(4))
    };
    let report = run(options);
    for server in servers {
        server.stop().expect("the server stops");
    }
    assert_eq!((report.connect.welcomed, report.connect.failed), (8, 0), "{report}");
    assert!(report.messages_sent > 0, "{report}");
    // Each message is owed to the four members of its room, its sender included.
    assert_eq!(report.deliveries.expected, report.messages_sent * 4, "{report}");
    assert_everything_arrived(&report);
    assert!(report.to_string().contains("8 clients on 2 servers"), "{report}");
}

/// The second of two addresses has nobody listening: exactly the clients it is dealt,
/// every other one, fail to join, and the run goes on with the rest.
#[test]
fn several_addresses_are_dealt_round_robin() {
    let server = LocalServer::start(bench::Protocol::Chat, false).expect("a server");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let closed = nobody.local_addr().expect("its address");
    drop(nobody);
    let options = Options {
        spawn: false,
        addr: Some(format!("{}, {closed}", server.addr)),
        clients: Some(6),
        senders: Some(0),
        duration: Some(Duration::from_millis(100)),
        warmup: Some(Duration::ZERO),
        ..small_options(None, None)
    };
    let cluster = [server.addr.to_string(), closed.to_string()];
    let report = run(options);
    server.stop().expect("the server stops");
    assert_eq!((report.connect.welcomed, report.connect.failed), (3, 3), "{report}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("valid JSON");
    assert_eq!(json["plan"]["target"]["cluster"], serde_json::json!(cluster), "{report}");
}
