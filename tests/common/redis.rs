//! A real `redis-server` for the cluster tests: on a free loopback port, in a temporary
//! directory of its own, keeping nothing on disk, stopped and removed when dropped; and a
//! proxy to it that cuts one server off from it.

use std::env;
use std::fs;
use std::io::{self, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{self, Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use smol::Task;

/// Set to `1` where a missing `redis-server` is a failure rather than a skip (`.ci/run`
/// sets it).
pub const REQUIRE: &str = "SMOLCHAT_REQUIRE_REDIS";

/// The program.
const PROGRAM: &str = "redis-server";

/// How long a starting server may take to answer `PING`.
const STARTUP: Duration = Duration::from_secs(10);

/// How many free ports to try before giving up: another process may take the one picked
/// between its release and the server's bind.
const PORT_TRIES: usize = 5;

/// A `redis-server` of this test's own, stopped (and its directory removed) when dropped.
pub struct RedisServer {
    /// The running server.
    child: Child,
    /// Its port on 127.0.0.1.
    port: u16,
    /// Its working directory (and its log, `redis.log`).
    dir: PathBuf,
}

impl RedisServer {
    /// Starts a server, or returns `None` (saying why on stderr) when `redis-server` is not
    /// installed, unless [`REQUIRE`] is set: then it panics.
    pub fn start() -> Option<RedisServer> {
        let dir = unique_dir();
        fs::create_dir_all(&dir).expect("create the redis-server directory");
        for _ in 0..PORT_TRIES {
            let port = free_port();
            match launch(&dir, port) {
                Launch::Up(child) => return Some(RedisServer { child, port, dir }),
                Launch::PortTaken => continue,
                Launch::NotInstalled => {
                    let _ = fs::remove_dir_all(&dir);
                    skip();
                    return None;
                }
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!("redis-server found no free port in {PORT_TRIES} tries");
    }

    /// Where to connect: `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes the server hold every client's commands for `ms` milliseconds
    /// (`CLIENT PAUSE ms ALL`), as if it were cut off; it answers them afterwards.
    pub fn pause(&self, ms: u64) {
        let mut connection = connect(self.port).expect("connect to redis-server");
        redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(ms)
            .arg("ALL")
            .exec(&mut connection)
            .expect("CLIENT PAUSE");
    }

    /// Stops the server (as `kill -9` would) and starts it again on the same port: its
    /// clients lose their connections, and everything it held.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Stops the server (as `kill -9` would), leaving its port closed until
    /// [`RedisServer::start_again`]: its clients find nobody there.
    pub fn stop(&mut self) {
        stop(&mut self.child);
    }

    /// Starts the server again on its port, holding nothing, after [`RedisServer::stop`].
    pub fn start_again(&mut self) {
        match launch(&self.dir, self.port) {
            Launch::Up(child) => self.child = child,
            Launch::PortTaken => panic!("port {} was taken while redis restarted", self.port),
            Launch::NotInstalled => panic!("{PROGRAM} went away between two starts"),
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        stop(&mut self.child);
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// How one attempt to start went.
enum Launch {
    /// It answers `PING` on its port.
    Up(Child),
    /// Something else had the port.
    PortTaken,
    /// There is no `redis-server` to run.
    NotInstalled,
}

/// Starts `redis-server` on `port` in `dir` and waits until it answers.
fn launch(dir: &Path, port: u16) -> Launch {
    let log = dir.join("redis.log");
    let child = Command::new(PROGRAM)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        // Lets later tests stall it with `DEBUG SLEEP`.
        .args(["--enable-debug-command", "local"])
        .arg("--logfile")
        .arg(&log)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Launch::NotInstalled,
        Err(error) => panic!("cannot run {PROGRAM}: {error}"),
    };
    match wait_until_up(&mut child, port, &log) {
        true => Launch::Up(child),
        false => {
            stop(&mut child);
            Launch::PortTaken
        }
    }
}

/// Waits until `child` answers `PING` on `port` as itself; false if it could not have the
/// port (it exited saying so, or another process answers there).
fn wait_until_up(child: &mut Child, port: u16, log: &Path) -> bool {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let log = fs::read_to_string(log).unwrap_or_default();
            if log.contains("Address already in use") {
                return false;
            }
            panic!("{PROGRAM} exited with {status} at start; its log:\n{log}");
        }
        match answering_pid(port) {
            Some(pid) => return pid == child.id(),
            None if Instant::now() > deadline => {
                stop(child);
                let log = fs::read_to_string(log).unwrap_or_default();
                panic!("{PROGRAM} did not answer within {STARTUP:?}; its log:\n{log}");
            }
            None => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The process id of the Redis answering on `port`, if one answers.
fn answering_pid(port: u16) -> Option<u32> {
    let mut connection = connect(port).ok()?;
    let pong: String = redis::cmd("PING").query(&mut connection).ok()?;
    if pong != "PONG" {
        return None;
    }
    let info: String = redis::cmd("INFO").arg("server").query(&mut connection).ok()?;
    info.lines().find_map(|line| line.strip_prefix("process_id:")?.trim().parse().ok())
}

/// A blocking connection to the Redis on `port`, for the harness's own commands.
fn connect(port: u16) -> redis::RedisResult<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    client.get_connection_with_timeout(Duration::from_secs(1))
}

/// Kills `child` and waits for it, so that its port is free when this returns.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A fresh path in the temporary directory, unique to this process and call.
fn unique_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    env::temp_dir().join(format!("smolchat-redis-{}-{n}", process::id()))
}

/// Says on stderr why the test is skipped, or fails it where [`REQUIRE`] is set.
fn skip() {
    if env::var(REQUIRE).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE}=1, but {PROGRAM} is not installed (apt-get install redis-server)");
    }
    // Straight to stderr: the harness would swallow an `eprintln!` from a passing test.
    let _ = writeln!(
        io::stderr(),
        "skipped: {PROGRAM} is not installed (apt-get install redis-server)"
    );
}

/// Reads `reader` until `count` entries of the cluster's log have come, or fails the test
/// at the timeout.
pub async fn read_entries(
    reader: &mut smolchat::cluster::log::Reader,
    count: usize,
) -> Vec<smolchat::cluster::log::Entry> {
    super::within("log entries", async {
        let mut read = Vec::new();
        while read.len() < count {
            read.extend(reader.next().await.expect("a read"));
        }
        read
    })
    .await
}

/// A TCP proxy on a free loopback port to a Redis, that can cut whoever connects through
/// it off from Redis (every connection dropped, new ones closed at once) and let them
/// through again: one server of a cluster loses Redis while the others keep it.
pub struct Proxy {
    /// Where to connect instead of Redis.
    addr: std::net::SocketAddr,
    /// Set while connections are refused.
    cut: Arc<AtomicBool>,
    /// The copying tasks of the connections through it; dropped, they close them.
    pipes: Arc<Mutex<Vec<Task<()>>>>,
    /// The accepting task.
    _accept: Task<()>,
}

impl Proxy {
    /// A proxy to the Redis on 127.0.0.1:`port`.
    pub async fn start(port: u16) -> Proxy {
        let listener = async_net::TcpListener::bind("127.0.0.1:0").await.expect("bind a proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let cut = Arc::new(AtomicBool::new(false));
        let pipes: Arc<Mutex<Vec<Task<()>>>> = Arc::default();
        let accept = smol::spawn(accept(listener, port, cut.clone(), pipes.clone()));
        Proxy { addr, cut, pipes, _accept: accept }
    }

    /// Where to connect: `redis://127.0.0.1:PORT` of the proxy.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Drops every connection through the proxy, and closes new ones at once; returns when
    /// every one is closed.
    pub async fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        let pipes = std::mem::take(&mut *self.pipes.lock().expect("the pipes"));
        for pipe in pipes {
            super::within("a pipe to close", pipe.cancel()).await;
        }
    }

    /// Lets connections through again.
    pub fn heal(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// Accepts connections to the proxy and copies each to and from the Redis on `port`, in
/// two tasks kept in `pipes`, unless `cut` is set.
async fn accept(
    listener: async_net::TcpListener,
    port: u16,
    cut: Arc<AtomicBool>,
    pipes: Arc<Mutex<Vec<Task<()>>>>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else { continue };
        if cut.load(Ordering::SeqCst) {
            continue;
        }
        let Ok(server) = async_net::TcpStream::connect(("127.0.0.1", port)).await else {
            continue;
        };
        // Checked again under the lock a cut takes the pipes under: a connection cut while
        // it connected is never copied.
        let mut pipes = pipes.lock().expect("the pipes");
        if cut.load(Ordering::SeqCst) {
            continue;
        }
        let (up_from, up_to) = (client.clone(), server.clone());
        let up = smol::spawn(async move {
            let _ = futures_lite::io::copy(up_from, up_to).await;
        });
        let down = smol::spawn(async move {
            let _ = futures_lite::io::copy(server, client).await;
        });
        pipes.extend([up, down]);
    }
}
