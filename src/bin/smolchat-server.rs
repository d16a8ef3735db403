//! `smolchat-server`: parses flags, binds, and runs the server until Ctrl-C or SIGTERM.

use anyhow::Context;
use async_signal::{Signal, Signals};
use clap::Parser;
use futures_lite::StreamExt;
use smolchat::server::{self, Config};
use tracing_subscriber::EnvFilter;

/// The smolchat server: one shared chat room over TCP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = smolchat::client::DEFAULT_SERVER)]
    bind: String,

    /// Threads running the connections [default: 1, or SMOL_THREADS]. More threads lower
    /// fan-out latency in small rooms but make a join storm in a big room several times
    /// slower (docs/BENCHMARKS.md).
    #[arg(long)]
    threads: Option<usize>,

    #[command(flatten)]
    config: Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    set_threads(cli.threads);
    smol::block_on(async {
        let listener =
            server::bind(&cli.bind).with_context(|| format!("cannot listen on {}", cli.bind))?;
        let mut signals =
            Signals::new([Signal::Int, Signal::Term]).context("cannot install signal handlers")?;
        let shutdown = async move {
            let _ = signals.next().await;
        };
        server::run(listener, cli.config, shutdown).await.context("server failed")
    })
}

/// Sizes smol's global executor, which reads `SMOL_THREADS` once, on first use. Called
/// before anything else has started a thread; without `--threads`, `SMOL_THREADS` (or
/// smol's own default of one thread) stands.
fn set_threads(threads: Option<usize>) {
    if let Some(threads) = threads {
        std::env::set_var("SMOL_THREADS", threads.max(1).to_string());
    }
}
