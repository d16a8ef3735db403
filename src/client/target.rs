//! Where the client connects: `host:port`, `chat://host:port`, or `chats://host:port`
//! for the line protocol over TLS.

/// A server address and whether to speak TLS to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub addr: String,
    /// True for TLS.
    pub tls: bool,
}

impl Target {
    /// Reads `--server`: a bare `host:port` is plain unless `tls` is asked for.
    pub fn parse(text: &str, tls: bool) -> Result<Target, String> {
        let (secure, addr) = match text.split_once("://") {
            None => (tls, text),
            Some(("chat", addr)) => (tls, addr),
            Some(("chats", addr)) => (true, addr),
            Some((scheme, _)) => {
                return Err(format!(
                    "unknown scheme {scheme:?}: the client speaks chat:// and chats://"
                ))
            }
        };
        if addr.is_empty() {
            return Err(format!("{text:?} has no address"));
        }
        Ok(Target { addr: addr.to_string(), tls: secure })
    }

    /// The host part, as the certificate must name it (brackets of an IPv6 address
    /// removed).
    pub fn host(&self) -> &str {
        crate::tls::host_of(&self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_choose_tls() {
        let plain = Target::parse("chat://h:1", false);
        assert_eq!(plain, Ok(Target { addr: "h:1".into(), tls: false }));
        assert_eq!(Target::parse("chats://h:1", false).map(|t| t.tls), Ok(true));
        assert_eq!(Target::parse("h:1", true).map(|t| t.tls), Ok(true));
        assert!(Target::parse("irc://h:1", false).is_err());
        assert!(Target::parse("chats://", false).is_err());
    }
}
