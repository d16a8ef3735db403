//! `smolchat-server`: parses flags, binds its listeners, and runs the server until Ctrl-C or
//! SIGTERM.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_signal::{Signal, Signals};
use futures_lite::StreamExt;
use smolchat::cluster::Node;
use smolchat::core::{Memory, Recalled};
use smolchat::server::{self, Listener};
use smolchat::store::Store;
use tracing::{info, warn};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = server::parse_flags(std::env::args_os()).unwrap_or_else(|error| error.exit());
    match serve(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, as clap's own errors are: `main` returning the error would print
            // its Debug form, causes on lines of their own and, with RUST_BACKTRACE set,
            // a stack trace.
            eprintln!("error: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Runs the server the flags ask for until Ctrl-C or SIGTERM.
fn serve(cli: server::ServerFlags) -> anyhow::Result<()> {
    log_to_stderr();
    check_open_files(cli.config_flags.max_clients);
    server::size_executor(cli.threads);
    // First, so that a second server on the same data directory stops before it
    // touches anything in it.
    let store = cli.open_store().context("cannot open the store")?;
    let tls = cli.tls().map_err(anyhow::Error::msg).context("cannot use the TLS certificate")?;
    let specs = cli.listeners();
    if let Some(tls) = &tls {
        announce_certificate(tls, &specs);
    }
    smol::block_on(async {
        let mut listeners = Vec::new();
        for spec in specs {
            let listener = Listener::bind(&spec, tls.as_ref());
            listeners.push(listener.with_context(|| format!("cannot listen on {spec}"))?);
        }
        let signals = Signals::new([Signal::Int, Signal::Term, Signal::Hup])
            .context("cannot install signal handlers")?;
        let config = cli.config_flags;
        let node = match &cli.cluster {
            Some(url) => Some(Arc::new(join(url, cli.cluster_lease, &config).await?)),
            None => None,
        };
        let store = store.map(|(store, recalled)| (Arc::new(store), recalled));
        let keeper =
            Keeper { store: store.as_ref().map(|(store, _)| store.clone()), node: node.clone() };
        let shutdown = until_stopped(signals, tls, keeper);
        run(listeners, config, node, store, shutdown).await
    })
}

/// Runs the server on `listeners` until `shutdown`: as a node of a cluster, over the
/// store, or keeping nothing; then closes what keeps what was said.
async fn run(
    listeners: Vec<Listener>,
    config: server::Config,
    node: Option<Arc<Node>>,
    store: Option<(Arc<Store>, Recalled)>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    if let Some(node) = node {
        let (chat, memory) = (node.chat().clone(), node.memory());
        let run = server::run_with(listeners, config, chat, memory, shutdown);
        run.await.context("server failed")?;
        node.close().await;
        info!("left the cluster");
        return Ok(());
    }
    match store {
        Some((store, recalled)) => {
            let memory: Arc<dyn Memory> = store.clone();
            let run = server::run_remembering(listeners, config, memory, recalled, shutdown);
            run.await.context("server failed")?;
            // Whatever a lingering task still holds, what was handed over is committed
            // before the process ends.
            store.close();
            let stats = store.stats();
            let (commits, changes, dropped) = (stats.commits, stats.changes, stats.dropped);
            info!(commits, changes, dropped, file_bytes = stats.file_bytes, "store closed");
            Ok(())
        }
        None => server::run(listeners, config, shutdown).await.context("server failed"),
    }
}

/// Resolves at the first Ctrl-C or SIGTERM, rereading the certificate on each SIGHUP
/// before; then, whoever asks again while the server waits for slow clients (for as long
/// as --shutdown-grace) does not want to wait: a second one closes what `keeper` keeps and
/// exits at once.
async fn until_stopped(mut signals: Signals, tls: Option<server::Tls>, keeper: Keeper) {
    stop_signal(&mut signals, tls.as_ref()).await;
    smol::spawn(async move {
        if stop_signal(&mut signals, tls.as_ref()).await {
            warn!("a second signal: stopping at once, without the clients' goodbyes");
            keeper.close().await;
            std::process::exit(STOPPED_AT_ONCE);
        }
    })
    .detach();
}

/// What keeps what was said, closed before a server stopped at once exits: the store, or
/// the cluster's memory in Redis.
struct Keeper {
    /// The store in the data directory.
    store: Option<Arc<Store>>,
    /// This server as a node of a cluster.
    node: Option<Arc<Node>>,
}

impl Keeper {
    /// Writes what was handed over and closes, as a graceful stop does (the cluster's
    /// memory given at most [`CLOSE_AT_ONCE`], should Redis be out of reach).
    async fn close(self) {
        if let Some(store) = self.store {
            smol::unblock(move || store.close()).await;
        }
        if let Some(node) = self.node {
            let timeout = async {
                smol::Timer::after(CLOSE_AT_ONCE).await;
            };
            futures_lite::future::or(node.close(), timeout).await;
        }
    }
}

/// How long a server stopped at once waits for the cluster's memory to write what it was
/// handed.
const CLOSE_AT_ONCE: Duration = Duration::from_secs(5);

/// `error` and its causes in one line, leaving out a cause that the one before already
/// ends with (`cannot reach Redis: Connection refused`, then `Connection refused`).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    let mut last = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if !last.ends_with(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        last = text;
    }
    line
}

/// Joins the cluster whose Redis is at `url` as a new server.
async fn join(url: &str, lease: Duration, config: &server::Config) -> anyhow::Result<Node> {
    Node::join(url, config.limits(), config.retention(), lease)
        .await
        .with_context(|| format!("cannot join the cluster at {url}"))
}

/// The exit status of a server stopped by a second signal, as a shell reports a process
/// ended by SIGINT: it did not finish its goodbyes.
const STOPPED_AT_ONCE: i32 = 130;

/// Waits for Ctrl-C or SIGTERM, rereading the certificate on each SIGHUP meanwhile if
/// there is one; `false` if the signals ended first.
async fn stop_signal(signals: &mut Signals, tls: Option<&server::Tls>) -> bool {
    while let Some(Ok(signal)) = signals.next().await {
        match (signal, tls) {
            (Signal::Hup, Some(tls)) => reload(tls),
            (Signal::Hup, None) => info!("SIGHUP: no certificate to reload"),
            _ => return true,
        }
    }
    false
}

/// Rereads the certificate files; on an error the old certificate stays in use.
fn reload(tls: &server::Tls) {
    match tls.reload() {
        Ok(()) => {
            info!(fingerprint = %tls.fingerprint(), "TLS certificate reloaded");
            warn_out_of_date(tls);
        }
        Err(error) => warn!(%error, "TLS certificate not reloaded; keeping the old one"),
    }
}

/// Logs the certificate loaded at start, and warns when nothing will use it or clients
/// will refuse it.
fn announce_certificate(tls: &server::Tls, specs: &[server::ListenSpec]) {
    info!(fingerprint = %tls.fingerprint(), "TLS certificate loaded");
    warn_out_of_date(tls);
    if !specs.iter().any(|spec| spec.scheme.is_tls()) {
        warn!(
            "a TLS certificate was given, but no listener speaks TLS \
             (chats://, ircs://, https://): nothing uses it"
        );
    }
}

/// Warns when clients will refuse the certificate for its dates: the server serves it
/// anyway, and each client would otherwise be the first to say so.
fn warn_out_of_date(tls: &server::Tls) {
    if let Some(why) = tls.out_of_date() {
        warn!("the TLS certificate is {why}: clients refuse it; renew it, then send SIGHUP");
    }
}

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise, in colour only on a terminal
/// and never with `NO_COLOR`. rustls logs only its errors: its warnings are about what
/// clients send (irssi puts an IP address where a host name belongs), one per connection.
fn log_to_stderr() {
    let default = || EnvFilter::new("info,rustls=error");
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| default());
    let colour = smolchat::client::colour_allowed(std::io::stderr().is_terminal());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .init();
}

/// Raises the open-files limit as far as it goes and warns when `max_clients` connections
/// still cannot fit: past the limit, connections would wait unanswered instead of being
/// told the server is full.
fn check_open_files(max_clients: usize) {
    let Some(limit) = server::raise_open_files() else { return };
    let needed = u64::try_from(max_clients).unwrap_or(u64::MAX).saturating_add(server::SPARE_FDS);
    if limit < needed {
        let fit = limit.saturating_sub(server::SPARE_FDS);
        warn!(
            limit,
            "the open-files limit fits about {fit} clients, fewer than --max-clients {max_clients}; \
             raise it (ulimit -n) or lower --max-clients"
        );
    }
}
