//! The services IRC users expect to find: `NickServ` for accounts and `ChanServ` for
//! registered rooms, reached with `PRIVMSG NickServ :COMMAND ...` (or the `NS` and `CS`
//! commands). They are the server itself: nobody may take their names.

/// A service, by the nick clients write to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Accounts: registering, identifying and dropping nicknames.
    NickServ,
    /// Registered rooms.
    ChanServ,
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 2] = [Service::NickServ, Service::ChanServ];

    /// The service `nick` names (ASCII letters in any case), if any.
    pub fn named(nick: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|service| service.nick().eq_ignore_ascii_case(nick))
    }

    /// The service a command (`NS`, `NICKSERV`, `CS`, `CHANSERV`) stands for.
    pub fn of_command(command: &str) -> Option<Service> {
        match command {
            "NS" | "NICKSERV" => Some(Service::NickServ),
            "CS" | "CHANSERV" => Some(Service::ChanServ),
            _ => None,
        }
    }

    /// Its nick.
    pub fn nick(self) -> &'static str {
        match self {
            Service::NickServ => "NickServ",
            Service::ChanServ => "ChanServ",
        }
    }

    /// The source of its lines: `NickServ!NickServ@services`.
    pub fn source(self) -> &'static str {
        match self {
            Service::NickServ => "NickServ!NickServ@services",
            Service::ChanServ => "ChanServ!ChanServ@services",
        }
    }
}

/// A command to `NickServ`.
#[derive(Clone, PartialEq, Eq)]
pub enum NickServ<'a> {
    /// `REGISTER password`: register your current nickname.
    Register {
        /// The password.
        password: &'a str,
    },
    /// `IDENTIFY [nick] password`: prove you own a nickname (your current one by default).
    Identify {
        /// The account, if not your current nickname.
        nick: Option<&'a str>,
        /// The password.
        password: &'a str,
    },
    /// `DROP`: unregister the nickname you identified as.
    Drop,
    /// `HELP`, or nothing at all.
    Help,
    /// A known command without the words it needs, or with too many: its usage.
    Usage(&'static str),
    /// Anything else.
    Unknown(&'a str),
}

impl std::fmt::Debug for NickServ<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password, wherever a command is printed.
        match self {
            NickServ::Register { .. } => f.write_str("Register"),
            NickServ::Identify { nick, .. } => {
                f.debug_struct("Identify").field("nick", nick).finish()
            }
            NickServ::Drop => f.write_str("Drop"),
            NickServ::Help => f.write_str("Help"),
            NickServ::Usage(usage) => f.debug_tuple("Usage").field(usage).finish(),
            NickServ::Unknown(word) => f.debug_tuple("Unknown").field(word).finish(),
        }
    }
}

/// How `REGISTER` is used.
pub const REGISTER_USAGE: &str = "REGISTER password (one word, 8 characters or more)";

/// How `IDENTIFY` is used.
pub const IDENTIFY_USAGE: &str = "IDENTIFY [nick] password";

impl<'a> NickServ<'a> {
    /// Reads the text of a message to `NickServ`.
    pub fn parse(text: &'a str) -> NickServ<'a> {
        let mut words = text.split_whitespace();
        let Some(command) = words.next() else { return NickServ::Help };
        let rest: Vec<&str> = words.collect();
        match (command.to_ascii_uppercase().as_str(), rest.as_slice()) {
            ("REGISTER", [password]) => NickServ::Register { password },
            ("REGISTER", _) => NickServ::Usage(REGISTER_USAGE),
            ("IDENTIFY" | "LOGIN", [password]) => NickServ::Identify { nick: None, password },
            ("IDENTIFY" | "LOGIN", [nick, password]) => {
                NickServ::Identify { nick: Some(nick), password }
            }
            ("IDENTIFY" | "LOGIN", _) => NickServ::Usage(IDENTIFY_USAGE),
            ("DROP", _) => NickServ::Drop,
            ("HELP", _) => NickServ::Help,
            _ => NickServ::Unknown(command),
        }
    }
}

/// A command to `ChanServ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChanServ<'a> {
    /// `REGISTER #room`: become the owner of a room you are in.
    Register {
        /// The room.
        room: &'a str,
    },
    /// `DROP #room`: give up owning a room.
    Drop {
        /// The room.
        room: &'a str,
    },
    /// `HELP`, or nothing at all.
    Help,
    /// `REGISTER` or `DROP` without a room: its usage.
    Usage(&'static str),
    /// Anything else.
    Unknown(&'a str),
}

impl<'a> ChanServ<'a> {
    /// Reads the text of a message to `ChanServ`.
    pub fn parse(text: &'a str) -> ChanServ<'a> {
        let mut words = text.split_whitespace();
        let Some(command) = words.next() else { return ChanServ::Help };
        match (command.to_ascii_uppercase().as_str(), words.next()) {
            ("REGISTER", Some(room)) => ChanServ::Register { room },
            ("REGISTER", None) => ChanServ::Usage("REGISTER #room"),
            ("DROP", Some(room)) => ChanServ::Drop { room },
            ("DROP", None) => ChanServ::Usage("DROP #room"),
            ("HELP", _) => ChanServ::Help,
            _ => ChanServ::Unknown(command),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_found_by_nick_in_any_case_and_by_command() {
        assert_eq!(Service::named("nickserv"), Some(Service::NickServ));
        assert_eq!(Service::named("CHANSERV"), Some(Service::ChanServ));
        assert_eq!(Service::named("NickServ_"), None);
        assert_eq!(Service::of_command("NS"), Some(Service::NickServ));
        assert_eq!(Service::of_command("CS"), Some(Service::ChanServ));
    }

    #[test]
    fn nickserv_commands_and_their_words() {
        assert_eq!(
            NickServ::parse("register hunter22"),
            NickServ::Register { password: "hunter22" }
        );
        assert_eq!(NickServ::parse("REGISTER a b"), NickServ::Usage(REGISTER_USAGE));
        assert_eq!(
            NickServ::parse("IDENTIFY pw"),
            NickServ::Identify { nick: None, password: "pw" }
        );
        assert_eq!(
            NickServ::parse("identify  ann  pw"),
            NickServ::Identify { nick: Some("ann"), password: "pw" }
        );
        assert_eq!(NickServ::parse("IDENTIFY"), NickServ::Usage(IDENTIFY_USAGE));
        assert_eq!(NickServ::parse("drop"), NickServ::Drop);
        assert_eq!(NickServ::parse(""), NickServ::Help);
        assert_eq!(NickServ::parse("GHOST x"), NickServ::Unknown("GHOST"));
        let shown = format!("{:?}", NickServ::parse("IDENTIFY ann secretpw"));
        assert!(!shown.contains("secretpw"), "{shown}");
    }

    #[test]
    fn chanserv_registers_rooms() {
        assert_eq!(ChanServ::parse("register #a"), ChanServ::Register { room: "#a" });
        assert_eq!(ChanServ::parse("REGISTER"), ChanServ::Usage("REGISTER #room"));
        assert_eq!(ChanServ::parse("drop #a"), ChanServ::Drop { room: "#a" });
        assert_eq!(ChanServ::parse("DROP"), ChanServ::Usage("DROP #room"));
        assert_eq!(ChanServ::parse("OP #a"), ChanServ::Unknown("OP"));
    }
}
