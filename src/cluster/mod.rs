//! Several servers, one chat (docs/CLUSTER.md): every server appends the changes its
//! people ask for to one Redis stream, the log, and applies the whole log, its own
//! entries included, in the log's one order. Everyone of the cluster is online on every
//! server: a server's own people with their queues, the others' as ghosts.
//!
//! - [`Node`] joins a cluster: the core, ordered by the log, and the tasks that keep it.
//! - [`log`] appends to the stream and reads it back; [`body`] and [`op`] say what an
//!   entry holds; [`turns`] hands this server's own entries to the sessions that appended
//!   them, in order; the replica applies everyone else's to ghosts.
//! - [`presence`] decides from the log's heartbeats which servers are alive, so that every
//!   server declares a dead one at the same entry.
//! - [`RedisMemory`] keeps accounts, registered rooms and history in Redis.
//!
//! Every key starts with [`PREFIX`].

pub mod body;
mod error;
mod health;
pub mod log;
mod memory;
mod node;
pub mod op;
mod ordering;
pub mod presence;
mod replica;
mod server_id;
pub mod turns;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use error::ClusterError;
pub use memory::RedisMemory;
pub use node::{Node, DEFAULT_LEASE};
pub use server_id::ServerId;

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
