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

    /// Threads running the connections [default: one per core, or SMOL_THREADS]. On two
    /// cores, two threads lower a small room's fan-out latency by about a quarter and
    /// take a big room's join storm a little faster than one (docs/BENCHMARKS.md).
    #[arg(long)]
    threads: Option<usize>,

    #[command(flatten)]
    config: Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    server::size_executor(cli.threads);
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
