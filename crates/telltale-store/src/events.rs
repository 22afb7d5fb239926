//! Reading the event log: pages by cursor, newest or oldest first, with an
//! optional text search. Payloads are stored compressed
//! ([`crate::payload`]), so they are decoded here, and the search looks at
//! the decoded text (ASCII case-insensitively, as SQL `LIKE` did).

use crate::payload::PayloadReader;
use crate::query::{EventQuery, Order, StoredEvent};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use telltale_model::Timestamp;

const EVENT_COLUMNS: &str = "SELECT id, feed_id, received_at, server_id, event_type, data, size, truncated, codec, dict FROM events";

/// Events matching a query.
pub(crate) fn events(conn: &Connection, q: &EventQuery) -> rusqlite::Result<Vec<StoredEvent>> {
    if q.limit == 0 {
        return Ok(Vec::new());
    }
    let mut sql = String::with_capacity(256);
    sql.push_str(EVENT_COLUMNS);
    let mut params: Vec<Value> = Vec::new();
    match q.feed_id {
        Some(feed) => {
            sql.push_str(" INDEXED BY events_feed_time WHERE feed_id = ?");
            params.push(Value::Integer(feed));
        }
        // All feeds: in arrival order, the rowid's, which needs no index
        // of its own. A time range is then a filter over the rows read
        // (no caller asks for one across all feeds).
        None => sql.push_str(" WHERE 1"),
    }
    if let Some(from) = q.from {
        sql.push_str(" AND received_at >= ?");
        params.push(Value::Integer(from.0));
    }
    if let Some(until) = q.until {
        sql.push_str(" AND received_at < ?");
        params.push(Value::Integer(until.0));
    }
    for (cursor, older) in [(q.before_id, true), (q.after_id, false)] {
        let Some(id) = cursor else { continue };
        let at: Option<i64> = match q.feed_id {
            Some(_) => conn
                .prepare_cached("SELECT received_at FROM events WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()?,
            None => None,
        };
        match (at, older) {
            (Some(t), true) => {
                sql.push_str(" AND received_at <= ? AND (received_at < ? OR id < ?)");
                params.extend([Value::Integer(t), Value::Integer(t), Value::Integer(id)]);
            }
            (Some(t), false) => {
                sql.push_str(" AND received_at >= ? AND (received_at > ? OR id > ?)");
                params.extend([Value::Integer(t), Value::Integer(t), Value::Integer(id)]);
            }
            (None, true) => {
                sql.push_str(" AND id < ?");
                params.push(Value::Integer(id));
            }
            (None, false) => {
                sql.push_str(" AND id > ?");
                params.push(Value::Integer(id));
            }
        }
    }
    sql.push_str(match (q.feed_id, q.order) {
        (Some(_), Order::NewestFirst) => " ORDER BY received_at DESC, id DESC",
        (Some(_), Order::OldestFirst) => " ORDER BY received_at ASC, id ASC",
        (None, Order::NewestFirst) => " ORDER BY id DESC",
        (None, Order::OldestFirst) => " ORDER BY id ASC",
    });
    let needle = q
        .search
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase().into_bytes());
    // Without a search the database stops at the page; with one, rows are
    // read (and decoded) one by one until the page is full.
    if needle.is_none() {
        sql.push_str(" LIMIT ?");
        params.push(Value::Integer(q.limit.min(i64::MAX as usize) as i64));
    }
    let mut reader = PayloadReader::default();
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let size = r.get::<_, i64>(6)?.clamp(0, u32::MAX as i64) as u32;
        let data = reader.decode(conn, r.get(5)?, r.get(8)?, r.get(9)?, size)?;
        if let Some(n) = &needle {
            if !contains_ignore_ascii_case(&data, n) {
                continue;
            }
        }
        out.push(StoredEvent {
            id: r.get(0)?,
            feed_id: r.get(1)?,
            received_at: Timestamp(r.get(2)?),
            server_id: r.get(3)?,
            event_type: r.get(4)?,
            data,
            size,
            truncated: r.get(7)?,
        });
        if out.len() >= q.limit {
            break;
        }
    }
    Ok(out)
}

/// Whether `hay` contains `needle` (already ASCII-lowercased), ignoring
/// ASCII case.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay.windows(needle.len()).any(|w| {
            w.iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_ignores_ascii_case_and_takes_wildcards_literally() {
        assert!(contains_ignore_ascii_case(b"Status: DEGRADED", b"degraded"));
        assert!(contains_ignore_ascii_case(b"50%_a", b"50%_a"));
        assert!(!contains_ignore_ascii_case(b"500 a", b"50%_a"));
        assert!(contains_ignore_ascii_case(b"x", b""));
    }
}
