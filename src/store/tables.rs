//! sqlml's own tables as the database file presents them, and the transactions that write
//! them.
//!
//! The file may come from someone else: `ml_models`, `ml_meta` or `ml_training_log` may be
//! views, or carry triggers that would redirect or swallow sqlml's writes. Every write first
//! checks that the three are plain tables without triggers ([`check_writable`]) and refuses,
//! naming what it found, otherwise.

use crate::{Error, Result};
use rusqlite::{Connection, OptionalExtension, ffi};

/// The tables sqlml owns.
pub const TABLES: &[&str] = &["ml_models", "ml_meta", "ml_training_log"];

/// The type (`table`, `view`...) of the schema object `name` in `main`, if any.
fn object_type(conn: &Connection, name: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT type FROM main.sqlite_schema WHERE lower(name) = lower(?1) AND type IN ('table', 'view')",
            [name],
            |r| r.get(0),
        )
        .optional()?)
}

/// Whether the table `name` exists in `main` (a view of that name is an error).
pub fn exists(conn: &Connection, name: &str) -> Result<bool> {
    match object_type(conn, name)?.as_deref() {
        None => Ok(false),
        Some("table") => Ok(true),
        Some(other) => Err(not_a_table(name, other)),
    }
}

fn not_a_table(name: &str, what: &str) -> Error {
    Error::Damaged(format!(
        "'{name}' in this database is a {what}, not sqlml's table; sqlml neither reads nor writes it (rename or drop it)"
    ))
}

/// Checks that each of sqlml's tables that exists is a table (not a view).
pub fn check_shape(conn: &Connection) -> Result<()> {
    for t in TABLES {
        exists(conn, t)?;
    }
    Ok(())
}

/// Checks that sqlml's tables are plain tables with no triggers (in `main` or `temp`): a
/// trigger could swallow or redirect a write (e.g. `RAISE(IGNORE)` makes an insert report
/// success without a row), so sqlml refuses to write while one exists.
pub fn check_writable(conn: &Connection) -> Result<()> {
    check_shape(conn)?;
    let mut found = Vec::new();
    for schema in ["main", "temp"] {
        let mut stmt = conn.prepare(&format!(
            "SELECT name, tbl_name FROM {schema}.sqlite_schema WHERE type = 'trigger'
             AND lower(tbl_name) IN ('ml_models', 'ml_meta', 'ml_training_log') ORDER BY name"
        ))?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        for row in rows {
            let (name, table) = row?;
            found.push(format!("'{}' on {table}", crate::error::clip(&name)));
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    Err(Error::Damaged(format!(
        "refusing to write: sqlml's tables carry triggers that could change what is written ({}); nothing was changed (drop them with DROP TRIGGER)",
        found.join(", ")
    )))
}

/// Rows in `ml_models` (0 when the table does not exist).
pub fn model_rows(conn: &Connection) -> Result<i64> {
    if !exists(conn, "ml_models")? {
        return Ok(0);
    }
    Ok(conn.query_row("SELECT count(*) FROM main.ml_models", [], |r| r.get(0))?)
}

/// One statement running (stepped and not yet reset) on the connection.
pub struct Running<'a> {
    /// Its SQL text, `None` when SQLite kept none (a statement prepared without its text).
    pub sql: Option<&'a [u8]>,
    /// Whether it may write (`sqlite3_stmt_readonly` is false).
    pub writes: bool,
}

/// Calls `visit` for each statement running on `conn` until it returns true; returns whether
/// it did, and whether any statement was running at all. The one walk of SQLite's statement
/// list in sqlml.
pub fn find_running(conn: &Connection, mut visit: impl FnMut(Running<'_>) -> bool) -> (bool, bool) {
    let mut any = false;
    // SAFETY: the handle is this live connection's and is used on its own thread; the list of
    // statements is walked with SQLite's own iterator, and each statement's SQL text stays
    // valid while the statement exists, which it does while `visit` runs (nothing is kept).
    unsafe {
        let db = conn.handle();
        let mut stmt = ffi::sqlite3_next_stmt(db, std::ptr::null_mut());
        while !stmt.is_null() {
            if ffi::sqlite3_stmt_busy(stmt) != 0 {
                any = true;
                let sql = ffi::sqlite3_sql(stmt);
                let sql = (!sql.is_null()).then(|| std::ffi::CStr::from_ptr(sql).to_bytes());
                if visit(Running { sql, writes: ffi::sqlite3_stmt_readonly(stmt) == 0 }) {
                    return (true, any);
                }
            }
            stmt = ffi::sqlite3_next_stmt(db, stmt);
        }
    }
    (false, any)
}

/// True if a statement that writes is running on this connection (e.g. the
/// `CREATE TABLE ... AS SELECT` or `INSERT ... SELECT` that called sqlml).
fn write_in_progress(conn: &Connection) -> bool {
    find_running(conn, |s| s.writes).0
}

/// True if the main database is served by a dqlite VFS (`dqlite-1`...). dqlite 1.11
/// replicates the pages a COMMIT request writes; a transaction that a function commits on its
/// own inside a query is written on the leader alone, which then aborts at its next write and
/// loses it (see `docs/deployment.md`).
fn on_dqlite(conn: &Connection) -> bool {
    let mut vfs: *mut ffi::sqlite3_vfs = std::ptr::null_mut();
    // SAFETY: the handle is this live connection's; SQLITE_FCNTL_VFS_POINTER writes one
    // `sqlite3_vfs*` (owned by SQLite, valid while registered) into `vfs`; its name is a
    // NUL-terminated string or null.
    unsafe {
        let rc = ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_VFS_POINTER,
            (&raw mut vfs).cast(),
        );
        if rc != ffi::SQLITE_OK || vfs.is_null() || (*vfs).zName.is_null() {
            return false;
        }
        std::ffi::CStr::from_ptr((*vfs).zName).to_bytes().starts_with(b"dqlite")
    }
}

/// Ends the connection's transaction with a rollback, whatever stops a plain `ROLLBACK`.
///
/// Both statements are prepared before the work they undo. A pending interrupt
/// (`sqlite3_interrupt`) stays set while the caller's own statement runs, and SQLite then
/// refuses to run any statement, the prepared `ROLLBACK` included: an interrupt that lands on
/// sqlml's `COMMIT`, `RELEASE` or `ROLLBACK` would leave the transaction open, holding the
/// change that failed. But SQLite rolls back the whole transaction itself when a statement
/// that may write is interrupted, so the fallback steps such a statement (`BEGIN IMMEDIATE`,
/// which writes nothing and, not interrupted, fails harmlessly inside a transaction).
struct Undo<'c> {
    rollback: rusqlite::Statement<'c>,
    forced: rusqlite::Statement<'c>,
}

impl<'c> Undo<'c> {
    fn prepare(conn: &'c Connection) -> Result<Self> {
        Ok(Undo { rollback: conn.prepare("ROLLBACK")?, forced: conn.prepare("BEGIN IMMEDIATE")? })
    }

    /// Rolls back the open transaction, if any.
    fn all(&mut self, conn: &Connection) {
        if conn.is_autocommit() {
            return;
        }
        if self.rollback.execute([]).is_err() && !conn.is_autocommit() {
            let _ = self.forced.execute([]);
        }
    }
}

/// Whether this connection holds a read transaction on the main database (a statement running
/// on it reads a table, as `SELECT ml_train(name, ...) FROM jobs` does).
fn reading(conn: &Connection) -> bool {
    // SAFETY: the handle is this live connection's; the schema name is a NUL-terminated string.
    // (`sqlite3_txn_state` is SQLite 3.34's; the extension refuses older hosts.)
    unsafe { ffi::sqlite3_txn_state(conn.handle(), c"main".as_ptr()) == ffi::SQLITE_TXN_READ }
}

/// SQLite's error for a write that cannot begin (`e`), explained where it is busy while the
/// calling statement reads the database (`reading`): in WAL mode its read cannot become a
/// write once another connection committed or while one writes, and the busy handler is not
/// called (waiting cannot help); outside WAL mode the write lock waits for readers, and this
/// error does not come.
fn busy_reading(e: rusqlite::Error, reading: bool) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if reading && f.code == rusqlite::ErrorCode::DatabaseBusy => {
            Error::Refused(
                "the statement calling this one reads the database (as SELECT ml_train(name, ...) FROM jobs does), and another connection wrote to it since, or is writing: that read cannot become a write (in WAL mode, waiting cannot help); call it from a statement that reads no table, one call per statement".into(),
            )
        }
        _ => Error::from(e),
    }
}

/// Runs `f` as one atomic change: committed on success, rolled back on error, so a failure
/// leaves every table exactly as before.
///
/// Outside a transaction this is `BEGIN IMMEDIATE ... COMMIT`: the write lock is taken first,
/// through the connection's busy handler, so concurrent writers wait for each other (a
/// deferred transaction that reads first fails at once with `database is locked` when it
/// must upgrade). Inside the caller's transaction it is a savepoint, and the caller's
/// `COMMIT` or `ROLLBACK` decides. Refused while a statement that writes is running on the
/// connection: SQLite allows neither a savepoint nor a commit then, and the change would not
/// be atomic.
pub fn atomically<T>(conn: &Connection, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    if write_in_progress(conn) {
        return Err(Error::Refused(
            "cannot change sqlml's tables from inside a statement that itself writes (such as CREATE TABLE ... AS SELECT or INSERT ... SELECT); run the call as a plain SELECT, then store its result".into(),
        ));
    }
    if conn.is_autocommit() {
        if on_dqlite(conn) {
            return Err(Error::Refused(
                "on dqlite, call write-side functions inside BEGIN ... COMMIT (dqlite replicates only what a COMMIT request writes; this call would commit on this node alone and be lost)".into(),
            ));
        }
        // Prepared before any work: a pending interrupt makes SQLite refuse to *prepare* any
        // statement (its parser checks the flag).
        let mut undo = Undo::prepare(conn)?;
        let reading = reading(conn);
        let done = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| busy_reading(e, reading))
            .and_then(|_| f())
            .and_then(|v| {
                conn.execute_batch("COMMIT")?;
                Ok(v)
            });
        if done.is_err() {
            undo.all(conn);
        }
        return done;
    }
    let mut back_to = conn.prepare(&format!("ROLLBACK TO {name}"))?;
    let mut release = conn.prepare(&format!("RELEASE {name}"))?;
    let mut undo = Undo::prepare(conn)?;
    conn.execute_batch(&format!("SAVEPOINT {name}"))?;
    match f().and_then(|v| {
        release.execute([])?;
        Ok(v)
    }) {
        Ok(v) => Ok(v),
        Err(e) => {
            if back_to.execute([]).and_then(|_| release.execute([])).is_err() {
                // The savepoint could not be rolled back: the caller's transaction must not
                // keep this change, so all of it goes, as SQLite itself does when a write is
                // interrupted.
                undo.all(conn);
            }
            Err(e)
        }
    }
}
