//! Who gets in: the connection limits (the whole server's, and each address's), and the
//! ticket an admitted connection holds while it lasts.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_channel::Sender;

use super::budget::address_key;
use super::guesses::Guesses;
use super::metrics::Metrics;
use super::password::ServerPassword;
use super::refusal::Refusals;
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
    /// The refusals of connections over the limits that are under way.
    pub refusals: Arc<Refusals>,
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
        let key = address_key(self.peer.ip());
        let mut per_ip = self.shared.lock_per_ip();
        if let Some(count) = per_ip.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&key);
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
        let refusals = Arc::default();
        Ok(Shared { config, chat, clients, per_ip, password, stop, metrics, guesses, refusals })
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

    /// Counts a new connection from `ip`, or says which limit it hits. An address is
    /// counted as the password budgets count it ([`address_key`]): an IPv4 host that also
    /// comes in over IPv6 as `::ffff:a.b.c.d` is one host, and so is an IPv6 host that
    /// picks a new address in its /64 for each connection.
    fn try_count(&self, ip: IpAddr) -> Result<(), Full> {
        let ip = address_key(ip);
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

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    fn shared(max_per_ip: usize) -> Arc<Shared> {
        let config = Config { max_per_ip, ..Config::default() };
        let chat = Arc::new(Chat::new(config.limits()));
        Arc::new(Shared::new(config, chat).expect("no password file"))
    }

    fn at(ip: IpAddr) -> SocketAddr {
        SocketAddr::new(ip, 40000)
    }

    #[test]
    fn one_host_over_ipv4_and_ipv4_mapped_ipv6_is_one_address() {
        let shared = shared(1);
        let (alive, _alive_rx) = async_channel::bounded(1);
        let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped());
        let ticket = shared.admit(at(v4), &alive).expect("the first connection");
        assert!(matches!(shared.admit(at(mapped), &alive), Err(Full::Address { max: 1 })));
        drop(ticket);
        assert!(shared.admit(at(mapped), &alive).is_ok(), "counted down under the same key");
    }

    #[test]
    fn an_ipv6_host_is_its_64() {
        let shared = shared(2);
        let (alive, _alive_rx) = async_channel::bounded(1);
        let host = |last| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, last));
        let _first = shared.admit(at(host(1)), &alive).expect("first");
        let _second = shared.admit(at(host(2)), &alive).expect("second");
        assert!(matches!(shared.admit(at(host(3)), &alive), Err(Full::Address { max: 2 })));
        let elsewhere = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 2, 0, 0, 0, 1));
        assert!(shared.admit(at(elsewhere), &alive).is_ok(), "another /64 is another host");
    }
}
