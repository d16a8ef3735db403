//! `smolchat-server`: parses flags, binds, and runs the server until Ctrl-C or SIGTERM.

use anyhow::Context;
use async_net::TcpListener;
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

    #[command(flatten)]
    config: Config,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    smol::block_on(async {
        let listener = TcpListener::bind(&cli.bind)
            .await
            .with_context(|| format!("cannot listen on {}", cli.bind))?;
        let mut signals =
            Signals::new([Signal::Int, Signal::Term]).context("cannot install signal handlers")?;
        let shutdown = async move {
            let _ = signals.next().await;
        };
        server::run(listener, cli.config, shutdown).await.context("server failed")
    })
}
