//! One message from an IRC client: tags (read past), an optional source (ignored), the
//! command, and its parameters.

use thiserror::Error;

/// The longest message without its tags, `\r\n` included, as RFC 1459 sets it.
pub const MAX_LINE: usize = 512;

/// The longest tags section a client may send, its `@` and the space after it included:
/// IRCv3 message-tags gives clients 4094 bytes of tag data, of the 8191 a line may carry.
pub const MAX_TAGS: usize = 4096;

/// A client's message, borrowed from the line it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The command, upper-cased (`PRIVMSG`), or a numeric.
    pub command: String,
    /// The parameters, the trailing one (after ` :`) last, without its colon.
    pub params: Vec<&'a str>,
}

/// Why a line is not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MessageError {
    /// Nothing but spaces (and maybe tags or a source): ignored, as the RFC says.
    #[error("empty message")]
    Empty,
    /// Longer than [`MAX_LINE`] without its tags, or tags longer than [`MAX_TAGS`].
    #[error("input line was too long")]
    TooLong,
}

impl<'a> Message<'a> {
    /// Reads one line (without its `\n`; a `\r` before it is dropped).
    pub fn parse(line: &'a str) -> Result<Message<'a>, MessageError> {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let mut rest = line;
        if let Some(tagged) = rest.strip_prefix('@') {
            let (tags, after) = tagged.split_once(' ').unwrap_or((tagged, ""));
            // Client tags are accepted and dropped: nothing here relays them.
            if tags.len() + 2 > MAX_TAGS {
                return Err(MessageError::TooLong);
            }
            rest = after;
        }
        rest = rest.trim_start_matches(' ');
        if rest.len() + 2 > MAX_LINE {
            return Err(MessageError::TooLong);
        }
        if let Some(sourced) = rest.strip_prefix(':') {
            // A client's source is meaningless to a server: it knows who sent the line.
            rest = sourced.split_once(' ').map_or("", |(_, after)| after);
        }
        let (command, params) = split_params(rest);
        if command.is_empty() {
            return Err(MessageError::Empty);
        }
        Ok(Message { command: command.to_ascii_uppercase(), params })
    }

    /// Parameter `index`, if given.
    pub fn param(&self, index: usize) -> Option<&'a str> {
        self.params.get(index).copied()
    }
}

/// The command and the parameters of `rest`.
fn split_params(rest: &str) -> (&str, Vec<&str>) {
    let rest = rest.trim_start_matches(' ');
    let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut params = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            break;
        }
        if let Some(trailing) = rest.strip_prefix(':') {
            params.push(trailing);
            break;
        }
        let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
        params.push(param);
        rest = after;
    }
    (command, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (String, Vec<&str>) {
        let message = Message::parse(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        (message.command, message.params)
    }

    #[test]
    fn commands_parameters_and_the_trailing_one() {
        assert_eq!(
            parse("privmsg #a :hello  there"),
            ("PRIVMSG".into(), vec!["#a", "hello  there"])
        );
        assert_eq!(
            parse("USER u 0 * :Real Name\r"),
            ("USER".into(), vec!["u", "0", "*", "Real Name"])
        );
        assert_eq!(parse("JOIN   #a,#b   keys"), ("JOIN".into(), vec!["#a,#b", "keys"]));
        assert_eq!(parse("PRIVMSG #a :"), ("PRIVMSG".into(), vec!["#a", ""]));
        assert_eq!(parse("PING"), ("PING".into(), vec![]));
    }

    #[test]
    fn tags_and_a_source_are_read_past() {
        let tagged = "@label=1;+draft/reply=x :me!u@h PRIVMSG #a :hi";
        assert_eq!(parse(tagged), ("PRIVMSG".into(), vec!["#a", "hi"]));
        assert_eq!(Message::parse("@a=b"), Err(MessageError::Empty));
        assert_eq!(Message::parse("   "), Err(MessageError::Empty));
    }

    #[test]
    fn limits_are_512_bytes_and_4096_of_tags() {
        let body = |n: usize| format!("PRIVMSG #a :{}", "x".repeat(n - 12 - 2));
        assert!(Message::parse(&body(512)).is_ok());
        assert_eq!(Message::parse(&body(513)), Err(MessageError::TooLong));
        let tags = |n: usize| format!("@{} PING", "t".repeat(n - 2));
        assert!(Message::parse(&tags(4096)).is_ok());
        assert_eq!(Message::parse(&tags(4097)), Err(MessageError::TooLong));
    }
}
