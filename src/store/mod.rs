//! The embedded store: history, accounts and registered rooms in one redb file in the data
//! directory, behind the core's [`Memory`].
//!
//! - [`Store::open`] locks and reads the file once at startup, and hands back every
//!   account and registered room ([`Recalled`]).
//! - [`Memory::keep`] puts a change in a queue of bounded length and returns; a full queue drops it
//!   and counts it, so the core never waits for a disk.
//! - One writer thread (`writer.rs`) owns the database and commits what arrives within
//!   [`Retention::commit_interval`] in one transaction and one fsync; `settled` and
//!   `recall` go through the same queue, so they answer after every change before them.
//!   A failed transaction (a full disk) closes the database, and the writer opens it
//!   again a second later (redb refuses every transaction after an I/O error until it is
//!   reopened); while it keeps failing, twice as long each time, up to a minute.
//! - Each scope keeps its last [`Retention::history_len`] records, none older than
//!   [`Retention::history_age`] (`retention.rs`), in a versioned byte format of its own
//!   (`record.rs`). A dropped account's conversations are deleted whole (`history.rs`).
//!
//! Dropping the [`Store`] (or [`Store::close`]) commits what is pending and waits for the
//! writer to finish, so a clean shutdown loses nothing.

pub(crate) mod history;
pub(crate) mod queue;
pub(crate) mod record;
mod retention;
mod stats;
mod writer;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use async_channel::Sender;
use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata, StorageError};
use thiserror::Error;
use tracing::{error, info, warn};

pub use record::RecordError;
pub use retention::Retention;
pub use stats::StoreStats;

use crate::core::{Change, Memory, MemoryError, MemoryStats, Recalled, Recalling, Scope, Stamped};
use history::{ACCOUNTS, HISTORY, ROOMS};
use queue::Command;
use stats::Counters;
use writer::{Reopen, Writer};

/// The store's file, in the data directory.
const FILE: &str = "smolchat.redb";

/// The most memory redb may use to cache pages (its default is 1 GiB): history is read
/// rarely, and mostly at its end.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Why the store could not open.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The data directory could not be made.
    #[error("could not create the data directory {}: {reason}", .path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// Another process has the store open.
    #[error(
        "the data directory {} is in use by another smolchat-server ({FILE} is locked)",
        .path.display()
    )]
    InUse {
        /// The data directory.
        path: PathBuf,
    },
    /// The file could not be opened as a store.
    #[error("could not open the store {}: {reason}", .path.display())]
    Open {
        /// The store's file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// The file is damaged past what redb reports as an error (it panicked reading it).
    #[error(
        "the store {} is damaged ({reason}): move it away to start with an empty store",
        .path.display()
    )]
    Damaged {
        /// The store's file.
        path: PathBuf,
        /// What redb said as it gave up.
        reason: String,
    },
    /// The store opened but could not be read.
    #[error("could not read the store {}: {reason}", .path.display())]
    Read {
        /// The store's file.
        path: PathBuf,
        /// What redb said.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("could not start the store's writer thread: {reason}")]
    Thread {
        /// What the system said.
        reason: String,
    },
}

/// A failure of the database, as text: the store only ever logs it or passes it on, and
/// redb's own error is too large to return on every path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fault(String);

impl<E: Into<redb::Error>> From<E> for Fault {
    fn from(error: E) -> Fault {
        Fault(error.into().to_string())
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The embedded store, open on one data directory. Implements [`Memory`].
#[derive(Debug)]
pub struct Store {
    /// The queue to the writer thread; closed to stop it.
    commands: Sender<Command>,
    /// How many changes the queue holds before it drops them.
    queue: usize,
    /// The writer thread, joined when the store closes.
    writer: Mutex<Option<JoinHandle<()>>>,
    /// What the store has done, shared with the writer.
    counters: Arc<Counters>,
    /// The store's file, for its size.
    path: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `dir`, creating the directory if needed, and
    /// starts its writer thread. Blocks: call it once, at startup.
    pub fn open(dir: &Path, retention: Retention) -> Result<(Store, Recalled), StoreError> {
        make_dir(dir)?;
        let path = dir.join(FILE);
        let (db, recalled, history) = unpanicked(&path, || {
            let db = open_database(dir, &path)?;
            let read_failed = |Fault(reason)| StoreError::Read { path: path.clone(), reason };
            let (recalled, history) = load(&db).map_err(read_failed)?;
            Ok((db, recalled, history))
        })?;
        info!(
            path = %path.display(),
            accounts = recalled.accounts.len(),
            rooms = recalled.rooms.len(),
            history,
            "store opened"
        );
        let (dir, file) = (dir.to_owned(), path.clone());
        let reopen: Reopen = Box::new(move || {
            unpanicked(&file, || open_database(&dir, &file)).map_err(|error| error.to_string())
        });
        let store = Store::start(db, reopen, retention, path)?;
        Ok((store, recalled))
    }

    /// Starts the writer thread on `db`, the database in the file at `path`, which
    /// `reopen` opens again after a failure.
    fn start(
        db: Database,
        reopen: Reopen,
        retention: Retention,
        path: PathBuf,
    ) -> Result<Store, StoreError> {
        let counters = Arc::new(Counters::new());
        // Unbounded, with its length counted beside it: a bounded channel would allocate
        // all of its slots at once (8 MB for this one), where this one grows with use.
        let (commands, receiver) = async_channel::unbounded();
        let writer = Writer::new(db, reopen, receiver, retention, counters.clone());
        let writer = thread::Builder::new()
            .name("smolchat-store".into())
            .spawn(move || writer.run())
            .map_err(|error| StoreError::Thread { reason: error.to_string() })?;
        let queue = retention.queue;
        let writer = Mutex::new(Some(writer));
        Ok(Store { commands, queue, writer, counters, path })
    }

    /// What the store has done so far, and how big its file is.
    pub fn stats(&self) -> StoreStats {
        let file_bytes = fs::metadata(&self.path).map_or(0, |meta| meta.len());
        self.counters.snapshot(file_bytes)
    }

    /// Commits what is pending and stops the writer, waiting for it (up to one commit
    /// interval and an fsync). Whatever is handed over afterwards is dropped and counted.
    /// The server calls it once it has stopped, whoever still holds the store; dropping
    /// the last handle does the same.
    pub fn close(&self) {
        self.commands.close();
        let writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                error!("the store's writer thread panicked: recent changes may be lost");
            }
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.close();
    }
}

impl Memory for Store {
    fn keep(&self, change: Change) {
        if !self.counters.queue(self.queue) {
            self.counters.dropped(true);
        } else if self.commands.try_send(Command::Keep(change)).is_err() {
            self.counters.unqueued();
            self.counters.dropped(false);
        }
    }

    fn settled(&self) -> Recalling<'_, Result<(), MemoryError>> {
        Box::pin(queue::settle(&self.commands, self.counters.dropped_so_far()))
    }

    fn recall(&self, scope: Scope, last: usize) -> Recalling<'static, Vec<Stamped>> {
        queue::recall(&self.commands, scope, last)
    }

    fn stats(&self) -> Option<MemoryStats> {
        let stats = Store::stats(self);
        Some(MemoryStats {
            commits: stats.commits,
            changes: stats.changes,
            history_written: stats.history_written,
            dropped: stats.dropped,
            bytes: stats.file_bytes,
        })
    }
}

/// Runs `open`, turning a panic into [`StoreError::Damaged`]: redb asserts, rather than
/// returns an error, on some damage (a file cut short), and a server that will not start
/// must say which file to look at. The panic's own message is still printed first.
fn unpanicked<T>(
    path: &Path,
    open: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)).unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "redb panicked".to_string());
        Err(StoreError::Damaged { path: path.to_owned(), reason })
    })
}

/// Makes the data directory (readable by its owner alone) if it is not there.
fn make_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|error| StoreError::Directory { path: dir.to_owned(), reason: error.to_string() })
}

/// Opens (or creates) the database at `path`, in the data directory `dir`.
fn open_database(dir: &Path, path: &Path) -> Result<Database, StoreError> {
    let mut builder = Database::builder();
    // The v3 format is the only one redb 3 opens, so a later upgrade needs no migration.
    builder.create_with_file_format_v3(true).set_cache_size(CACHE_BYTES);
    let warned = AtomicBool::new(false);
    // redb runs its repair pass over a file it has just created too: only one that was
    // there before can have been left unclean.
    let existed = path.exists();
    builder.set_repair_callback(move |_| {
        if existed && !warned.swap(true, Ordering::Relaxed) {
            warn!("the store was not closed cleanly: repairing it, which may take a while");
        }
    });
    builder.create(path).map_err(|error| match error {
        DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: dir.to_owned() },
        other => StoreError::Open { path: path.to_owned(), reason: other.to_string() },
    })
}

/// Creates the tables if they are new, and reads every account and registered room, and
/// how many history records there are.
fn load(db: &Database) -> Result<(Recalled, u64), Fault> {
    let txn = db.begin_write()?;
    let loaded = {
        let accounts = read_all(&txn.open_table(ACCOUNTS)?, record::decode_account, "account")?;
        let rooms = read_all(&txn.open_table(ROOMS)?, record::decode_room, "room")?;
        let history = txn.open_table(HISTORY)?.len()?;
        (Recalled { accounts, rooms }, history)
    };
    txn.commit()?;
    Ok(loaded)
}

/// Every record of a table keyed by fold, read with `decode`; a record that does not read
/// is skipped with a warning.
fn read_all<T>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    decode: fn(&[u8]) -> Result<T, RecordError>,
    what: &str,
) -> Result<Vec<(Arc<str>, T)>, StorageError> {
    let mut all = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        match decode(value.value()) {
            Ok(one) => all.push((key.value().into(), one)),
            Err(error) => warn!(fold = key.value(), %error, "skipping a corrupt {what} record"),
        }
    }
    Ok(all)
}
