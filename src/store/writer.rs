//! The store's writer: the one thread that owns the database. It applies commands in the
//! order they were handed over and groups the changes that arrive within one commit
//! interval into one transaction, so a busy chat costs one fsync per interval, not one per
//! line.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use async_channel::{Receiver, Sender, TryRecvError};
use redb::{Database, Durability, ReadableTable, Table, TableError, WriteTransaction};
use smol::{future, Timer};
use tracing::{debug, error, info, warn};

use super::history::{self, HistoryTable, Spans, ACCOUNTS, HISTORY, ROOMS};
use super::queue::Command;
use super::record::{self, RecordError};
use super::retention::{self, Retention};
use super::stats::Counters;
use super::Fault;
use crate::core::{Change, MemoryError, Scope, Stamped};

/// How often history is trimmed by age (besides once at start).
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// How long a writer with a transaction open sleeps when nothing is queued: a question
/// (`recall`, `settle`) waits at most this long for its answer to start.
const POLL: Duration = Duration::from_millis(2);

/// Empty polls in a row before the writer waits instead: a steady stream keeps the
/// queue from ever being empty that long, and a trickle costs a wait per line, not a
/// wake-up every [`POLL`].
const POLLS: u32 = 5;

/// A wait long enough to stand for "never", which `Instant` can still hold.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How long after a failure the database is first opened again. Each opening after a
/// failure runs redb's repair pass over the whole file, so while it keeps failing (a disk
/// that stays full) the wait doubles, up to [`REOPEN_AT_MOST`].
const REOPEN_FIRST: Duration = Duration::from_secs(1);

/// The longest wait between two openings of a database that keeps failing.
const REOPEN_AT_MOST: Duration = Duration::from_secs(60);

/// Opens the database again, after a failure closed it.
pub type Reopen = Box<dyn Fn() -> Result<Database, String> + Send>;

/// When a database that failed is opened again: [`REOPEN_FIRST`] after the first failure,
/// twice as long after each failure since, until a commit works.
#[derive(Debug, Clone, Copy)]
struct Reopening {
    /// Not before then.
    next: Option<Instant>,
    /// How long the next failure makes it wait.
    wait: Duration,
}

impl Default for Reopening {
    fn default() -> Reopening {
        Reopening { next: None, wait: REOPEN_FIRST }
    }
}

impl Reopening {
    /// Whether it may be opened at `now`.
    fn due(&self, now: Instant) -> bool {
        self.next.is_none_or(|next| now >= next)
    }

    /// It failed at `now`, open or opening.
    fn failed(&mut self, now: Instant) {
        self.next = Some(now + self.wait);
        self.wait = (self.wait * 2).min(REOPEN_AT_MOST);
    }
}

/// The writer thread's state.
pub struct Writer {
    /// The database, owned by this thread alone; `None` after a failure closed it and
    /// it could not be opened again yet.
    db: Option<Database>,
    /// Opens the database again: after an I/O error (a full disk) redb refuses every
    /// transaction until it is reopened.
    reopen: Reopen,
    /// When the database may be opened again after a failure.
    reopening: Reopening,
    /// The commands, in the order they were handed over.
    commands: Receiver<Command>,
    /// How much history to keep and how often to commit.
    retention: Retention,
    /// What the store reports in its stats.
    counters: Arc<Counters>,
    /// The sequence numbers of each scope written to.
    spans: Spans,
    /// When history is next trimmed by age.
    next_trim: Instant,
    /// Why changes were lost since the last settle was answered, for the next one to say.
    unreported: Option<String>,
    /// Dropped changes that a settle has already owned up to.
    dropped_reported: u64,
}

/// What waiting for the next command brought.
enum Next {
    /// A command.
    Command(Command),
    /// The deadline passed first.
    Timeout,
    /// The store closed and every command was taken.
    Closed,
}

/// What one transaction has done so far.
#[derive(Default)]
struct Batch {
    /// Changes written; none, and the transaction is not committed.
    changes: u64,
    /// Of which history records written.
    history: u64,
    /// Why the transaction failed, if it did.
    failure: Option<String>,
    /// The settle that ended it, with its dropped count, to answer after the commit.
    settle: Option<(u64, Sender<Result<(), MemoryError>>)>,
    /// Whether the store closed while it was open.
    closed: bool,
}

impl Batch {
    /// Notes that the transaction failed.
    fn failed(&mut self, error: impl Into<Fault>) {
        self.failure = Some(error.into().0);
    }
}

/// The tables of one write transaction.
struct Tables<'t> {
    /// What was said.
    history: HistoryTable<'t>,
    /// Accounts by nickname fold.
    accounts: Table<'t, &'static str, &'static [u8]>,
    /// Registered rooms by name fold.
    rooms: Table<'t, &'static str, &'static [u8]>,
}

impl<'t> Tables<'t> {
    /// Opens every table in `txn`.
    fn open(txn: &'t WriteTransaction) -> Result<Tables<'t>, TableError> {
        Ok(Tables {
            history: txn.open_table(HISTORY)?,
            accounts: txn.open_table(ACCOUNTS)?,
            rooms: txn.open_table(ROOMS)?,
        })
    }
}

impl Writer {
    /// A writer of `db` taking commands from `commands`, which opens it again with
    /// `reopen` after a failure; history is trimmed as soon as it runs.
    pub fn new(
        db: Database,
        reopen: Reopen,
        commands: Receiver<Command>,
        retention: Retention,
        counters: Arc<Counters>,
    ) -> Writer {
        Writer {
            db: Some(db),
            reopen,
            reopening: Reopening::default(),
            commands,
            retention,
            counters,
            spans: Spans::default(),
            next_trim: Instant::now(),
            unreported: None,
            dropped_reported: 0,
        }
    }

    /// Runs until the store closes and every command has been applied and committed.
    pub fn run(mut self) {
        loop {
            if Instant::now() >= self.next_trim {
                self.trim();
            }
            match self.next(self.next_trim, false) {
                Next::Command(Command::Keep(change)) => {
                    if self.batch(change) {
                        break;
                    }
                }
                // Nothing is pending: every earlier change is committed, or was lost.
                Next::Command(Command::Settle { dropped, reply }) => {
                    let answer = self.settle_answer(None, dropped);
                    let _ = reply.try_send(answer);
                }
                Next::Command(Command::Recall { scope, last, reply }) => {
                    let _ = reply.try_send(self.recall_committed(&scope, last));
                }
                Next::Timeout => {}
                Next::Closed => break,
            }
        }
        debug!("the store's writer has stopped");
    }

    /// The next command, or [`Next::Timeout`] once `deadline` has passed. Waiting on the
    /// channel costs a timer and a wake-up per command, which under a steady stream is
    /// most of the writer's work; so within a transaction (`polling`) the writer takes
    /// what has queued up, and when nothing has, sleeps [`POLL`] before it looks again.
    fn next(&self, deadline: Instant, polling: bool) -> Next {
        let mut polls = if polling { POLLS } else { 0 };
        loop {
            // The deadline first: under a steady stream a command is always ready.
            let now = Instant::now();
            if now >= deadline {
                return Next::Timeout;
            }
            match self.commands.try_recv() {
                Ok(command) => return self.taken(command),
                Err(TryRecvError::Closed) => return Next::Closed,
                // A few polls find a stream; a trickle is better waited for.
                Err(TryRecvError::Empty) if polls > 0 => {
                    polls -= 1;
                    std::thread::sleep(POLL.min(deadline - now));
                }
                Err(TryRecvError::Empty) => return self.wait(deadline),
            }
        }
    }

    /// Waits for the next command, or [`Next::Timeout`] at `deadline`: for an idle writer,
    /// which should wake for nothing else.
    fn wait(&self, deadline: Instant) -> Next {
        let command = async {
            match self.commands.recv().await {
                Ok(command) => self.taken(command),
                Err(_closed) => Next::Closed,
            }
        };
        let timeout = async {
            Timer::at(deadline).await;
            Next::Timeout
        };
        smol::block_on(future::or(command, timeout))
    }

    /// `command`, taken off the queue: a change no longer counts against its length.
    fn taken(&self, command: Command) -> Next {
        if matches!(command, Command::Keep(_)) {
            self.counters.unqueued();
        }
        Next::Command(command)
    }

    /// Applies `first` and every command that follows within one commit interval (or up
    /// to a settle) in one transaction, commits it and answers the settle; returns
    /// whether the store closed meanwhile.
    fn batch(&mut self, first: Change) -> bool {
        // An interval too long for the clock means: commit only when asked or closing.
        let now = Instant::now();
        let deadline = now.checked_add(self.retention.commit_interval).unwrap_or(now + FOREVER);
        let mut batch = Batch::default();
        let txn = match self.database() {
            Ok(db) => db.begin_write().map_err(Fault::from),
            Err(closed) => {
                // `first` is lost with the rest.
                batch.changes += 1;
                self.drain(deadline, &mut batch);
                Err(closed)
            }
        };
        match txn {
            Ok(mut txn) => {
                txn.set_durability(Durability::Immediate);
                if let Err(error) = self.fill(&txn, first, deadline, &mut batch) {
                    batch.failed(error);
                }
                self.finish(txn, &mut batch);
            }
            Err(error) => batch.failed(error),
        }
        if let Some(reason) = &batch.failure {
            error!(%reason, changes = batch.changes, "the store lost changes");
            self.close_failed();
        } else {
            self.reopening = Reopening::default();
        }
        match batch.settle.take() {
            Some((dropped, reply)) => {
                let answer = self.settle_answer(batch.failure.take(), dropped);
                let _ = reply.try_send(answer);
            }
            None => self.unreported = batch.failure.take().or(self.unreported.take()),
        }
        batch.closed
    }

    /// The database, opened again first if a failure closed it and its wait is over, so
    /// that a disk that filled up and was freed again loses only the changes of
    /// meanwhile, not every one until a restart.
    fn database(&mut self) -> Result<&Database, Fault> {
        if self.db.is_none() && self.reopening.due(Instant::now()) {
            match (self.reopen)() {
                Ok(db) => {
                    info!("the store is open again");
                    self.db = Some(db);
                }
                Err(reason) => {
                    error!(%reason, "could not open the store again");
                    self.reopening.failed(Instant::now());
                }
            }
        }
        let closed = || Fault("the store is closed after a failure, until it opens again".into());
        self.db.as_ref().ok_or_else(closed)
    }

    /// Closes the database after a failure, to be opened again before its next use: redb
    /// refuses every transaction after an I/O error until then. The spans may count
    /// records that were never committed.
    fn close_failed(&mut self) {
        self.spans.forget();
        if self.db.take().is_some() {
            self.reopening.failed(Instant::now());
        }
    }

    /// Takes the commands until `deadline`, a settle or the store's closing, while there
    /// is no database to write them to: they are lost together, in one error, not one
    /// error a change.
    fn drain(&mut self, deadline: Instant, batch: &mut Batch) {
        loop {
            match self.next(deadline, true) {
                Next::Command(Command::Keep(_)) => batch.changes += 1,
                Next::Command(Command::Recall { reply, .. }) => {
                    let _ = reply.try_send(Vec::new());
                }
                Next::Command(Command::Settle { dropped, reply }) => {
                    batch.settle = Some((dropped, reply));
                    return;
                }
                Next::Timeout => return,
                Next::Closed => {
                    batch.closed = true;
                    return;
                }
            }
        }
    }

    /// Applies `first`, then commands until `deadline`, a settle or the store's closing.
    fn fill(
        &mut self,
        txn: &WriteTransaction,
        first: Change,
        deadline: Instant,
        batch: &mut Batch,
    ) -> Result<(), Fault> {
        let mut tables = Tables::open(txn)?;
        self.apply(&mut tables, first, batch)?;
        loop {
            match self.next(deadline, true) {
                Next::Command(Command::Keep(change)) => self.apply(&mut tables, change, batch)?,
                Next::Command(Command::Recall { scope, last, reply }) => {
                    let _ = reply.try_send(self.recall_from(&tables.history, &scope, last));
                }
                Next::Command(Command::Settle { dropped, reply }) => {
                    batch.settle = Some((dropped, reply));
                    return Ok(());
                }
                Next::Timeout => return Ok(()),
                Next::Closed => {
                    batch.closed = true;
                    return Ok(());
                }
            }
        }
    }

    /// Applies one change to the open transaction.
    fn apply(
        &mut self,
        tables: &mut Tables<'_>,
        change: Change,
        batch: &mut Batch,
    ) -> Result<(), Fault> {
        match change {
            Change::Said { scope, event } => {
                if self.said(&mut tables.history, &scope, &event)? {
                    batch.history += 1;
                    batch.changes += 1;
                }
            }
            Change::Account { fold, account } => {
                let record = account.as_ref().map(record::encode_account);
                batch.changes += u64::from(put(&mut tables.accounts, &fold, record)?);
            }
            Change::Room { fold, record } => {
                let record = record.as_ref().map(record::encode_room);
                batch.changes += u64::from(put(&mut tables.rooms, &fold, record)?);
            }
            Change::Forget { account } => {
                let deleted =
                    retention::forget_account(&mut tables.history, &mut self.spans, &account)?;
                debug!(deleted, "forgot a dropped account's private history");
                batch.changes += 1;
            }
        }
        Ok(())
    }

    /// Appends what was said to its scope's history, unless history is kept at all;
    /// returns whether it was written.
    fn said(
        &mut self,
        table: &mut HistoryTable<'_>,
        scope: &Scope,
        said: &Stamped,
    ) -> Result<bool, redb::StorageError> {
        let keep = self.retention.keep();
        if keep == 0 {
            return Ok(false);
        }
        let bytes = match record::encode_said(said) {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(%error, "not keeping an event in history");
                return Ok(false);
            }
        };
        history::append(table, &mut self.spans, &history::scope_key(scope), &bytes, keep)?;
        Ok(true)
    }

    /// Commits the transaction if it wrote anything, and counts it.
    fn finish(&mut self, txn: WriteTransaction, batch: &mut Batch) {
        if batch.changes == 0 {
            if let Err(error) = txn.abort() {
                batch.failed(error);
            }
            return;
        }
        let began = Instant::now();
        match txn.commit() {
            Ok(()) => self.counters.committed(batch.changes, batch.history, began.elapsed()),
            Err(error) => batch.failed(error),
        }
    }

    /// The answer to a settle: an error if this transaction failed, if an earlier one
    /// did since the last answer, or if changes were dropped before the settle was asked.
    fn settle_answer(&mut self, failure: Option<String>, dropped: u64) -> Result<(), MemoryError> {
        let earlier = self.unreported.take();
        let newly_dropped = dropped.saturating_sub(self.dropped_reported);
        self.dropped_reported = self.dropped_reported.max(dropped);
        match failure.or(earlier) {
            Some(reason) => Err(MemoryError::Write(reason)),
            None if newly_dropped > 0 => Err(MemoryError::Write(format!(
                "{newly_dropped} changes were dropped because its queue was full"
            ))),
            None => Ok(()),
        }
    }

    /// The end of `scope`'s history as `table` holds it.
    fn recall_from(
        &self,
        table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
        scope: &Scope,
        last: usize,
    ) -> Vec<Stamped> {
        let since = self.retention.since(SystemTime::now());
        match history::recall(table, &history::scope_key(scope), last, since) {
            Ok(said) => said,
            Err(error) => {
                error!(%error, "could not read history");
                Vec::new()
            }
        }
    }

    /// The end of `scope`'s history as committed, when no transaction is open.
    fn recall_committed(&mut self, scope: &Scope, last: usize) -> Vec<Stamped> {
        let table = self
            .database()
            .and_then(|db| db.begin_read().map_err(Fault::from))
            .and_then(|txn| txn.open_table(HISTORY).map_err(Fault::from));
        match table {
            Ok(table) => self.recall_from(&table, scope, last),
            Err(error) => {
                error!(%error, "could not read history");
                Vec::new()
            }
        }
    }

    /// Trims history by length and age, and sets when to do it next.
    fn trim(&mut self) {
        self.next_trim = Instant::now() + TRIM_EVERY;
        // Scopes written to long ago (rooms gone, conversations over) leave the cache;
        // the next write to one reads its span again.
        self.spans.forget();
        match self.trim_now() {
            Ok(0) => {}
            Ok(deleted) => debug!(deleted, "trimmed history"),
            Err(error) => {
                self.close_failed();
                error!(%error, "could not trim history");
            }
        }
    }

    /// Trims history in a transaction of its own; returns how many records it deleted.
    fn trim_now(&mut self) -> Result<u64, Fault> {
        let mut txn = self.database()?.begin_write()?;
        txn.set_durability(Durability::Immediate);
        let since = self.retention.since(SystemTime::now());
        let deleted = {
            let mut table = txn.open_table(HISTORY)?;
            retention::trim(&mut table, &mut self.spans, self.retention.keep(), since)?
        };
        if deleted == 0 {
            txn.abort()?;
        } else {
            txn.commit()?;
        }
        Ok(deleted)
    }
}

/// Writes `record` under `fold`, or deletes what is there for `None`; returns whether it
/// did (a record that cannot be encoded is skipped with a warning).
fn put(
    table: &mut Table<'_, &'static str, &'static [u8]>,
    fold: &str,
    record: Option<Result<Vec<u8>, RecordError>>,
) -> Result<bool, redb::StorageError> {
    match record {
        None => {
            table.remove(fold)?;
        }
        Some(Ok(bytes)) => {
            table.insert(fold, bytes.as_slice())?;
        }
        Some(Err(error)) => {
            warn!(fold, %error, "not keeping a record");
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_that_keeps_failing_is_opened_ever_less_often() {
        let start = Instant::now();
        let mut reopening = Reopening::default();
        assert!(reopening.due(start));
        let mut waits = Vec::new();
        let mut now = start;
        for _ in 0..8 {
            reopening.failed(now);
            let next = reopening.next.expect("a time to open again");
            assert!(!reopening.due(next - Duration::from_millis(1)) && reopening.due(next));
            waits.push((next - now).as_secs());
            now = next;
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
