//! How much history the store keeps, and the passes that delete the rest: each scope keeps
//! its last [`Retention::history_len`] records, none older than
//! [`Retention::history_age`]; a dropped account's conversations keep none.

use std::ops::Bound;
use std::time::{Duration, SystemTime};

use redb::{ReadableTable, StorageError};

use super::history::{self, HistoryTable, Span, Spans};
use super::record;

/// How much history the store keeps, how often it commits, and how much it lets wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Records kept per scope (a room, or two accounts' private talk); zero keeps none.
    pub history_len: usize,
    /// How old a record may grow before it is deleted; [`Duration::MAX`] keeps them
    /// forever.
    pub history_age: Duration,
    /// How long the writer gathers changes into one transaction before committing it:
    /// longer means fewer fsyncs and more lost in a crash.
    pub commit_interval: Duration,
    /// Changes that may wait for the writer; past it they are dropped and counted. The
    /// default is seconds of the busiest chat, so that only a stalled disk loses any.
    pub queue: usize,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention {
            history_len: 500,
            history_age: Duration::from_secs(7 * 24 * 60 * 60),
            commit_interval: Duration::from_millis(200),
            queue: 65_536,
        }
    }
}

impl Retention {
    /// Records kept per scope, as the table counts them.
    pub fn keep(&self) -> u64 {
        u64::try_from(self.history_len).unwrap_or(u64::MAX)
    }

    /// The oldest time a record may have now, if there is a limit.
    pub fn since(&self, now: SystemTime) -> Option<SystemTime> {
        now.checked_sub(self.history_age)
    }
}

/// Deletes, in every scope, the records beyond `keep` and those said before `since`;
/// returns how many it deleted.
pub fn trim(
    table: &mut HistoryTable<'_>,
    spans: &mut Spans,
    keep: u64,
    since: Option<SystemTime>,
) -> Result<u64, StorageError> {
    let mut deleted = 0;
    let mut scope = scope_from(table, Bound::Unbounded, Bound::Unbounded)?;
    while let Some(this) = scope {
        deleted += trim_scope(table, spans, &this, keep, since)?;
        scope = scope_from(table, Bound::Excluded((&this, u64::MAX)), Bound::Unbounded)?;
    }
    Ok(deleted)
}

/// Deletes every private conversation of the account with id `id`, in both directions;
/// returns how many records it deleted. The other end of a conversation may sort before
/// or after `id`, so this walks the private scopes (every key from `p` up to `q`), one
/// seek per conversation rather than per record: the cost of the trim pass, for a drop.
pub fn forget_account(
    table: &mut HistoryTable<'_>,
    spans: &mut Spans,
    id: &str,
) -> Result<u64, StorageError> {
    let private = Bound::Excluded(("q", 0));
    let mut deleted = 0;
    let mut scope = scope_from(table, Bound::Included(("p", 0)), private)?;
    while let Some(this) = scope {
        if history::is_conversation_of(&this, id) {
            deleted += trim_scope(table, spans, &this, 0, None)?;
        }
        scope = scope_from(table, Bound::Excluded((&this, u64::MAX)), private)?;
    }
    Ok(deleted)
}

/// Deletes `scope`'s oldest records while it holds more than `keep` or they are too old.
fn trim_scope(
    table: &mut HistoryTable<'_>,
    spans: &mut Spans,
    scope: &str,
    keep: u64,
    since: Option<SystemTime>,
) -> Result<u64, StorageError> {
    let span = Span::read(table, scope)?;
    let mut doomed = Vec::new();
    for entry in table.range((scope, 0)..=(scope, u64::MAX))? {
        let (key, value) = entry?;
        let too_many = span.len().saturating_sub(doomed.len() as u64) > keep;
        // A record whose time does not read is kept: it may be a newer format's.
        let too_old =
            matches!((since, record::said_at(value.value())), (Some(since), Ok(at)) if at < since);
        if !too_many && !too_old {
            break;
        }
        doomed.push(key.value().1);
    }
    for &seq in &doomed {
        table.remove((scope, seq))?;
    }
    if let Some(last) = doomed.last() {
        spans.trimmed(scope, last + 1);
    }
    Ok(doomed.len() as u64)
}

/// The first scope with a record between `from` and `to`, if any.
fn scope_from(
    table: &HistoryTable<'_>,
    from: Bound<(&str, u64)>,
    to: Bound<(&str, u64)>,
) -> Result<Option<String>, StorageError> {
    let next = table.range::<(&str, u64)>((from, to))?.next().transpose()?;
    Ok(next.map(|(key, _)| key.value().0.to_owned()))
}
