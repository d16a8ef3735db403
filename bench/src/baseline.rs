//! `--baseline-server ADDR`: the simplest fast chat server, to measure smolchat against.
//!
//! Standard library only: one blocking thread per client, and the thread that reads a line
//! writes it straight to every member's socket with a blocking `write_all`, under one lock,
//! with `TCP_NODELAY` on. No queues, no batching, no executor. It is not a product: one
//! client that stops reading stalls everyone, and it checks next to nothing. It is the floor
//! of what a message to N sockets costs on this kernel.
//!
//! With `--baseline-writers N` the reading thread writes the first of N even shares of the
//! members and hands each other share to a helper thread of its own, then waits for them
//! before the room's next line: the plainest fan-out over N cores, to show what spreading
//! the writes can gain at best.
//!
//! It speaks just enough of the chat protocol (docs/PROTOCOL.md) for the bench's handshake
//! and talk in one room, `#lobby`: the `NICK` prompt, `WELCOME`, `JOIN #lobby nick` and
//! `ROOM #lobby`, then `MSG #lobby nick text` for each line of text, the sender included.
//! Other commands are answered `ERROR unknown-command`, so `--rooms` runs are refused.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use super::fd_limit;

/// The one room.
const ROOM: &str = "#lobby";

/// The longest client line read, as smolchat's default `--max-line`; longer ones are dropped.
const MAX_LINE: usize = 4096;

/// The longest nickname accepted, as smolchat's default `--max-nick`.
const MAX_NICK: usize = 32;

/// A client thread needs little stack: one line buffer and a few frames.
const CLIENT_STACK: usize = 128 * 1024;

/// Enough descriptors for S3's and S5's ten thousand clients.
const WANTED_FDS: u64 = 20_000;

/// One client in the room: its number, to find it again, and a handle to write to it.
#[derive(Debug)]
struct Member {
    /// Unique for the server's life.
    id: u64,
    /// A clone of the client's socket; written only while the room is locked, by the
    /// thread holding the lock or a helper it waits for.
    socket: Arc<TcpStream>,
}

/// A share of a line's writes handed to a helper: the line and the members' sockets.
type Share = (Arc<[u8]>, Vec<Arc<TcpStream>>);

/// The one room: its members, and the helpers that write shares of each line.
#[derive(Debug)]
struct State {
    /// Everyone in the room, in the order they joined.
    members: Vec<Member>,
    /// One sender per helper thread.
    helpers: Vec<Sender<Share>>,
    /// A helper says here that it has written its share.
    done: Receiver<()>,
}

/// The room. Writes to any member happen under this lock, so lines never interleave and
/// every member sees the room's lines in one order.
type Room = Arc<Mutex<State>>;

/// Binds `addr`, prints `listening on chat://ADDR` (the line scripts read the port from,
/// as smolchat-server logs it) and serves until the process is killed.
pub fn run(addr: &str, writers: usize) -> io::Result<()> {
    fd_limit::raise_open_files(WANTED_FDS);
    let listener = TcpListener::bind(addr)?;
    println!("listening on chat://{}", listener.local_addr()?);
    io::stdout().flush()?;
    serve(listener, writers)
}

/// Accepts clients on `listener` forever, one thread each; each line is written by
/// `writers` threads (at least one).
pub fn serve(listener: TcpListener, writers: usize) -> io::Result<()> {
    let room = open_room(writers)?;
    let mut next_id = 0u64;
    for accepted in listener.incoming() {
        let socket = match accepted {
            Ok(socket) => socket,
            // Out of descriptors, or a client gone before it was accepted: keep serving
            // the others, and give the system a moment to free what it lacks.
            Err(error) => {
                eprintln!("accept failed: {error}");
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        next_id += 1;
        let (room, id) = (room.clone(), next_id);
        let spawned = thread::Builder::new()
            .name(format!("baseline-{id}"))
            .stack_size(CLIENT_STACK)
            .spawn(move || client(&room, id, socket));
        if let Err(error) = spawned {
            eprintln!("cannot start a client thread: {error}");
        }
    }
    Ok(())
}

/// Serves one client from its first byte to its last, then takes it out of the room.
fn client(room: &Room, id: u64, socket: TcpStream) {
    // A small line goes out at once, not after a delayed ACK: the point of the floor.
    let _ = socket.set_nodelay(true);
    let result = register(room, id, &socket).and_then(|(nick, reader)| talk(room, &nick, reader));
    lock(room).members.retain(|member| member.id != id);
    let _ = socket.shutdown(Shutdown::Both);
    if let Err(error) = result {
        if error.kind() != io::ErrorKind::UnexpectedEof {
            eprintln!("client {id}: {error}");
        }
    }
}

/// Asks for a nickname until one will do, then puts the client in the room. Returns the
/// nickname and the reader, which may hold bytes already read past the nickname.
fn register(
    room: &Room,
    id: u64,
    socket: &TcpStream,
) -> io::Result<(String, BufReader<TcpStream>)> {
    let mut reader = BufReader::new(socket.try_clone()?);
    let mut line = Vec::with_capacity(MAX_LINE);
    (&*socket).write_all(b"NICK choose a nickname\n")?;
    loop {
        if !read_line(&mut reader, &mut line)? {
            continue;
        }
        if line == b"/quit" {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match nick_of(&line) {
            Some(nick) => {
                enter(room, id, socket, &nick)?;
                return Ok((nick, reader));
            }
            None => (&*socket).write_all(b"ERROR nick-invalid\nNICK choose a nickname\n")?,
        }
    }
}

/// A line as a nickname, if it can be one here: 1 to [`MAX_NICK`] bytes of UTF-8 without
/// spaces or a leading `/`. Names in use are not checked: the bench's are all different.
fn nick_of(line: &[u8]) -> Option<String> {
    let nick = std::str::from_utf8(line).ok()?;
    let fits = (1..=MAX_NICK).contains(&nick.len());
    let plain = !nick.starts_with('/') && !nick.contains(char::is_whitespace);
    (fits && plain).then(|| nick.to_string())
}

/// Welcomes the client, announces it to the room and itself, and tells it where it is, all
/// under the lock, so its own `JOIN` comes before anything else of the room.
fn enter(room: &Room, id: u64, socket: &TcpStream, nick: &str) -> io::Result<()> {
    let member = Member { id, socket: Arc::new(socket.try_clone()?) };
    let mut state = lock(room);
    let online = state.members.len() + 1;
    (&*socket).write_all(format!("WELCOME {nick} {online} online smolchat/2\n").as_bytes())?;
    state.members.push(member);
    broadcast(&mut state, format!("JOIN {ROOM} {nick}\n").as_bytes());
    (&*socket).write_all(format!("ROOM {ROOM}\n").as_bytes())
}

/// Reads the client's lines until it leaves; each line of text goes to the whole room.
fn talk(room: &Room, nick: &str, mut reader: BufReader<TcpStream>) -> io::Result<()> {
    let mut line = Vec::with_capacity(MAX_LINE);
    let prefix = format!("MSG {ROOM} {nick} ");
    let mut out = Vec::with_capacity(prefix.len() + MAX_LINE + 1);
    loop {
        if !read_line(&mut reader, &mut line)? {
            continue;
        }
        let text = match line.strip_prefix(b"/") {
            Some(b"quit") => return Ok(()),
            Some(rest) if rest.starts_with(b"quit ") => return Ok(()),
            Some(rest) if rest.starts_with(b"/") => rest,
            // The bench's answer to a ping the baseline never sends.
            Some(rest) if rest.starts_with(b"pong") => continue,
            Some(_) => {
                let members = lock(room);
                reader.get_ref().write_all(b"ERROR unknown-command\n")?;
                drop(members);
                continue;
            }
            None => &line[..],
        };
        out.clear();
        out.extend_from_slice(prefix.as_bytes());
        out.extend_from_slice(text);
        out.push(b'\n');
        broadcast(&mut lock(room), &out);
    }
}

/// Writes `line` to every member: the first share here, the others by the helpers, which
/// this waits for. A member whose socket fails has it shut, so its own thread sees the end
/// and leaves the room.
fn broadcast(state: &mut State, line: &[u8]) {
    let share = state.members.len().div_ceil(state.helpers.len() + 1).max(1);
    let (mine, theirs) = state.members.split_at(share.min(state.members.len()));
    let mut handed = 0;
    if !theirs.is_empty() {
        let line: Arc<[u8]> = line.into();
        for (helper, members) in state.helpers.iter().zip(theirs.chunks(share)) {
            let sockets: Vec<_> = members.iter().map(|member| member.socket.clone()).collect();
            match helper.send((line.clone(), sockets)) {
                Ok(()) => handed += 1,
                // A helper that is gone leaves its share to this thread.
                Err(mpsc::SendError((line, sockets))) => {
                    sockets.iter().for_each(|socket| write_or_shut(socket, &line));
                }
            }
        }
    }
    for member in mine {
        write_or_shut(&member.socket, line);
    }
    for _ in 0..handed {
        let _ = state.done.recv();
    }
}

/// Writes `line` to `socket`, or shuts it if that fails.
fn write_or_shut(socket: &TcpStream, line: &[u8]) {
    if (&*socket).write_all(line).is_err() {
        let _ = socket.shutdown(Shutdown::Both);
    }
}

/// An empty room whose lines `writers` threads write: this one and `writers - 1` helpers.
fn open_room(writers: usize) -> io::Result<Room> {
    let (done_tx, done) = mpsc::channel();
    let mut helpers = Vec::new();
    for n in 1..writers {
        let (tx, shares) = mpsc::channel::<Share>();
        let done_tx = done_tx.clone();
        thread::Builder::new().name(format!("baseline-helper-{n}")).spawn(move || {
            for (line, sockets) in shares {
                sockets.iter().for_each(|socket| write_or_shut(socket, &line));
                let _ = done_tx.send(());
            }
        })?;
        helpers.push(tx);
    }
    Ok(Arc::new(Mutex::new(State { members: Vec::new(), helpers, done })))
}

/// Reads one line into `line` without its `\r\n`. `Ok(false)` for a line to skip: blank,
/// or longer than [`MAX_LINE`] (read to its end and dropped). The end of the stream is
/// `UnexpectedEof`.
fn read_line(reader: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 2;
    let n = reader.by_ref().take(limit).read_until(b'\n', line)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if line.last() != Some(&b'\n') {
        skip_rest_of_line(reader)?;
        return Ok(false);
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(!line.iter().all(|b| *b == b' ' || *b == b'\t'))
}

/// Consumes bytes up to and including the next `\n`, without keeping them.
fn skip_rest_of_line(reader: &mut BufReader<TcpStream>) -> io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// Locks the room. A thread that panicked while holding it left the list whole (pushes and
/// retains do not tear), so a poisoned lock is used as it is.
fn lock(room: &Room) -> MutexGuard<'_, State> {
    room.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_are_single_words_of_modest_length() {
        assert_eq!(nick_of(b"b7").as_deref(), Some("b7"));
        assert_eq!(nick_of(b""), None);
        assert_eq!(nick_of(b"two words"), None);
        assert_eq!(nick_of(b"/help"), None);
        assert_eq!(nick_of(&[b'a'; MAX_NICK + 1]), None);
        assert_eq!(nick_of(&[0xff, 0xfe]), None);
    }
}
