//! The printer thread of the interactive client: it prints what the server sends above
//! the prompt, learns names for Tab, and reconnects when the connection is lost, while the
//! main thread keeps the line editor. [`Shared`] is everything the two threads share.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use async_channel::{Receiver, Sender as Signal};
use futures_lite::future;
use rustyline::ExternalPrinter;
use smol::Timer;

use super::connection::{Client, Events, Sender, Welcome};
use super::incoming::Incoming;
use super::render::{clean, same_name, Renderer, Style};
use super::resume::{reconnect, Backoff, Resume};
use super::roster::Roster;
use super::session::{ChatError, Destination};
use super::wake::Wake;
use crate::proto::chat::{Command, Line};

/// Where the session lives beyond one connection: what reconnecting and showing need.
pub(super) struct Place {
    /// Where to reconnect, with the server's password if one was given or typed.
    pub(super) destination: Destination,
    /// How lines look.
    pub(super) style: Style,
    /// The names Tab completes, shared with the editor.
    pub(super) roster: Arc<Mutex<Roster>>,
}

/// What the main thread and the printer thread share.
#[derive(Debug)]
pub(super) struct Shared {
    /// The prompt: our current room and nickname as the server last told them.
    prompt: Mutex<String>,
    /// The sending half of the current connection; replaced after a reconnection.
    sender: Mutex<Sender>,
    /// False from the loss of a connection until the next one: a line typed meanwhile is
    /// kept rather than written to a dead socket.
    pub(super) connected: AtomicBool,
    /// Set once we are leaving on purpose: the end of the connection is then expected.
    pub(super) leaving: AtomicBool,
    /// Closed when we leave, to cut short a wait before reconnecting.
    pub(super) stop: (Signal<()>, Receiver<()>),
    /// The names Tab completes.
    roster: Arc<Mutex<Roster>>,
    /// What a reconnection must take again.
    resume: Mutex<Resume>,
    /// Holds a token once the server has answered a room change (`ROOM`, `ERROR`, or our
    /// own `LEAVE` of a room that was not current).
    pub(super) answered: (Signal<()>, Receiver<()>),
    /// Wakes the editor when the client must end without having been asked to.
    pub(super) wake: Wake,
}

impl Shared {
    /// What the two threads share, for the client sending on `sender`, which knows what to
    /// take up again from `resume`. From now on SIGINT only interrupts the line editor
    /// (see [`Wake`]).
    pub(super) fn new(sender: Sender, resume: Resume, roster: Arc<Mutex<Roster>>) -> Shared {
        Shared {
            prompt: Mutex::new(String::new()),
            sender: Mutex::new(sender),
            connected: AtomicBool::new(true),
            leaving: AtomicBool::new(false),
            stop: async_channel::bounded(1),
            roster,
            resume: Mutex::new(resume),
            answered: async_channel::bounded(1),
            wake: Wake::install(),
        }
    }

    /// The prompt to show now.
    pub(super) fn prompt(&self) -> String {
        self.prompt.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The sending half of the connection of the moment.
    pub(super) fn sender(&self) -> Sender {
        self.sender.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether we are leaving on purpose.
    pub(super) fn is_leaving(&self) -> bool {
        self.leaving.load(Ordering::SeqCst)
    }

    /// Learns names and places from a server line.
    pub(super) fn note(&self, line: &Line) {
        self.roster.lock().unwrap_or_else(|e| e.into_inner()).follow(line);
        self.resume.lock().unwrap_or_else(|e| e.into_inner()).follow(line);
    }

    /// Notes a line sent, for the password a reconnection identifies with.
    pub(super) fn sent(&self, line: &str) {
        self.resume.lock().unwrap_or_else(|e| e.into_inner()).typed(line);
    }

    /// Shows our room and nickname as `renderer` last saw them.
    pub(super) fn set_prompt(&self, renderer: &Renderer) {
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

/// The printer thread's state: renders every event above the prompt, reconnects when the
/// connection is lost, and when it ends for good reports why and, unless we are leaving,
/// wakes the editor.
pub(super) struct Printing<P> {
    /// rustyline's way to print above the prompt.
    printer: P,
    /// What the server sends.
    incoming: Incoming,
    /// How it looks.
    renderer: Renderer,
    /// Where to reconnect, and how lines look after.
    place: Place,
    /// The nickname for the prompt, and the wake.
    shared: Arc<Shared>,
    /// Where the reason the connection ended goes.
    ended: Signal<ChatError>,
    /// Rooms whose members we asked for ourselves, for Tab (the server tells them only when
    /// asked): their `NAMES` answer is learnt but not shown.
    asked: Vec<String>,
    /// The waits between attempts to reconnect, kept from one loss to the next.
    backoff: Backoff,
}

impl<P: ExternalPrinter + Send + 'static> Printing<P> {
    /// Starts the printer thread, reading `events` and printing through `printer`;
    /// returns where the reason the client must end will arrive.
    pub(super) fn start(
        printer: P,
        events: Events,
        renderer: Renderer,
        place: Place,
        shared: Arc<Shared>,
    ) -> Result<Receiver<ChatError>, ChatError> {
        let (ended, reason) = async_channel::bounded(1);
        let incoming = Incoming::spawn(events);
        let mut backoff = Backoff::default();
        backoff.connected(Instant::now());
        let printing = Printing {
            printer,
            incoming,
            renderer,
            place,
            shared,
            ended,
            asked: Vec::new(),
            backoff,
        };
        thread::Builder::new()
            .name("smolchat-printer".into())
            .spawn(move || printing.run())
            .map_err(|error| ChatError::Terminal(error.to_string()))?;
        Ok(reason)
    }
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

    /// Asks who is in the rooms we landed in, then shows events and reconnects until we
    /// leave or reconnecting gives up.
    fn run(mut self) {
        let rooms = self.shared.resume.lock().unwrap_or_else(|e| e.into_inner()).rooms().to_vec();
        rooms.iter().for_each(|room| self.ask_names(room));
        let error = loop {
            let lost = self.read_until_lost();
            self.shared.connected.store(false, Ordering::SeqCst);
            if self.shared.is_leaving() {
                break lost;
            }
            match self.reconnect(lost) {
                Ok((client, welcome)) => self.take_place(client, &welcome),
                Err(error) => break error,
            }
        };
        let _ = self.ended.try_send(error);
        if !self.shared.is_leaving() {
            self.shared.wake.ring();
        }
    }

    /// Shows events until the connection ends; returns why.
    fn read_until_lost(&mut self) -> ChatError {
        loop {
            match self.incoming.next_blocking() {
                Ok(event) => self.show(&event),
                Err(error) => return error.into(),
            }
        }
    }

    /// Reconnects with backoff, saying so above the prompt, until it works, the server
    /// refuses for good, or we leave.
    fn reconnect(&mut self, lost: ChatError) -> Result<(Client, Welcome), ChatError> {
        let resume = self.shared.resume.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let printer = &mut self.printer;
        let stop = &self.shared.stop.1;
        let wait = |attempt: u32, delay: Duration, why: &ChatError| {
            let what = if attempt == 1 { "connection lost" } else { "cannot reconnect" };
            let seconds = delay.as_secs();
            let _ = printer.print(format!("*** {what} ({why}); reconnecting in {seconds}s\n"));
            let stop = stop.clone();
            async move {
                let slept = async {
                    Timer::after(delay).await;
                    true
                };
                future::or(slept, async { stop.recv().await.is_ok() }).await
            }
        };
        let backoff = &mut self.backoff;
        smol::block_on(reconnect(&self.place.destination, &resume, lost, backoff, wait))
    }

    /// Carries on over a new connection, as its newly registered self.
    fn take_place(&mut self, client: Client, welcome: &Welcome) {
        let (events, sender) = client.split();
        if self.shared.is_leaving() {
            // `/quit` came while reconnecting: this connection is not wanted either.
            let _ = smol::block_on(sender.quit(None));
        }
        *self.shared.sender.lock().unwrap_or_else(|e| e.into_inner()) = sender;
        self.incoming = Incoming::spawn(events);
        self.asked.clear();
        self.renderer = Renderer::new(&welcome.nick, self.place.style);
        self.place.roster.lock().unwrap_or_else(|e| e.into_inner()).restart(&welcome.nick);
        self.shared.connected.store(true, Ordering::SeqCst);
        let _ = self.printer.print(format!("*** reconnected as {}\n", clean(&welcome.nick)));
        self.show(&welcome.line());
    }

    fn show(&mut self, event: &Line) {
        self.shared.note(event);
        if self.was_asked(event) {
            return;
        }
        if let Line::Join { room, nick } = event {
            if same_name(nick, self.renderer.me()) {
                self.ask_names(room);
            }
        }
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

    /// Asks who is in `room`, quietly; a lost connection is noticed by the reader.
    fn ask_names(&mut self, room: &str) {
        let names = Command::Names(Some(room.to_string()));
        if smol::block_on(self.shared.sender().send(&names)).is_ok() {
            self.asked.push(room.to_string());
        }
    }

    /// Whether `event` answers our own [`Printing::ask_names`], which nobody typed.
    fn was_asked(&mut self, event: &Line) -> bool {
        let Line::Names { room, .. } = event else { return false };
        let Some(at) = self.asked.iter().position(|asked| same_name(asked, room)) else {
            return false;
        };
        self.asked.remove(at);
        true
    }
}
