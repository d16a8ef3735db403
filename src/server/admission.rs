//! Who gets in: the connection limits (the whole server's, and each address's), and the
//! ticket an admitted connection holds while it lasts.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_channel::Sender;

use super::guesses::Guesses;
use super::metrics::Metrics;
use super::password::ServerPassword;
use super::stop::Stop;
use super::Config;
use crate::core::Chat;
use crate::proto::chat::ErrorCode;

/// Which connection limit a newcomer hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// The server is at `max_clients`.
    Server {
        /// The limit.
        max: usize,
    },
    /// This address is at `max_per_ip`.
    Address {
        /// The limit.
        max: usize,
    },
}

/// What every connection task shares.
pub struct Shared {
    /// The limits.
    pub config: Config,
    /// Everyone online and every room.
    pub chat: Arc<Chat>,
    /// Open connections, registered or not, checked against `max_clients`.
    clients: AtomicUsize,
    /// Open connections per address, checked against `max_per_ip`.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    /// The password every client must give (`--password-file`), with each address's
    /// budget of wrong ones; `None` lets anyone in.
    pub password: Option<ServerPassword>,
    /// Raised when the server stops, waking every connection waiting for input.
    pub stop: Arc<Stop>,
    /// What `/metrics` shows.
    pub metrics: Metrics,
    /// Each address's and each account's budget of wrong account passwords.
    pub guesses: Guesses,
}

/// Proof of one admitted connection: counts it while alive, and its drop tells `run` that
/// one fewer connection is still finishing.
pub struct Ticket {
    /// What every connection shares.
    pub shared: Arc<Shared>,
    /// Who is connected: its address is counted against `max_per_ip`.
    pub peer: SocketAddr,
    /// Dropped last thing, it tells `run` the connection has finished.
    _alive: Sender<()>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.shared.clients.fetch_sub(1, Ordering::Relaxed);
        let mut per_ip = self.shared.lock_per_ip();
        if let Some(count) = per_ip.get_mut(&self.peer.ip()) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.peer.ip());
            }
        }
    }
}

impl Shared {
    /// The state for a server with `config` running `chat`. The password file, if any, is
    /// read now: an error names it, and the server does not start.
    pub fn new(config: Config, chat: Arc<Chat>) -> io::Result<Shared> {
        let password = ServerPassword::load(&config)?;
        let (clients, per_ip) = (AtomicUsize::new(0), Mutex::new(HashMap::new()));
        let metrics = Metrics::new(chat.stats().clone(), chat.memory().clone());
        let guesses = Guesses::new(&config);
        let stop = Arc::default();
        Ok(Shared { config, chat, clients, per_ip, password, stop, metrics, guesses })
    }

    /// Admits a connection from `peer`, or says which limit it hits (and counts the
    /// refusal under the chat protocol's code for it). `alive` is held by the ticket until
    /// the connection has finished.
    pub fn admit(self: &Arc<Shared>, peer: SocketAddr, alive: &Sender<()>) -> Result<Ticket, Full> {
        if let Err(full) = self.try_count(peer.ip()) {
            let code = match full {
                Full::Server { .. } => ErrorCode::ServerFull,
                Full::Address { .. } => ErrorCode::TooManyConnections,
            };
            self.metrics.refused(code.as_str());
            return Err(full);
        }
        Ok(Ticket { shared: self.clone(), peer, _alive: alive.clone() })
    }

    /// The per-address counts. The lock is held for a map update only, never across an
    /// await, and a panic elsewhere cannot leave the counts unusable.
    fn lock_per_ip(&self) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.per_ip.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts a new connection from `ip`, or says which limit it hits.
    fn try_count(&self, ip: IpAddr) -> Result<(), Full> {
        let max = self.config.max_clients;
        if self.clients.fetch_add(1, Ordering::Relaxed) >= max {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            return Err(Full::Server { max });
        }
        let max = self.config.max_per_ip;
        let mut per_ip = self.lock_per_ip();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= max {
            drop(per_ip);
            self.clients.fetch_sub(1, Ordering::Relaxed);
            return Err(Full::Address { max });
        }
        *count += 1;
        Ok(())
    }
}
