//! What to run: the command-line options, the named scenarios, and the plan they resolve to.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::{Args, ValueEnum};
use serde::Serialize;
use thiserror::Error;

use super::protocol::Protocol;
use super::rooms::{Rooms, Venue};
use super::tls::TlsTrust;

/// How many unseen messages a sender may have out when no rate and no window is given.
pub const DEFAULT_WINDOW: u32 = 10;

/// How many connections may be in their handshake at once unless told otherwise: enough
/// to keep the server busy, few enough not to overflow its accept backlog.
pub const DEFAULT_CONNECT_CONCURRENCY: usize = 256;

/// One of the scenarios of the performance targets; each fills in the options it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// 100 clients, 10 senders at 10 msg/s each, 64 B: latency.
    S1,
    /// 1,000 clients, 10 senders at max rate with 10 unseen each: deliveries per second.
    S2,
    /// 10,000 clients connect and are welcomed: connect time and server memory.
    S3,
    /// 100 clients, 10 senders at max rate, 1 never reads: no stall, flat memory.
    S4,
    /// 10,000 clients in 100 rooms of 100, one sender per room at 10 msg/s: rooms at scale.
    S5,
    /// S5, with everyone also in `#all`, where one more sender talks at 10 msg/s.
    S5All,
}

/// The command-line options. Any left out come from `--preset`, then from the defaults.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct Options {
    /// Address of a running server, e.g. 127.0.0.1:55555 (start it with --flood-rate 0
    /// and a --max-per-ip above --clients: every bench client comes from one address); with
    /// --protocol irc, any IRC server, e.g. ngIRCd on 127.0.0.1:16667. Several servers of
    /// one cluster, comma-separated (127.0.0.1:6001,127.0.0.1:6002): client i connects to
    /// the (i % count)-th, over the same transport, and a message is still owed to every
    /// member of its room whichever server they are on. With --tls each server is checked
    /// against the same trust, for its own host.
    #[arg(
        long,
        alias = "target",
        value_name = "HOST:PORT[,HOST:PORT...]",
        required_unless_present_any = ["spawn", "baseline_server"],
        conflicts_with = "spawn"
    )]
    pub addr: Option<String>,

    /// Start a server in-process on 127.0.0.1:0 instead, with flood control and the
    /// per-address cap off, listening for the --protocol the clients speak.
    #[arg(long, conflicts_with = "server_pid")]
    pub spawn: bool,

    /// What the clients speak: smolchat's line protocol, or IRC (NICK/USER, JOIN #lobby or
    /// the --rooms, PRIVMSG; the server is expected not to echo a message to its sender).
    #[arg(long, value_enum, default_value = "chat")]
    pub protocol: Protocol,

    /// Speak TLS (what chats:// and ircs:// listeners want). With --spawn the in-process
    /// server gets a TLS listener and a self-signed certificate made for the run, which the
    /// clients pin by fingerprint; with --addr the server's certificate is checked against
    /// --tls-fingerprint, else --tls-ca, else the system's authorities, for the host named
    /// in --addr.
    #[arg(long)]
    pub tls: bool,

    /// With --tls --addr: trust exactly the certificate with this SHA-256 fingerprint
    /// (AB:CD:..., as smolchat-server logs it at start: `TLS certificate loaded
    /// fingerprint=...`), whatever its names.
    #[arg(long, value_name = "SHA256", requires = "tls", conflicts_with_all = ["spawn", "tls_ca"])]
    pub tls_fingerprint: Option<String>,

    /// With --tls --addr: trust certificates signed by an authority in this PEM file.
    #[arg(long, value_name = "FILE", requires = "tls", conflicts_with = "spawn")]
    pub tls_ca: Option<PathBuf>,

    /// Speak WebSocket (what an http:// listener serves at /ws): each client upgrades an
    /// HTTP connection to /ws, naming --addr as its Host and Origin, then sends and
    /// receives each line as a text frame of its own. The chat protocol only, without TLS.
    /// With --spawn the in-process server gets an http:// listener.
    #[arg(long, conflicts_with = "tls")]
    pub websocket: bool,

    /// A named scenario: s1 latency, s2 fan-out, s3 ten thousand joins, s4 slow consumer,
    /// s5 a hundred rooms of a hundred, s5-all the same plus one room of everyone.
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,

    /// Connections to open [default: 10].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub clients: Option<usize>,

    /// How many of the clients send messages [default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).map(|v| v as usize))]
    pub senders: Option<usize>,

    /// Messages per second per sender; without it senders go as fast as --inflight allows.
    #[arg(long)]
    pub rate: Option<f64>,

    /// Most messages a sender may have sent but not yet seen come back [default: 10
    /// without --rate, no cap with it].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub inflight: Option<u32>,

    /// Bytes of text per message [default: 64].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub size: Option<usize>,

    /// How long to measure, after the warmup (e.g. 10s) [default: 10s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// How long to send before measuring starts [default: 1s].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,

    /// How many clients never read a byte after joining: slow consumers [default: 0].
    #[arg(long, value_parser = clap::value_parser!(u32).map(|v| v as usize))]
    pub no_read: Option<usize>,

    /// Process id of the server, to report its memory (RSS) and CPU time from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,

    /// Generator threads, each with its own share of the connections [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub threads: Option<usize>,

    /// Handshakes in progress at once while connecting [default: 256].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub connect_concurrency: Option<usize>,

    /// Spread the clients over N rooms, #r0 to #rN-1 (client i in #r{i % N}), out of the
    /// server's default room; sender i talks in its own room with /msg [default: everyone
    /// stays in the default room].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub rooms: Option<usize>,

    /// With --rooms: everyone also joins #all, and one more sender (the client after the
    /// room senders) talks there, and only there.
    #[arg(long)]
    pub shared_room: bool,
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A server already running at this address.
    Addr(String),
    /// Several servers of one cluster, already running at these addresses (two or more;
    /// one is an [`Target::Addr`], so that a single address reports as it always has).
    Cluster(Vec<String>),
    /// A server started in-process for the run.
    Spawn,
}

impl Target {
    /// Reads `--addr`: one `HOST:PORT`, or several separated by commas. Spaces around an
    /// entry are dropped; an empty entry is refused rather than guessed at.
    pub fn parse(text: &str) -> Result<Target, PlanError> {
        let mut addrs: Vec<String> = text.split(',').map(|addr| addr.trim().to_string()).collect();
        if addrs.iter().any(String::is_empty) {
            return Err(PlanError::EmptyAddr(text.to_string()));
        }
        if addrs.len() == 1 {
            return Ok(Target::Addr(addrs.remove(0)));
        }
        Ok(Target::Cluster(addrs))
    }

    /// The addresses the clients connect to, in `--addr`'s order; none for `--spawn`,
    /// whose address is known only once it listens.
    pub fn addrs(&self) -> &[String] {
        match self {
            Target::Addr(addr) => std::slice::from_ref(addr),
            Target::Cluster(addrs) => addrs,
            Target::Spawn => &[],
        }
    }

    /// How many servers the clients are spread over: the in-process one counts as one.
    pub fn servers(&self) -> usize {
        self.addrs().len().max(1)
    }
}

/// A complete, checked description of one run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Where the server is.
    pub target: Target,
    /// What the clients speak.
    pub protocol: Protocol,
    /// Over TLS, what the clients trust; `None` for plain TCP.
    pub tls: Option<TlsTrust>,
    /// The clients speak WebSocket, each line a frame.
    pub websocket: bool,
    /// The scenario it came from, if any, for the report's title.
    pub preset: Option<Preset>,
    /// Connections to open.
    pub clients: usize,
    /// Clients that send; the first `senders` of them.
    pub senders: usize,
    /// Messages per second per sender; `None` is as fast as the window allows.
    pub rate: Option<f64>,
    /// Most unseen messages per sender; `None` is no cap (only with a rate).
    pub window: Option<u32>,
    /// Bytes of text per message (at least the stamp's own length).
    pub size: usize,
    /// The measured time.
    #[serde(rename = "duration_s", serialize_with = "seconds")]
    pub duration: Duration,
    /// Sending before the measured time, not counted.
    #[serde(rename = "warmup_s", serialize_with = "seconds")]
    pub warmup: Duration,
    /// Clients that never read; the last `no_read` of them.
    pub no_read: usize,
    /// The server's process, to read its memory and CPU.
    pub server_pid: Option<u32>,
    /// Generator threads.
    pub threads: usize,
    /// Handshakes in progress at once.
    pub connect_concurrency: usize,
    /// How the clients are spread over rooms; `None`: all stay in the default room.
    pub rooms: Option<Rooms>,
}

/// Why the options do not make a run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    /// Neither an address nor `--spawn`.
    #[error("say where the server is: --addr HOST:PORT or --spawn")]
    NoTarget,
    /// An `--addr` with an empty entry: nothing, or a comma too many.
    #[error("--addr {0:?} has an empty address: give HOST:PORT, or several joined by commas")]
    EmptyAddr(String),
    /// More senders and silent clients than clients.
    #[error(
        "{senders} senders (--senders, and one more with --shared-room) plus --no-read \
         ({no_read}) exceed --clients ({clients})"
    )]
    TooFewClients {
        /// Clients asked for.
        clients: usize,
        /// Senders asked for, the shared room's included.
        senders: usize,
        /// Silent clients asked for.
        no_read: usize,
    },
    /// A rate that is zero, negative or not a number.
    #[error("--rate must be a positive number of messages per second, not {0}")]
    BadRate(f64),
    /// A certificate to trust, but no `--tls`; or given with `--spawn`, whose certificate
    /// the bench makes itself; or two of them.
    #[error("--tls-fingerprint or --tls-ca (one of them) goes with --tls and --addr")]
    TrustMisplaced,
    /// A fingerprint that is not one.
    #[error("--tls-fingerprint: {0}")]
    BadFingerprint(String),
    /// WebSocket with IRC or TLS: the bench speaks the chat protocol over plain `ws://`.
    #[error("--websocket speaks the chat protocol without TLS: not with --protocol irc or --tls")]
    WebSocketMisplaced,
    /// A shared room, but no rooms to leave the default room for.
    #[error("--shared-room needs --rooms N")]
    SharedRoomWithoutRooms,
    /// Over IRC, a sender with a window but nobody else reading its room, whose deliveries
    /// would say that its messages are through.
    #[error(
        "sender {sender} is the only reader of its room: over IRC, which does not echo a \
         message to its sender, a window (--inflight) needs another reader there"
    )]
    NoWitness {
        /// The sender (its client index).
        sender: usize,
    },
}

impl Preset {
    /// The options this scenario sets; the ones it leaves out take the defaults.
    pub fn options(self) -> Options {
        let base = Options {
            size: Some(64),
            duration: Some(Duration::from_secs(10)),
            warmup: Some(Duration::from_secs(2)),
            ..Options::default()
        };
        match self {
            Preset::S1 => {
                Options { clients: Some(100), senders: Some(10), rate: Some(10.0), ..base }
            }
            Preset::S2 => {
                Options { clients: Some(1000), senders: Some(10), inflight: Some(10), ..base }
            }
            Preset::S3 => Options {
                clients: Some(10_000),
                senders: Some(0),
                duration: Some(Duration::from_secs(2)),
                warmup: Some(Duration::ZERO),
                connect_concurrency: Some(DEFAULT_CONNECT_CONCURRENCY),
                ..base
            },
            Preset::S4 => Options {
                clients: Some(100),
                senders: Some(10),
                inflight: Some(10),
                no_read: Some(1),
                ..base
            },
            Preset::S5 => Options {
                clients: Some(10_000),
                senders: Some(100),
                rate: Some(10.0),
                rooms: Some(100),
                connect_concurrency: Some(DEFAULT_CONNECT_CONCURRENCY),
                ..base
            },
            Preset::S5All => Options { shared_room: true, ..Preset::S5.options() },
        }
    }
}

impl Options {
    /// Fills what was left out from the preset, then from the defaults, and checks the result.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        let preset = self.preset.map(Preset::options).unwrap_or_default();
        let target = match (&self.addr, self.spawn) {
            (_, true) => Target::Spawn,
            (Some(addr), false) => Target::parse(addr)?,
            (None, false) => return Err(PlanError::NoTarget),
        };
        let pick = |mine: Option<usize>, preset: Option<usize>, default| {
            mine.or(preset).unwrap_or(default)
        };
        let rate = self.rate.or(preset.rate);
        if let Some(rate) = rate.filter(|r| !(r.is_finite() && *r > 0.0)) {
            return Err(PlanError::BadRate(rate));
        }
        let window = self.inflight.or(preset.inflight);
        let rooms = self.rooms.or(preset.rooms);
        let shared = self.shared_room || preset.shared_room;
        if shared && rooms.is_none() {
            return Err(PlanError::SharedRoomWithoutRooms);
        }
        if self.websocket && (self.protocol != Protocol::Chat || self.tls) {
            return Err(PlanError::WebSocketMisplaced);
        }
        let plan = Plan {
            tls: self.trust(&target)?,
            websocket: self.websocket,
            target,
            protocol: self.protocol,
            preset: self.preset,
            clients: pick(self.clients, preset.clients, 10),
            senders: pick(self.senders, preset.senders, 1),
            rate,
            window: if rate.is_none() { Some(window.unwrap_or(DEFAULT_WINDOW)) } else { window },
            size: pick(self.size, preset.size, 64),
            duration: self.duration.or(preset.duration).unwrap_or(Duration::from_secs(10)),
            warmup: self.warmup.or(preset.warmup).unwrap_or(Duration::from_secs(1)),
            no_read: pick(self.no_read, preset.no_read, 0),
            server_pid: self.server_pid,
            threads: pick(self.threads, preset.threads, default_threads()),
            connect_concurrency: pick(
                self.connect_concurrency,
                preset.connect_concurrency,
                DEFAULT_CONNECT_CONCURRENCY,
            ),
            rooms: rooms.map(|count| Rooms { count, shared }),
        };
        plan.check()
    }
}

impl Options {
    /// What the clients trust over TLS, if they speak it.
    fn trust(&self, target: &Target) -> Result<Option<TlsTrust>, PlanError> {
        let trust = match (&self.tls_fingerprint, &self.tls_ca) {
            (Some(_), Some(_)) => return Err(PlanError::TrustMisplaced),
            (Some(text), None) => {
                let pinned = smolchat::client::Trust::pinned(text);
                match pinned.map_err(PlanError::BadFingerprint)? {
                    smolchat::client::Trust::Fingerprint(canonical) => {
                        Some(TlsTrust::Fingerprint(canonical))
                    }
                    _ => return Err(PlanError::BadFingerprint(text.clone())),
                }
            }
            (None, Some(path)) => Some(TlsTrust::CaFile(path.clone())),
            (None, None) => None,
        };
        match (self.tls, target, trust) {
            (false, _, None) => Ok(None),
            (true, Target::Spawn, None) => Ok(Some(TlsTrust::Spawned)),
            (true, Target::Addr(_) | Target::Cluster(_), trust) => {
                Ok(Some(trust.unwrap_or(TlsTrust::System)))
            }
            (false, _, Some(_)) | (true, Target::Spawn, Some(_)) => Err(PlanError::TrustMisplaced),
        }
    }
}

impl Plan {
    fn check(self) -> Result<Plan, PlanError> {
        if self.talkers().saturating_add(self.no_read) > self.clients {
            return Err(PlanError::TooFewClients {
                clients: self.clients,
                senders: self.talkers(),
                no_read: self.no_read,
            });
        }
        if self.window.is_some() {
            if let Some(sender) = (0..self.talkers()).find(|&s| self.witness_of(s).is_none()) {
                return Err(PlanError::NoWitness { sender });
            }
        }
        Ok(self)
    }

    /// The server client `index` connects to, as a place in [`Target::addrs`]: round-robin,
    /// so that each server gets every n-th client, its share of every room and of the
    /// senders, readers and silent clients alike.
    pub fn server_of(&self, index: usize) -> usize {
        index % self.target.servers()
    }

    /// Clients that read what the room sends: every message is expected at each of them.
    pub fn readers(&self) -> usize {
        self.clients - self.no_read
    }

    /// Clients that send: the `senders`, and the shared room's sender after them.
    pub fn talkers(&self) -> usize {
        self.senders + usize::from(self.shared_sender().is_some())
    }

    /// The shared room's sender (its client index and sender number), if there is one.
    pub fn shared_sender(&self) -> Option<usize> {
        self.rooms.filter(|rooms| rooms.shared).map(|_| self.senders)
    }

    /// Where sender `sender` talks.
    pub fn venue_of(&self, sender: usize) -> Venue {
        self.rooms.map_or(Venue::Default, |rooms| rooms.venue_of(sender, self.senders))
    }

    /// The rooms client `index` joins after registering. Without `--rooms`: none for the
    /// chat protocol (everyone stays in the server's default room), the default channel for
    /// IRC.
    pub fn rooms_of(&self, index: usize) -> Vec<String> {
        self.rooms.map_or_else(|| self.protocol.default_rooms(), |rooms| rooms.rooms_of(index))
    }

    /// The client whose deliveries of sender `sender`'s messages return its credits (the
    /// `--inflight` window), if any. Where the server echoes, the sender itself. Over IRC,
    /// which does not, the first reader after it in its room (else the last before it): the
    /// sender's own place in the room's order, or as near it as a reader gets.
    pub fn witness_of(&self, sender: usize) -> Option<usize> {
        if self.protocol.echoes() {
            return Some(sender);
        }
        let venue = self.venue_of(sender);
        let hears = |index: &usize| *index != sender && self.hears(*index, venue);
        (sender + 1..self.readers()).find(hears).or_else(|| (0..sender).rev().find(hears))
    }

    /// Whether client `index` reads what is said at `venue`.
    fn hears(&self, index: usize, venue: Venue) -> bool {
        let in_room = match (venue, self.rooms) {
            (Venue::Room(n), Some(rooms)) => rooms.room_of(index) == n,
            _ => true,
        };
        index < self.readers() && in_room
    }
}

/// A duration as seconds, for the JSON report.
fn seconds<S: serde::Serializer>(duration: &Duration, to: S) -> Result<S::Ok, S::Error> {
    to.serialize_f64(duration.as_secs_f64())
}

/// One generator thread per core.
fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spawn() -> Options {
        Options { spawn: true, ..Options::default() }
    }

    #[test]
    fn a_preset_fills_what_the_flags_leave_out() {
        let options = Options { preset: Some(Preset::S1), clients: Some(70), ..spawn() };
        let plan = options.plan().expect("plan");
        assert_eq!(plan.clients, 70);
        assert_eq!(plan.senders, 10);
        assert_eq!(plan.rate, Some(10.0));
        assert_eq!(plan.window, None);
    }

    #[test]
    fn max_rate_gets_a_window() {
        let plan = spawn().plan().expect("plan");
        assert_eq!(plan.rate, None);
        assert_eq!(plan.window, Some(DEFAULT_WINDOW));
    }

    #[test]
    fn every_preset_makes_a_plan() {
        for preset in Preset::value_variants() {
            let plan = Options { preset: Some(*preset), ..spawn() }.plan().expect("plan");
            assert!(plan.readers() > 0, "{preset:?}");
        }
    }

    #[test]
    fn the_first_four_presets_keep_everyone_in_the_default_room() {
        for preset in [Preset::S1, Preset::S2, Preset::S3, Preset::S4] {
            let plan = Options { preset: Some(preset), ..spawn() }.plan().expect("plan");
            assert_eq!(plan.rooms, None, "{preset:?}");
            assert_eq!(plan.talkers(), plan.senders, "{preset:?}");
            assert!(plan.rooms_of(0).is_empty(), "{preset:?}");
            assert_eq!(plan.venue_of(0), Venue::Default, "{preset:?}");
        }
    }

    #[test]
    fn s5_is_a_hundred_rooms_of_a_hundred_with_a_sender_each() {
        let plan = Options { preset: Some(Preset::S5), ..spawn() }.plan().expect("plan");
        assert_eq!((plan.clients, plan.senders, plan.rate), (10_000, 100, Some(10.0)));
        assert_eq!(plan.rooms, Some(Rooms { count: 100, shared: false }));
        assert_eq!(plan.talkers(), 100);
        assert_eq!(plan.shared_sender(), None);
        // Senders 0..100 sit in rooms 0..100: one each.
        let venues: Vec<Venue> = (0..plan.senders).map(|s| plan.venue_of(s)).collect();
        let one_each: Vec<Venue> = (0..100).map(Venue::Room).collect();
        assert_eq!(venues, one_each);
        assert_eq!(plan.rooms_of(9_999), ["#r99"]);
    }

    #[test]
    fn s5_all_adds_everyone_to_one_room_and_one_sender_there() {
        let plan = Options { preset: Some(Preset::S5All), ..spawn() }.plan().expect("plan");
        assert_eq!(plan.rooms, Some(Rooms { count: 100, shared: true }));
        assert_eq!(plan.talkers(), 101);
        assert_eq!(plan.shared_sender(), Some(100));
        assert_eq!(plan.venue_of(100), Venue::Shared);
        assert_eq!(plan.venue_of(99), Venue::Room(99));
        assert_eq!(plan.rooms_of(100), ["#r0", "#all"]);
    }

    #[test]
    fn rooms_can_be_asked_for_without_a_preset() {
        let options = Options { clients: Some(12), senders: Some(3), rooms: Some(3), ..spawn() };
        let plan = Options { shared_room: true, ..options }.plan().expect("plan");
        assert_eq!(plan.rooms, Some(Rooms { count: 3, shared: true }));
        assert_eq!(plan.talkers(), 4);
    }

    #[test]
    fn over_irc_the_next_reader_in_the_room_witnesses_a_sender() {
        let irc = Options { protocol: Protocol::Irc, ..spawn() };
        let plan = Options { preset: Some(Preset::S2), ..irc.clone() }.plan().expect("plan");
        assert_eq!(plan.protocol, Protocol::Irc);
        assert_eq!(plan.witness_of(0), Some(1));
        assert_eq!(plan.witness_of(9), Some(10));
        assert_eq!(plan.rooms_of(5), ["#lobby"]);
        // In rooms, the witness sits in the sender's room; the last reader looks back.
        let plan = Options { clients: Some(6), senders: Some(3), rooms: Some(3), ..irc.clone() }
            .plan()
            .expect("plan");
        assert_eq!((plan.witness_of(0), plan.witness_of(2)), (Some(3), Some(5)));
        let plan = Options { clients: Some(3), senders: Some(3), ..irc.clone() };
        assert_eq!(plan.plan().expect("plan").witness_of(2), Some(1));
        // Where the server echoes, every sender is its own witness.
        assert_eq!(spawn().plan().expect("plan").witness_of(0), Some(0));
        // A sender alone in its room has nobody to tell it its messages are through.
        let alone = Options { clients: Some(4), senders: Some(3), rooms: Some(4), ..irc };
        assert_eq!(alone.plan(), Err(PlanError::NoWitness { sender: 0 }));
    }

    #[test]
    fn tls_trusts_the_spawned_server_a_pinned_certificate_a_ca_or_the_system() {
        let tls = |options: Options| options.plan().map(|plan| plan.tls);
        assert_eq!(tls(spawn()), Ok(None));
        assert_eq!(tls(Options { tls: true, ..spawn() }), Ok(Some(TlsTrust::Spawned)));
        let addr = Options { tls: true, addr: Some("127.0.0.1:7000".into()), ..Options::default() };
        assert_eq!(tls(addr.clone()), Ok(Some(TlsTrust::System)));
        let pinned = Options { tls_fingerprint: Some("ab".repeat(32)), ..addr.clone() };
        let canonical = ["AB"; 32].join(":");
        assert_eq!(tls(pinned.clone()), Ok(Some(TlsTrust::Fingerprint(canonical))));
        let ca = Options { tls_ca: Some("ca.pem".into()), ..addr.clone() };
        assert_eq!(tls(ca.clone()), Ok(Some(TlsTrust::CaFile("ca.pem".into()))));
        // Misplaced or malformed trust is refused.
        let both = Options { tls_ca: Some("ca.pem".into()), ..pinned.clone() };
        assert_eq!(tls(both), Err(PlanError::TrustMisplaced));
        assert_eq!(tls(Options { tls: false, ..ca }), Err(PlanError::TrustMisplaced));
        let spawned = Options { tls_fingerprint: Some("ab".repeat(32)), tls: true, ..spawn() };
        assert_eq!(tls(spawned), Err(PlanError::TrustMisplaced));
        let short = Options { tls_fingerprint: Some("AB:CD".into()), ..addr };
        assert!(matches!(tls(short), Err(PlanError::BadFingerprint(_))));
    }

    #[test]
    fn websocket_is_the_chat_protocol_in_plain_frames() {
        let websocket = Options { websocket: true, ..spawn() };
        assert!(websocket.plan().expect("plan").websocket);
        assert!(!spawn().plan().expect("plan").websocket);
        let irc = Options { protocol: Protocol::Irc, ..websocket.clone() };
        assert_eq!(irc.plan(), Err(PlanError::WebSocketMisplaced));
        let tls = Options { tls: true, ..websocket };
        assert_eq!(tls.plan(), Err(PlanError::WebSocketMisplaced));
    }

    #[test]
    fn addr_reads_one_address_or_several_joined_by_commas() {
        let one = Target::parse("127.0.0.1:6001");
        assert_eq!(one, Ok(Target::Addr("127.0.0.1:6001".into())));
        assert_eq!(one.expect("one").addrs(), ["127.0.0.1:6001"]);
        let two = Target::parse("127.0.0.1:6001, chat.example.org:6002");
        let both = ["127.0.0.1:6001".to_string(), "chat.example.org:6002".to_string()];
        assert_eq!(two, Ok(Target::Cluster(both.to_vec())));
        assert_eq!(two.expect("two").servers(), 2);
        assert_eq!(Target::Spawn.servers(), 1);
        // An empty entry, leading, trailing, doubled or all there is, is refused.
        for text in ["", " ", ",127.0.0.1:6001", "127.0.0.1:6001,", "a:1,,b:2"] {
            assert_eq!(Target::parse(text), Err(PlanError::EmptyAddr(text.into())), "{text:?}");
        }
        let options = Options { addr: Some("a:1,".into()), ..Options::default() };
        assert_eq!(options.plan(), Err(PlanError::EmptyAddr("a:1,".into())));
    }

    #[test]
    fn clients_are_dealt_to_the_servers_in_turn() {
        let at = |addr: &str| Options { addr: Some(addr.into()), ..Options::default() };
        let servers_of = |plan: &Plan| (0..5).map(|i| plan.server_of(i)).collect::<Vec<_>>();
        let one = at("127.0.0.1:6001").plan().expect("plan");
        assert_eq!(one.target, Target::Addr("127.0.0.1:6001".into()));
        assert_eq!(servers_of(&one), [0, 0, 0, 0, 0]);
        let two = at("127.0.0.1:6001,127.0.0.1:6002").plan().expect("plan");
        assert_eq!(servers_of(&two), [0, 1, 0, 1, 0]);
        let three = at("a:1,b:2,c:3").plan().expect("plan");
        assert_eq!(servers_of(&three), [0, 1, 2, 0, 1]);
        assert_eq!(servers_of(&spawn().plan().expect("plan")), [0, 0, 0, 0, 0]);
        // Several servers take the same transport and trust as one.
        let tls = Options { tls: true, ..at("a:1,b:2") }.plan().expect("plan");
        assert_eq!(tls.tls, Some(TlsTrust::System));
    }

    #[test]
    fn impossible_plans_are_refused() {
        let options = Options { clients: Some(3), senders: Some(2), no_read: Some(2), ..spawn() };
        assert!(matches!(options.plan(), Err(PlanError::TooFewClients { .. })));
        assert_eq!(Options::default().plan(), Err(PlanError::NoTarget));
        let options = Options { rate: Some(0.0), ..spawn() };
        assert_eq!(options.plan(), Err(PlanError::BadRate(0.0)));
        let options = Options { shared_room: true, ..spawn() };
        assert_eq!(options.plan(), Err(PlanError::SharedRoomWithoutRooms));
        // The shared room's sender needs a client of its own.
        let options = Options {
            clients: Some(3),
            senders: Some(3),
            rooms: Some(3),
            shared_room: true,
            ..spawn()
        };
        assert!(matches!(options.plan(), Err(PlanError::TooFewClients { senders: 4, .. })));
    }
}
