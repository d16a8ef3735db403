//! The core's [`Order`] in a cluster: a change a session asks for is appended to the log
//! as an [`Op`] and applied when this server's reader gets to it (docs/CLUSTER.md, "How
//! the core replays the log").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_lite::future;
use smol::Timer;
use tracing::{debug, warn};

use super::body::Body;
use super::health::Health;
use super::log::Appender;
use super::op::{Client, Op};
use super::turns::{Append, Turns};
use super::ServerId;
use crate::core::{ClientId, Intent, Order, Place, Unavailable, Waiting};

/// How long a change may wait for its turn before it is refused: Redis's own answer
/// time, twice (one append, and the reader's read of it).
const TURN_TIMEOUT: Duration = Duration::from_secs(4);

/// How long to wait between attempts to tell the cluster of a departure it missed.
const OWED_RETRY: Duration = Duration::from_millis(500);

/// Which connection of the cluster each ghost here is: the core numbers ghosts itself.
pub type Ghosts = Arc<Mutex<HashMap<ClientId, Client>>>;

/// Puts this server's changes in the cluster's log.
pub struct LogOrder {
    /// The log, and this server's turns at it.
    turns: Turns<Arc<Appender>>,
    /// This server.
    server: ServerId,
    /// Who the ghosts here are, kept by the reader.
    ghosts: Ghosts,
    /// Whether the log is in reach.
    health: Arc<Health>,
}

impl LogOrder {
    /// Orders the changes of `server` through `turns`; the ghosts' ids are read in
    /// `ghosts`, and changes are refused at once while `health` says the log is away.
    pub fn new(
        turns: Turns<Arc<Appender>>,
        server: ServerId,
        ghosts: Ghosts,
        health: Arc<Health>,
    ) -> LogOrder {
        LogOrder { turns, server, ghosts, health }
    }

    /// The cluster's name for the connection the core numbers `id`: a ghost's, or one of
    /// this server's.
    fn client(&self, id: ClientId) -> Client {
        let ghosts = self.ghosts.lock().unwrap_or_else(PoisonError::into_inner);
        ghosts.get(&id).cloned().unwrap_or_else(|| Client { server: self.server.clone(), id })
    }

    /// Appends `op` and waits for its turn, within [`TURN_TIMEOUT`].
    async fn place(&self, op: &Op) -> Result<Place, Unavailable> {
        if !self.health.is_up() {
            return Err(Unavailable);
        }
        let bytes = op.encode().map_err(|error| {
            warn!(%error, "an operation cannot be written; refused");
            Unavailable
        })?;
        let body = Body::Operation(&bytes).encode();
        let late = async {
            Timer::after(TURN_TIMEOUT).await;
            None
        };
        match future::or(async { Some(self.turns.append_and_wait(&body).await) }, late).await {
            Some(Ok(turn)) => Ok(Place::new(turn)),
            Some(Err(error)) => {
                debug!(%error, "an operation was not ordered");
                Err(Unavailable)
            }
            None => {
                debug!("an operation waited too long for its turn");
                Err(Unavailable)
            }
        }
    }

    /// Keeps appending `op` (a departure) until it lands, so that every server, this one
    /// included, takes off someone who left here while the log was out of reach, at the
    /// same entry (this server's replica applies it, finding them by id). Gives up once
    /// this server is gone (its log dropped), whose people are gone with it.
    fn owe(&self, op: Op) {
        let Ok(bytes) = op.encode() else { return };
        let body = Body::Operation(&bytes).encode();
        let log = Arc::downgrade(self.turns.log());
        smol::spawn(async move {
            while let Some(log) = log.upgrade() {
                match log.append(&body).await {
                    Ok(_) => return,
                    Err(error) => debug!(%error, "a departure is still owed to the cluster"),
                }
                drop(log);
                Timer::after(OWED_RETRY).await;
            }
        })
        .detach();
    }
}

impl Order for LogOrder {
    fn turn(&self, client: ClientId, intent: Intent) -> Waiting<'_> {
        Box::pin(async move {
            let op = Op::of(self.client(client), intent);
            let placed = self.place(&op).await;
            if placed.is_err() && matches!(op, Op::Quit { .. }) {
                self.owe(op);
            }
            placed
        })
    }
}
