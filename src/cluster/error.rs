//! What can go wrong between a server and the cluster's Redis.

use redis::RedisError;
use thiserror::Error;

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
    /// This server's limits are not the cluster's: every server applies every change, and
    /// the limits decide what a change does, so they must be the same everywhere.
    #[error(
        "this server's limits ({ours}) differ from the cluster's ({theirs}): start it with \
         the same --max-rooms-per-client, --max-rooms and --max-topic (to change them, stop \
         every server and delete smolchat:limits in Redis)"
    )]
    Limits {
        /// This server's.
        ours: String,
        /// The cluster's, as the first server wrote them.
        theirs: String,
    },
    /// Not a server id: 1 to 64 ASCII letters, digits, `.`, `_` or `-`.
    #[error("server id {0:?} must be 1 to 64 ASCII letters, digits, '.', '_' or '-'")]
    BadServerId(String),
    /// Redis answered something smolchat never asks for, or the cluster's machinery
    /// broke (its log's reader stopped, say).
    #[error("{0}")]
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
