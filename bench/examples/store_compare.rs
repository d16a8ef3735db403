//! Compares two embedded stores, `redb` (with its v2 and v3 file formats) and `fjall`, on
//! smolchat's chat-history workload.
//!
//! The workload is the one the server puts on its history store: every room message is
//! appended under the key (room, sequence); messages are group-committed, N at a time, with a
//! durable commit (fsync) each; each room keeps its last 500 messages, so every append also
//! deletes sequence `seq - 500` of its room in the same commit; after the writes the store is
//! closed, measured on disk, reopened, and the last 50 messages of 100 random rooms are read,
//! one read transaction each, as the server does when a room is made.
//!
//! Each measurement runs in a child process of its own, in a fresh temporary directory, so
//! that peak RSS (`VmHWM`) belongs to one store alone; runs alternate between the stores.
//!
//! Run it with:
//!
//! ```text
//! cargo run --release -p smolchat-bench --example store_compare
//! cargo run --release -p smolchat-bench --example store_compare -- --rounds 3 --batches 1000
//! ```
//!
//! It prints one line per run as it finishes, then a markdown table of every run and one of
//! the mean per store and batch size.

use anyhow::{bail, ensure, Context, Result};
use clap::{Parser, ValueEnum};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Command-line options; the defaults are the workload described in the header.
#[derive(Parser, Debug)]
#[command(about = "Compare redb and fjall on smolchat's chat-history workload")]
struct Args {
    /// Messages written per run.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Rooms the messages are spread over, uniformly at random.
    #[arg(long, default_value_t = 100)]
    rooms: u32,
    /// Messages kept per room; older ones are deleted in the commit that appends.
    #[arg(long, default_value_t = 500)]
    keep: u64,
    /// Messages per group commit; one run per value and store.
    #[arg(long, value_delimiter = ',', default_values_t = [1000, 100])]
    batches: Vec<u64>,
    /// Stores to compare.
    #[arg(long, value_delimiter = ',', default_values_t = [Engine::Redb, Engine::Fjall, Engine::RedbV3])]
    stores: Vec<Engine>,
    /// How many times each (store, batch) run is repeated; stores alternate in each round.
    #[arg(long, default_value_t = 2)]
    rounds: u32,
    /// Rooms whose last messages are read after reopening.
    #[arg(long, default_value_t = 100)]
    read_rooms: usize,
    /// Messages read from the end of each of those rooms.
    #[arg(long, default_value_t = 50)]
    read_last: usize,
    /// Seed of the message generator; every run writes the same messages.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    /// Directory in which each run makes its own fresh temporary directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also append every run's figures to this file, as one JSON object a line.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Internal: run one measurement of this store in this process and print it as JSON.
    #[arg(long, hide = true)]
    child: Option<Engine>,
    /// Internal: the group-commit size of that one measurement.
    #[arg(long, hide = true, default_value_t = 1000)]
    batch: u64,
}

/// A store under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
enum Engine {
    /// redb 2.6 with its default file format (v2), as `Database::create` makes it.
    Redb,
    /// redb 2.6 creating the v3 file format, the only one that redb 3.x opens.
    RedbV3,
    /// fjall 2.x, an LSM tree, with its default configuration.
    Fjall,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Engine::Redb => "redb",
            Engine::RedbV3 => "redb-v3",
            Engine::Fjall => "fjall",
        };
        f.write_str(name)
    }
}

/// One chat message as the server would store it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Message {
    /// Milliseconds since the Unix epoch.
    timestamp: u64,
    nick: String,
    text: String,
}

impl Message {
    /// Encodes as timestamp (8 bytes, big-endian), nick length (1 byte), nick, text.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + self.nick.len() + self.text.len());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.push(self.nick.len() as u8);
        out.extend_from_slice(self.nick.as_bytes());
        out.extend_from_slice(self.text.as_bytes());
        out
    }

    /// Decodes what [`Message::encode`] wrote.
    fn decode(bytes: &[u8]) -> Result<Self> {
        ensure!(bytes.len() >= 9, "record of {} bytes is too short", bytes.len());
        let (stamp, rest) = bytes.split_at(8);
        let timestamp = u64::from_be_bytes(stamp.try_into()?);
        let nick_len = usize::from(rest[0]);
        let rest = &rest[1..];
        ensure!(rest.len() >= nick_len, "record cut inside its nick");
        let (nick, text) = rest.split_at(nick_len);
        Ok(Message {
            timestamp,
            nick: String::from_utf8(nick.to_vec())?,
            text: String::from_utf8(text.to_vec())?,
        })
    }
}

/// One append: the message `seq` of `room`, and the sequence it pushes out of the window.
#[derive(Debug, Clone)]
struct Append {
    room: u32,
    seq: u64,
    /// The sequence to delete in the same commit, once the room holds more than `keep`.
    trim: Option<u64>,
    record: Vec<u8>,
}

/// A small deterministic generator (SplitMix64), so both stores get the same messages.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Words the generated texts are made of, so they compress about as chat does.
const WORDS: &[&str] = &[
    "the", "a", "to", "and", "is", "it", "you", "that", "in", "of", "for", "on", "this", "i",
    "with", "what", "have", "but", "not", "are", "just", "build", "server", "room", "release",
    "works", "here", "now", "think", "know", "yes", "no", "maybe", "later", "tonight", "fixed",
    "broken", "test", "again", "thanks", "cool", "lol", "bug", "patch", "merge", "deploy",
    "anyone", "seen", "error", "log", "please", "check", "why", "how", "when", "today", "tomorrow",
    "coffee", "lunch", "meeting", "docs", "rust", "async", "smol",
];

/// Makes the messages of one run, batch by batch, with the per-room sequence counters.
struct Workload {
    rng: Rng,
    rooms: u32,
    keep: u64,
    next_seq: Vec<u64>,
    clock_ms: u64,
}

impl Workload {
    fn new(seed: u64, rooms: u32, keep: u64) -> Self {
        Workload {
            rng: Rng(seed),
            rooms,
            keep,
            next_seq: vec![0; rooms as usize],
            clock_ms: 1_750_000_000_000,
        }
    }

    /// A message with a nick of 6 to 10 letters and a text of 45 to 100 characters,
    /// which makes records of 60 to 119 bytes.
    fn message(&mut self) -> Message {
        self.clock_ms += self.rng.between(0, 3);
        let nick_len = self.rng.between(6, 10) as usize;
        let nick = (0..nick_len).map(|_| (b'a' + self.rng.between(0, 25) as u8) as char).collect();
        let text_len = self.rng.between(45, 100) as usize;
        let mut text = String::with_capacity(text_len + 10);
        while text.len() < text_len {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(WORDS[self.rng.between(0, WORDS.len() as u64 - 1) as usize]);
        }
        text.truncate(text_len);
        Message { timestamp: self.clock_ms, nick, text }
    }

    /// How many messages the store holds once the appends so far are committed.
    fn live(&self) -> u64 {
        self.next_seq.iter().map(|&n| n.min(self.keep)).sum()
    }

    /// The next `count` appends, each to a random room.
    fn batch(&mut self, count: u64) -> Vec<Append> {
        (0..count)
            .map(|_| {
                let room = self.rng.between(0, u64::from(self.rooms) - 1) as u32;
                let seq = self.next_seq[room as usize];
                self.next_seq[room as usize] += 1;
                let trim = seq.checked_sub(self.keep);
                Append { room, seq, trim, record: self.message().encode() }
            })
            .collect()
    }
}

/// What the benchmark needs of a store.
trait Store: Sized {
    /// Creates an empty store in `dir`.
    fn create(dir: &Path, engine: Engine) -> Result<Self>;
    /// Opens the store that `create` made in `dir`.
    fn open(dir: &Path) -> Result<Self>;
    /// Applies `batch` (appends and trims) in one transaction and makes it durable (fsync).
    fn commit(&mut self, batch: &[Append]) -> Result<()>;
    /// The last `count` messages of `room`, newest first, each with its sequence.
    fn last(&self, room: u32, count: usize) -> Result<Vec<(u64, Message)>>;
    /// How many messages the store holds in all (a check, not a measurement).
    fn count(&self) -> Result<u64>;
}

/// The table of messages in redb, keyed by (room, sequence).
const HISTORY: redb::TableDefinition<(u32, u64), &[u8]> = redb::TableDefinition::new("history");

/// The redb store: one file, `history.redb`.
struct RedbStore {
    db: redb::Database,
}

impl RedbStore {
    fn file(dir: &Path) -> PathBuf {
        dir.join("history.redb")
    }
}

impl Store for RedbStore {
    fn create(dir: &Path, engine: Engine) -> Result<Self> {
        let db = redb::Database::builder()
            .create_with_file_format_v3(engine == Engine::RedbV3)
            .create(Self::file(dir))?;
        let txn = db.begin_write()?;
        txn.open_table(HISTORY)?;
        txn.commit()?;
        Ok(RedbStore { db })
    }

    fn open(dir: &Path) -> Result<Self> {
        Ok(RedbStore { db: redb::Database::open(Self::file(dir))? })
    }

    fn commit(&mut self, batch: &[Append]) -> Result<()> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::Immediate);
        {
            let mut table = txn.open_table(HISTORY)?;
            for append in batch {
                table.insert((append.room, append.seq), append.record.as_slice())?;
                if let Some(old) = append.trim {
                    table.remove((append.room, old))?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn last(&self, room: u32, count: usize) -> Result<Vec<(u64, Message)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HISTORY)?;
        let mut out = Vec::with_capacity(count);
        for entry in table.range((room, 0)..=(room, u64::MAX))?.rev().take(count) {
            let (key, value) = entry?;
            out.push((key.value().1, Message::decode(value.value())?));
        }
        Ok(out)
    }

    fn count(&self) -> Result<u64> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(HISTORY)?.len()?)
    }
}

/// The fjall store: a keyspace with one partition, keys `room (4 bytes) ++ seq (8 bytes)`,
/// both big-endian so that a room's messages are contiguous and in order.
struct FjallStore {
    // Declared first so it is dropped before the keyspace that owns it.
    history: fjall::PartitionHandle,
    keyspace: fjall::Keyspace,
}

impl FjallStore {
    fn key(room: u32, seq: u64) -> [u8; 12] {
        let mut key = [0; 12];
        key[..4].copy_from_slice(&room.to_be_bytes());
        key[4..].copy_from_slice(&seq.to_be_bytes());
        key
    }
}

impl Store for FjallStore {
    fn create(dir: &Path, _engine: Engine) -> Result<Self> {
        Self::open(dir)
    }

    fn open(dir: &Path) -> Result<Self> {
        let keyspace = fjall::Config::new(dir).open()?;
        let history =
            keyspace.open_partition("history", fjall::PartitionCreateOptions::default())?;
        Ok(FjallStore { history, keyspace })
    }

    fn commit(&mut self, batch: &[Append]) -> Result<()> {
        let mut write = self.keyspace.batch().durability(Some(fjall::PersistMode::SyncAll));
        for append in batch {
            write.insert(
                &self.history,
                Self::key(append.room, append.seq),
                append.record.as_slice(),
            );
            if let Some(old) = append.trim {
                write.remove(&self.history, Self::key(append.room, old));
            }
        }
        write.commit()?;
        Ok(())
    }

    fn last(&self, room: u32, count: usize) -> Result<Vec<(u64, Message)>> {
        let mut out = Vec::with_capacity(count);
        for entry in self.history.prefix(room.to_be_bytes()).rev().take(count) {
            let (key, value) = entry?;
            let seq = u64::from_be_bytes(key[4..].try_into()?);
            out.push((seq, Message::decode(&value)?));
        }
        Ok(out)
    }

    fn count(&self) -> Result<u64> {
        Ok(self.history.len()? as u64)
    }
}

/// The figures of one run, passed from the child process to the parent as one JSON line.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measurement {
    store: Engine,
    batch: u64,
    round: u32,
    messages: u64,
    commits: u64,
    /// Sum of the group-commit times (begin to durable), in seconds.
    write_secs: f64,
    /// CPU time (user + system, all threads) of the process during the writes, in seconds.
    write_cpu_secs: f64,
    commit_mean_ms: f64,
    commit_p99_ms: f64,
    commit_max_ms: f64,
    /// Space the closed store takes, as `du` counts it (allocated blocks).
    disk_bytes: u64,
    open_ms: f64,
    read_mean_us: f64,
    read_p99_us: f64,
    peak_rss_kib: u64,
    /// Messages left in the store at the end (rooms × keep is expected).
    live: u64,
}

impl Measurement {
    fn messages_per_sec(&self) -> f64 {
        self.messages as f64 / self.write_secs
    }

    fn commits_per_sec(&self) -> f64 {
        self.commits as f64 / self.write_secs
    }

    /// Disk space of the closed store, in MiB.
    fn disk_mib(&self) -> f64 {
        self.disk_bytes as f64 / mib(1)
    }
}

fn mib(n: u64) -> f64 {
    (n * 1024 * 1024) as f64
}

/// Mean and 99th percentile of `samples`, in the unit `scale` converts to.
fn mean_p99(samples: &mut [Duration], scale: impl Fn(Duration) -> f64) -> (f64, f64, f64) {
    samples.sort_unstable();
    let n = samples.len().max(1);
    let mean = samples.iter().map(|d| scale(*d)).sum::<f64>() / n as f64;
    let p99 = samples.get((n * 99).div_ceil(100).saturating_sub(1)).map_or(0.0, |d| scale(*d));
    let max = samples.last().map_or(0.0, |d| scale(*d));
    (mean, p99, max)
}

/// CPU time the process has used so far (user + system, all threads), from `/proc/self/stat`.
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = stat.rsplit_once(')').context("no ')' in /proc/self/stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: u64 = fields.get(11).context("no utime")?.parse::<u64>()?
        + fields.get(12).context("no stime")?.parse::<u64>()?;
    let per_sec = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(ticks as f64 / per_sec as f64))
}

/// Peak resident set size of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    let kib = line.split_whitespace().nth(1).context("empty VmHWM")?;
    Ok(kib.parse()?)
}

/// Space used under `path` as `du` counts it: allocated 512-byte blocks of every file.
fn disk_usage(path: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("stat {path:?}"))?;
    let mut total = meta.blocks() * 512;
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).with_context(|| format!("listing {path:?}"))? {
            total += disk_usage(&entry?.path())?;
        }
    }
    Ok(total)
}

/// A fresh directory for one run, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(parent: &Path, label: &str) -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let path = parent.join(format!("store_compare-{label}-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("creating {path:?}"))?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {:?}: {err}", self.0);
        }
    }
}

/// Writes the whole workload in group commits of `args.batch`; returns each commit's time
/// and how many messages the store should hold afterwards.
fn write_all<S: Store>(store: &mut S, args: &Args) -> Result<(Vec<Duration>, u64)> {
    let mut workload = Workload::new(args.seed, args.rooms, args.keep);
    let mut times = Vec::with_capacity(args.messages.div_ceil(args.batch) as usize);
    let mut written = 0;
    while written < args.messages {
        let batch = workload.batch(args.batch.min(args.messages - written));
        let start = Instant::now();
        store.commit(&batch)?;
        times.push(start.elapsed());
        written += batch.len() as u64;
    }
    Ok((times, workload.live()))
}

/// Reads the last `args.read_last` messages of `args.read_rooms` random rooms, checking that
/// they are the newest of their room and in order; returns each read's time.
fn read_rooms<S: Store>(store: &S, args: &Args) -> Result<Vec<Duration>> {
    let mut rng = Rng(args.seed ^ 0xdead_beef);
    let mut times = Vec::with_capacity(args.read_rooms);
    for _ in 0..args.read_rooms {
        let room = rng.between(0, u64::from(args.rooms) - 1) as u32;
        let start = Instant::now();
        let messages = store.last(room, args.read_last)?;
        times.push(start.elapsed());
        ensure!(!messages.is_empty(), "room {room} read back empty");
        let in_order = messages.windows(2).all(|w| w[0].0 == w[1].0 + 1);
        ensure!(in_order, "room {room}: sequences not newest-first and contiguous");
    }
    Ok(times)
}

/// One measurement of store `S` in a fresh directory under `parent`.
fn measure<S: Store>(engine: Engine, args: &Args, parent: &Path) -> Result<Measurement> {
    let dir = TempDir::new(parent, &format!("{engine}-{}", args.batch))?;
    let mut store = S::create(&dir.0, engine)?;
    let cpu_before = cpu_time()?;
    let (mut commits, expected_live) = write_all(&mut store, args)?;
    let write_cpu = cpu_time()?.saturating_sub(cpu_before);
    drop(store);
    let disk_bytes = disk_usage(&dir.0)?;

    let start = Instant::now();
    let store = S::open(&dir.0)?;
    let open = start.elapsed();
    let mut reads = read_rooms(&store, args)?;
    let live = store.count()?;
    drop(store);
    ensure!(live == expected_live, "{engine}: {live} messages left, expected {expected_live}");

    let write_secs = commits.iter().sum::<Duration>().as_secs_f64();
    let (commit_mean_ms, commit_p99_ms, commit_max_ms) =
        mean_p99(&mut commits, |d| d.as_secs_f64() * 1e3);
    let (read_mean_us, read_p99_us, _) = mean_p99(&mut reads, |d| d.as_secs_f64() * 1e6);
    Ok(Measurement {
        store: engine,
        batch: args.batch,
        round: 0,
        messages: args.messages,
        commits: commits.len() as u64,
        write_secs,
        write_cpu_secs: write_cpu.as_secs_f64(),
        commit_mean_ms,
        commit_p99_ms,
        commit_max_ms,
        disk_bytes,
        open_ms: open.as_secs_f64() * 1e3,
        read_mean_us,
        read_p99_us,
        peak_rss_kib: peak_rss_kib()?,
        live,
    })
}

/// Runs one measurement in this process and prints it as a JSON line on stdout.
fn run_child(engine: Engine, args: &Args) -> Result<()> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let measurement = match engine {
        Engine::Redb | Engine::RedbV3 => measure::<RedbStore>(engine, args, &parent)?,
        Engine::Fjall => measure::<FjallStore>(engine, args, &parent)?,
    };
    println!("{}", serde_json::to_string(&measurement)?);
    Ok(())
}

/// Runs one measurement in a child process (this program with `--child`) and parses it.
fn spawn_child(engine: Engine, batch: u64, round: u32, args: &Args) -> Result<Measurement> {
    let exe = std::env::current_exe().context("finding this program")?;
    let mut command = Command::new(exe);
    command
        .arg(format!("--child={engine}"))
        .arg(format!("--batch={batch}"))
        .arg(format!("--messages={}", args.messages))
        .arg(format!("--rooms={}", args.rooms))
        .arg(format!("--keep={}", args.keep))
        .arg(format!("--read-rooms={}", args.read_rooms))
        .arg(format!("--read-last={}", args.read_last))
        .arg(format!("--seed={}", args.seed))
        .stderr(Stdio::inherit());
    if let Some(dir) = &args.dir {
        command.arg("--dir").arg(dir);
    }
    let output = command.output().context("running the child process")?;
    if !output.status.success() {
        bail!("{engine} with batches of {batch} failed: {}", output.status);
    }
    let stdout = String::from_utf8(output.stdout)?;
    let line = stdout.lines().last().context("child printed nothing")?;
    let mut measurement: Measurement = serde_json::from_str(line)?;
    measurement.round = round;
    Ok(measurement)
}

/// Appends `m` to the file at `path` as one JSON line.
fn save(path: &Path, m: &Measurement) -> Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {path:?}"))?;
    writeln!(file, "{}", serde_json::to_string(m)?).with_context(|| format!("writing {path:?}"))
}

/// Prints the header of the markdown tables.
fn print_header(first: &str) {
    println!(
        "| {first} | batch | msgs/s | commits/s | commit mean ms | commit p99 ms | \
         CPU s | disk MiB | open ms | last-50 read mean µs | p99 µs | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
}

/// Prints one row of the markdown tables.
fn print_row(first: &str, m: &Measurement) {
    println!(
        "| {first} | {} | {:.0} | {:.1} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} | {:.0} |",
        m.batch,
        m.messages_per_sec(),
        m.commits_per_sec(),
        m.commit_mean_ms,
        m.commit_p99_ms,
        m.write_cpu_secs,
        m.disk_mib(),
        m.open_ms,
        m.read_mean_us,
        m.read_p99_us,
        m.peak_rss_kib as f64 / 1024.0,
    );
}

/// The mean of the runs of one store and batch size.
fn mean_of(runs: &[&Measurement]) -> Option<Measurement> {
    let first = (*runs.first()?).clone();
    let n = runs.len() as f64;
    let avg = |f: fn(&Measurement) -> f64| runs.iter().map(|m| f(m)).sum::<f64>() / n;
    Some(Measurement {
        write_secs: avg(|m| m.write_secs),
        write_cpu_secs: avg(|m| m.write_cpu_secs),
        commit_mean_ms: avg(|m| m.commit_mean_ms),
        commit_p99_ms: avg(|m| m.commit_p99_ms),
        commit_max_ms: avg(|m| m.commit_max_ms),
        disk_bytes: avg(|m| m.disk_bytes as f64) as u64,
        open_ms: avg(|m| m.open_ms),
        read_mean_us: avg(|m| m.read_mean_us),
        read_p99_us: avg(|m| m.read_p99_us),
        peak_rss_kib: avg(|m| m.peak_rss_kib as f64) as u64,
        ..first
    })
}

/// Runs every (round, batch, store), alternating the stores' order each round, and prints.
fn run_parent(args: &Args) -> Result<()> {
    let mut all = Vec::new();
    for round in 1..=args.rounds {
        for &batch in &args.batches {
            let mut stores = args.stores.clone();
            if round % 2 == 0 {
                stores.reverse();
            }
            for engine in stores {
                let m = spawn_child(engine, batch, round, args)?;
                eprintln!(
                    "round {round} {engine:>7} batch {batch:>5}: {:>8.0} msgs/s, commit p99 \
                     {:.2} ms, max {:.2} ms, {:.1} MiB, open {:.1} ms",
                    m.messages_per_sec(),
                    m.commit_p99_ms,
                    m.commit_max_ms,
                    m.disk_mib(),
                    m.open_ms
                );
                if let Some(path) = &args.save {
                    save(path, &m)?;
                }
                all.push(m);
            }
        }
    }

    println!(
        "\nEvery run ({} messages, {} rooms, keep {}):\n",
        args.messages, args.rooms, args.keep
    );
    print_header("store (round)");
    for m in &all {
        print_row(&format!("{} ({})", m.store, m.round), m);
    }
    println!("\nMean of {} round(s):\n", args.rounds);
    print_header("store");
    for &batch in &args.batches {
        for &engine in &args.stores {
            let runs: Vec<_> =
                all.iter().filter(|m| m.store == engine && m.batch == batch).collect();
            if let Some(mean) = mean_of(&runs) {
                print_row(&engine.to_string(), &mean);
            }
        }
    }
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(args.rooms > 0 && args.batch > 0, "--rooms and --batch must be positive");
    ensure!(args.batches.iter().all(|&b| b > 0), "--batches must be positive");
    match args.child {
        Some(engine) => run_child(engine, &args),
        None => run_parent(&args),
    }
}
