//! The queue from a [`Memory`](crate::core::Memory) to its writer: the changes, and the
//! questions that must be answered after every change handed over before them. The store
//! (redb) and the cluster's memory (Redis) share it; each writes in its own way.

use async_channel::Sender;

use crate::core::{Change, MemoryError, Recalling, Scope, Stamped};

/// What a memory asks of its writer, in one queue so that every answer comes after every
/// change handed over before the question.
#[derive(Debug)]
pub enum Command {
    /// A change to keep.
    Keep(Change),
    /// Write what is pending now, and answer once it is durable.
    Settle {
        /// The memory's dropped changes when this was asked, so the answer can own up to
        /// changes that never reached the writer.
        dropped: u64,
        /// Where the answer goes.
        reply: Sender<Result<(), MemoryError>>,
    },
    /// Answer with the end of a scope's history, pending changes included.
    Recall {
        /// Whose history.
        scope: Scope,
        /// How many records at most.
        last: usize,
        /// Where the answer goes.
        reply: Sender<Vec<Stamped>>,
    },
}

/// [`Memory::settled`](crate::core::Memory::settled) through `commands`, with `dropped`
/// changes dropped so far. Waits for room in the queue: a question is never dropped.
pub async fn settle(commands: &Sender<Command>, dropped: u64) -> Result<(), MemoryError> {
    let (reply, answer) = async_channel::bounded(1);
    commands.send(Command::Settle { dropped, reply }).await.map_err(|_| MemoryError::Closed)?;
    answer.recv().await.unwrap_or(Err(MemoryError::Closed))
}

/// [`Memory::recall`](crate::core::Memory::recall) through `commands`: asked now, not when
/// first polled, so that the answer follows every change before the call; nothing when the
/// queue is closed.
pub fn recall(
    commands: &Sender<Command>,
    scope: Scope,
    last: usize,
) -> Recalling<'static, Vec<Stamped>> {
    let (reply, answer) = async_channel::bounded(1);
    let asked = commands.try_send(Command::Recall { scope, last, reply }).is_ok();
    Box::pin(async move {
        if !asked {
            return Vec::new();
        }
        answer.recv().await.unwrap_or_default()
    })
}
