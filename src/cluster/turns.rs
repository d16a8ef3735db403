//! Turn-taking between this server's one log reader and its sessions (docs/CLUSTER.md,
//! "How the core replays the log"): every entry is applied in the log's order; another
//! server's entry by the reader itself, an entry of this server by the session that
//! appended it, while the reader waits. What entries mean is not this file's business:
//! bodies are bytes.
//!
//! A session calls [`Turns::append_and_wait`], which appends and resolves with a [`Turn`]
//! when the reader gets to that entry; the reader goes on when the turn is dropped.
//! [`run_reader`] is the reader's loop.
//!
//! The race: Redis gives an entry its id when it writes it, so the reader may read the
//! entry back before the session that appended it has learnt the id. Nobody can register
//! for an id before it exists, so this server counts its appends in flight instead: each
//! takes a ticket before it sends, and gives it up (under one lock) either by registering
//! the id it got, or by failing (an error, or the session's future dropped). The reader,
//! at an own entry nobody waits for, waits until it is registered or until no append that
//! was in flight when it got there remains: an append sent later cannot have made an entry
//! that was already read. So the reader waits at most one append's round trip, holds
//! nothing per entry, and decides exactly: an own entry whose session is gone (before or
//! after it registered) is applied by the reader's `apply`, like another server's.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_channel::{Receiver, Sender};

use super::log::{Appender, Entry, EntryId, LogError, Reader};
use super::ClusterError;

/// Where entries are appended: the Redis log ([`Appender`]), or a log of a test's own.
pub trait Append: Send + Sync + 'static {
    /// The server id written in every entry appended here.
    fn server(&self) -> &str;

    /// Appends `body`; resolves with where it landed.
    fn append(&self, body: &[u8]) -> impl Future<Output = Result<EntryId, LogError>> + Send;
}

impl Append for Appender {
    fn server(&self) -> &str {
        Appender::server(self)
    }

    fn append(&self, body: &[u8]) -> impl Future<Output = Result<EntryId, LogError>> + Send {
        Appender::append(self, body)
    }
}

impl<T: Append> Append for std::sync::Arc<T> {
    fn server(&self) -> &str {
        T::server(self)
    }

    fn append(&self, body: &[u8]) -> impl Future<Output = Result<EntryId, LogError>> + Send {
        T::append(self, body)
    }
}

/// Where entries are read back, in the log's order: the Redis log ([`Reader`]), or a log
/// of a test's own.
pub trait Follow: Send {
    /// The next entries, in order; may be empty (nothing came for a while).
    fn next(&mut self) -> impl Future<Output = Result<Vec<Entry>, LogError>> + Send;
}

impl Follow for Reader {
    fn next(&mut self) -> impl Future<Output = Result<Vec<Entry>, LogError>> + Send {
        Reader::next(self)
    }
}

impl From<LogError> for ClusterError {
    fn from(error: LogError) -> ClusterError {
        match error {
            LogError::Redis(error) => ClusterError::from(error),
            LogError::Malformed(what) => ClusterError::Unexpected(what),
        }
    }
}

/// The turn-taking of one server: shared by its sessions and its one reader. Cheap to
/// clone.
pub struct Turns<A = Appender> {
    /// What every clone shares.
    shared: Arc<Shared<A>>,
}

impl<A> Clone for Turns<A> {
    fn clone(&self) -> Turns<A> {
        Turns { shared: Arc::clone(&self.shared) }
    }
}

/// The state behind [`Turns`].
struct Shared<A> {
    /// Where sessions append.
    log: A,
    /// Who waits for what; never held across an await.
    state: Mutex<State>,
    /// Wakes the reader when [`State`] changed (a registration, an append that ended).
    /// Capacity one, filled with `try_send`: a change while the reader is busy leaves one
    /// wake-up for its next wait, and more are not needed.
    changed: Sender<()>,
    /// The reader's end of `changed`.
    wake: Receiver<()>,
}

/// Who waits for which entry.
#[derive(Default)]
struct State {
    /// The ticket the next append takes; tickets only grow.
    next_ticket: u64,
    /// The tickets of appends sent whose id is not registered yet.
    in_flight: BTreeSet<u64>,
    /// Sessions waiting for their entry, by its id, each with where to send its turn.
    waiting: HashMap<EntryId, Sender<Turn>>,
    /// The last own entry the reader went past: an id at or before it is registered too
    /// late (which the tickets rule out; checked so that a mistake fails, not hangs).
    passed: EntryId,
    /// The reader ended (a read failed, or its future was dropped): a session would wait
    /// forever, so it fails instead, until a reader runs again. False before the first
    /// reader starts, so that sessions may append before its task is first polled.
    stopped: bool,
}

impl<A: Append> Turns<A> {
    /// The turns of the server that appends through `log`. Entries are read back by
    /// [`run_reader`], of which one runs at a time; until it runs, sessions wait.
    pub fn new(log: A) -> Turns<A> {
        let (changed, wake) = async_channel::bounded(1);
        let state = Mutex::new(State::default());
        Turns { shared: Arc::new(Shared { log, state, changed, wake }) }
    }

    /// This server's id, as its entries carry it.
    pub fn server(&self) -> &str {
        self.shared.log.server()
    }

    /// Where this server appends.
    pub fn log(&self) -> &A {
        &self.shared.log
    }

    /// Appends `body` and waits until the reader gets to it; the reader then waits until
    /// the returned [`Turn`] is dropped. Dropping this future at any point never stalls
    /// the reader: the entry is then applied by the reader's `apply`.
    pub async fn append_and_wait(&self, body: &[u8]) -> Result<Turn, ClusterError> {
        // Take a ticket before sending, so that the reader knows this append may be
        // behind an own entry it reads meanwhile.
        let ticket = {
            let mut state = self.shared.lock();
            if state.stopped {
                return Err(reader_stopped());
            }
            let number = state.next_ticket;
            state.next_ticket += 1;
            state.in_flight.insert(number);
            Ticket { shared: self.shared.as_ref(), number }
        };
        let id = self.shared.log.append(body).await?;
        // Register the id, giving up the ticket in the same step.
        let (give, take) = async_channel::bounded(1);
        {
            let mut state = self.shared.lock();
            if state.stopped {
                return Err(reader_stopped());
            }
            if id <= state.passed {
                return Err(ClusterError::Unexpected(format!(
                    "the log's reader went past entry {id} before its session waited for it"
                )));
            }
            state.waiting.insert(id, give);
            state.in_flight.remove(&ticket.number);
        }
        mem::forget(ticket);
        self.shared.wake_reader();
        let mut turn = take.recv().await.map_err(|_| reader_stopped())?;
        turn.taken = true;
        Ok(turn)
    }
}

impl<A> Shared<A> {
    /// The state; a panic elsewhere while holding it leaves nothing half-done worth
    /// refusing over, so a poisoned lock is taken as is.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Tells the reader the state changed.
    fn wake_reader(&self) {
        let _ = self.changed.try_send(());
    }
}

/// Why a session's wait failed when no reader runs.
fn reader_stopped() -> ClusterError {
    ClusterError::Unexpected("the cluster log's reader is not running".into())
}

/// An append in flight; dropped without registering (an error, or the session's future
/// dropped), it tells the reader that this append will not claim any entry.
struct Ticket<'a, A> {
    /// Whose append.
    shared: &'a Shared<A>,
    /// Its number in [`State::in_flight`].
    number: u64,
}

impl<A> Drop for Ticket<'_, A> {
    fn drop(&mut self) {
        self.shared.lock().in_flight.remove(&self.number);
        self.shared.wake_reader();
    }
}

/// A session's turn at its own entry: while it lives, the reader waits; dropping it (or
/// [`Turn::done`]) lets the reader go on.
#[derive(Debug)]
pub struct Turn {
    /// The entry whose turn it is.
    entry: Entry,
    /// Tells the reader how the turn ended.
    back: Sender<Back>,
    /// The session received it; a turn dropped before that (its session went away) goes
    /// back to the reader with its entry, for `apply`.
    taken: bool,
}

/// How a turn came back to the reader.
#[derive(Debug)]
enum Back {
    /// The session applied the entry.
    Done,
    /// The session was gone before it got the turn: the reader applies the entry.
    Untaken(Entry),
}

impl Turn {
    /// The entry whose turn it is.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Hands the turn back to the reader (as dropping it does).
    pub fn done(self) {}
}

impl Drop for Turn {
    fn drop(&mut self) {
        let back = match self.taken {
            true => Back::Done,
            false => Back::Untaken(Entry {
                id: self.entry.id,
                server: mem::take(&mut self.entry.server),
                body: mem::take(&mut self.entry.body),
            }),
        };
        let _ = self.back.try_send(back);
    }
}

/// What the reader does with an own entry.
enum Own {
    /// A session waits for it.
    Hand(Sender<Turn>),
    /// Nobody does, nor will: the reader applies it.
    Nobody,
    /// An append that was in flight when the reader got here may still claim it.
    Undecided,
}

/// The reader's loop: reads `reader` and applies every entry in order. Another server's
/// entry (and an own entry whose session is gone) goes to `apply`; an own entry a session
/// waits for is that session's turn, and the loop goes on when the turn comes back.
/// Returns only when a read fails; the sessions waiting then fail too, and new ones fail
/// until it runs again (from where it stopped).
pub async fn run_reader<A, R, F, Fut>(
    mut reader: R,
    turns: Turns<A>,
    mut apply: F,
) -> Result<(), ClusterError>
where
    A: Append,
    R: Follow,
    F: FnMut(Entry) -> Fut,
    Fut: Future<Output = ()>,
{
    let shared = turns.shared.as_ref();
    shared.lock().stopped = false;
    // Also when this future is dropped: fail whoever waits.
    let _stop = Stop(shared);
    loop {
        for entry in reader.next().await? {
            if entry.server != shared.log.server() {
                apply(entry).await;
                continue;
            }
            match own(shared, entry.id).await {
                Some(give) => {
                    if let Some(entry) = hand(give, entry).await {
                        apply(entry).await;
                    }
                }
                None => apply(entry).await,
            }
        }
    }
}

/// Who will apply own entry `id`: the session to hand it to, or `None` for the reader.
async fn own<A>(shared: &Shared<A>, id: EntryId) -> Option<Sender<Turn>> {
    // Appends sent from now on cannot have made this entry: it was already read.
    let horizon = shared.lock().next_ticket;
    loop {
        let decision = {
            let mut state = shared.lock();
            let decision = match state.waiting.remove(&id) {
                Some(give) => Own::Hand(give),
                None if state.in_flight.range(..horizon).next().is_none() => Own::Nobody,
                None => Own::Undecided,
            };
            if !matches!(decision, Own::Undecided) {
                state.passed = id;
            }
            decision
        };
        match decision {
            Own::Hand(give) => return Some(give),
            Own::Nobody => return None,
            // `changed` is never closed: `shared` holds its sender.
            Own::Undecided => {
                let _ = shared.wake.recv().await;
            }
        }
    }
}

/// Hands `entry`'s turn through `give` and waits for it back; the entry again if its
/// session was gone, for the reader to apply.
async fn hand(give: Sender<Turn>, entry: Entry) -> Option<Entry> {
    let (back, returned) = async_channel::bounded(1);
    let turn = Turn { entry, back, taken: false };
    if let Err(refused) = give.try_send(turn) {
        // The session's future was dropped: the turn comes back through `returned`.
        drop(refused);
    }
    // Ours was the only sender: if the session drops its receiver, the turn in the channel
    // is dropped with it and comes back untaken.
    drop(give);
    match returned.recv().await {
        Ok(Back::Done) => None,
        Ok(Back::Untaken(entry)) => Some(entry),
        // A turn always sends before it goes.
        Err(_) => unreachable!("a turn went without coming back"),
    }
}

/// Marks the reader stopped when it ends, and fails the sessions that wait.
struct Stop<'a, A>(&'a Shared<A>);

impl<A> Drop for Stop<'_, A> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        // Their senders dropped, the waits fail.
        state.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use futures_lite::future;
    use smol::Timer;

    use super::*;

    /// A log in memory whose appends write the entry (the reader sees it at once) and
    /// answer only when the test opens `gate`: the race of an entry read back before its
    /// session learnt its id, every time.
    struct SlowLog {
        /// Where the entries go, for the reader.
        entries: Sender<Entry>,
        /// One message lets one append answer.
        gate: Receiver<()>,
        /// The last id given.
        last: AtomicU64,
    }

    impl Append for SlowLog {
        fn server(&self) -> &str {
            "a"
        }

        async fn append(&self, body: &[u8]) -> Result<EntryId, LogError> {
            let id = EntryId { ms: self.last.fetch_add(1, Ordering::Relaxed) + 1, seq: 0 };
            let entry = Entry { id, server: "a".into(), body: body.to_vec() };
            self.entries.send(entry).await.expect("the reader");
            self.gate.recv().await.expect("the test");
            Ok(id)
        }
    }

    /// Reads what [`SlowLog`] wrote.
    struct Tail(Receiver<Entry>);

    impl Follow for Tail {
        async fn next(&mut self) -> Result<Vec<Entry>, LogError> {
            let entry = self.0.recv().await.map_err(|_| LogError::Malformed("closed".into()))?;
            Ok(vec![entry])
        }
    }

    /// A server on a [`SlowLog`]: its turns, the gate of its appends, and what its reader
    /// applied.
    fn slow_server() -> (Turns<SlowLog>, Sender<()>, Receiver<Entry>) {
        let (entries, written) = async_channel::unbounded();
        let (open, gate) = async_channel::unbounded();
        let turns = Turns::new(SlowLog { entries, gate, last: AtomicU64::new(0) });
        let (applied, seen) = async_channel::unbounded();
        let apply = move |entry| {
            let applied = applied.clone();
            async move { applied.send(entry).await.expect("the test") }
        };
        smol::spawn(run_reader(Tail(written), turns.clone(), apply)).detach();
        (turns, open, seen)
    }

    /// Awaits `fut`, or panics after a while.
    async fn soon<T>(fut: impl Future<Output = T>) -> T {
        let late = async {
            Timer::after(Duration::from_secs(10)).await;
            panic!("timed out");
        };
        future::or(fut, late).await
    }

    #[test]
    fn an_entry_read_before_its_id_came_back_is_still_its_sessions_turn() {
        smol::block_on(soon(async {
            let (turns, open, seen) = slow_server();
            let waiting = smol::spawn({
                let turns = turns.clone();
                async move { turns.append_and_wait(b"mine").await.map(|turn| turn.entry().id) }
            });
            // The reader has the entry now, and must wait for the append in flight.
            Timer::after(Duration::from_millis(30)).await;
            assert!(seen.is_empty(), "the reader did not apply it itself");
            open.send(()).await.expect("the gate");
            let id = waiting.await.expect("the turn");
            assert_eq!(id, EntryId { ms: 1, seq: 0 });
            assert!(seen.is_empty());
        }));
    }

    #[test]
    fn an_entry_whose_session_left_before_its_id_came_back_goes_to_apply() {
        smol::block_on(soon(async {
            let (turns, open, seen) = slow_server();
            let mut leaving = Box::pin(turns.append_and_wait(b"left"));
            // Written, but its id not back yet: then the session goes.
            assert!(future::poll_once(&mut leaving).await.is_none());
            drop(leaving);
            let applied = seen.recv().await.expect("applied by the reader");
            assert_eq!(applied.body, b"left");
            // The reader goes on: the next session gets its turn.
            open.send(()).await.expect("the gate");
            let turn = turns.append_and_wait(b"next").await.expect("a turn");
            assert_eq!(turn.entry().body, b"next");
        }));
    }
}
