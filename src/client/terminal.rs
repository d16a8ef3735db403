//! The interactive client: a rustyline prompt, with incoming lines printed above it.
//!
//! The main thread owns the line editor and sends what is typed. A printer thread
//! ([`Printing`]) renders what arrives and hands it to rustyline's `ExternalPrinter`, whose
//! `print` may block, so it never runs on the executor; the global executor reads the
//! socket. When the connection is lost, the printer thread reconnects by itself while the
//! editor keeps the half-typed line; only when it gives up does it wake the editor to end
//! the client.

use std::io::{self, Write as _};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_channel::Receiver;
use futures_lite::future;
use smol::Timer;

use super::connection::{Client, ClientError, Events, Welcome};
use super::editor::{Editor, Typed};
use super::input::{Input, CLIENT_HELP};
use super::printer::{Place, Printing, Shared};
use super::render::{clean, Renderer, Style};
use super::resume::Resume;
use super::roster::Roster;
use super::session::{connect_asking, within, ChatError, Options, Secret, REGISTER_TIMEOUT};
use crate::proto::chat::{Command, Line};

/// After `/quit`, how long to wait for the server to close the connection.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// After `/join` or `/part`, how long the next prompt waits for the server's answer, so it
/// shows the room plain text now goes to.
const ROOM_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs the interactive client until the person leaves, or the connection ends and cannot
/// be made again.
pub fn run(options: &Options) -> Result<(), ChatError> {
    let roster = Arc::new(Mutex::new(Roster::default()));
    let mut editor = Editor::open(options.history.clone(), roster.clone())?;
    let mut destination = options.destination.clone();
    let mut typed = None;
    let asking = |wrong: Option<&str>| {
        typed = ask_password(wrong);
        typed.clone()
    };
    let mut client = smol::block_on(connect_asking(&options.destination, asking))?;
    // Kept in memory for reconnecting, as the password file's would be.
    if let Some(password) = typed {
        destination.password = Some(Secret(password));
    }
    let Some(welcome) = choose_nick(&mut editor, &mut client, options.nick.as_deref())? else {
        return Ok(());
    };
    let place = Place { destination, style: Style::for_stdout(options.timestamps), roster };
    let result = chat(&mut editor, client, &welcome, place);
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
            None => match editor.read("nickname: ", "")? {
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
            Err(ClientError::Refused { text, .. }) => say(&clean(&text)),
            Err(error) => return Err(error.into()),
        }
    }
}

/// Writes one line to standard output; a closed terminal is not worth a panic.
fn say(line: &str) {
    let _ = writeln!(io::stdout(), "{line}");
}

/// The registered part: prints what arrives, sends what is typed.
fn chat(
    editor: &mut Editor,
    client: Client,
    welcome: &Welcome,
    place: Place,
) -> Result<(), ChatError> {
    let (mut events, sender) = client.split();
    let mut renderer = Renderer::new(&welcome.nick, place.style);
    say(&renderer.render(&welcome.line()).unwrap_or_default());
    place.roster.lock().unwrap_or_else(|e| e.into_inner()).restart(&welcome.nick);
    let mut resume = Resume::new(&welcome.nick);
    // Until the first prompt Ctrl-C still ends the client, and a server that never says
    // which room we are in is given up on.
    let settling = settle_in(&mut events, &mut renderer, &place.roster, &mut resume);
    smol::block_on(within(REGISTER_TIMEOUT, "say which room we are in", settling))?;
    let shared = Arc::new(Shared::new(sender, resume, place.roster.clone()));
    shared.set_prompt(&renderer);
    let ended = Printing::start(editor.printer()?, events, renderer, place, shared.clone())?;
    let outcome = converse(editor, &shared, &ended);
    shared.wake.answer();
    outcome
}

/// Prints what follows the welcome up to the server's first `ROOM` line, so the first
/// prompt already shows the room plain text goes to, learning names and rooms on the way.
async fn settle_in(
    events: &mut Events,
    renderer: &mut Renderer,
    roster: &Mutex<Roster>,
    resume: &mut Resume,
) -> Result<(), ChatError> {
    loop {
        let line = events.next().await?;
        roster.lock().unwrap_or_else(|e| e.into_inner()).follow(&line);
        resume.follow(&line);
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
    shared: &Shared,
    ended: &Receiver<ChatError>,
) -> Result<(), ChatError> {
    // A line that could not be sent, offered again for editing.
    let mut draft = String::new();
    loop {
        if let Ok(error) = ended.try_recv() {
            return Err(error);
        }
        let line = match editor.read(&shared.prompt(), &std::mem::take(&mut draft))? {
            Typed::Line(line) => line,
            // Ctrl-C clears the line; a wake is noticed at the top of the loop.
            Typed::Interrupted => continue,
            Typed::Eof => return leave(None, shared, ended),
        };
        let sent = match Input::parse(&line) {
            Input::Empty => continue,
            Input::Quit(reason) => {
                editor.remember(&line);
                return leave(reason, shared, ended);
            }
            Input::Help => {
                CLIENT_HELP.iter().for_each(|text| say(&format!("*** {text}")));
                send(shared, "/help", ended)?
            }
            Input::Send(text) if changes_room(text) => {
                while shared.answered.1.try_recv().is_ok() {}
                let sent = send(shared, text, ended)?;
                if sent {
                    wait_for(&shared.answered.1, ROOM_TIMEOUT);
                }
                sent
            }
            Input::AskPassword(verb) => match ask_secret(verb) {
                Some(password) => send(shared, &format!("{verb} {password}"), ended)?,
                None => true,
            },
            Input::Send(text) => send(shared, text, ended)?,
        };
        editor.remember(&line);
        if !sent {
            draft = line;
        }
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

/// Sends a typed line: `true` if sent, `false` if the connection is down and being made
/// again (the line is then kept for later). An error is why the client must end.
fn send(shared: &Shared, line: &str, ended: &Receiver<ChatError>) -> Result<bool, ChatError> {
    let written = shared.connected.load(Ordering::SeqCst)
        && smol::block_on(shared.sender().send_line(line)).is_ok();
    if written {
        shared.sent(line);
        return Ok(true);
    }
    // The printer thread sees the loss too, and says why; it ends the client only if it
    // gives up reconnecting.
    if let Ok(error) = ended.try_recv() {
        return Err(error);
    }
    say("*** not connected: the line is kept; send it again once reconnected");
    Ok(false)
}

/// Sends `/quit` and waits until the server has closed the connection, so every line it
/// still had for us is printed and nothing sent is lost; a reconnection under way stops.
fn leave(
    reason: Option<&str>,
    shared: &Shared,
    ended: &Receiver<ChatError>,
) -> Result<(), ChatError> {
    shared.leaving.store(true, Ordering::SeqCst);
    shared.stop.0.close();
    let _ = smol::block_on(shared.sender().quit(reason));
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
