//! Where the client connects: `host:port`, `chat://host:port`, or `chats://host:port`
//! for the line protocol over TLS; without a port, the protocol's own, 55555.

/// The port the line protocol listens on unless told otherwise.
pub const DEFAULT_PORT: u16 = 55555;

/// A server address and whether to speak TLS to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub addr: String,
    /// True for TLS.
    pub tls: bool,
}

impl Target {
    /// Reads `--server`: a bare `host:port` is plain unless `tls` is asked for, and a
    /// host alone means [`DEFAULT_PORT`].
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
        // A URL may end in a slash (`chat://host/`); nothing follows it in this protocol.
        let addr = addr.strip_suffix('/').unwrap_or(addr);
        if addr.is_empty() {
            return Err(format!("{text:?} has no address"));
        }
        Ok(Target { addr: with_port(addr), tls: secure })
    }

    /// The host part, as the certificate must name it (brackets of an IPv6 address
    /// removed).
    pub fn host(&self) -> &str {
        crate::tls::host_of(&self.addr)
    }
}

/// `addr` with [`DEFAULT_PORT`] added if it names no port. An IPv6 address names one only
/// after its brackets; a bare one (`::1`) gets them, since its colons are not a port.
fn with_port(addr: &str) -> String {
    let has_port = match addr.rsplit_once(':') {
        None => false,
        Some((host, _)) if host.starts_with('[') => host.ends_with(']'),
        // More than one colon without brackets: a bare IPv6 address.
        Some((host, _)) => !host.contains(':'),
    };
    match (has_port, addr.contains(':') && !addr.starts_with('[')) {
        (true, _) => addr.to_string(),
        (false, true) => format!("[{addr}]:{DEFAULT_PORT}"),
        (false, false) => format!("{addr}:{DEFAULT_PORT}"),
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

    fn addr(text: &str) -> String {
        Target::parse(text, false).map(|target| target.addr).unwrap_or_else(|error| error)
    }

    #[test]
    fn a_host_alone_means_the_default_port() {
        assert_eq!(addr("example.org"), "example.org:55555");
        assert_eq!(addr("example.org:6000"), "example.org:6000");
        assert_eq!(addr("chat://example.org"), "example.org:55555");
        assert_eq!(addr("chat://example.org:6000/"), "example.org:6000");
        assert_eq!(addr("chat://example.org/"), "example.org:55555");
        assert_eq!(Target::parse("chats://example.org", false).map(|t| t.tls), Ok(true));
        assert_eq!(addr("chats://example.org"), "example.org:55555");
        assert_eq!(addr("127.0.0.1"), "127.0.0.1:55555");
        assert_eq!(addr("[::1]:6000"), "[::1]:6000");
        assert_eq!(addr("[::1]"), "[::1]:55555");
        assert_eq!(addr("::1"), "[::1]:55555");
        assert_eq!(addr("chat:///"), "\"chat:///\" has no address");
    }

    #[test]
    fn the_host_is_what_the_certificate_names() {
        let host = |text: &str| Target::parse(text, true).map(|t| t.host().to_string());
        assert_eq!(host("chats://example.org"), Ok("example.org".to_string()));
        assert_eq!(host("[::1]"), Ok("::1".to_string()));
        assert_eq!(host("example.org:6000"), Ok("example.org".to_string()));
    }
}
