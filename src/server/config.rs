//! The server's limits: every one a field with a default and a command-line flag.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::TypedValueParser as _;
use clap::Args;

use crate::core::{Limits, RoomName, DEFAULT_MAX_NICK};
use crate::proto::chat::DEFAULT_MAX_LINE;

/// The room newcomers land in unless told otherwise.
pub const DEFAULT_ROOM: &str = "#lobby";

/// Lines a second a client may send on average, unless `--flood-rate` says otherwise; also
/// what wrong passwords refill at a minute when flood control is off.
pub const DEFAULT_FLOOD_RATE: u32 = 10;

/// The most entries `--queue-len` allows. Room for all of them is set aside (16 bytes
/// each) once a client's second entry must wait: 4096 is 64 KiB, while 4294967295 once
/// asked for 64 GiB, and the failed allocation aborted the server.
pub const MAX_QUEUE_LEN: i64 = 4096;

/// Everything the server can be tuned by. `Config::default()` equals the flags' defaults.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct Config {
    /// Longest line a client may send, in bytes (without the newline); longer lines are refused.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE, value_parser = clap::value_parser!(u32).range(16..).map(|v| v as usize))]
    pub max_line: usize,

    /// Longest nickname, in characters.
    #[arg(long, default_value_t = DEFAULT_MAX_NICK, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_nick: usize,

    /// Entries that may wait in one client's send queue (an entry is one line, or a batch of
    /// room lines written together) before it is disconnected as too slow; at most 4096.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=MAX_QUEUE_LEN).map(|v| v as usize))]
    pub queue_len: usize,

    /// Bytes that may wait in one client's send queue before it is disconnected as too slow.
    #[arg(long, default_value_t = 256 * 1024, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub queue_bytes: usize,

    /// Most connections at once (registered or still choosing a nickname).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_clients: usize,

    /// Time a new connection has, from its accept, to register: TLS handshake, password
    /// and nickname all count (e.g. `30s`, `500ms`).
    #[arg(long, default_value = "60s", value_parser = parse_timeout)]
    pub handshake_timeout: Duration,

    /// Time given at shutdown for queued lines to reach clients before sockets are closed.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,

    /// Most connections at once from one IP address.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_per_ip: usize,

    /// Lines per second a client may send on average (commands included); 0 turns flood control off (wrong passwords still count, refilled at 10 a minute).
    #[arg(long, default_value_t = DEFAULT_FLOOD_RATE)]
    pub flood_rate: u32,

    /// Lines a client may send at once before the rate applies; as many again dropped means disconnection.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub flood_burst: u32,

    /// Silence after which the server sends a PING.
    #[arg(long, default_value = "120s", value_parser = parse_timeout)]
    pub ping_interval: Duration,

    /// Time a client has to answer a PING (any line counts) before it is disconnected.
    #[arg(long, default_value = "60s", value_parser = parse_timeout)]
    pub ping_timeout: Duration,

    /// Time a started line may stay unfinished before the client is disconnected.
    #[arg(long, default_value = "30s", value_parser = parse_timeout)]
    pub line_timeout: Duration,

    /// The room a newcomer lands in, or `none` to land in no room.
    #[arg(long, default_value = DEFAULT_ROOM, value_parser = parse_default_room, value_name = "#ROOM|none")]
    // Spelled in full so that clap reads `none` through the parser instead of treating the
    // flag as optional.
    pub default_room: std::option::Option<RoomName>,

    /// Rooms one client may be in at once.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_rooms_per_client: usize,

    /// Rooms the server may have at once.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_rooms: usize,

    /// Rooms one account may register (own) at once.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_rooms_per_account: usize,

    /// Accounts (registered nicknames) the server may keep.
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub max_accounts: usize,

    /// Longest room topic, in characters.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).map(|v| v as usize))]
    pub max_topic: usize,

    /// The server's name: the source of its IRC replies and numerics (default: the host's name).
    #[arg(long, default_value_t = host_name(), value_parser = parse_server_name)]
    pub server_name: String,

    /// The network's name, announced to IRC clients (`ISUPPORT NETWORK`).
    #[arg(long, default_value = DEFAULT_NETWORK, value_parser = parse_server_name)]
    pub network_name: String,

    /// The file holding the server password: its first line, without the line ending.
    /// Chat clients are asked for it before their nickname, IRC clients send it with
    /// `PASS`. Without it, anyone may connect.
    #[arg(long, value_name = "FILE")]
    // A file rather than the password itself, which `ps` would show to everyone.
    pub password_file: Option<PathBuf>,

    /// Messages and actions kept per room (and per private conversation between two
    /// registered nicknames); the most `/history` gives. 0 keeps no history at all.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).map(|v| v as usize))]
    pub history_len: usize,

    /// How long history is kept (e.g. `7d`, `12h`); older messages are deleted.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub history_age: Duration,

    /// Messages of a room's history a newcomer is given when joining it (at most
    /// --history-len); 0 gives none.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).map(|v| v as usize))]
    pub history_replay: usize,

    /// How often the store commits what was said (one disk sync each); a crash loses
    /// about this much of the latest history, and a sync.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub commit_interval: Duration,

    /// Changes (messages, accounts, rooms) that may wait for the store's writer; past it
    /// they are dropped, logged and counted in /metrics (smolchat_store_dropped_total).
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..).map(|v| v as usize))]
    pub store_queue: usize,

    /// Time someone who takes a registered nickname has to identify before being renamed
    /// to a guest name.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub identify_grace: Duration,

    /// Wrong passwords one account may be given (from any address) before it is locked;
    /// it regains one a minute, whatever --flood-rate. Addresses that gave its right
    /// password lately are not locked out.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub identify_attempts: u32,

    /// A web page's origin that may open `/ws` besides the page the web listener serves
    /// itself (repeatable), as `https://chat.example.org` or `http://localhost:3000`.
    #[arg(long = "web-origin", value_name = "ORIGIN", value_parser = super::web::parse_origin)]
    pub web_origin: Vec<String>,
}

/// The longest duration a flag takes: a century (as `100y`), longer than any server runs.
/// A deadline much further ahead (a few hundred billion years) is past what the clock can
/// hold, and would panic the connection that set it.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 31_557_600);

/// Reads a duration flag (`500ms`, `30s`, `7d`), at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if duration > MAX_DURATION {
        return Err(format!("{text} is more than 100y, the longest a duration may be"));
    }
    Ok(duration)
}

/// The shortest timeout or interval: a connection's timer is set that far ahead again each
/// time it fires, so a `--line-timeout` of 0 woke every idle connection without end.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(10);

/// Reads a timeout or an interval: a duration of at least [`MIN_TIMEOUT`].
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < MIN_TIMEOUT {
        return Err(format!("{text} is less than 10ms, the shortest this may be"));
    }
    Ok(duration)
}

/// The network name unless told otherwise.
pub const DEFAULT_NETWORK: &str = "smolchat";

/// The most characters a server or network name may have: a DNS label's limit is 63, a
/// whole name's 253, and IRC clients show it in every status line.
const MAX_SERVER_NAME: usize = 63;

/// This host's name if it can be a server name, else `smolchat`.
pub fn host_name() -> String {
    let uname = rustix::system::uname();
    let host = uname.nodename().to_string_lossy();
    parse_server_name(&host).unwrap_or_else(|_| DEFAULT_NETWORK.to_string())
}

/// Reads `--server-name` and `--network-name`: letters, digits, `.`, `-` and `_`, as in a
/// host name, since it is written unquoted in the middle of IRC lines.
pub fn parse_server_name(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    if text.is_empty() || text.len() > MAX_SERVER_NAME || !text.chars().all(allowed) {
        return Err(format!(
            "{text:?} is not a name: 1 to {MAX_SERVER_NAME} letters, digits, '.', '-' or '_'"
        ));
    }
    Ok(text.to_string())
}

/// Reads `--default-room`: a room name, or `none`.
pub fn parse_default_room(text: &str) -> Result<Option<RoomName>, String> {
    if text == "none" {
        return Ok(None);
    }
    RoomName::parse(text).map(Some).map_err(|error| error.to_string())
}

impl Config {
    /// How much history the store keeps, and how often it commits.
    pub fn retention(&self) -> crate::store::Retention {
        crate::store::Retention {
            history_len: self.history_len,
            history_age: self.history_age,
            commit_interval: self.commit_interval,
            queue: self.store_queue,
        }
    }

    /// What the core lets people make.
    pub fn limits(&self) -> Limits {
        Limits {
            rooms_per_client: self.max_rooms_per_client,
            rooms: self.max_rooms,
            rooms_per_account: self.max_rooms_per_account,
            accounts: self.max_accounts,
            topic_len: self.max_topic,
            history_len: self.history_len,
            history_replay: self.history_replay,
            history_age: self.history_age,
            identify_grace: self.identify_grace,
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_line: DEFAULT_MAX_LINE,
            max_nick: DEFAULT_MAX_NICK,
            queue_len: 16,
            queue_bytes: 256 * 1024,
            max_clients: 20_000,
            handshake_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            max_per_ip: 100,
            flood_rate: DEFAULT_FLOOD_RATE,
            flood_burst: 20,
            ping_interval: Duration::from_secs(120),
            ping_timeout: Duration::from_secs(60),
            line_timeout: Duration::from_secs(30),
            default_room: RoomName::parse(DEFAULT_ROOM).ok(),
            max_rooms_per_client: 20,
            max_rooms: 10_000,
            max_rooms_per_account: 10,
            max_accounts: 100_000,
            max_topic: 300,
            server_name: host_name(),
            network_name: DEFAULT_NETWORK.to_string(),
            password_file: None,
            history_len: 500,
            history_age: Duration::from_secs(7 * 24 * 3600),
            history_replay: 50,
            commit_interval: Duration::from_millis(200),
            store_queue: 65_536,
            identify_grace: Duration::from_secs(30),
            identify_attempts: 5,
            web_origin: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        config: Config,
    }

    #[test]
    fn default_matches_the_flags_defaults() {
        assert_eq!(Flags::parse_from(["smolchat-server"]).config, Config::default());
    }

    #[test]
    fn every_limit_has_a_flag() {
        let flags = Flags::parse_from([
            "smolchat-server",
            "--max-line=100",
            "--max-nick=8",
            "--queue-len=4",
            "--queue-bytes=1000",
            "--max-clients=3",
            "--handshake-timeout=250ms",
            "--shutdown-grace=1s",
            "--max-per-ip=2",
            "--flood-rate=0",
            "--flood-burst=5",
            "--ping-interval=2s",
            "--ping-timeout=1s",
            "--line-timeout=3s",
            "--default-room=#start",
            "--max-rooms-per-client=2",
            "--max-rooms=7",
            "--max-rooms-per-account=4",
            "--max-accounts=5",
            "--max-topic=12",
            "--server-name=irc.example.org",
            "--network-name=Example",
            "--password-file=/etc/smolchat/password",
            "--web-origin=https://chat.example.org",
            "--web-origin=http://localhost:3000",
            "--history-len=9",
            "--history-age=1h",
            "--history-replay=3",
            "--commit-interval=50ms",
            "--store-queue=1000",
            "--identify-grace=2s",
            "--identify-attempts=3",
        ]);
        let want = Config {
            max_line: 100,
            max_nick: 8,
            queue_len: 4,
            queue_bytes: 1000,
            max_clients: 3,
            handshake_timeout: Duration::from_millis(250),
            shutdown_grace: Duration::from_secs(1),
            max_per_ip: 2,
            flood_rate: 0,
            flood_burst: 5,
            ping_interval: Duration::from_secs(2),
            ping_timeout: Duration::from_secs(1),
            line_timeout: Duration::from_secs(3),
            default_room: RoomName::parse("#start").ok(),
            max_rooms_per_client: 2,
            max_rooms: 7,
            max_rooms_per_account: 4,
            max_accounts: 5,
            max_topic: 12,
            server_name: "irc.example.org".into(),
            network_name: "Example".into(),
            password_file: Some(PathBuf::from("/etc/smolchat/password")),
            history_len: 9,
            history_age: Duration::from_secs(3600),
            history_replay: 3,
            commit_interval: Duration::from_millis(50),
            store_queue: 1000,
            identify_grace: Duration::from_secs(2),
            identify_attempts: 3,
            web_origin: vec!["https://chat.example.org".into(), "http://localhost:3000".into()],
        };
        assert_eq!(flags.config, want);
    }

    #[test]
    fn the_default_room_can_be_none_and_must_be_a_room_name() {
        let none = Flags::parse_from(["smolchat-server", "--default-room", "none"]);
        assert_eq!(none.config.default_room, None);
        assert!(Flags::try_parse_from(["smolchat-server", "--default-room", "lobby"]).is_err());
        let limits = Config::default().limits();
        assert_eq!((limits.rooms_per_client, limits.rooms, limits.topic_len), (20, 10_000, 300));
    }

    #[test]
    fn server_names_are_host_names() {
        assert!(Flags::try_parse_from(["smolchat-server", "--server-name", "a b"]).is_err());
        assert!(Flags::try_parse_from(["smolchat-server", "--network-name", ""]).is_err());
        assert!(parse_server_name(&host_name()).is_ok());
    }

    #[test]
    fn timeouts_are_ten_milliseconds_at_least() {
        for flag in ["--handshake-timeout", "--ping-interval", "--ping-timeout", "--line-timeout"] {
            let parse = |value: &str| Flags::try_parse_from(["smolchat-server", flag, value]);
            assert!(parse("10ms").is_ok(), "{flag}");
            for short in ["0", "0s", "9ms"] {
                let error = parse(short).err().map(|error| error.to_string()).unwrap_or_default();
                assert!(error.contains("the shortest this may be"), "{flag} {short}: {error}");
            }
        }
        // Not timeouts: no grace, no delay between commits, are fine.
        assert!(Flags::try_parse_from(["smolchat-server", "--shutdown-grace=0s"]).is_ok());
        assert!(Flags::try_parse_from(["smolchat-server", "--commit-interval=0s"]).is_ok());
    }

    #[test]
    fn a_send_queue_is_one_to_4096_entries() {
        let parse = |len: &str| Flags::try_parse_from(["smolchat-server", "--queue-len", len]);
        assert_eq!(parse("4096").map(|flags| flags.config.queue_len).ok(), Some(4096));
        assert!(parse("4097").is_err() && parse("0").is_err());
    }

    #[test]
    fn a_line_limit_below_sixteen_is_refused() {
        assert!(Flags::try_parse_from(["smolchat-server", "--max-line=3"]).is_err());
    }
}
