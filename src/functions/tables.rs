//! Table-valued functions: `ml_recommend`, `ml_similar_items`, `ml_top_tokens`,
//! `ml_predict_table`.
//!
//! One generic eponymous virtual table ([`ListTab`]) serves them all (rows computed at once, or
//! streamed in chunks, see [`Output`]): visible result columns
//! followed by hidden argument columns, arguments passed as equality constraints (SQLite's
//! table-valued-function syntax). A `LIMIT` is pushed down as `k` where SQLite offers it.
//! Every callback that does real work catches panics itself: rusqlite does not for vtabs.

use super::args::fail;
use super::origin;
use crate::store::Session;
use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::{
    Context, Filters, IndexConstraintOp, IndexInfo, VTab, VTabConfig, VTabConnection, VTabCursor,
    sqlite3_vtab, sqlite3_vtab_cursor,
};
use rusqlite::{Connection, ffi};
use std::borrow::Cow;
use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::sync::Arc;

/// One table-valued function: its schema and how it computes its rows.
pub trait TableFn: 'static {
    /// SQL function name, for errors.
    const NAME: &'static str;
    /// `CREATE TABLE x(visible..., arg1 HIDDEN, ...)`.
    const SCHEMA: &'static CStr;
    /// Number of visible columns (the hidden argument columns follow them).
    const VISIBLE: usize;
    /// Names of the hidden arguments, in order.
    const ARGS: &'static [&'static str];
    /// How many leading arguments are required.
    const REQUIRED: usize;
    /// Index (into `ARGS`) of the argument a pushed-down `LIMIT` fills when not given.
    const LIMIT_ARG: Option<usize>;

    /// Computes the rows (visible columns only). `args[i]` is None when argument i was not given.
    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> crate::Result<Output>;
}

/// The rows of a table-valued function: all at once, or in chunks computed as the query reads
/// (memory bounded by a chunk).
pub enum Output {
    /// Every row.
    All(Vec<Vec<SqlValue>>),
    /// Rows computed a chunk at a time.
    Chunked(Box<dyn Chunks>),
}

/// A table-valued function's rows, a chunk at a time.
pub trait Chunks {
    /// The next rows (possibly none), or None when there are no more. Runs on the connection's
    /// thread, marked as inside the function (what it runs cannot call sqlml).
    fn next_chunk(&mut self, conn: &Connection) -> crate::Result<Option<Box<dyn Chunk>>>;
}

/// One chunk of rows, whose cells are made when the query reads them (a column the query does
/// not read costs nothing).
pub trait Chunk {
    /// Number of rows.
    fn len(&self) -> usize;
    /// Sets the result to visible column `col` of row `row` (both in range).
    fn cell(&self, row: usize, col: usize, ctx: &mut Context) -> rusqlite::Result<()>;
}

impl Chunk for Vec<Vec<SqlValue>> {
    fn len(&self) -> usize {
        Vec::len(self)
    }

    fn cell(&self, row: usize, col: usize, ctx: &mut Context) -> rusqlite::Result<()> {
        match self.get(row).and_then(|r| r.get(col)) {
            Some(v) => ctx.set_result(v),
            None => ctx.set_result(&SqlValue::Null),
        }
    }
}

impl From<Vec<Vec<SqlValue>>> for Output {
    fn from(rows: Vec<Vec<SqlValue>>) -> Output {
        Output::All(rows)
    }
}

/// The virtual table behind a [`TableFn`].
#[repr(C)]
pub struct ListTab<F: TableFn> {
    base: sqlite3_vtab,
    db: *mut ffi::sqlite3,
    session: Arc<Session>,
    _f: PhantomData<F>,
}

/// Its cursor.
#[repr(C)]
pub struct ListCursor<F: TableFn> {
    base: sqlite3_vtab_cursor,
    db: *mut ffi::sqlite3,
    session: Arc<Session>,
    args: Vec<Option<SqlValue>>,
    rows: Box<dyn Chunk>,
    more: Option<Box<dyn Chunks>>,
    i: usize,
    /// Rows before the current chunk (for the row id).
    before: usize,
    _f: PhantomData<F>,
}

const LIMIT_BIT: c_int = 1 << 16;

unsafe impl<'vtab, F: TableFn> VTab<'vtab> for ListTab<F> {
    type Aux = Arc<Session>;
    type Cursor = ListCursor<F>;

    fn connect(
        db: &mut VTabConnection,
        aux: Option<&Arc<Session>>,
        _module: &[u8],
        _database: &[u8],
        _table: &[u8],
        _args: &[&[u8]],
    ) -> rusqlite::Result<(Cow<'static, CStr>, Self)> {
        db.config(VTabConfig::DirectOnly)?;
        let session = aux.cloned().ok_or_else(|| fail(F::NAME, crate::Error::argument("not registered")))?;
        // SAFETY: the handle outlives the virtual table, which SQLite disconnects first.
        let handle = unsafe { db.handle() };
        Ok((
            Cow::Borrowed(F::SCHEMA),
            ListTab { base: sqlite3_vtab::default(), db: handle, session, _f: PhantomData },
        ))
    }

    fn best_index(&self, info: &mut IndexInfo) -> rusqlite::Result<bool> {
        // Which constraint feeds which argument.
        let mut slots: Vec<Option<usize>> = vec![None; F::ARGS.len()];
        let mut limit: Option<usize> = None;
        for (i, c) in info.constraints().enumerate() {
            if !c.is_usable() {
                continue;
            }
            let col = c.column();
            if c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_EQ && col >= F::VISIBLE as c_int {
                let a = col as usize - F::VISIBLE;
                if a < F::ARGS.len() {
                    slots[a] = Some(i);
                }
            } else if c.operator() == IndexConstraintOp::SQLITE_INDEX_CONSTRAINT_LIMIT
                && F::LIMIT_ARG.is_some()
            {
                limit = Some(i);
            }
        }
        let mut mask: c_int = 0;
        let mut next_argv = 1;
        let mut assignments: Vec<(usize, c_int)> = Vec::new();
        for (a, slot) in slots.iter().enumerate() {
            if let Some(i) = slot {
                mask |= 1 << a;
                assignments.push((*i, next_argv));
                next_argv += 1;
            }
        }
        if let Some(i) = limit {
            mask |= LIMIT_BIT;
            assignments.push((i, next_argv));
        }
        for (idx, (_, mut usage)) in info.constraints_and_usages().enumerate() {
            if let Some((_, argv)) = assignments.iter().find(|(i, _)| *i == idx) {
                usage.set_argv_index(*argv);
                usage.set_omit(true);
            }
        }
        let have_required = (0..F::REQUIRED).all(|a| mask & (1 << a) != 0);
        info.set_idx_num(mask);
        info.set_estimated_cost(if have_required { 10.0 } else { 1e12 });
        Ok(true)
    }

    fn open(&'vtab mut self) -> rusqlite::Result<ListCursor<F>> {
        Ok(ListCursor {
            base: sqlite3_vtab_cursor::default(),
            db: self.db,
            session: self.session.clone(),
            args: Vec::new(),
            rows: Box::new(Vec::new()),
            more: None,
            i: 0,
            before: 0,
            _f: PhantomData,
        })
    }
}

unsafe impl<F: TableFn> VTabCursor for ListCursor<F> {
    fn filter(
        &mut self,
        idx_num: c_int,
        _idx_str: Option<&str>,
        values: &Filters<'_>,
    ) -> rusqlite::Result<()> {
        let mut args: Vec<Option<SqlValue>> = vec![None; F::ARGS.len()];
        let mut next = 0;
        for (a, slot) in args.iter_mut().enumerate() {
            if idx_num & (1 << a) != 0 {
                *slot = Some(values.get::<SqlValue>(next).map_err(|_| {
                    fail(
                        F::NAME,
                        crate::Error::argument(format!("argument '{}' is not valid UTF-8", F::ARGS[a])),
                    )
                })?);
                next += 1;
            }
        }
        if idx_num & LIMIT_BIT != 0
            && let (Some(a), Ok(SqlValue::Integer(l))) = (F::LIMIT_ARG, values.get::<SqlValue>(next))
            && args[a].is_none()
            && l >= 0
        {
            args[a] = Some(SqlValue::Integer(l));
        }
        if let Some(missing) = (0..F::REQUIRED).find(|&a| args[a].is_none()) {
            return Err(fail(
                F::NAME,
                crate::Error::argument(format!(
                    "argument '{}' is required (SELECT * FROM {}({}))",
                    F::ARGS[missing],
                    F::NAME,
                    F::ARGS.join(", ")
                )),
            ));
        }
        let (db, session) = (self.db, self.session.clone());
        let computed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: a non-owning handle to the connection running this query, on its thread.
            let conn = unsafe { Connection::from_handle(db) }?;
            let rows = || {
                let _running = origin::enter(F::NAME)?;
                origin::top_level(&conn, F::NAME)?;
                F::rows(&session, &conn, &args)
            };
            rows().map_err(|e| fail(F::NAME, e))
        }));
        (self.rows, self.more) = match computed {
            Ok(Ok(Output::All(rows))) => (Box::new(rows), None),
            Ok(Ok(Output::Chunked(chunks))) => (Box::new(Vec::new()), Some(chunks)),
            Ok(Err(e)) => return Err(e),
            Err(p) => return Err(fail(F::NAME, crate::Error::panicked("computing the rows", p))),
        };
        self.args = args;
        self.i = 0;
        self.before = 0;
        self.fill()
    }

    fn next(&mut self) -> rusqlite::Result<()> {
        self.i += 1;
        self.fill()
    }

    fn eof(&self) -> bool {
        self.i >= self.rows.len()
    }

    fn column(&self, ctx: &mut Context, col: c_int) -> rusqlite::Result<()> {
        let col = col as usize;
        if col < F::VISIBLE {
            if self.i < self.rows.len() {
                let (rows, i) = (&self.rows, self.i);
                // Cells are made here (a chunk's may build text): panics stay on this side.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rows.cell(i, col, ctx)))
                    .unwrap_or_else(|p| Err(fail(F::NAME, crate::Error::panicked("making a cell", p))))
            } else {
                ctx.set_result(&SqlValue::Null)
            }
        } else {
            match self.args.get(col - F::VISIBLE) {
                Some(Some(v)) => ctx.set_result(v),
                _ => ctx.set_result(&SqlValue::Null),
            }
        }
    }

    fn rowid(&self) -> rusqlite::Result<i64> {
        Ok((self.before + self.i) as i64 + 1)
    }
}

impl<F: TableFn> ListCursor<F> {
    /// Reads chunks until the cursor is on a row or the chunks are exhausted.
    fn fill(&mut self) -> rusqlite::Result<()> {
        while self.i >= self.rows.len() {
            let Some(chunks) = self.more.as_mut() else { return Ok(()) };
            let db = self.db;
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                // SAFETY: a non-owning handle to the connection running this query, on its thread.
                let conn = unsafe { Connection::from_handle(db) }?;
                let mut step = || {
                    let _running = origin::enter(F::NAME)?;
                    chunks.next_chunk(&conn)
                };
                step().map_err(|e| fail(F::NAME, e))
            }));
            match next {
                Ok(Ok(Some(rows))) => {
                    self.before += self.rows.len();
                    self.rows = rows;
                    self.i = 0;
                }
                Ok(Ok(None)) => {
                    self.more = None;
                    return Ok(());
                }
                Ok(Err(e)) => {
                    self.more = None;
                    return Err(e);
                }
                Err(p) => {
                    self.more = None;
                    return Err(fail(F::NAME, crate::Error::panicked("reading the next rows", p)));
                }
            }
        }
        Ok(())
    }
}

/// Registers the table-valued function `F` on `conn`.
pub fn register<F: TableFn>(conn: &Connection, session: &Arc<Session>) -> rusqlite::Result<()> {
    let name = F::NAME;
    conn.create_module(
        name,
        &const { rusqlite::vtab::Module::<ListTab<F>>::eponymous_only_module() },
        Some(session.clone()),
    )
}
