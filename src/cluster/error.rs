//! What can go wrong between a server and the cluster's Redis.

use redis::RedisError;
use thiserror::Error;

use super::ServerId;

/// Why a request to the cluster failed, by what the caller should do about it.
#[derive(Debug, Error)]
pub enum ClusterError {
    /// Redis did not answer in time. A change that was sent may still be made when Redis
    /// gets to it, so whoever retries must expect to find it made.
    #[error("Redis did not answer in time (a change sent may still be made)")]
    Timeout,
    /// Redis cannot be reached, or the connection to it broke; the next request tries to
    /// connect again.
    #[error("cannot reach Redis: {0}")]
    Unavailable(#[source] RedisError),
    /// Redis answered with an error (a bad URL, a script that failed, a wrong type).
    #[error("Redis refused a request: {0}")]
    Redis(#[source] RedisError),
    /// This server's lease expired before it was renewed: the others may have taken its
    /// names already. It has to register again (as a new server, as far as they know).
    #[error("the lease of server {0} in Redis expired; its names may belong to others now")]
    LeaseLost(ServerId),
    /// Another process holds the lease of this server id.
    #[error("server id {0} is in use by another running server")]
    ServerIdInUse(ServerId),
    /// Not a server id: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    #[error("server id {0:?} must be 1 to 64 ASCII letters, digits, '.', '_' or '-'")]
    BadServerId(String),
    /// A name's key holds a line break, which no name's key does.
    #[error("a name's skeleton holds a line break: {0:?}")]
    BadKey(String),
    /// Redis answered something smolchat's scripts never return.
    #[error("unexpected answer from Redis: {0}")]
    Unexpected(String),
}

impl From<RedisError> for ClusterError {
    fn from(error: RedisError) -> ClusterError {
        if error.is_timeout() {
            ClusterError::Timeout
        } else if error.is_io_error() || error.is_connection_dropped() {
            ClusterError::Unavailable(error)
        } else {
            ClusterError::Redis(error)
        }
    }
}
