//! `ml_predict_table(name, source [, options])` → (key, prediction, probability): batch
//! prediction over a table, view or read-only SELECT.
//!
//! The source is read a batch of rows at a time (at most [`BATCH_CELLS`] cells, so memory does
//! not grow with the row count however wide the table), each batch predicted at once by the
//! model ([`crate::models::Model::predict_rows`]: one matrix product per batch for a
//! classifier). Columns are found by their training names, so tables as wide as SQLite allows
//! work. `key` is the value of the source column named by the option `key`, else the row's
//! position in the source (from 1); `probability` is the JSON object of class probabilities
//! (as `ml_predict_proba` gives it), NULL for recommenders.

use super::args::sql_value as sql;
use super::tables::{Chunks, Output, TableFn};
use crate::error::clip;
use crate::models::option_spec::{Default, Spec, Type};
use crate::models::{Control, Dataset, Input, Options, Predictions};
use crate::source::Batches;
use crate::store::{LoadedModel, Session};
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use std::ffi::CStr;
use std::fmt::Write;
use std::sync::Arc;

/// Cells of the source held at once: a batch is this many cells (at least 16 rows, at most
/// [`MAX_BATCH_ROWS`]).
pub const BATCH_CELLS: usize = 1 << 20;
/// Most rows in a batch.
pub const MAX_BATCH_ROWS: usize = 4096;
/// Text a batch holds at most (the row that crosses it ends the batch): with the cell cap, the
/// memory of a batch does not depend on how long the source's texts are.
pub const BATCH_TEXT_BYTES: usize = 64 << 20;

/// `ml_predict_table`.
pub struct PredictTable;

impl TableFn for PredictTable {
    const NAME: &'static str = "ml_predict_table";
    const SCHEMA: &'static CStr =
        c"CREATE TABLE x(key, prediction, probability TEXT, name HIDDEN, source HIDDEN, options HIDDEN)";
    const VISIBLE: usize = 3;
    const ARGS: &'static [&'static str] = &["name", "source", "options"];
    const REQUIRED: usize = 2;
    const LIMIT_ARG: Option<usize> = None;

    fn rows(session: &Session, conn: &Connection, args: &[Option<SqlValue>]) -> Result<Output> {
        let text = |i: usize, what: &str| match &args[i] {
            Some(SqlValue::Text(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(Error::argument(format!("argument '{}' must be {what}", Self::ARGS[i]))),
        };
        let name = text(0, "a model name (text)")?;
        let source = text(1, "a table name, a view name or a SELECT (text)")?;
        let key = match &args[2] {
            None | Some(SqlValue::Null) => None,
            Some(SqlValue::Text(s)) => key_option(s)?,
            Some(_) => return Err(Error::argument("argument 'options' must be a JSON object (text)")),
        };
        let model = session.load_active(conn, &name)?;
        let batches = Batches::open(conn, &source)?;
        let key_column = match key {
            None => None,
            Some(k) => {
                Some(batches.names().iter().position(|n| n.eq_ignore_ascii_case(&k)).ok_or_else(|| {
                    Error::option(
                        "key",
                        format!(
                            "'{}' is not a column of the source (columns: {})",
                            clip(&k),
                            clip(&batches.names().join(", "))
                        ),
                    )
                })?)
            }
        };
        let batch_rows = (BATCH_CELLS / batches.names().len().max(1)).clamp(16, MAX_BATCH_ROWS);
        Ok(Output::Chunked(Box::new(Predicting { model, batches, key_column, batch_rows })))
    }
}

/// The one option: `key`.
const KEY: Spec = Spec::new(
    "key",
    Type::Text,
    Default::Derived("the row's position in the source, from 1"),
    "the source column whose value keys each result row",
);

/// The options object: only `key`, read as `ml_train`'s options are.
fn key_option(text: &str) -> Result<Option<String>> {
    let mut opts = Options::parse(Some(text))?;
    let key = opts.text(&KEY)?;
    opts.finish_with(&[&KEY])?;
    Ok(key)
}

struct Predicting {
    model: Arc<LoadedModel>,
    batches: Batches,
    key_column: Option<usize>,
    batch_rows: usize,
}

impl Chunks for Predicting {
    fn next_chunk(&mut self, _conn: &Connection) -> Result<Option<Vec<Vec<SqlValue>>>> {
        let before = self.batches.rows_read();
        let Some(batch) = self.batches.next_batch(self.batch_rows, BATCH_TEXT_BYTES)? else {
            return Ok(None);
        };
        let predictions = self.model.model.predict_rows(&batch, &Control::new())?;
        Ok(Some(rows(&batch, predictions, self.key_column, before)))
    }
}

/// The result rows of one batch.
fn rows(batch: &Dataset, p: Predictions, key_column: Option<usize>, before: usize) -> Vec<Vec<SqlValue>> {
    let keys: Vec<String> = p
        .classes
        .iter()
        .map(|c| serde_json::to_string(&c.to_key()).unwrap_or_else(|_| "\"?\"".into()))
        .collect();
    let k = p.classes.len();
    p.values
        .into_iter()
        .enumerate()
        .map(|(r, value)| {
            let key = match key_column {
                Some(c) => input_sql(batch.columns[c].get(r)),
                None => SqlValue::Integer((before + r + 1) as i64),
            };
            let probability = if k == 0 {
                SqlValue::Null
            } else {
                let mut json = String::with_capacity(16 * k + 2);
                json.push('{');
                for (j, prob) in p.proba[r * k..(r + 1) * k].iter().enumerate() {
                    if j > 0 {
                        json.push(',');
                    }
                    let n = serde_json::Number::from_f64(*prob).map_or("null".into(), |n| n.to_string());
                    let _ = write!(json, "{}:{n}", keys[j]);
                }
                json.push('}');
                SqlValue::Text(json)
            };
            vec![key, sql(value), probability]
        })
        .collect()
}

fn input_sql(v: Input<'_>) -> SqlValue {
    match v {
        Input::Blob(b) => SqlValue::Blob(b.to_vec()),
        other => sql(other.to_value()),
    }
}
