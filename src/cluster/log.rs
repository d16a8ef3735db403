//! The cluster's log: one Redis stream that every server appends its events to and reads
//! back in the one order Redis gave them (docs/CLUSTER.md). This file is the transport
//! only: entries are bytes with the appending server's id; what they mean is the
//! replica's business.

use std::cmp::Ordering;
use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{AsyncConnectionConfig, Client, Value};
use thiserror::Error;

/// The stream every server appends to.
pub const LOG_KEY: &str = "smolchat:log";

/// How many entries the stream keeps, about: enough for a reader that fell seconds behind.
pub const LOG_LEN: usize = 100_000;

/// Why the log could not be appended to or read.
#[derive(Debug, Error)]
pub enum LogError {
    /// Redis refused, or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// An entry did not have the shape this log writes.
    #[error("a log entry is malformed: {0}")]
    Malformed(String),
}

/// Where an entry sits in the log: Redis's `milliseconds-sequence`, which only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EntryId {
    /// The time of the Redis server when it was appended, in milliseconds.
    pub ms: u64,
    /// Which of that millisecond's entries.
    pub seq: u64,
}

impl EntryId {
    /// Reads `ms-seq`.
    pub fn parse(text: &str) -> Result<EntryId, LogError> {
        let malformed = || LogError::Malformed(format!("entry id {text:?}"));
        let (ms, seq) = text.split_once('-').ok_or_else(malformed)?;
        Ok(EntryId {
            ms: ms.parse().map_err(|_| malformed())?,
            seq: seq.parse().map_err(|_| malformed())?,
        })
    }
}

impl Ord for EntryId {
    fn cmp(&self, other: &EntryId) -> Ordering {
        (self.ms, self.seq).cmp(&(other.ms, other.seq))
    }
}

impl PartialOrd for EntryId {
    fn partial_cmp(&self, other: &EntryId) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// One entry, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where it sits in the log.
    pub id: EntryId,
    /// The server that appended it.
    pub server: String,
    /// What it says, in the replica's encoding.
    pub body: Vec<u8>,
}

/// Appends to the log. Cheap to clone: every clone shares one multiplexed connection,
/// made again after Redis restarts or the connection breaks.
#[derive(Clone)]
pub struct Appender {
    /// Requests are pipelined on it; never a blocking command. A request Redis does not
    /// answer within [`super::DEFAULT_TIMEOUT`] fails (and may still be carried out).
    connection: ConnectionManager,
    /// This server's id, written in every entry.
    server: String,
}

impl Appender {
    /// An appender for `server` on the Redis of `client`.
    pub async fn connect(client: &Client, server: &str) -> Result<Appender, LogError> {
        let timeout = Some(super::DEFAULT_TIMEOUT);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(timeout)
            .set_response_timeout(timeout);
        let connection = ConnectionManager::new_with_config(client.clone(), config).await?;
        Ok(Appender { connection, server: server.to_string() })
    }

    /// The server id written in every entry this appender appends.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Appends `body`; returns where it landed.
    pub async fn append(&self, body: &[u8]) -> Result<EntryId, LogError> {
        let mut connection = self.connection.clone();
        let id: String = redis::cmd("XADD")
            .arg(LOG_KEY)
            .arg("MAXLEN")
            .arg("~")
            .arg(LOG_LEN)
            .arg("*")
            .arg("s")
            .arg(&self.server)
            .arg("b")
            .arg(body)
            .query_async(&mut connection)
            .await?;
        EntryId::parse(&id)
    }

    /// The id of the log's last entry, or the zero id for an empty log: where a new
    /// reader starts so as to read only what comes after.
    pub async fn last(&self) -> Result<EntryId, LogError> {
        let mut connection = self.connection.clone();
        let reply: Value = redis::cmd("XREVRANGE")
            .arg(LOG_KEY)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut connection)
            .await?;
        let entries = entries(reply)?;
        Ok(entries.last().map_or_else(EntryId::default, |entry| entry.id))
    }
}

/// The most entries one read returns: a read that returns this many is behind the log.
const READ_COUNT: usize = 1024;

/// A reader the log's trimming overtook: the entry it read last was trimmed before it
/// read on, and the entries between that one and the log's first may have been too, so its
/// copy of the cluster may lack what they said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// The last entry the reader read before them.
    pub after: EntryId,
    /// The log's first entry when the reader looked.
    pub first: EntryId,
}

/// Reads the log from a point on, in order. Holds a connection of its own, since a
/// blocking read holds its connection until something arrives.
pub struct Reader {
    /// Used for the blocking reads, and for asking where the log begins.
    connection: MultiplexedConnection,
    /// The last entry read.
    after: EntryId,
    /// How long one read blocks before it returns empty.
    block: Duration,
    /// Whether this connection has read anything yet: its first read may start behind the
    /// trimming (the reader was away, or starts from the log's start).
    first: bool,
    /// Entries missed, found by the last read, until [`Reader::missed`] takes them.
    missed: Option<Missed>,
}

impl Reader {
    /// A reader of the entries after `after`, on the Redis of `client`.
    pub async fn connect(client: &Client, after: EntryId) -> Result<Reader, LogError> {
        let block = Duration::from_secs(1);
        // A read waits up to `block` for entries by design; only past that is Redis late.
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(super::DEFAULT_TIMEOUT))
            .set_response_timeout(Some(block + super::DEFAULT_TIMEOUT));
        let connection = client.get_multiplexed_async_connection_with_config(&config).await?;
        Ok(Reader { connection, after, block, first: true, missed: None })
    }

    /// The next entries, in order; empty when none came within the block time.
    pub async fn next(&mut self) -> Result<Vec<Entry>, LogError> {
        let block = u64::try_from(self.block.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(LOG_KEY)
            .arg(self.after.to_string())
            .query_async(&mut self.connection)
            .await?;
        let read = match reply {
            Value::Nil => return Ok(Vec::new()),
            other => streams(other)?,
        };
        let before = self.after;
        if let Some(last) = read.last() {
            self.after = last.id;
        }
        // Only a reader behind the log can have been overtaken by its trimming: one that
        // starts on a connection, or whose read came back full.
        if !read.is_empty() && (self.first || read.len() == READ_COUNT) {
            self.first = false;
            self.check_trimmed(before).await?;
        }
        Ok(read)
    }

    /// Notes in `missed` whether the trimming took the entry `before`. Trimming takes the
    /// oldest entries first, so while that one is in the log none after it was taken.
    /// Asked just after a read, it may also find `before` taken when what was taken after
    /// it had been read; but only a reader a whole log's length behind is that close.
    async fn check_trimmed(&mut self, before: EntryId) -> Result<(), LogError> {
        if before == EntryId::default() {
            // A reader from the log's start: what was trimmed before it came is the known
            // limit of joining by replay (docs/CLUSTER.md), not something it fell behind.
            return Ok(());
        }
        let reply: Value = redis::cmd("XRANGE")
            .arg(LOG_KEY)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.connection)
            .await?;
        if let Some(first) = entries(reply)?.first() {
            if first.id > before {
                self.missed = Some(Missed { after: before, first: first.id });
            }
        }
        Ok(())
    }

    /// Whether the trimming overtook this reader, found since last asked.
    pub fn missed(&mut self) -> Option<Missed> {
        self.missed.take()
    }

    /// The last entry read.
    pub fn position(&self) -> EntryId {
        self.after
    }
}

/// The entries of an `XREAD` reply for the one stream read.
fn streams(reply: Value) -> Result<Vec<Entry>, LogError> {
    let streams = items(reply, "an XREAD reply")?;
    let mut read = Vec::new();
    for stream in streams {
        let mut pair = items(stream, "a stream of an XREAD reply")?.into_iter();
        let (Some(_key), Some(found)) = (pair.next(), pair.next()) else {
            return Err(LogError::Malformed("a stream without entries".into()));
        };
        read.extend(entries(found)?);
    }
    Ok(read)
}

/// The entries of a list of `[id, [field, value, ...]]`.
fn entries(reply: Value) -> Result<Vec<Entry>, LogError> {
    items(reply, "a list of entries")?.into_iter().map(entry).collect()
}

/// One `[id, [s, server, b, body]]`.
fn entry(value: Value) -> Result<Entry, LogError> {
    let mut parts = items(value, "an entry")?.into_iter();
    let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
        return Err(LogError::Malformed("an entry without its fields".into()));
    };
    let id = EntryId::parse(&text(id)?)?;
    let (mut server, mut body) = (None, None);
    let mut fields = items(fields, "an entry's fields")?.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match text(name)?.as_str() {
            "s" => server = Some(text(value)?),
            "b" => body = Some(bytes(value)?),
            _ => {}
        }
    }
    match (server, body) {
        (Some(server), Some(body)) => Ok(Entry { id, server, body }),
        _ => Err(LogError::Malformed(format!("entry {id} lacks its server or body"))),
    }
}

/// The items of an array reply.
fn items(value: Value, what: &str) -> Result<Vec<Value>, LogError> {
    match value {
        Value::Array(items) => Ok(items),
        Value::Nil => Ok(Vec::new()),
        other => Err(LogError::Malformed(format!("{what}: {other:?}"))),
    }
}

/// The bytes of a bulk string.
fn bytes(value: Value) -> Result<Vec<u8>, LogError> {
    match value {
        Value::BulkString(bytes) => Ok(bytes),
        other => Err(LogError::Malformed(format!("not bytes: {other:?}"))),
    }
}

/// The text of a bulk or simple string.
fn text(value: Value) -> Result<String, LogError> {
    match value {
        Value::SimpleString(text) => Ok(text),
        other => {
            String::from_utf8(bytes(other)?).map_err(|_| LogError::Malformed("not UTF-8".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_ids_order_by_time_then_sequence() {
        let early = EntryId::parse("1700000000000-5").expect("an id");
        let late = EntryId::parse("1700000000001-0").expect("an id");
        assert!(early < late);
        assert_eq!(early.to_string(), "1700000000000-5");
        assert!(EntryId::parse("1700000000000").is_err());
        assert!(EntryId::parse("x-1").is_err());
    }
}
