//! Target `source`: a table or query source, read from a fixed in-memory database that it
//! must leave unchanged.

use crate::Result;
use crate::source::{self, Source};

/// How many progress callbacks (each after 1,000 SQLite virtual machine steps) a source may
/// take before it is interrupted: a source that never ends (a recursive CTE) is a user's own
/// query, not a bug, but would stall the fuzzer.
const SOURCE_STEPS: u32 = 2_000;

thread_local! {
    pub(super) static SOURCE_DB: rusqlite::Connection = source_db();
    static STEPS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn source_db() -> rusqlite::Connection {
    // Bounds what one statement can allocate (`zeroblob(1e9)`, `printf('%.*c', 1e9, 'x')`).
    // SAFETY: a plain setter of a process-wide limit, valid at any time.
    unsafe { rusqlite::ffi::sqlite3_hard_heap_limit64(256 << 20) };
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
    conn.execute_batch(
        "CREATE TABLE t(a, b, c);
         INSERT INTO t VALUES (1, 'x', 2.5), (2, 'y', NULL), (3, NULL, -1);
         CREATE VIEW v AS SELECT a, b FROM t WHERE a > 1;
         CREATE TABLE \"we\"\"ird.name\"(x);
         INSERT INTO \"we\"\"ird.name\" VALUES ('z');",
    )
    .expect("fixed schema");
    conn.progress_handler(
        1_000,
        Some(|| {
            STEPS.with(|s| {
                s.set(s.get() + 1);
                s.get() > SOURCE_STEPS
            })
        }),
    )
    .expect("a progress handler");
    conn
}

/// What a table source must be: `SELECT * FROM ` then one or two double-quoted identifiers
/// (inner quotes doubled) joined by a dot, and nothing else.
pub(super) fn is_quoted_path(sql: &str) -> bool {
    let Some(mut rest) = sql.strip_prefix("SELECT * FROM ") else { return false };
    for part in 0..2 {
        let Some(body) = rest.strip_prefix('"') else { return false };
        let mut chars = body.char_indices().peekable();
        let end = loop {
            match chars.next() {
                None => return false,
                Some((i, '"')) => {
                    if chars.peek().is_some_and(|&(_, c)| c == '"') {
                        chars.next();
                    } else {
                        break i;
                    }
                }
                Some(_) => {}
            }
        };
        rest = &body[end + 1..];
        if rest.is_empty() {
            return true;
        }
        if part == 0 {
            let Some(r) = rest.strip_prefix('.') else { return false };
            rest = r;
        }
    }
    false
}

/// `source::parse`, for tests.
pub fn parse_source(text: &str) -> Result<String> {
    Ok(match source::parse(text)? {
        Source::Table(sql) => sql,
        Source::Query(sql) => sql,
    })
}

/// Target `source`: classifies `text` as a source, checks a table source is a quoted name,
/// then reads it from a fixed in-memory database and checks that nothing changed.
pub fn source(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    match source::parse(text) {
        Ok(Source::Table(sql)) => assert!(is_quoted_path(&sql), "source {text:?} became {sql:?}"),
        Ok(Source::Query(sql)) => assert!(text.contains(&sql), "query {text:?} became {sql:?}"),
        Err(_) => return,
    }
    SOURCE_DB.with(|conn| {
        let fingerprint = |conn: &rusqlite::Connection| -> (u64, i64, i64) {
            let schema = conn.query_row("PRAGMA schema_version", [], |r| r.get(0)).unwrap_or(-1);
            let rows = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap_or(-1);
            (conn.total_changes(), schema, rows)
        };
        let before = fingerprint(conn);
        STEPS.with(|s| s.set(0));
        let all = source::read(conn, text);
        // Some of its columns (picked by the text's length): where both read, the dataset
        // has those columns and keeps every name of the source. (Their values may differ: a
        // source with `random()` reads anew.)
        STEPS.with(|s| s.set(0));
        let mask = text.len().wrapping_mul(0x9e37_79b9);
        let picked = |n: usize| -> Vec<usize> { (0..n).filter(|i| mask >> (i % 32) & 1 == 1).collect() };
        let some = source::read_columns(conn, text, |names| Some(picked(names.len())));
        if let (Ok(all), Ok(some)) = (&all, &some) {
            let names = all.source_column_names();
            assert_eq!(some.source_column_names(), names, "source {text:?}");
            assert_eq!(all.columns.len() + all.unreadable.len(), names.len(), "source {text:?}");
            // (No column picked reads every one.) The columns met, read or set aside, are
            // those picked, in order.
            let picked = picked(names.len());
            let read: Vec<usize> = if picked.is_empty() { (0..names.len()).collect() } else { picked };
            let met: Vec<&str> = some.met().into_iter().map(|m| some.met_name(m)).collect();
            let expected: Vec<&str> = read.iter().map(|&i| names[i]).collect();
            assert_eq!(met, expected, "source {text:?}");
            assert_eq!(some.columns.len() + some.unreadable.len(), read.len(), "source {text:?}");
        }
        STEPS.with(|s| s.set(0));
        assert_eq!(fingerprint(conn), before, "reading source {text:?} changed the database");
    });
}
