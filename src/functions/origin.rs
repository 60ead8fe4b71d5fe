//! Where a call comes from, and refusing the calls that must not run.
//!
//! Two rules, both checked before a function touches models, keys or user SQL:
//!
//! 1. **No nesting.** While an sqlml call runs (and with it, user SQL: a `source`, or a view,
//!    trigger or generated column that the source reads), no other sqlml call may start on the
//!    same thread. Without this, a source could drop or re-key models in the middle of a
//!    training, or recurse through `ml_evaluate` until the stack overflows. The marker is
//!    per thread: SQLite runs a nested call on the thread of the call that stepped it.
//! 2. **Top-level SQL only.** A function flagged `SQLITE_DIRECTONLY` must not run from the
//!    database schema, but SQLite does not enforce the flag in every schema place on every
//!    version. A call whose name appears in none of the statements running on the connection
//!    did not come from the SQL the application wrote: it came from a CHECK constraint, a
//!    DEFAULT, a generated column, an index expression, a trigger or a view of the file, and
//!    is refused. (When the host prepared its statement without keeping its text, the check
//!    cannot tell and lets the call through.)

use crate::store::tables::find_running;
use crate::{Error, Result};
use rusqlite::Connection;
use std::cell::Cell;

thread_local! {
    /// The sqlml function running on this thread, if any.
    static RUNNING: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// Marks `func` as running on this thread until dropped.
#[must_use]
pub struct Running {
    _private: (),
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(None));
    }
}

/// Enters `func`; refused if another sqlml call is running on this thread.
pub fn enter(func: &'static str) -> Result<Running> {
    RUNNING.with(|r| match r.get() {
        Some(outer) => Err(Error::Refused(format!(
            "refused: called while {outer} is running on this connection (a source, view, trigger or function that {outer} runs cannot call sqlml functions)"
        ))),
        None => {
            r.set(Some(func));
            Ok(Running { _private: () })
        }
    })
}

/// Refuses a call of `func` that does not come from the SQL being run (see the module doc).
pub fn top_level(conn: &Connection, func: &str) -> Result<()> {
    if named_by_running_sql(conn, func) {
        return Ok(());
    }
    Err(Error::Refused(
        "refused: called from the database schema (a view, trigger, CHECK, DEFAULT, generated column or index expression), not from the statement being run; sqlml functions run only from top-level SQL".into(),
    ))
}

/// Whether some statement running on `conn` names `func` in its SQL text, or the text of a
/// running statement is not available.
fn named_by_running_sql(conn: &Connection, func: &str) -> bool {
    let (named, any_running) = find_running(conn, |s| s.sql.is_none_or(|sql| mentions(sql, func.as_bytes())));
    // No running statement at all: called directly through the C API (sqlite3_step of a
    // statement that is not busy cannot call anything), so nothing to distinguish.
    named || !any_running
}

/// Whether `name` occurs in `sql` as a whole identifier, in any case, outside string literals
/// and comments (a file's CHECK must not pass because the victim's statement quotes the name
/// in a string or a comment).
fn mentions(sql: &[u8], name: &[u8]) -> bool {
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    let mut i = 0;
    while i < sql.len() {
        match sql[i] {
            b'\'' => {
                // A string literal, up to its closing quote ('' is an escaped quote).
                i += 1;
                while i < sql.len() {
                    if sql[i] == b'\'' {
                        if sql.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'-' if sql.get(i + 1) == Some(&b'-') => {
                while i < sql.len() && sql[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if sql.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < sql.len() && !(sql[i] == b'*' && sql.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            c if ident(c) => {
                let start = i;
                while i < sql.len() && ident(sql[i]) {
                    i += 1;
                }
                if sql[start..i].eq_ignore_ascii_case(name) {
                    return true;
                }
            }
            _ => i += 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_identifiers_in_any_case() {
        assert!(mentions(b"SELECT ml_predict('m', x) FROM t", b"ml_predict"));
        assert!(mentions(b"select ML_PREDICT ('m', x)", b"ml_predict"));
        assert!(mentions(b"SELECT \"ml_predict\"('m')", b"ml_predict"));
        assert!(!mentions(b"SELECT ml_predict_proba('m', x)", b"ml_predict"));
        assert!(!mentions(b"SELECT xml_predict('m', x)", b"ml_predict"));
        assert!(!mentions(b"INSERT INTO t VALUES (1)", b"ml_predict"));
        assert!(mentions(b"ml_drop", b"ml_drop"));
        // Not inside strings or comments.
        assert!(!mentions(b"INSERT INTO t VALUES ('says the ml_predict job')", b"ml_predict"));
        assert!(!mentions(b"INSERT INTO t VALUES ('it''s ml_predict')", b"ml_predict"));
        assert!(!mentions(b"INSERT INTO t VALUES (1) -- ml_predict\n", b"ml_predict"));
        assert!(!mentions(b"INSERT /* ml_predict */ INTO t VALUES (1)", b"ml_predict"));
        assert!(mentions(b"SELECT 'x''', ml_predict('m', 'a') -- c", b"ml_predict"));
        assert!(mentions(b"SELECT [ml_predict]('m')", b"ml_predict"));
    }

    #[test]
    fn nesting_is_refused_and_released() {
        let outer = enter("ml_train").unwrap();
        let e = enter("ml_drop").err().unwrap().to_string();
        assert!(e.starts_with("refused: called while ml_train is running"), "{e}");
        drop(outer);
        assert!(enter("ml_drop").is_ok());
    }
}
