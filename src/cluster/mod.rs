//! Several servers, one chat: what servers sharing one Redis keep there, so that their
//! people meet as on one server.
//!
//! Redis does the distribution: every change that must be decided once for the whole
//! cluster is one Lua script, which Redis runs atomically, so two servers racing for the
//! same thing get one answer each and exactly one of them wins. A server proves it is alive
//! by renewing a lease (a key with an expiry); what belongs to a server whose lease is gone
//! is free for the others to take. Every key starts with [`PREFIX`].
//!
//! So far: [`names`], nicknames unique across the cluster, [`log`], the one stream of
//! events every server appends to and reads back in one order, and [`RedisMemory`], the
//! accounts, registered rooms and history every server shares, and [`turns`], how the
//! log's reader and this server's sessions take turns applying its entries, [`body`],
//! what kind an entry is, [`op`], what an operation entry asks every server to apply,
//! and [`presence`], which servers are alive by the log's heartbeats.

pub mod body;
mod error;
pub mod log;
mod memory;
pub mod names;
pub mod op;
mod owner;
pub mod presence;
pub mod turns;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use error::ClusterError;
pub use memory::RedisMemory;
pub use names::{ClaimError, Holder, Names};
pub use owner::{Owner, ServerId};

/// What every key smolchat keeps in Redis starts with.
pub const PREFIX: &str = "smolchat:";

/// How long a request to Redis may take before it fails with [`ClusterError::Timeout`],
/// unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to the Redis at `url` (`redis://HOST:PORT`). Requests that take longer than
/// `timeout` fail with [`ClusterError::Timeout`]; a lost connection is made again on the
/// next request. The connection runs on smol; no tokio runtime is involved.
pub async fn connect(url: &str, timeout: Duration) -> Result<ConnectionManager, ClusterError> {
    let client = redis::Client::open(url)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    Ok(ConnectionManager::new_with_config(client, config).await?)
}
