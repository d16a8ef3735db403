//! `smolchat`: the chat client. Parses flags, then runs the interactive client, the piped
//! client or a bot script from the library.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smolchat::client::{self, Options, DEFAULT_SERVER};
use smolchat::script::{self, ScriptOptions};

/// The smolchat client: chat in a terminal, from a pipe, or as a scripted bot.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address of the server.
    #[arg(long, short, default_value = DEFAULT_SERVER, value_name = "ADDR")]
    server: String,

    /// Nickname; without it the client asks (a script plays as its file name).
    #[arg(long, short, value_name = "NAME")]
    nick: Option<String>,

    /// Run the bot script FILE (`-` reads it from standard input) instead of a person.
    #[arg(long, value_name = "FILE")]
    script: Option<String>,

    /// How long a script's `/expect` waits for its text.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = humantime::parse_duration)]
    expect_timeout: Duration,

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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.script {
        Some(file) => {
            let options = ScriptOptions {
                server: cli.server.clone(),
                nick: cli.nick.clone(),
                expect_timeout: cli.expect_timeout,
            };
            script::run_file(file, &options).map_err(|error| error.to_string())
        }
        None => {
            let history = match cli.no_history {
                true => None,
                false => cli.history.clone().or_else(client::default_history_path),
            };
            let options =
                Options { server: cli.server, nick: cli.nick, history, timestamps: cli.timestamps };
            client::run(&options).map_err(|error| format!("smolchat: {error}"))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            ExitCode::FAILURE
        }
    }
}
