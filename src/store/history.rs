//! What was said, per scope: the tables the store keeps, the key of each scope's history,
//! appending to it and reading its end, and which scopes are a dropped account's.
//!
//! History is one table keyed by (scope, sequence number): a scope's records sit side by
//! side in the order they were said, so its end is one range read backwards and its oldest
//! record is the first of its range.

use std::collections::HashMap;
use std::time::SystemTime;

use redb::{ReadableTable, StorageError, Table, TableDefinition};
use tracing::warn;

use super::record;
use crate::core::{Scope, Stamped};

/// Things said: (scope key, sequence number) to a [`record::encode_said`] record.
pub const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");

/// Accounts: nickname fold to a [`record::encode_account`] record.
pub const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");

/// Registered rooms: name fold to a [`record::encode_room`] record.
pub const ROOMS: TableDefinition<&str, &[u8]> = TableDefinition::new("rooms");

/// The history table, open in a write transaction.
pub type HistoryTable<'t> = Table<'t, (&'static str, u64), &'static [u8]>;

/// The key of a scope's history: `r` and the room's fold, or `p` and both account ids
/// split by a NUL, which no id holds, so that no two scopes share a key.
pub fn scope_key(scope: &Scope) -> String {
    match scope {
        Scope::Room(fold) => format!("r{fold}"),
        Scope::Pair(a, b) => format!("p{a}{PAIR_SPLIT}{b}"),
    }
}

/// What splits the two ids of a private conversation's key.
const PAIR_SPLIT: char = '\u{0}';

/// Whether the scope key `key` is a private conversation of the account with id `id`.
pub fn is_conversation_of(key: &str, id: &str) -> bool {
    let pair = key.strip_prefix('p').and_then(|ids| ids.split_once(PAIR_SPLIT));
    pair.is_some_and(|(a, b)| a == id || b == id)
}

/// The sequence numbers a scope's history holds: `first..next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Its oldest record's number (equal to `next` when it holds none).
    pub first: u64,
    /// The number its next record gets.
    pub next: u64,
}

impl Span {
    /// How many records it holds.
    pub fn len(self) -> u64 {
        self.next.saturating_sub(self.first)
    }

    /// The span of `scope` as the table holds it: its first and last keys.
    pub fn read(
        table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
        scope: &str,
    ) -> Result<Span, StorageError> {
        let mut range = table.range((scope, 0)..=(scope, u64::MAX))?;
        let first = range.next().transpose()?.map(|(key, _)| key.value().1);
        let last = range.next_back().transpose()?.map(|(key, _)| key.value().1);
        Ok(match (first, last) {
            (Some(first), Some(last)) => Span { first, next: last.saturating_add(1) },
            (Some(only), None) => Span { first: only, next: only.saturating_add(1) },
            _ => Span { first: 0, next: 0 },
        })
    }
}

/// The spans of the scopes written to, so that appending needs no read of the table's
/// end. It must be forgotten whenever a transaction that changed it is not committed.
#[derive(Debug, Default)]
pub struct Spans(HashMap<String, Span>);

impl Spans {
    /// The span of `scope`, read from `table` the first time.
    pub fn get(&mut self, table: &HistoryTable<'_>, scope: &str) -> Result<Span, StorageError> {
        if let Some(span) = self.0.get(scope) {
            return Ok(*span);
        }
        let span = Span::read(table, scope)?;
        self.0.insert(scope.to_owned(), span);
        Ok(span)
    }

    /// Notes that `scope`'s oldest record is now `first`, if its span is known.
    pub fn trimmed(&mut self, scope: &str, first: u64) {
        if let Some(span) = self.0.get_mut(scope) {
            span.first = first.min(span.next);
        }
    }

    /// Forgets every span, after a transaction was lost.
    pub fn forget(&mut self) {
        self.0.clear();
    }
}

/// Appends `record` to `scope`'s history and deletes its oldest records beyond `keep`.
pub fn append(
    table: &mut HistoryTable<'_>,
    spans: &mut Spans,
    scope: &str,
    record: &[u8],
    keep: u64,
) -> Result<(), StorageError> {
    let mut span = spans.get(table, scope)?;
    table.insert((scope, span.next), record)?;
    span.next = span.next.saturating_add(1);
    // A loop, not one delete: the limit may have been lowered since the last run.
    while span.len() > keep {
        table.remove((scope, span.first))?;
        span.first += 1;
    }
    spans.0.insert(scope.to_owned(), span);
    Ok(())
}

/// The last `last` records of `scope` said at or after `since`, oldest first. A record
/// that does not read is skipped with a warning.
pub fn recall(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    scope: &str,
    last: usize,
    since: Option<SystemTime>,
) -> Result<Vec<Stamped>, StorageError> {
    let mut said = Vec::new();
    if last == 0 {
        return Ok(said);
    }
    for entry in table.range((scope, 0)..=(scope, u64::MAX))?.rev() {
        let (key, value) = entry?;
        match record::decode_said(value.value()) {
            // Older records are older still: the age limit ends the reading.
            Ok(one) if since.is_some_and(|since| one.at < since) => break,
            Ok(one) => said.push(one),
            Err(error) => warn!(scope, seq = key.value().1, %error, "skipping a corrupt record"),
        }
        if said.len() == last {
            break;
        }
    }
    said.reverse();
    Ok(said)
}
