//! IRCv3 capabilities: the ones this server offers, and reading a client's `CAP REQ`.

/// A capability this server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// Others' `AWAY` changes are told to a client that shares a room with them.
    AwayNotify,
    /// Related lines come wrapped in `BATCH +id type` ... `BATCH -id`: a room's history,
    /// here, as a `chathistory` batch.
    Batch,
    /// A client's own messages come back to it, as everyone else sees them.
    EchoMessage,
    /// Tags on messages: the server accepts and drops client tags.
    MessageTags,
    /// Every prefix of a member in `NAMES` and `WHO`, not only the highest.
    MultiPrefix,
    /// Logging in to an account before registration (`AUTHENTICATE`, mechanism `PLAIN`);
    /// offered over TLS only, since `PLAIN` sends the password as it is.
    Sasl,
    /// A `time` tag with the server's time on every message about others.
    ServerTime,
}

impl Cap {
    /// Every capability there is, in the order `CAP LS` lists them.
    pub const ALL: [Cap; 7] = [
        Cap::AwayNotify,
        Cap::Batch,
        Cap::EchoMessage,
        Cap::MessageTags,
        Cap::MultiPrefix,
        Cap::Sasl,
        Cap::ServerTime,
    ];

    /// Its name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Cap::AwayNotify => "away-notify",
            Cap::Batch => "batch",
            Cap::EchoMessage => "echo-message",
            Cap::MessageTags => "message-tags",
            Cap::MultiPrefix => "multi-prefix",
            Cap::Sasl => "sasl",
            Cap::ServerTime => "server-time",
        }
    }

    /// Its value in `CAP LS 302` (`sasl=PLAIN`), if it has one.
    pub fn value(self) -> Option<&'static str> {
        match self {
            Cap::Sasl => Some("PLAIN"),
            _ => None,
        }
    }

    /// The capabilities offered on a connection: all of them over TLS; all but `sasl`
    /// over plain text, where `PLAIN` would show the password to the network.
    pub fn offered(tls: bool) -> &'static [Cap] {
        if tls {
            &Cap::ALL
        } else {
            &PLAIN_TEXT_CAPS
        }
    }

    /// The `CAP LS` list of `offered`, with values for a client that asked for version
    /// 302 or later.
    pub fn list(offered: &[Cap], with_values: bool) -> String {
        let names = offered.iter().map(|cap| match (cap.value(), with_values) {
            (Some(value), true) => format!("{}={value}", cap.name()),
            _ => cap.name().to_string(),
        });
        names.collect::<Vec<_>>().join(" ")
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn named(name: &str, offered: &[Cap]) -> Option<Cap> {
        offered.iter().copied().find(|cap| cap.name().eq_ignore_ascii_case(name))
    }
}

/// The capabilities offered over plain text: all but `sasl`.
const PLAIN_TEXT_CAPS: [Cap; 6] = [
    Cap::AwayNotify,
    Cap::Batch,
    Cap::EchoMessage,
    Cap::MessageTags,
    Cap::MultiPrefix,
    Cap::ServerTime,
];

/// The capabilities a client has enabled, a bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caps(u8);

impl Caps {
    /// Whether `cap` is enabled.
    pub fn has(self, cap: Cap) -> bool {
        self.0 & cap.bit() != 0
    }

    /// The enabled capabilities' names, space-separated, for `CAP LIST`.
    pub fn names(self) -> String {
        let on = Cap::ALL.into_iter().filter(|cap| self.has(*cap));
        on.map(Cap::name).collect::<Vec<_>>().join(" ")
    }

    /// Only those of these capabilities that are also in `mask`.
    pub fn only(self, mask: &[Cap]) -> Caps {
        Caps(mask.iter().filter(|cap| self.has(**cap)).fold(0, |bits, cap| bits | cap.bit()))
    }

    /// These capabilities with `request` applied.
    pub fn with(self, request: &CapRequest) -> Caps {
        let mut bits = self.0;
        for &(cap, on) in &request.changes {
            if on {
                bits |= cap.bit();
            } else {
                bits &= !cap.bit();
            }
        }
        Caps(bits)
    }
}

/// A `CAP REQ` the server can grant: every capability in it is offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapRequest {
    /// Each capability asked for, and whether on (`cap`) or off (`-cap`).
    pub changes: Vec<(Cap, bool)>,
}

impl CapRequest {
    /// Reads the list of a `CAP REQ`; `None` if it names a capability not among
    /// `offered`, in which case the whole request is refused (`NAK`), as IRCv3 requires.
    pub fn parse(list: &str, offered: &[Cap]) -> Option<CapRequest> {
        let mut changes = Vec::new();
        for word in list.split(' ').filter(|word| !word.is_empty()) {
            let (name, on) = match word.strip_prefix('-') {
                Some(name) => (name, false),
                None => (word, true),
            };
            changes.push((Cap::named(name, offered)?, on));
        }
        Some(CapRequest { changes })
    }

    /// The request as the server acknowledges it: each capability's own name, `-` before
    /// those turned off, one space between.
    pub fn list(&self) -> String {
        let names = self.changes.iter().map(|&(cap, on)| {
            if on {
                cap.name().to_string()
            } else {
                format!("-{}", cap.name())
            }
        });
        names.collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_granted_whole_or_not_at_all() {
        let plain = Cap::offered(false);
        let request = CapRequest::parse("server-time  echo-message", plain).expect("offered");
        let caps = Caps::default().with(&request);
        assert!(caps.has(Cap::ServerTime) && caps.has(Cap::EchoMessage));
        assert!(!caps.has(Cap::MultiPrefix));
        assert_eq!(caps.names(), "echo-message server-time");
        assert_eq!(CapRequest::parse("server-time bogus", plain), None);
        let spaced = CapRequest::parse(" multi-prefix  -away-notify ", plain).expect("offered");
        assert_eq!(spaced.list(), "multi-prefix -away-notify");
        let off = CapRequest::parse("-echo-message", plain).expect("offered");
        assert_eq!(caps.with(&off).names(), "server-time");
    }

    #[test]
    fn sasl_is_offered_over_tls_only_with_its_mechanism_for_302() {
        assert_eq!(CapRequest::parse("sasl", Cap::offered(false)), None);
        let sasl = CapRequest::parse("SASL batch", Cap::offered(true)).expect("offered");
        assert_eq!(sasl.list(), "sasl batch");
        let tls = Cap::list(Cap::offered(true), true);
        assert!(tls.contains(" sasl=PLAIN ") && tls.starts_with("away-notify batch"), "{tls}");
        assert!(Cap::list(Cap::offered(true), false).contains(" sasl "));
        assert!(!Cap::list(Cap::offered(false), true).contains("sasl"));
    }
}
