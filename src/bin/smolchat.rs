//! `smolchat`: the chat client. Parses flags, then runs the interactive client, the piped
//! client or a bot script from the library.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smolchat::client::{self, Destination, Options, Secret, Trust, DEFAULT_SERVER};
use smolchat::script::{self, ScriptOptions};

/// The smolchat client: chat in a terminal, from a pipe, or as a scripted bot.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address of the server: HOST[:PORT], chat://HOST[:PORT], or chats://HOST[:PORT] for
    /// TLS; the port is 55555 unless given.
    #[arg(long, short, default_value = DEFAULT_SERVER, value_name = "ADDR")]
    server: String,

    /// Speak TLS even though --server is a bare HOST:PORT.
    #[arg(long)]
    tls: bool,

    /// Trust the certificate authorities in this PEM file instead of the system's.
    #[arg(long, value_name = "FILE", conflicts_with = "tls_fingerprint")]
    ca_file: Option<PathBuf>,

    /// Trust exactly the certificate with this SHA-256 fingerprint (as the server logs
    /// it), whatever its name and dates: for a self-signed server.
    #[arg(long, value_name = "SHA256", value_parser = Trust::pinned)]
    tls_fingerprint: Option<Trust>,

    /// The server's password, read from the first line of FILE (never on the command
    /// line, where `ps` shows it); without it, a terminal asks when the server does.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,

    /// Nickname; without it the client asks (a script plays as its file name).
    #[arg(long, short, value_name = "NAME")]
    nick: Option<String>,

    /// Run the bot script FILE (`-` reads it from standard input) instead of a person.
    #[arg(long, value_name = "FILE")]
    script: Option<String>,

    /// How long a script's `/expect` and `/await` wait.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    expect_timeout: Duration,

    /// Seed for a script's `/pick`, so that it picks the same way every run.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// A script's bot takes a lost connection up again (its nickname, identity and rooms)
    /// rather than stop; the terminal client always does.
    #[arg(long, requires = "script")]
    reconnect: bool,

    /// File for the line history [default: $XDG_DATA_HOME/smolchat/history, or
    /// ~/.local/share/smolchat/history].
    #[arg(long, value_name = "FILE", conflicts_with = "no_history")]
    history: Option<PathBuf>,

    /// Keep no line history.
    #[arg(long)]
    no_history: bool,

    /// Show the local time before each line.
    #[arg(long)]
    timestamps: bool,
}

impl Cli {
    /// Where the server is, which certificates to trust, and its password.
    fn destination(&self) -> Result<Destination, String> {
        let trust = match (&self.tls_fingerprint, &self.ca_file) {
            (Some(pinned), _) => pinned.clone(),
            (None, Some(file)) => Trust::CaFile(file.clone()),
            (None, None) => Trust::System,
        };
        // Pinning a certificate or naming a CA only makes sense over TLS.
        let tls = self.tls || self.ca_file.is_some() || self.tls_fingerprint.is_some();
        let password = self.password_file.as_deref().map(Secret::read).transpose()?;
        Ok(Destination { server: self.server.clone(), tls, trust, password })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = cli.destination().and_then(|destination| run(cli, destination));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bot script or the client, to the message that says why it stopped.
fn run(cli: Cli, destination: Destination) -> Result<(), String> {
    match &cli.script {
        Some(file) => {
            let options = ScriptOptions {
                destination,
                nick: cli.nick.clone(),
                expect_timeout: cli.expect_timeout,
                seed: cli.seed,
                reconnect: cli.reconnect,
            };
            script::run_file(file, &options).map_err(|error| error.to_string())
        }
        None => {
            let history = match cli.no_history {
                true => None,
                false => cli.history.clone().or_else(client::default_history_path),
            };
            let options =
                Options { destination, nick: cli.nick, history, timestamps: cli.timestamps };
            client::run(&options).map_err(|error| format!("smolchat: {error}"))
        }
    }
}
