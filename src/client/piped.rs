//! The client without a terminal: plain lines in on stdin, plain lines out on stdout, so it
//! can be piped. Without `--nick`, the first line of input is the nickname (and the next
//! one after a refusal). The end of input leaves the room.

use std::io::{self, BufRead as _, Write as _};
use std::thread;
use std::time::Duration;

use async_channel::Receiver;
use futures_lite::future;
use smol::Timer;

use super::connection::{Client, ClientError, Sender, Welcome};
use super::echo::Echo;
use super::incoming::Incoming;
use super::input::{Input, CLIENT_HELP};
use super::render::{clean, Renderer, Style};
use super::session::{connect, ChatError, Options};
use crate::proto::chat::Line;

/// After `/quit` or the end of input, how long to wait for the server to close.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(5);

/// After a failed send, how long to wait for the reader to say why the connection ended.
const REASON_TIMEOUT: Duration = Duration::from_secs(1);

/// How many input lines may be read ahead of the connection.
const READ_AHEAD: usize = 64;

/// Runs the piped client until its input ends, it sends `/quit`, or the connection ends.
pub fn run(options: &Options) -> Result<(), ChatError> {
    let typed = read_stdin();
    smol::block_on(async {
        let mut client = connect(&options.destination).await?;
        let welcome = register(&mut client, options.nick.as_deref(), &typed).await?;
        let renderer = Renderer::new(&welcome.nick, Style::for_stdout(options.timestamps));
        Piped::start(client, &welcome, renderer).chat(&typed).await
    })
}

/// Lines of standard input, read on a plain thread; the channel closes at its end.
fn read_stdin() -> Receiver<String> {
    let (tx, rx) = async_channel::bounded(READ_AHEAD);
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']).to_string();
            if tx.send_blocking(text).is_err() {
                return;
            }
        }
    });
    rx
}

/// Registers `nick`, or the lines of input in turn until one is accepted.
async fn register(
    client: &mut Client,
    nick: Option<&str>,
    typed: &Receiver<String>,
) -> Result<Welcome, ChatError> {
    if let Some(nick) = nick {
        return Ok(client.register(nick).await?);
    }
    loop {
        let line = typed.recv().await.map_err(|_| ChatError::NoNickname)?;
        let nick = line.trim();
        if nick.is_empty() {
            continue;
        }
        match client.register(nick).await {
            Ok(welcome) => return Ok(welcome),
            Err(ClientError::Refused { text, .. }) => {
                let _ = writeln!(io::stderr(), "smolchat: {}", clean(&text));
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// What woke the loop.
enum Next {
    /// A line of input, or `None` at its end.
    Typed(Option<String>),
    /// Something from the server, or the end of the connection.
    Heard(Result<Line, ClientError>),
}

/// A registered piped session.
struct Piped {
    /// For sending typed lines.
    sender: Sender,
    /// What the server sends.
    incoming: Incoming,
    /// How it is printed.
    renderer: Renderer,
    /// The echo of the last message sent, until it comes back.
    pending: Option<Echo>,
}

impl Piped {
    fn start(client: Client, welcome: &Welcome, renderer: Renderer) -> Piped {
        let (events, sender) = client.split();
        let incoming = Incoming::spawn(events);
        let mut piped = Piped { sender, incoming, renderer, pending: None };
        let _ = piped.show(&welcome.line());
        piped
    }

    /// Relays lines both ways until one side ends.
    async fn chat(mut self, typed: &Receiver<String>) -> Result<(), ChatError> {
        loop {
            let heard = async { Next::Heard(self.incoming.next().await) };
            let next = future::or(heard, async { Next::Typed(typed.recv().await.ok()) }).await;
            let line = match next {
                Next::Heard(Ok(event)) => {
                    if self.show(&event).is_err() {
                        // Nobody reads our output any more (a closed pipe): leave.
                        return self.leave(None).await;
                    }
                    continue;
                }
                Next::Heard(Err(error)) => return Err(error.into()),
                Next::Typed(None) => return self.leave(None).await,
                Next::Typed(Some(line)) => line,
            };
            match Input::parse(&line) {
                Input::Empty => {}
                Input::Quit(reason) => return self.leave(reason).await,
                Input::Help => {
                    CLIENT_HELP.iter().for_each(|text| {
                        let _ = print(&format!("*** {text}"));
                    });
                    self.send("/help").await?;
                }
                // No terminal to ask on: the server's usage error says what is missing.
                Input::Send(text) | Input::AskPassword(text) => self.send(text).await?,
            }
        }
    }

    /// Sends a typed line; if that fails, the reader says why the connection ended.
    async fn send(&mut self, line: &str) -> Result<(), ChatError> {
        if let Some(echo) = Echo::of(line, self.renderer.me()) {
            self.pending = Some(echo);
        }
        let Err(error) = self.sender.send_line(line).await else { return Ok(()) };
        let why = async {
            loop {
                match self.incoming.next().await {
                    Ok(event) => {
                        let _ = self.show(&event);
                    }
                    Err(ended) => return ChatError::from(ended),
                }
            }
        };
        let fallback = async {
            sleep(REASON_TIMEOUT).await;
            ChatError::from(ClientError::Io(error))
        };
        Err(future::or(why, fallback).await)
    }

    /// Waits for the echo of the last message sent, sends `/quit`, then prints what is
    /// still coming until the server closes, so nothing in flight is lost.
    async fn leave(&mut self, reason: Option<&str>) -> Result<(), ChatError> {
        let echoed = async {
            while self.pending.is_some() {
                match self.incoming.next().await {
                    Ok(event) => {
                        let _ = self.show(&event);
                    }
                    Err(_) => return,
                }
            }
        };
        future::or(echoed, sleep(LEAVE_TIMEOUT)).await;
        let _ = self.sender.quit(reason).await;
        let drain = async {
            while let Ok(event) = self.incoming.next().await {
                let _ = self.show(&event);
            }
        };
        future::or(drain, sleep(LEAVE_TIMEOUT)).await;
        Ok(())
    }

    /// Prints `event`, noting whether it is the echo being waited for.
    fn show(&mut self, event: &Line) -> io::Result<()> {
        if self.pending.as_ref().is_some_and(|echo| echo.is_answered_by(event)) {
            self.pending = None;
        }
        match self.renderer.render(event) {
            Some(line) => print(&line),
            None => Ok(()),
        }
    }
}

async fn sleep(duration: Duration) {
    Timer::after(duration).await;
}

/// One line to standard output, flushed so a reader on the other end of a pipe sees it.
fn print(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
