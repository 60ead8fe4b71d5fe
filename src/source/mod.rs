//! Reads a training or evaluation source into typed columns, once.
//!
//! A source is a table or view name (optionally `schema.name`), or one read-only `SELECT`
//! (also `WITH ... SELECT` and `VALUES`). Anything that would write is refused before it runs.

use crate::error::clip;
use crate::models::columns::{Numbers, TextBuilder};
use crate::models::data::{Cell, Unreadable};
use crate::models::{Column, ColumnData, Dataset, Input};
use crate::{Error, Result};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, ffi};
use std::os::raw::c_int;

/// How a source argument was understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A table or view: the SQL that reads it.
    Table(String),
    /// A query given by the user.
    Query(String),
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Classifies the `source` argument.
pub fn parse(source: &str) -> Result<Source> {
    let trimmed = source.trim().trim_end_matches(';').trim();
    if trimmed.is_empty() {
        return Err(Error::argument(
            "argument 'source' must be a table name, a view name or a SELECT, got ''",
        ));
    }
    let first = trimmed.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    let first = first.trim_start_matches('(');
    // Statements that write are queries too (a table name has no unquoted space), so that the
    // check of every query refuses them as writes rather than as unknown table names.
    let writes = matches!(first, "insert" | "update" | "delete" | "replace" | "create" | "drop" | "alter")
        && trimmed.contains(char::is_whitespace);
    if matches!(first, "select" | "with" | "values") || writes {
        return Ok(Source::Query(trimmed.to_string()));
    }
    // A plain (possibly schema-qualified, possibly quoted) name; read as one name when it is
    // not one of those (SQLite then says there is no such table).
    let parts = name_parts(trimmed).unwrap_or_else(|| vec![trimmed.to_string()]);
    let quoted: Vec<String> = parts.iter().map(|p| quote_ident(p)).collect();
    Ok(Source::Table(format!("SELECT * FROM {}", quoted.join("."))))
}

/// The parts of a table or view name, `table` or `schema.table`, each bare or quoted as SQLite
/// quotes names (`"..."` and `` `...` `` with the quote doubled inside, `[...]`), unquoted; None
/// when `name` is not such a name.
fn name_parts(name: &str) -> Option<Vec<String>> {
    /// The name quoted by `q` at the start of `s` (after the opening quote), and what follows.
    fn quoted(s: &str, q: char) -> Option<(String, &str)> {
        let mut out = String::new();
        let mut chars = s.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != q {
                out.push(c);
            } else if s[i + 1..].starts_with(q) {
                out.push(q);
                chars.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        }
        None
    }
    let mut parts = Vec::new();
    let mut rest = name.trim();
    loop {
        let (part, after) = match rest.chars().next()? {
            q @ ('"' | '`') => quoted(&rest[1..], q)?,
            '[' => {
                let end = rest.find(']')?;
                (rest[1..end].to_string(), &rest[end + 1..])
            }
            _ => {
                let end = rest.find('.').unwrap_or(rest.len());
                (rest[..end].trim_end().to_string(), &rest[end..])
            }
        };
        parts.push(part);
        let after = after.trim_start();
        if after.is_empty() {
            return Some(parts);
        }
        if parts.len() == 2 {
            return None;
        }
        rest = after.strip_prefix('.')?.trim_start();
    }
}

/// A column being read: its type is the first non-NULL value's (integers meeting a real
/// become reals). The values grow fallibly, so a source too large for the machine is an
/// error, not an abort of the host.
enum Builder {
    Unknown(usize),
    Integer(Numbers<i64>),
    Real(Numbers<f64>),
    Text(TextBuilder),
}

impl Builder {
    /// Appends row `row`'s value `v` of column `col`; `what` names the column's memory in the
    /// error of a refused allocation (the outer error). The inner error is of a value the
    /// column cannot hold (a blob, a type other than the column's, text that is not UTF-8),
    /// which leaves the column as it was.
    fn push(&mut self, v: ValueRef<'_>, col: &str, what: &str, row: usize) -> Result<Result<()>> {
        let mixed = |what: &str, have: &str| {
            Error::data(format!(
                "column '{col}' mixes {have} and {what} values (row {row} is {what}); make it one type, e.g. with CAST in a SELECT"
            ))
        };
        match v {
            ValueRef::Blob(_) => return Ok(Err(blob(col, row))),
            ValueRef::Null => match self {
                Builder::Unknown(n) => *n += 1,
                Builder::Integer(xs) => xs.push(None, what)?,
                Builder::Real(xs) => xs.push(None, what)?,
                Builder::Text(xs) => xs.push(None, what)?,
            },
            ValueRef::Integer(i) => match self {
                Builder::Unknown(n) => {
                    let mut xs = Numbers::nulls(*n, what)?;
                    xs.push(Some(i), what)?;
                    *self = Builder::Integer(xs);
                }
                Builder::Integer(xs) => xs.push(Some(i), what)?,
                Builder::Real(xs) => xs.push(Some(i as f64), what)?,
                Builder::Text(_) => return Ok(Err(mixed("numeric", "text"))),
            },
            ValueRef::Real(r) => match self {
                Builder::Unknown(n) => {
                    let mut xs = Numbers::nulls(*n, what)?;
                    xs.push(Some(r), what)?;
                    *self = Builder::Real(xs);
                }
                Builder::Integer(xs) => {
                    let mut reals = xs.to_reals(what)?;
                    reals.push(Some(r), what)?;
                    *self = Builder::Real(reals);
                }
                Builder::Real(xs) => xs.push(Some(r), what)?,
                Builder::Text(_) => return Ok(Err(mixed("numeric", "text"))),
            },
            ValueRef::Text(t) => match self {
                Builder::Integer(_) | Builder::Real(_) => return Ok(Err(mixed("text", "numeric"))),
                Builder::Unknown(n) => {
                    let t = match text(t, col, row) {
                        Ok(t) => t,
                        Err(e) => return Ok(Err(e)),
                    };
                    let mut xs = TextBuilder::nulls(*n, what)?;
                    xs.push(Some(t), what)?;
                    *self = Builder::Text(xs);
                }
                Builder::Text(xs) => match text(t, col, row) {
                    Ok(t) => xs.push(Some(t), what)?,
                    Err(e) => return Ok(Err(e)),
                },
            },
        }
        Ok(Ok(()))
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Unknown(n) => ColumnData::Null(n),
            Builder::Integer(v) => ColumnData::Integer(v),
            Builder::Real(v) => ColumnData::Real(v),
            Builder::Text(v) => ColumnData::Text(v.finish()),
        }
    }
}

fn blob(col: &str, row: usize) -> Error {
    Error::data(format!("column '{col}' holds a blob in row {row}; {BLOB_HINT}"))
}

/// What a blob cell's error says after where it is ([`blob`]). A read of every column for a
/// scoring adds [`LEAVE_OUT`]; a training sets such a column aside ([`Unreadable`]).
const BLOB_HINT: &str = "sqlml reads numbers and text only";

/// How to leave a column out of a read of every column.
const LEAVE_OUT: &str = " (leave such a column out: name the columns to use in a SELECT)";

fn text<'a>(bytes: &'a [u8], col: &str, row: usize) -> Result<&'a str> {
    simdutf8::basic::from_utf8(bytes)
        .map_err(|_| Error::data(format!("column '{col}' holds text that is not valid UTF-8 in row {row}")))
}

/// The rows of a statement read through SQLite's C API: two calls per cell (type, value),
/// where `rusqlite`'s `Row::get_ref` makes three (it checks the column count first) and wraps
/// each in a `Result`. On MovieLens 100K this took the read of 80,000 rows × 3 columns from
/// 7.9 to 6.3 ms (the rest is SQLite's own stepping). Used only after `rusqlite` has prepared
/// and checked the same SQL, so the errors users see come from there.
struct Rows<'conn> {
    conn: &'conn Connection,
    stmt: *mut ffi::sqlite3_stmt,
}

impl<'conn> Rows<'conn> {
    fn prepare(conn: &'conn Connection, sql: &str) -> Result<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| Error::argument("argument 'source' is too long"))?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: the handle is this live connection's; `sql` is valid for `len` bytes; SQLite
        // writes the statement pointer (or null) into `stmt`, which `Drop` finalizes.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(conn.handle(), sql.as_ptr().cast(), len, &mut stmt, std::ptr::null_mut())
        };
        let rows = Rows { conn, stmt };
        if rc != ffi::SQLITE_OK || rows.stmt.is_null() {
            return Err(rows.error(if rc == ffi::SQLITE_OK { ffi::SQLITE_MISUSE } else { rc }));
        }
        Ok(rows)
    }

    /// Moves to the next row; false when there are no more.
    fn step(&mut self) -> Result<bool> {
        // SAFETY: `stmt` is a valid prepared statement until `Drop`.
        match unsafe { ffi::sqlite3_step(self.stmt) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            code => Err(self.error(code)),
        }
    }

    /// Column `col` of the current row, as `rusqlite`'s `get_ref` gives it (except that a
    /// blob's bytes are not fetched: no reader uses them). Valid until the next `step`.
    fn value(&self, col: usize) -> Result<ValueRef<'_>> {
        let col = col as c_int;
        // SAFETY: called only after `step` returned a row, with `col` below the column count
        // (one builder per column); the text bytes stay valid until the next step, and the
        // value borrows `self`, which `step` needs mutably. The column's value is read
        // through `sqlite3_column_value` (see `column_value`).
        unsafe {
            let v = self.column_value(col);
            Ok(match ffi::sqlite3_value_type(v) {
                ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(v)),
                ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(v)),
                ffi::SQLITE_TEXT => {
                    let text = ffi::sqlite3_value_text(v);
                    let len = ffi::sqlite3_value_bytes(v);
                    if text.is_null() {
                        return Err(self.error(ffi::SQLITE_NOMEM));
                    }
                    ValueRef::Text(std::slice::from_raw_parts(text, len as usize))
                }
                ffi::SQLITE_BLOB => ValueRef::Blob(&[]),
                _ => ValueRef::Null,
            })
        }
    }

    /// Column `col` of the current row as SQLite holds it: one call into SQLite (one turn of
    /// the connection's mutex) where `sqlite3_column_type` and then `sqlite3_column_int64`
    /// (or `_text` and `_bytes`) take two or three; 100,000 rows of three numbers read in
    /// 6.3 ms instead of 7.4.
    ///
    /// # Safety
    /// After `step` returned a row, with `col` below the column count. The value is
    /// "unprotected" in SQLite's terms: read with `sqlite3_value_*` it is not guarded against
    /// another thread using the connection meanwhile. None can: the connection is used from
    /// this thread only (a `rusqlite::Connection` is not `Sync`, and inside an `ml_*` call
    /// SQLite holds the connection's mutex for the whole outer statement), exactly as the
    /// text pointers the column functions return are only valid on that condition.
    #[inline]
    unsafe fn column_value(&self, col: c_int) -> *mut ffi::sqlite3_value {
        // SAFETY: as the caller promises.
        unsafe { ffi::sqlite3_column_value(self.stmt, col) }
    }

    /// The common case in one step: column `col` of the current row is an integer going into
    /// an integer column, or a real into a real column, with room and in the column's
    /// storage type (what [`Builder::push`] would do with it). False, with nothing done, for
    /// anything else.
    #[inline]
    fn push_number(&self, b: &mut Builder, col: usize) -> bool {
        let col = col as c_int;
        // SAFETY: as in `value`: a current row and `col` below the column count.
        unsafe {
            let v = self.column_value(col);
            match (b, ffi::sqlite3_value_type(v)) {
                // A full column goes the slow way, which grows it fallibly.
                (Builder::Integer(xs), ffi::SQLITE_INTEGER) => xs.push_fast(ffi::sqlite3_value_int64(v)),
                (Builder::Real(xs), ffi::SQLITE_FLOAT) => xs.push_fast(ffi::sqlite3_value_double(v)),
                _ => false,
            }
        }
    }

    /// The name SQLite gives column `col` of the statement.
    fn column_name(&self, col: usize) -> String {
        // SAFETY: `stmt` is valid and `col` below the column count; the name is a
        // NUL-terminated string valid until the statement is finalized.
        unsafe {
            let name = ffi::sqlite3_column_name(self.stmt, col as c_int);
            if name.is_null() {
                String::new()
            } else {
                std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
            }
        }
    }

    /// The error for result code `code`, with the connection's message as `rusqlite` builds it.
    #[cold]
    fn error(&self, code: c_int) -> Error {
        // SAFETY: the handle is this live connection's; the message pointers SQLite returns are
        // valid NUL-terminated strings until the next call on the connection.
        let message = unsafe {
            let db = self.conn.handle();
            let text = if ffi::sqlite3_errcode(db) == code {
                ffi::sqlite3_errmsg(db)
            } else {
                ffi::sqlite3_errstr(code)
            };
            (!text.is_null()).then(|| std::ffi::CStr::from_ptr(text).to_string_lossy().into_owned())
        };
        Error::Sqlite(rusqlite::Error::SqliteFailure(ffi::Error::new(code), message))
    }
}

impl Drop for Rows<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` came from `sqlite3_prepare_v2` (finalizing null is a no-op) and is
        // not used after this.
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

/// The SQL of `source` after the checks every reader makes (one statement, read-only, valid),
/// and its column names.
fn checked(conn: &Connection, source: &str) -> Result<(String, Vec<String>)> {
    let parsed = parse(source)?;
    let sql = match &parsed {
        Source::Table(sql) | Source::Query(sql) => sql,
    };
    let stmt = conn.prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => {
            Error::argument("argument 'source' must be a single SELECT statement, got several statements")
        }
        rusqlite::Error::SqliteFailure(_, Some(msg)) => match &parsed {
            Source::Table(_) => Error::argument(format!(
                "argument 'source' must name a table or view, or be a SELECT; '{}' is neither ({})",
                clip(source),
                clip(&msg)
            )),
            Source::Query(_) => {
                Error::argument(format!("argument 'source' is not a valid query: {}", clip(&msg)))
            }
        },
        other => Error::Sqlite(other),
    })?;
    if !stmt.readonly() {
        return Err(Error::argument("argument 'source' must be a read-only SELECT; this statement writes"));
    }
    if stmt.parameter_count() > 0 {
        // Unbound, SQLite would run it with NULLs: no rows, or the wrong ones, without a word.
        let name = stmt.parameter_name(1).unwrap_or("?");
        return Err(Error::argument(format!(
            "argument 'source' has a parameter ({}), which sqlml cannot bind; write the value into the query, or read from a table or view",
            clip(name)
        )));
    }
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    drop(stmt);
    Ok((sql.clone(), names))
}

/// Reads up to `limit` more rows of `rows` into columns (those at the positions `picked`, in
/// that order), stopping early after the row that brings the text read to `max_text_bytes`;
/// `done` counts the rows read before. Returns the columns, the rows read, and whether the
/// statement is exhausted. Only the picked columns are read: another column's values (a blob,
/// mixed types) are neither kept nor checked.
#[allow(clippy::type_complexity)]
fn read_rows(
    rows: &mut Rows<'_>,
    names: &[String],
    picked: &[usize],
    (limit, max_text_bytes): (usize, usize),
    done: usize,
    aside: bool,
) -> Result<(Vec<Column>, Vec<Unreadable>, usize, bool)> {
    let mut builders: Vec<Builder> = picked.iter().map(|_| Builder::Unknown(0)).collect();
    let whats: Vec<String> =
        picked.iter().map(|&i| format!("column '{}' of the source", clip(&names[i]))).collect();
    // Set aside: the first error of each column that cannot be read (with `aside` only).
    let mut failed: Vec<Option<Unreadable>> = picked.iter().map(|_| None).collect();
    let (mut n, mut text_bytes, mut exhausted) = (0usize, 0usize, false);
    while n < limit && text_bytes < max_text_bytes {
        if !rows.step().map_err(|e| stepping_failed(e, done + n + 1))? {
            exhausted = true;
            break;
        }
        n += 1;
        for (((b, &i), what), failed) in builders.iter_mut().zip(picked).zip(&whats).zip(&mut failed) {
            if failed.is_some() || rows.push_number(b, i) {
                continue;
            }
            let v = rows.value(i)?;
            // (A refused allocation is the outer error, never a column set aside.)
            match b.push(v, &names[i], what, done + n)? {
                Ok(()) => {}
                // A value of a type or encoding the column cannot hold: the column is set
                // aside, its values given back. Might it be text? Text that is not UTF-8, or a
                // column of text until a number came; not a blob, nor numbers until text came.
                Err(e) if aside => {
                    let blob = matches!(v, ValueRef::Blob(_));
                    let numbers = matches!(b, Builder::Integer(_) | Builder::Real(_));
                    *failed = Some(Unreadable {
                        name: names[i].clone(),
                        at: 0,
                        blob,
                        maybe_text: !blob && !numbers,
                        message: e.to_string(),
                    });
                    *b = Builder::Unknown(0);
                }
                Err(e) if matches!(v, ValueRef::Blob(_)) => {
                    return Err(Error::data(format!("{e}{LEAVE_OUT}")));
                }
                Err(e) => return Err(e),
            }
            if let ValueRef::Text(t) = v {
                text_bytes += t.len();
            }
        }
    }
    let (mut columns, mut unreadable) = (Vec::new(), Vec::new());
    for (at, ((&i, b), failed)) in picked.iter().zip(builders).zip(failed).enumerate() {
        match failed {
            Some(u) => unreadable.push(Unreadable { at, ..u }),
            None => columns.push(Column { name: names[i].clone(), data: b.finish() }),
        }
    }
    Ok((columns, unreadable, n, exhausted))
}

/// The column names of `source`, after the checks every reader makes.
pub fn column_names(conn: &Connection, source: &str) -> Result<Vec<String>> {
    Ok(checked(conn, source)?.1)
}

/// Reads every column of the source ([`read_columns`] picking none; the calls read the columns
/// they use, tests and fuzzing read every one).
#[cfg(any(test, feature = "fuzzing"))]
pub fn read(conn: &Connection, source: &str) -> Result<Dataset> {
    read_columns(conn, source, |_| None)
}

/// Reads the whole source into a [`Dataset`], of the columns `pick` chooses from the source's
/// column names (their positions; in source order, each once, at least one), or of every column
/// where it gives `None`. The dataset then has only those columns, and the names of all of them
/// in [`Dataset::source_columns`]. The other columns are not read: their values (a blob, mixed
/// types) are neither kept nor checked. A column read that holds a value it cannot (a blob,
/// text and numbers mixed, text that is not UTF-8) is set aside with its first such error
/// ([`Dataset::unreadable`]): the kind that asks for it meets the error. Errors: a statement
/// that writes, several statements, a missing table, a refused allocation, no rows.
pub fn read_columns(
    conn: &Connection,
    source: &str,
    pick: impl FnOnce(&[String]) -> Option<Vec<usize>>,
) -> Result<Dataset> {
    let (sql, names) = checked(conn, source)?;
    let picked = checked_pick(pick(&names), names.len());
    let all: Vec<usize> = (0..names.len()).collect();
    let mut rows = Rows::prepare(conn, &sql)?;
    let (columns, unreadable, n, _) =
        read_rows(&mut rows, &names, picked.as_deref().unwrap_or(&all), (usize::MAX, usize::MAX), 0, true)?;
    if n == 0 {
        return Err(Error::data(format!("source '{}' has no rows", clip(source.trim()))));
    }
    let mut data = Dataset::new(columns);
    // (Every column may have been set aside.)
    data.n_rows = n;
    if picked.is_some() || !unreadable.is_empty() {
        data.source_columns = names;
    }
    data.unreadable = unreadable;
    Ok(data)
}

/// `picked`, if it picks some of `n` columns: at least one, in order, each once, in range (a
/// pick of no column, or out of order, repeated or out of range, reads every column).
fn checked_pick(picked: Option<Vec<usize>>, n: usize) -> Option<Vec<usize>> {
    picked.filter(|p| !p.is_empty() && p.windows(2).all(|w| w[0] < w[1]) && p.last().is_some_and(|&i| i < n))
}

/// A source read a batch of rows at a time (memory bounded by the batch, not the source).
///
/// Holds a prepared statement of the connection between calls: create, use and drop it on
/// the connection's thread, while the connection is open (a cursor of a virtual table on that
/// connection does).
pub struct Batches {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    names: Vec<String>,
    /// The positions of the columns [`Batches::next_batch`] reads (every one unless
    /// [`Batches::pick_columns`] chose some).
    picked: Vec<usize>,
    done: usize,
    finished: bool,
}

impl Batches {
    /// Checks and prepares `source` on `conn`.
    pub fn open(conn: &Connection, source: &str) -> Result<Batches> {
        let (sql, names) = checked(conn, source)?;
        let rows = std::mem::ManuallyDrop::new(Rows::prepare(conn, &sql)?);
        // SAFETY: the handle is this live connection's; the statement now belongs to `Batches`.
        let picked = (0..names.len()).collect();
        Ok(Batches { db: unsafe { conn.handle() }, stmt: rows.stmt, names, picked, done: 0, finished: false })
    }

    /// The source's column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Makes [`Batches::next_batch`] read only the columns `pick` chooses from the source's
    /// column names, as [`read_columns`] does (every column where it gives `None`).
    pub fn pick_columns(&mut self, pick: impl FnOnce(&[String]) -> Option<Vec<usize>>) {
        if let Some(picked) = checked_pick(pick(&self.names), self.names.len()) {
            self.picked = picked;
        }
    }

    /// The number of columns [`Batches::next_batch`] reads.
    pub fn width(&self) -> usize {
        self.picked.len()
    }

    /// Rows read so far.
    pub fn rows_read(&self) -> usize {
        self.done
    }

    /// The next `limit` rows: fewer at the end, or once their text reaches `max_text_bytes`
    /// (the row that crosses it ends the batch); None when the source is exhausted.
    pub fn next_batch(&mut self, limit: usize, max_text_bytes: usize) -> Result<Option<Dataset>> {
        if self.finished {
            return Ok(None);
        }
        // SAFETY: `db` is the live connection this was opened on, used on its thread; the
        // non-owning `Connection` does not close it.
        let conn = unsafe { Connection::from_handle(self.db) }?;
        let mut rows = std::mem::ManuallyDrop::new(Rows { conn: &conn, stmt: self.stmt });
        let (columns, _, n, exhausted) = read_rows(
            &mut rows,
            &self.names,
            &self.picked,
            (limit.max(1), max_text_bytes),
            self.done,
            false,
        )?;
        self.done += n;
        self.finished = exhausted;
        if n == 0 {
            return Ok(None);
        }
        let mut data = Dataset::new(columns);
        if self.picked.len() < self.names.len() {
            data.source_columns = self.names.clone();
        }
        Ok(Some(data))
    }
}

/// The current row of a source read cell by cell ([`Batches::next_rows`]): its cells as the
/// statement holds them, valid until the next row.
pub struct Row<'a> {
    rows: &'a Rows<'a>,
    number: usize,
    width: usize,
}

impl Row<'_> {
    /// The row's position in the source, from 1.
    pub fn number(&self) -> usize {
        self.number
    }

    /// Cell `col` (below the column count), borrowed from the statement. Text must be valid
    /// UTF-8; a blob's bytes are not fetched (its value is empty).
    pub fn get(&self, col: usize) -> Result<Input<'_>> {
        Ok(match self.cell(col)? {
            Cell::Text(t) => Input::Text(simdutf8::basic::from_utf8(t).map_err(|_| {
                Error::data(format!(
                    "column '{}' holds text that is not valid UTF-8 in row {}",
                    clip(&self.rows.column_name(col)),
                    self.number
                ))
            })?),
            Cell::Other(v) => v,
        })
    }

    /// Cell `col` (below the column count), borrowed from the statement, its text not yet
    /// checked to be UTF-8 ([`Row::get`] checks it).
    pub fn cell(&self, col: usize) -> Result<Cell<'_>> {
        if col >= self.width {
            return Err(Error::Internal(format!("column {col} of a source of {} columns", self.width)));
        }
        Ok(match self.rows.value(col)? {
            ValueRef::Null => Cell::Other(Input::Null),
            ValueRef::Integer(i) => Cell::Other(Input::Integer(i)),
            ValueRef::Real(r) => Cell::Other(Input::Real(r)),
            ValueRef::Text(t) => Cell::Text(t),
            ValueRef::Blob(b) => Cell::Other(Input::Blob(b)),
        })
    }
}

impl Batches {
    /// Steps through up to `limit` more rows, giving each to `each` as the statement holds it
    /// (nothing is copied); `each` returns how many bytes it kept, and the batch ends after the
    /// row that brings them to `max_kept_bytes`. Returns the rows read (0 when the source is
    /// exhausted).
    pub fn next_rows(
        &mut self,
        limit: usize,
        max_kept_bytes: usize,
        mut each: impl FnMut(&Row<'_>) -> Result<usize>,
    ) -> Result<usize> {
        if self.finished {
            return Ok(0);
        }
        // SAFETY: as in `next_batch`.
        let conn = unsafe { Connection::from_handle(self.db) }?;
        let mut rows = std::mem::ManuallyDrop::new(Rows { conn: &conn, stmt: self.stmt });
        let (mut n, mut kept) = (0usize, 0usize);
        while n < limit.max(1) && kept < max_kept_bytes {
            if !rows.step().map_err(|e| stepping_failed(e, self.done + n + 1))? {
                self.finished = true;
                break;
            }
            n += 1;
            let row = Row { rows: &rows, number: self.done + n, width: self.names.len() };
            match each(&row) {
                Ok(bytes) => kept = kept.saturating_add(bytes),
                Err(e) => {
                    self.done += n;
                    return Err(e);
                }
            }
        }
        self.done += n;
        Ok(n)
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        // SAFETY: `stmt` came from `sqlite3_prepare_v2` and is finalized once, here.
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

/// An error SQLite raised while computing row `row` of the source (an integer overflow, a
/// failing function in a view...): SQLite's message, naming the argument and the row. An
/// interruption (`sqlite3_interrupt`) stays as SQLite says it.
fn stepping_failed(e: Error, row: usize) -> Error {
    match e {
        Error::Sqlite(rusqlite::Error::SqliteFailure(f, msg))
            if f.code != rusqlite::ErrorCode::OperationInterrupted =>
        {
            let msg = msg.unwrap_or_else(|| f.to_string());
            Error::argument(format!("argument 'source' failed at row {row}: {}", clip(&msg)))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::Met;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t(a, b, c, d);
             INSERT INTO t VALUES (1, 'x', NULL, 1), (2.5, 'y', NULL, 2), (NULL, NULL, NULL, 3);",
        )
        .unwrap();
        c
    }

    /// Only the picked columns are read: the others' values (a blob, mixed types) are neither
    /// kept nor checked, and the dataset keeps every name of the source.
    #[test]
    fn only_the_picked_columns_are_read() {
        let c = db();
        c.execute_batch("CREATE TABLE w(id, body, bin, mixed); INSERT INTO w VALUES (1, 'a', x'00', 1), (2, 'b', x'01', 't');")
            .unwrap();
        // Read whole, the columns that cannot be read are set aside, with their first error.
        let whole = read(&c, "w").unwrap();
        assert_eq!(whole.column_names(), ["id", "body"]);
        assert_eq!(whole.source_column_names(), ["id", "body", "bin", "mixed"]);
        let aside: Vec<_> = whole.unreadable.iter().map(|u| (u.name.as_str(), u.blob)).collect();
        assert_eq!(aside, [("bin", true), ("mixed", false)]);
        // Met in source order, read or set aside.
        let met: Vec<(&str, bool)> =
            whole.met().into_iter().map(|m| (whole.met_name(m), matches!(m, Met::Aside(_)))).collect();
        assert_eq!(met, [("id", false), ("body", false), ("bin", true), ("mixed", true)]);
        let picked = read_columns(&c, "w", |_| Some(vec![1, 2])).unwrap();
        let met: Vec<&str> = picked.met().into_iter().map(|m| picked.met_name(m)).collect();
        assert_eq!((met, picked.unreadable[0].at), (vec!["body", "bin"], 1));
        assert_eq!(
            whole.column("BIN", "test").unwrap_err().to_string(),
            "column 'bin' holds a blob in row 1; sqlml reads numbers and text only"
        );
        assert!(whole.column("mixed", "test").unwrap_err().to_string().contains("mixes numeric and text"));
        assert_eq!(whole.subset(&[0]).unreadable, whole.unreadable);
        let d = read_columns(&c, "w", |names| {
            assert_eq!(names, ["id", "body", "bin", "mixed"]);
            Some(vec![0, 1])
        })
        .unwrap();
        assert_eq!(d.column_names(), ["id", "body"]);
        assert_eq!(d.columns, read(&c, "SELECT id, body FROM w").unwrap().columns);
        assert_eq!(d.source_column_names(), ["id", "body", "bin", "mixed"]);
        assert_eq!(d.subset(&[1]).source_column_names(), ["id", "body", "bin", "mixed"]);
        assert!(d.unreadable.is_empty());
        // Every column (no pick, or one out of order, repeated or out of range): as read
        // whole; every column read keeps no separate list of names.
        for pick in [None, Some(vec![]), Some(vec![1, 0]), Some(vec![0, 0]), Some(vec![0, 4])] {
            let d = read_columns(&c, "w", |_| pick.clone()).unwrap();
            assert_eq!((&d.columns, &d.unreadable), (&whole.columns, &whole.unreadable), "{pick:?}");
        }
        // In batches too.
        let mut batches = Batches::open(&c, "w").unwrap();
        batches.pick_columns(|_| Some(vec![1]));
        assert_eq!(batches.width(), 1);
        let batch = batches.next_batch(1, usize::MAX).unwrap().unwrap();
        assert_eq!((batch.column_names(), batch.n_rows), (vec!["body"], 1));
        assert_eq!(batch.source_column_names(), ["id", "body", "bin", "mixed"]);
        let mut every = Batches::open(&c, "w").unwrap();
        every.pick_columns(|_| Some(vec![2, 1]));
        assert_eq!(every.width(), 4);
        assert!(every.next_batch(1, usize::MAX).unwrap_err().to_string().contains("holds a blob"));
        let all = read_columns(&c, "SELECT id, body FROM w", |_| None).unwrap();
        assert!(all.source_columns.is_empty());
        assert_eq!(all.source_column_names(), ["id", "body"]);
    }

    #[test]
    fn types_promote_and_nulls_kept() {
        let d = read(&db(), "t").unwrap();
        assert_eq!(d.n_rows, 3);
        assert_eq!(d.columns[0].data, ColumnData::reals(vec![Some(1.0), Some(2.5), None]));
        assert_eq!(d.columns[1].data, ColumnData::texts(vec![Some("x".into()), Some("y".into()), None]));
        assert_eq!(d.columns[2].data, ColumnData::Null(3));
        assert_eq!(d.columns[3].data, ColumnData::integers(vec![Some(1), Some(2), Some(3)]));
    }

    /// A UTF-16 database's texts come out as the same UTF-8 (SQLite converts them as they
    /// are read), numbers unchanged.
    #[test]
    fn texts_of_a_utf16_database_read_as_utf8() {
        for encoding in ["UTF-16le", "UTF-16be"] {
            let c = Connection::open_in_memory().unwrap();
            c.execute_batch(&format!(
                "PRAGMA encoding = '{encoding}';
                 CREATE TABLE t(a, b);
                 INSERT INTO t VALUES ('café très bon', 1), ('ünïcode 🙂', 2.5), (NULL, 3);"
            ))
            .unwrap();
            let d = read(&c, "t").unwrap();
            let texts = vec![Some("café très bon".into()), Some("ünïcode 🙂".into()), None];
            assert_eq!(d.columns[0].data, ColumnData::texts(texts), "{encoding}");
            assert_eq!(d.columns[1].data, ColumnData::reals(vec![Some(1.0), Some(2.5), Some(3.0)]));
        }
    }

    #[test]
    fn queries_and_names() {
        let c = db();
        assert_eq!(read(&c, "SELECT d FROM t WHERE d > 1").unwrap().n_rows, 2);
        assert_eq!(read(&c, "  main.t ").unwrap().n_rows, 3);
        assert_eq!(read(&c, "\"t\"").unwrap().n_rows, 3);
        assert_eq!(read(&c, "WITH x AS (SELECT 1 AS k) SELECT * FROM x").unwrap().n_rows, 1);
        // Names quoted as SQLite quotes them, the quote doubled inside; a quoted schema.
        c.execute_batch(
            "CREATE TABLE \"My \"\"Quoted\"\" Table\"(a); INSERT INTO \"My \"\"Quoted\"\" Table\" VALUES (1), (2);
             CREATE TABLE \"a.b\"(a); INSERT INTO \"a.b\" VALUES (1); CREATE TABLE \"w`x\"(a); INSERT INTO \"w`x\" VALUES (1);
             CREATE TABLE \"two words\"(a); INSERT INTO \"two words\" VALUES (1);",
        )
        .unwrap();
        for (name, rows) in [
            ("\"My \"\"Quoted\"\" Table\"", 2),
            ("main.\"My \"\"Quoted\"\" Table\"", 2),
            ("\"main\" . [My \"Quoted\" Table]", 2),
            ("\"main\".\"t\"", 3),
            ("\"main\".t", 3),
            ("`main`.`t`", 3),
            ("\"a.b\"", 1),
            ("main.\"a.b\"", 1),
            ("`w``x`", 1),
            ("two words", 1),
            ("main.two words", 1),
        ] {
            assert_eq!(read(&c, name).map(|d| d.n_rows).map_err(|e| e.to_string()), Ok(rows), "{name}");
        }
        for bad in ["\"t", "main.t.u", "\"t\" x", "[t"] {
            assert!(read(&c, bad).unwrap_err().to_string().contains("is neither"), "{bad}");
        }
    }

    #[test]
    fn errors_are_clear() {
        let c = db();
        let e = |s: &str| read(&c, s).unwrap_err().to_string();
        assert_eq!(e("SELECT * FROM t WHERE 0"), "source 'SELECT * FROM t WHERE 0' has no rows");
        assert!(
            e("nope").starts_with(
                "argument 'source' must name a table or view, or be a SELECT; 'nope' is neither"
            )
        );
        assert_eq!(
            e("SELECT 1; DELETE FROM t"),
            "argument 'source' must be a single SELECT statement, got several statements"
        );
        for writes in [
            "WITH x AS (SELECT 1) DELETE FROM t",
            "DELETE FROM t RETURNING *",
            "insert into t select * from t returning *",
        ] {
            assert_eq!(
                e(writes),
                "argument 'source' must be a read-only SELECT; this statement writes",
                "{writes}"
            );
        }
        // A parameter would be run unbound, as NULL: refused, by each reader.
        for (sql, name) in
            [("SELECT * FROM t WHERE a > ?", "?"), ("SELECT * FROM t WHERE a > :min OR :min IS NULL", ":min")]
        {
            let want = format!(
                "argument 'source' has a parameter ({name}), which sqlml cannot bind; write the value into the query, or read from a table or view"
            );
            assert_eq!(e(sql), want);
            assert_eq!(Batches::open(&c, sql).err().map(|e| e.to_string()), Some(want));
        }
        // A one-word source is a table name, keyword or not.
        assert!(e("replace").contains("'replace' is neither"));
        // A value a column cannot hold: read whole, the column is set aside with the error (see
        // `only_the_picked_columns_are_read`); read to score, it is the error.
        let aside = |s: &str| {
            let d = read(&c, s).unwrap();
            let batch = Batches::open(&c, s).unwrap().next_batch(10, usize::MAX).unwrap_err().to_string();
            (d.unreadable[0].message.clone(), batch)
        };
        let blob = "column 'b' holds a blob in row 1; sqlml reads numbers and text only";
        assert_eq!(
            aside("SELECT 1 AS a, x'00' AS b"),
            (
                blob.to_string(),
                format!("{blob} (leave such a column out: name the columns to use in a SELECT)")
            )
        );
        let mixed = "column 'm' mixes numeric and text values (row 2 is text); make it one type, e.g. with CAST in a SELECT";
        assert_eq!(aside("SELECT 1 AS m UNION ALL SELECT 'a'"), (mixed.to_string(), mixed.to_string()));
        // An error while stepping (not while preparing) names the argument and the row, with
        // SQLite's message.
        assert_eq!(
            e("SELECT 1 AS a UNION ALL SELECT abs(-9223372036854775807 - 1)"),
            "argument 'source' failed at row 2: integer overflow"
        );
        c.execute_batch("CREATE TABLE u(x); INSERT INTO u VALUES (CAST(x'ff' AS TEXT));").unwrap();
        let bad = "column 'x' holds text that is not valid UTF-8 in row 1";
        assert_eq!(aside("u"), (bad.to_string(), bad.to_string()));
    }

    /// Batches stop at the row count or at the text size, whichever comes first, and end
    /// when the statement does.
    #[test]
    fn batches_are_bounded_by_rows_and_text() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE d(x INTEGER, t TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
             INSERT INTO d SELECT i, printf('%.*c', i * 10, 'a') FROM n;",
        )
        .unwrap();
        let sizes = |rows: usize, bytes: usize| {
            let mut b = Batches::open(&c, "SELECT * FROM d ORDER BY x").unwrap();
            let mut out = Vec::new();
            while let Some(d) = b.next_batch(rows, bytes).unwrap() {
                out.push(d.n_rows);
            }
            assert_eq!(b.rows_read(), 10);
            out
        };
        assert_eq!(sizes(4, usize::MAX), [4, 4, 2]);
        assert_eq!(sizes(5, usize::MAX), [5, 5]);
        // 10 + 20 + 30 bytes reach 50: three rows; then 40 + 50; then one row a batch.
        assert_eq!(sizes(100, 50), [3, 2, 1, 1, 1, 1, 1]);
    }
}
