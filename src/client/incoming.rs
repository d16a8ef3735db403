//! The receiving half run as its own task, so that waiting for a server line can be raced
//! against other things (typed input, timers) without ever cancelling a read or a `PING`
//! answer halfway.

use async_channel::Receiver;
use smol::Task;

use super::connection::{ClientError, Events};
use crate::proto::chat::Line;

/// How many received events may wait for their reader before the task stops reading.
const BACKLOG: usize = 1024;

/// Server events arriving from a background task; ends with the error that ended them.
#[derive(Debug)]
pub struct Incoming {
    /// Events in order, then exactly one error.
    events: Receiver<Result<Line, ClientError>>,
    /// The task reading the socket; dropping `Incoming` stops it.
    _task: Task<()>,
}

impl Incoming {
    /// Starts reading `events` on the global executor.
    pub fn spawn(mut events: Events) -> Incoming {
        let (tx, rx) = async_channel::bounded(BACKLOG);
        let task = smol::spawn(async move {
            loop {
                let next = match events.next().await {
                    // `BYE` is the end, and its reason is what the person needs to read.
                    Ok(Line::Bye { reason }) => Err(ClientError::Bye(reason)),
                    other => other,
                };
                let last = next.is_err();
                if tx.send(next).await.is_err() || last {
                    return;
                }
            }
        });
        Incoming { events: rx, _task: task }
    }

    /// The next event, or the error that ended the connection (then `Closed` from there on).
    pub async fn next(&self) -> Result<Line, ClientError> {
        self.events.recv().await.unwrap_or(Err(ClientError::Closed))
    }

    /// [`Incoming::next`] for a plain thread.
    pub fn next_blocking(&self) -> Result<Line, ClientError> {
        self.events.recv_blocking().unwrap_or(Err(ClientError::Closed))
    }
}
