//! A server's name in the cluster.

use std::fmt;
use std::sync::Arc;

use super::ClusterError;

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
