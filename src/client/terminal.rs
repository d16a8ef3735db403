//! The interactive client: a rustyline prompt, with incoming lines printed above it.
//!
//! The main thread owns the line editor and sends what is typed. A printer thread renders
//! what arrives and hands it to rustyline's `ExternalPrinter`, whose `print` may block, so
//! it never runs on the executor; the global executor reads the socket ([`Incoming`]).
//! When the connection ends, the printer thread wakes the editor ([`Wake`]).

use std::io::{self, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use async_channel::{Receiver, Sender as Signal};
use futures_lite::future;
use rustyline::ExternalPrinter;
use smol::Timer;

use super::connection::{Client, ClientError, Events, Sender, Welcome};
use super::editor::{Editor, Typed};
use super::incoming::Incoming;
use super::input::{Input, CLIENT_HELP};
use super::render::{clean, same_name, Renderer, Style};
use super::session::{connect_asking, ChatError, Options};
use super::wake::Wake;
use crate::proto::chat::{sanitize, Command, Line};

/// After `/quit`, how long to wait for the server to close the connection.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// After a failed send, how long to wait for the reader to say why the connection ended.
const REASON_TIMEOUT: Duration = Duration::from_secs(1);

/// After `/join` or `/part`, how long the next prompt waits for the server's answer, so it
/// shows the room plain text now goes to.
const ROOM_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs the interactive client until the person leaves or the connection ends.
pub fn run(options: &Options) -> Result<(), ChatError> {
    let mut editor = Editor::open(options.history.clone())?;
    let mut client = smol::block_on(connect_asking(&options.destination, ask_password))?;
    let Some(welcome) = choose_nick(&mut editor, &mut client, options.nick.as_deref())? else {
        return Ok(());
    };
    let result = chat(&mut editor, client, &welcome, options.timestamps);
    editor.save_history();
    result
}

/// Asks the person for the server's password without echoing it, after saying why the
/// last one was refused; `None` if the terminal cannot be read.
fn ask_password(wrong: Option<&str>) -> Option<String> {
    if let Some(reason) = wrong {
        eprintln!("!!! {reason}");
    }
    rpassword::prompt_password("server password: ").ok()
}

/// Registers `first`, or asks for a nickname until one is accepted; `None` if the person
/// gave up (Ctrl-D).
fn choose_nick(
    editor: &mut Editor,
    client: &mut Client,
    first: Option<&str>,
) -> Result<Option<Welcome>, ChatError> {
    let mut offered = first.map(str::to_string);
    loop {
        let nick = match offered.take() {
            Some(nick) => nick,
            None => match editor.read("nickname: ")? {
                Typed::Line(line) => line.trim().to_string(),
                Typed::Interrupted => continue,
                Typed::Eof => return Ok(None),
            },
        };
        if nick.is_empty() {
            continue;
        }
        match smol::block_on(client.register(&nick)) {
            Ok(welcome) => return Ok(Some(welcome)),
            Err(ClientError::Refused { text, .. }) => say(&sanitize(&text)),
            Err(error) => return Err(error.into()),
        }
    }
}

/// Writes one line to standard output; a closed terminal is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(io::stdout(), "{line}");
}

/// What the main thread and the printer thread share.
#[derive(Debug)]
struct Shared {
    /// The prompt: our current room and nickname as the server last told them.
    prompt: Mutex<String>,
    /// Set once we are leaving on purpose: the end of the connection is then expected.
    leaving: AtomicBool,
    /// Holds a token once the server has answered a room change (`ROOM`, `ERROR`, or our
    /// own `LEAVE` of a room that was not current).
    answered: (Signal<()>, Receiver<()>),
    /// Wakes the editor when the connection ends unexpectedly.
    wake: Wake,
}

impl Shared {
    fn prompt(&self) -> String {
        self.prompt.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_prompt(&self, renderer: &Renderer) {
        let prompt = prompt(renderer);
        let mut shown = self.prompt.lock().unwrap_or_else(|e| e.into_inner());
        if *shown != prompt {
            *shown = prompt;
        }
    }
}

/// `[#room] nick> `, or `nick> ` in no room; the network's text made safe.
fn prompt(renderer: &Renderer) -> String {
    let me = clean(renderer.me());
    match renderer.current() {
        Some(room) => format!("[{}] {me}> ", clean(room)),
        None => format!("{me}> "),
    }
}

/// The registered part: prints what arrives, sends what is typed.
fn chat(
    editor: &mut Editor,
    client: Client,
    welcome: &Welcome,
    timestamps: bool,
) -> Result<(), ChatError> {
    let (mut events, sender) = client.split();
    let mut renderer = Renderer::new(&welcome.nick, Style::for_stdout(timestamps));
    say(&renderer.render(&welcome.line()).unwrap_or_default());
    settle_in(&mut events, &mut renderer)?;
    let printer = editor.printer()?;
    let shared = Arc::new(Shared {
        prompt: Mutex::new(prompt(&renderer)),
        leaving: AtomicBool::new(false),
        answered: async_channel::bounded(1),
        wake: Wake::install(),
    });
    let (ended_tx, ended) = async_channel::bounded(1);
    let printing = Printing {
        printer,
        incoming: Incoming::spawn(events),
        renderer,
        shared: shared.clone(),
        ended: ended_tx,
    };
    thread::Builder::new()
        .name("smolchat-printer".into())
        .spawn(move || printing.run())
        .map_err(|error| ChatError::Terminal(error.to_string()))?;
    let outcome = converse(editor, &sender, &shared, &ended);
    shared.wake.answer();
    outcome
}

/// Prints what follows the welcome up to the server's first `ROOM` line, so the first
/// prompt already shows the room plain text goes to.
fn settle_in(events: &mut Events, renderer: &mut Renderer) -> Result<(), ChatError> {
    loop {
        let line = smol::block_on(events.next())?;
        if let Some(shown) = renderer.render(&line) {
            say(&shown);
        }
        if matches!(line, Line::Room { .. }) {
            return Ok(());
        }
    }
}

/// The prompt loop.
fn converse(
    editor: &mut Editor,
    sender: &Sender,
    shared: &Shared,
    ended: &Receiver<ChatError>,
) -> Result<(), ChatError> {
    loop {
        if let Ok(error) = ended.try_recv() {
            return Err(error);
        }
        let line = match editor.read(&shared.prompt())? {
            Typed::Line(line) => line,
            // Ctrl-C clears the line; a wake is noticed at the top of the loop.
            Typed::Interrupted => continue,
            Typed::Eof => return leave(sender, None, shared, ended),
        };
        match Input::parse(&line) {
            Input::Empty => continue,
            Input::Quit(reason) => {
                editor.remember(&line);
                return leave(sender, reason, shared, ended);
            }
            Input::Help => {
                CLIENT_HELP.iter().for_each(|text| say(&format!("*** {text}")));
                send(sender, "/help", ended)?;
            }
            Input::Send(text) if changes_room(text) => {
                while shared.answered.1.try_recv().is_ok() {}
                send(sender, text, ended)?;
                wait_for(&shared.answered.1, ROOM_TIMEOUT);
            }
            Input::AskPassword(verb) => {
                if let Some(password) = ask_secret(verb) {
                    send(sender, &format!("{verb} {password}"), ended)?;
                }
            }
            Input::Send(text) => send(sender, text, ended)?,
        }
        editor.remember(&line);
    }
}

/// Asks for the password of `/register` or `/identify` without echoing it, so it is
/// never on the screen; `None` if none was typed or the terminal cannot be read.
fn ask_secret(verb: &str) -> Option<String> {
    let password = rpassword::prompt_password(format!("password for {verb} (not shown): "));
    match password {
        Ok(password) if !password.is_empty() => Some(password),
        _ => {
            say("*** nothing sent");
            None
        }
    }
}

/// Whether `line` may change the room plain text goes to.
fn changes_room(line: &str) -> bool {
    matches!(Command::parse(line), Ok(Some(Command::Join(_) | Command::Part { .. })))
}

/// Sends a typed line; if that fails, the error is why the connection ended.
fn send(sender: &Sender, line: &str, ended: &Receiver<ChatError>) -> Result<(), ChatError> {
    let Err(error) = smol::block_on(sender.send_line(line)) else { return Ok(()) };
    let fallback = ChatError::from(ClientError::Io(error));
    Err(wait_for(ended, REASON_TIMEOUT).unwrap_or(fallback))
}

/// Sends `/quit` and waits until the server has closed the connection, so every line it
/// still had for us is printed and nothing sent is lost.
fn leave(
    sender: &Sender,
    reason: Option<&str>,
    shared: &Shared,
    ended: &Receiver<ChatError>,
) -> Result<(), ChatError> {
    shared.leaving.store(true, Ordering::SeqCst);
    let _ = smol::block_on(sender.quit(reason));
    wait_for(ended, LEAVE_TIMEOUT);
    Ok(())
}

/// What arrives on `channel` within `timeout`, if anything.
fn wait_for<T>(channel: &Receiver<T>, timeout: Duration) -> Option<T> {
    smol::block_on(future::or(async { channel.recv().await.ok() }, async {
        Timer::after(timeout).await;
        None
    }))
}

/// The printer thread's state: renders every event above the prompt until the connection
/// ends, then reports why and, unless we are leaving, wakes the editor.
struct Printing<P> {
    /// rustyline's way to print above the prompt.
    printer: P,
    /// What the server sends.
    incoming: Incoming,
    /// How it looks.
    renderer: Renderer,
    /// The nickname for the prompt, and the wake.
    shared: Arc<Shared>,
    /// Where the reason the connection ended goes.
    ended: Signal<ChatError>,
}

impl<P: ExternalPrinter> Printing<P> {
    /// Whether `event` is the server's last word on a `/join` or `/part`: a `ROOM`, an
    /// `ERROR`, or our own `LEAVE` of a room that was not current (leaving the current one
    /// is followed by a `ROOM`).
    fn answers_a_room_change(&self, event: &Line) -> bool {
        match event {
            Line::Room { .. } | Line::Error { .. } => true,
            Line::Leave { room, nick, .. } => {
                same_name(nick, self.renderer.me())
                    && self.renderer.current().is_none_or(|current| !same_name(current, room))
            }
            _ => false,
        }
    }

    fn run(mut self) {
        let error = loop {
            match self.incoming.next_blocking() {
                Ok(event) => self.show(&event),
                Err(error) => break error,
            }
        };
        let _ = self.ended.try_send(error.into());
        if !self.shared.leaving.load(Ordering::SeqCst) {
            self.shared.wake.ring();
        }
    }

    fn show(&mut self, event: &Line) {
        let line = self.renderer.render(event);
        self.shared.set_prompt(&self.renderer);
        if let Some(line) = line {
            // Every line ends in a newline: rustyline adds none when it is not in raw mode.
            let _ = self.printer.print(format!("{line}\n"));
        }
        if self.answers_a_room_change(event) {
            let _ = self.shared.answered.0.try_send(());
        }
    }
}
