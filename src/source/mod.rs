//! Reads a training or evaluation source into typed columns, once.
//!
//! A source is a table or view name (optionally `schema.name`), or one read-only `SELECT`
//! (also `WITH ... SELECT` and `VALUES`). Anything that would write is refused before it runs.

use crate::models::{Column, ColumnData, Dataset};
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::types::ValueRef;

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
    if matches!(first, "select" | "with" | "values") {
        return Ok(Source::Query(trimmed.to_string()));
    }
    // A plain (possibly schema-qualified, possibly quoted) name.
    let parts: Vec<&str> = if trimmed.starts_with('"') || trimmed.starts_with('[') || trimmed.starts_with('`')
    {
        vec![trimmed]
    } else {
        trimmed.splitn(2, '.').collect()
    };
    let quoted: Vec<String> = parts
        .iter()
        .map(|p| {
            let p = p.trim();
            let unquoted = p
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| p.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
                .or_else(|| p.strip_prefix('`').and_then(|s| s.strip_suffix('`')));
            quote_ident(unquoted.unwrap_or(p))
        })
        .collect();
    Ok(Source::Table(format!("SELECT * FROM {}", quoted.join("."))))
}

enum Builder {
    Unknown(usize),
    Integer(Vec<Option<i64>>),
    Real(Vec<Option<f64>>),
    Text(Vec<Option<String>>),
}

impl Builder {
    fn push(&mut self, v: ValueRef<'_>, col: &str, row: usize) -> Result<()> {
        let mixed = |what: &str, have: &str| {
            Error::data(format!(
                "column '{col}' mixes {have} and {what} values (row {row} is {what}); make it one type, e.g. with CAST in a SELECT"
            ))
        };
        match v {
            ValueRef::Blob(_) => return Err(blob(col, row)),
            ValueRef::Null => match self {
                Builder::Unknown(n) => *n += 1,
                Builder::Integer(xs) => xs.push(None),
                Builder::Real(xs) => xs.push(None),
                Builder::Text(xs) => xs.push(None),
            },
            ValueRef::Integer(i) => match self {
                Builder::Unknown(n) => {
                    let mut xs = vec![None; *n];
                    xs.push(Some(i));
                    *self = Builder::Integer(xs);
                }
                Builder::Integer(xs) => xs.push(Some(i)),
                Builder::Real(xs) => xs.push(Some(i as f64)),
                Builder::Text(_) => return Err(mixed("numeric", "text")),
            },
            ValueRef::Real(r) => match self {
                Builder::Unknown(n) => {
                    let mut xs = vec![None; *n];
                    xs.push(Some(r));
                    *self = Builder::Real(xs);
                }
                Builder::Integer(xs) => {
                    let mut reals: Vec<Option<f64>> = xs.iter().map(|x| x.map(|i| i as f64)).collect();
                    reals.push(Some(r));
                    *self = Builder::Real(reals);
                }
                Builder::Real(xs) => xs.push(Some(r)),
                Builder::Text(_) => return Err(mixed("numeric", "text")),
            },
            ValueRef::Text(t) => match self {
                Builder::Unknown(n) => {
                    let mut xs = vec![None; *n];
                    xs.push(Some(text(t, col, row)?));
                    *self = Builder::Text(xs);
                }
                Builder::Text(xs) => xs.push(Some(text(t, col, row)?)),
                Builder::Integer(_) | Builder::Real(_) => return Err(mixed("text", "numeric")),
            },
        }
        Ok(())
    }

    fn finish(self) -> ColumnData {
        match self {
            Builder::Unknown(n) => ColumnData::Null(n),
            Builder::Integer(v) => ColumnData::Integer(v),
            Builder::Real(v) => ColumnData::Real(v),
            Builder::Text(v) => ColumnData::Text(v),
        }
    }
}

fn blob(col: &str, row: usize) -> Error {
    Error::data(format!("column '{col}' holds a blob in row {row}; sqlml reads numbers and text only"))
}

fn text(bytes: &[u8], col: &str, row: usize) -> Result<String> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| Error::data(format!("column '{col}' holds text that is not valid UTF-8 in row {row}")))
}

/// Reads the whole source into a [`Dataset`]. Errors: a statement that writes, several
/// statements, a missing table, blobs, mixed text and numbers in one column, no rows.
pub fn read(conn: &Connection, source: &str) -> Result<Dataset> {
    let parsed = parse(source)?;
    let sql = match &parsed {
        Source::Table(sql) | Source::Query(sql) => sql,
    };
    let mut stmt = conn.prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => {
            Error::argument("argument 'source' must be a single SELECT statement, got several statements")
        }
        rusqlite::Error::SqliteFailure(_, Some(msg)) => match &parsed {
            Source::Table(_) => Error::argument(format!(
                "argument 'source' must name a table or view, or be a SELECT; '{source}' is neither ({msg})"
            )),
            Source::Query(_) => Error::argument(format!("argument 'source' is not a valid query: {msg}")),
        },
        other => Error::Sqlite(other),
    })?;
    if !stmt.readonly() {
        return Err(Error::argument("argument 'source' must be a read-only SELECT; this statement writes"));
    }
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let mut builders: Vec<Builder> = names.iter().map(|_| Builder::Unknown(0)).collect();
    let mut rows = stmt.query([])?;
    let mut n = 0usize;
    while let Some(row) = rows.next()? {
        n += 1;
        for (i, b) in builders.iter_mut().enumerate() {
            b.push(row.get_ref(i)?, &names[i], n)?;
        }
    }
    if n == 0 {
        return Err(Error::data(format!("source '{}' has no rows", source.trim())));
    }
    let columns =
        names.into_iter().zip(builders).map(|(name, b)| Column { name, data: b.finish() }).collect();
    Ok(Dataset::new(columns))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE t(a, b, c, d);
             INSERT INTO t VALUES (1, 'x', NULL, 1), (2.5, 'y', NULL, 2), (NULL, NULL, NULL, 3);",
        )
        .unwrap();
        c
    }

    #[test]
    fn types_promote_and_nulls_kept() {
        let d = read(&db(), "t").unwrap();
        assert_eq!(d.n_rows, 3);
        assert_eq!(d.columns[0].data, ColumnData::Real(vec![Some(1.0), Some(2.5), None]));
        assert_eq!(d.columns[1].data, ColumnData::Text(vec![Some("x".into()), Some("y".into()), None]));
        assert_eq!(d.columns[2].data, ColumnData::Null(3));
        assert_eq!(d.columns[3].data, ColumnData::Integer(vec![Some(1), Some(2), Some(3)]));
    }

    #[test]
    fn queries_and_names() {
        let c = db();
        assert_eq!(read(&c, "SELECT d FROM t WHERE d > 1").unwrap().n_rows, 2);
        assert_eq!(read(&c, "  main.t ").unwrap().n_rows, 3);
        assert_eq!(read(&c, "\"t\"").unwrap().n_rows, 3);
        assert_eq!(read(&c, "WITH x AS (SELECT 1 AS k) SELECT * FROM x").unwrap().n_rows, 1);
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
        assert_eq!(
            e("WITH x AS (SELECT 1) DELETE FROM t"),
            "argument 'source' must be a read-only SELECT; this statement writes"
        );
        assert_eq!(
            e("SELECT x'00' AS b"),
            "column 'b' holds a blob in row 1; sqlml reads numbers and text only"
        );
        assert_eq!(
            e("SELECT 1 AS m UNION ALL SELECT 'a'"),
            "column 'm' mixes numeric and text values (row 2 is text); make it one type, e.g. with CAST in a SELECT"
        );
        c.execute_batch("CREATE TABLE u(x); INSERT INTO u VALUES (CAST(x'ff' AS TEXT));").unwrap();
        assert_eq!(e("u"), "column 'x' holds text that is not valid UTF-8 in row 1");
    }
}
