//! `smolchat-server`: parses flags, binds its listeners, and runs the server until Ctrl-C or
//! SIGTERM.

use std::io::IsTerminal as _;

use anyhow::Context;
use async_signal::{Signal, Signals};
use clap::Parser;
use futures_lite::StreamExt;
use smolchat::server::{self, Config, ListenSpec, Listener};
use tracing::warn;
use tracing_subscriber::EnvFilter;

/// The smolchat server: chat rooms for everyone who connects, over a line protocol
/// anyone can speak with `nc`.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// A listener, as SCHEME://HOST:PORT (repeatable): chat:// or irc://; port 0 picks a
    /// free port. Given at least once, it replaces the defaults chat://127.0.0.1:55555 and
    /// irc://127.0.0.1:6667.
    #[arg(long = "listen", value_name = "SCHEME://ADDR")]
    listen: Vec<ListenSpec>,

    /// Short for --listen chat://ADDR.
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,

    /// Threads running the connections [default: one per core, or SMOL_THREADS]. On two
    /// cores, two threads lower a small room's fan-out latency by about a quarter and
    /// take a big room's join storm a little faster than one (docs/BENCHMARKS.md).
    #[arg(long)]
    threads: Option<usize>,

    #[command(flatten)]
    config: Config,
}

impl Cli {
    /// The listeners asked for: every `--listen` and `--bind`, or else the defaults.
    fn listeners(&self) -> Vec<ListenSpec> {
        let mut specs = self.listen.clone();
        if let Some(addr) = &self.bind {
            specs.push(ListenSpec { scheme: server::Scheme::Chat, addr: addr.clone() });
        }
        if specs.is_empty() {
            specs = server::default_listeners();
        }
        specs
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    log_to_stderr();
    check_open_files(cli.config.max_clients);
    server::size_executor(cli.threads);
    smol::block_on(async {
        let mut listeners = Vec::new();
        for spec in cli.listeners() {
            listeners
                .push(Listener::bind(&spec).with_context(|| format!("cannot listen on {spec}"))?);
        }
        let mut signals =
            Signals::new([Signal::Int, Signal::Term]).context("cannot install signal handlers")?;
        let shutdown = async move {
            let _ = signals.next().await;
        };
        server::run(listeners, cli.config, shutdown).await.context("server failed")
    })
}

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise, in colour only on a terminal
/// and never with `NO_COLOR`.
fn log_to_stderr() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
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
