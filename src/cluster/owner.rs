//! Who holds something in the cluster: a server, by its id, and one of its clients.

use std::fmt;
use std::sync::Arc;

use super::ClusterError;
use crate::core::ClientId;

/// The longest server id, in bytes.
const MAX_SERVER_ID: usize = 64;

/// A server's name in the cluster: 1 to 64 ASCII letters, digits, `.`, `_` or `-`, unique
/// among the servers running at once. Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerId(Arc<str>);

impl ServerId {
    /// Validates `id` as a server id.
    pub fn parse(id: &str) -> Result<ServerId, ClusterError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if id.is_empty() || id.len() > MAX_SERVER_ID || !id.chars().all(allowed) {
            return Err(ClusterError::BadServerId(id.to_string()));
        }
        Ok(ServerId(id.into()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One client of one server, written `server:client` in Redis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Owner {
    /// The server the client is connected to; what it holds lives as long as that
    /// server's lease.
    pub server: ServerId,
    /// The client, as its server numbers them.
    pub client: ClientId,
}

impl Owner {
    /// Reads an owner as Redis keeps it, `server:client`.
    pub fn parse(text: &str) -> Result<Owner, ClusterError> {
        let unexpected = || ClusterError::Unexpected(format!("{text:?} is not an owner"));
        let (server, client) = text.split_once(':').ok_or_else(unexpected)?;
        let server = ServerId::parse(server).map_err(|_| unexpected())?;
        let client = client.parse().map_err(|_| unexpected())?;
        Ok(Owner { server, client })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.server, self.client)
    }
}
