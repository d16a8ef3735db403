//! The server's own lines to one client: numerics and notices from the server's name,
//! gathered into one piece for the client's queue.

use std::io::Write as _;

use super::message::end_line;

/// Replies being written to one client, in the order they are to be read.
pub struct Replies<'a> {
    /// The server's name, the source of every line here.
    server: &'a str,
    /// The client's nickname, or `*` before it has one: the first parameter of numerics.
    nick: &'a str,
    /// The lines so far.
    bytes: Vec<u8>,
}

impl<'a> Replies<'a> {
    /// Replies from `server` to the client known as `nick`.
    pub fn new(server: &'a str, nick: &'a str) -> Replies<'a> {
        Replies { server, nick, bytes: Vec::with_capacity(128) }
    }

    /// `:server CODE nick middle... :trailing`; the trailing parameter is left out when
    /// `None`.
    pub fn numeric(&mut self, code: &str, middle: &[&str], trailing: Option<&str>) -> &mut Self {
        let start = self.bytes.len();
        let _ = write!(self.bytes, ":{} {code} {}", self.server, self.nick);
        self.params(start, middle, trailing)
    }

    /// `:server COMMAND middle... :trailing`, for lines that are not numerics (`CAP`,
    /// `NOTICE`, `PONG`, `MODE`).
    pub fn command(&mut self, command: &str, middle: &[&str], trailing: Option<&str>) -> &mut Self {
        let start = self.bytes.len();
        let _ = write!(self.bytes, ":{} {command}", self.server);
        self.params(start, middle, trailing)
    }

    /// A line written whole, without the server as its source (a service's `NOTICE`,
    /// one's own `MODE`), cut to 512 bytes like every other line: it may echo what the
    /// client sent.
    pub fn raw(&mut self, line: std::fmt::Arguments<'_>) -> &mut Self {
        let start = self.bytes.len();
        let _ = write!(self.bytes, "{line}");
        end_line(&mut self.bytes, start);
        self
    }

    /// A server notice to the client.
    pub fn notice(&mut self, text: &str) -> &mut Self {
        let nick = self.nick;
        self.command("NOTICE", &[nick], Some(text))
    }

    /// Appends bytes already encoded (an event's line).
    pub fn extend(&mut self, bytes: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(bytes);
        self
    }

    /// The client's nickname as these replies address it.
    pub fn nick(&self) -> &'a str {
        self.nick
    }

    /// The server's name.
    pub fn server(&self) -> &'a str {
        self.server
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The lines, for the client's queue.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    fn params(&mut self, start: usize, middle: &[&str], trailing: Option<&str>) -> &mut Self {
        for param in middle {
            // A middle parameter echoed from a client may be empty or hold a space, which
            // would end or shift the line's parameters: `*` stands in for it.
            let well_formed = !param.is_empty() && !param.contains(' ') && !param.starts_with(':');
            let param = if well_formed { param } else { &"*" };
            let _ = write!(self.bytes, " {param}");
        }
        if let Some(trailing) = trailing {
            let _ = write!(self.bytes, " :{trailing}");
        }
        end_line(&mut self.bytes, start);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numerics_come_from_the_server_to_the_nick() {
        let mut replies = Replies::new("irc.test", "*");
        replies.numeric("451", &[], Some("You have not registered"));
        replies.command("CAP", &["*", "LS"], Some("server-time"));
        replies.raw(format_args!("PING :x"));
        let text = String::from_utf8(replies.into_bytes()).expect("utf-8");
        assert_eq!(
            text,
            ":irc.test 451 * :You have not registered\r\n:irc.test CAP * LS :server-time\r\nPING :x\r\n"
        );
    }

    #[test]
    fn a_raw_line_is_cut_to_512_bytes_at_a_character_boundary() {
        let mut replies = Replies::new("irc.test", "ann");
        replies.raw(format_args!(":NickServ NOTICE ann :{}", "é".repeat(300)));
        let text = String::from_utf8(replies.into_bytes()).expect("cut at a boundary");
        assert!(text.len() <= 512 && text.len() >= 510, "{} bytes", text.len());
        assert!(text.ends_with("é\r\n"), "{text:?}");
    }
}
