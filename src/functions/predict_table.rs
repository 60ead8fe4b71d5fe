//! `ml_predict_table(name, source [, options])` → (key, prediction, probability): batch
//! prediction over a table, view or read-only SELECT.
//!
//! The source is read a batch of rows at a time (at most [`BATCH_CELLS`] cells, so memory does
//! not grow with the row count however wide the table). A classifier encodes each row straight
//! from the statement's cells ([`Batches::next_rows`], nothing copied; a category found by
//! hashing the cell's bytes, [`crate::models::mlp::lookup`]) and scores the batch with the block
//! kernel, which runs the one-row kernel's operations for every row
//! ([`crate::models::mlp::Classifier::score_rows`]), so every row is bit-identical to
//! `ml_predict` and `ml_predict_proba`; batch n is scored on a second thread while batch n + 1
//! is read, and its buffer of encoded rows is reused by batch n + 2. The other kinds read batches of typed columns and predict them at
//! once ([`crate::models::Model::predict_rows`]). Columns are found by their training names, so
//! tables as wide as SQLite allows work. `key` is the value of the source column named by the
//! option `key`, else the row's position in the source (from 1); `probability` is the JSON
//! object of class probabilities (as `ml_predict_proba` gives it), NULL for recommenders,
//! written only for the rows whose `probability` the query reads.

use super::args::sql_value as sql;
use super::tables::{Chunk, Chunks, Output, TableFn};
use crate::error::clip;
use crate::models::mlp::lookup::CategoryTables;
use crate::models::option_spec::{Default, Spec, Type};
use crate::models::{Control, Input, Model, Options, Value, memory, named_once, position_of, sorted_once};
use crate::source::Batches;
use crate::store::{LoadedModel, Session};
use crate::{Error, Result};
use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use rusqlite::vtab::Context;
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
        let mut batches = Batches::open(conn, &source)?;
        let names = batches.names();
        let key_column = match key {
            None => None,
            Some(k) => Some(column_of(names, &k, |e| Error::option("key", e))?),
        };
        // A classifier encodes its features straight from the statement's cells, in the
        // training order; the other kinds read batches of typed columns: only those they
        // predict from (and the key), so that another column may hold anything (a blob).
        let features = match &model.model {
            Model::Classifier(c) => Some(
                c.feature_names()
                    .iter()
                    .map(|f| column_of(names, f, |e| Error::data(format!("feature column {e}"))))
                    .collect::<Result<Vec<usize>>>()?,
            ),
            other => {
                let inputs = other.inputs_used();
                for input in &inputs {
                    named_once(names, input)?;
                }
                // One missing: every column is read, and the model's own error names it when
                // its batch is predicted.
                let used: Option<Vec<usize>> = inputs.iter().map(|n| position_of(names, n)).collect();
                let picked = used.map(|mut used| {
                    used.extend(key_column);
                    sorted_once(used)
                });
                batches.pick_columns(|_| picked);
                None
            }
        };
        let width = match &model.model {
            Model::Classifier(c) => c.width().max(batches.names().len()),
            _ => batches.names().len(),
        };
        let batch_rows = (BATCH_CELLS / width.max(1)).clamp(16, MAX_BATCH_ROWS);
        let tables = match &model.model {
            Model::Classifier(c) => Some(c.category_tables()),
            _ => None,
        };
        let labels = Arc::new(Labels::of(match &model.model {
            Model::Classifier(c) => c.classes(),
            _ => &[],
        }));
        Ok(Output::Chunked(Box::new(Predicting {
            model,
            batches,
            key_column,
            batch_rows,
            features,
            tables,
            labels,
            pending: None,
            spare: None,
        })))
    }
}

/// The position of column `name` (in any case) among the source's `names`; missing, the error
/// `missing` makes of the end of its message (`'name' is not a column of the source (columns:
/// ...)`, both clipped); found twice, [`named_once`]'s error.
fn column_of(names: &[String], name: &str, missing: impl FnOnce(String) -> Error) -> Result<usize> {
    named_once(names, name)?;
    position_of(names, name).ok_or_else(|| {
        missing(format!(
            "'{}' is not a column of the source (columns: {})",
            clip(name),
            clip(&names.join(", "))
        ))
    })
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
    /// A classifier's feature columns (their positions in the source, in training order).
    features: Option<Vec<usize>>,
    /// A classifier's category tables (made once for the whole call).
    tables: Option<CategoryTables>,
    /// A classifier's classes (the other kinds' come with their predictions).
    labels: Arc<Labels>,
    /// A classifier's batch being scored.
    pending: Option<Pending>,
    /// The encoded rows of the last batch scored, for the next batch to reuse.
    spare: Option<Vec<f32>>,
}

/// Class labels as results: SQL values, and JSON keys for the probability objects.
#[derive(Default)]
struct Labels {
    values: Vec<SqlValue>,
    keys: Vec<String>,
}

impl Labels {
    fn of(classes: &[Value]) -> Labels {
        Labels {
            values: classes.iter().cloned().map(sql).collect(),
            keys: classes
                .iter()
                .map(|c| serde_json::to_string(&c.to_key()).unwrap_or_else(|_| "\"?\"".into()))
                .collect(),
        }
    }
}

impl Chunks for Predicting {
    fn next_chunk(&mut self, _conn: &Connection) -> Result<Option<Box<dyn Chunk>>> {
        if self.features.is_some() {
            return self.next_classified();
        }
        let first = self.batches.rows_read() + 1;
        let Some(batch) = self.batches.next_batch(self.batch_rows, BATCH_TEXT_BYTES)? else {
            return Ok(None);
        };
        let p = self.model.model.predict_rows(&batch, &Control::new())?;
        let keys = match self.key_column {
            None => None,
            Some(c) => {
                // The batch holds only the columns read, the key among them (named once).
                let name = &self.batches.names()[c];
                let key = batch.index_of(name).ok_or_else(|| {
                    Error::Internal(format!("the key column '{}' was not read", clip(name)))
                })?;
                Some((0..batch.n_rows).map(|r| sql(batch.columns[key].get(r).to_value())).collect())
            }
        };
        Ok(Some(Box::new(Scored {
            labels: Arc::new(Labels::of(&p.classes)),
            first,
            keys,
            predicted: Predicted::Value(p.values.into_iter().map(sql).collect()),
            proba: p.proba,
        })))
    }
}

/// A classifier's batch: its rows encoded, then scored (on another thread while the next batch
/// is read, when one can be started).
struct Pending {
    first: usize,
    keys: Option<Vec<SqlValue>>,
    scores: Scoring,
}

type Scores = Result<(Vec<u32>, Vec<f64>)>;

enum Scoring {
    /// The thread gives back the encoded rows with their scores.
    Thread(std::thread::JoinHandle<(Scores, Arc<Vec<f32>>)>),
    Done(Scores),
}

impl Pending {
    /// Waits for the scores; puts the encoded rows in `spare` when they are free again.
    fn finish(self, labels: &Arc<Labels>, spare: &mut Option<Vec<f32>>) -> Result<Box<dyn Chunk>> {
        let (classes, proba) = match self.scores {
            Scoring::Done(s) => s?,
            Scoring::Thread(t) => {
                let (scores, x) =
                    t.join().map_err(|p| Error::panicked("the scoring thread of ml_predict_table", p))?;
                *spare = Arc::try_unwrap(x).ok();
                scores?
            }
        };
        Ok(Box::new(Scored {
            labels: labels.clone(),
            first: self.first,
            keys: self.keys,
            predicted: Predicted::Class(classes),
            proba,
        }))
    }
}

impl Predicting {
    /// A classifier's next chunk: batch n + 1 is read and encoded here, on the connection's
    /// thread, while batch n is scored on another (the rows are independent and run the
    /// one-row kernels, so where they are scored does not change a bit of the results).
    fn next_classified(&mut self) -> Result<Option<Box<dyn Chunk>>> {
        loop {
            let started = self.read_encoded()?.map(|(first, keys, x, rows)| Pending {
                first,
                keys,
                scores: self.score(x, rows),
            });
            match std::mem::replace(&mut self.pending, started) {
                Some(done) => return done.finish(&self.labels, &mut self.spare).map(Some),
                None if self.pending.is_none() => return Ok(None),
                None => {}
            }
        }
    }

    /// Scores `rows` encoded rows on a new thread, or here when none can be started.
    fn score(&self, x: Vec<f32>, rows: usize) -> Scoring {
        let run = move |model: &LoadedModel, x: &[f32]| match &model.model {
            // The buffer may hold more rows than were read (it is reused whole).
            Model::Classifier(c) => {
                c.score_rows(x.get(..rows.saturating_mul(c.width())).unwrap_or(x), rows, &Control::new())
            }
            _ => Err(Error::Internal("scoring rows of a model that is not a classifier".into())),
        };
        // Shared, so that the rows are still here to score when no thread can be started.
        let x = Arc::new(x);
        let (model, theirs) = (self.model.clone(), x.clone());
        let spawned = std::thread::Builder::new()
            .name("sqlml-predict".into())
            .spawn(move || (run(&model, &theirs), theirs));
        match spawned {
            Ok(handle) => Scoring::Thread(handle),
            Err(_) => Scoring::Done(run(&self.model, &x)),
        }
    }

    /// Reads and encodes the next batch: its first row's position, its keys, the encoded rows
    /// and their number; None when the source is exhausted.
    #[allow(clippy::type_complexity)]
    fn read_encoded(&mut self) -> Result<Option<(usize, Option<Vec<SqlValue>>, Vec<f32>, usize)>> {
        let (Some(features), Some(tables), Model::Classifier(c)) =
            (&self.features, &self.tables, &self.model.model)
        else {
            return Ok(None);
        };
        let first = self.batches.rows_read() + 1;
        let w = c.width();
        let cells = self.batch_rows.saturating_mul(w);
        // The last batch's buffer when it is free: each row is zeroed before it is encoded, and
        // only the rows read are scored.
        let mut x: Vec<f32> = match self.spare.take() {
            Some(x) if x.len() == cells => x,
            _ => memory::zeroed(cells, &format!("the encoded rows ({} rows × {w} inputs)", self.batch_rows))?,
        };
        let mut keys = Vec::new();
        let key_column = self.key_column;
        let key_name = key_column.and_then(|k| self.batches.names().get(k)).cloned().unwrap_or_default();
        let mut n = 0;
        let read = self.batches.next_rows(self.batch_rows, BATCH_TEXT_BYTES, |row| {
            tables
                .encode(c, &mut x[n * w..(n + 1) * w], |i| row.cell(features[i]), |i| row.get(features[i]))
                .map_err(|e| Error::data(format!("row {}: {e}", row.number())))?;
            n += 1;
            let Some(k) = key_column else { return Ok(0) };
            let (v, bytes) = match row.get(k)? {
                Input::Blob(_) => {
                    return Err(Error::data(format!(
                        "column '{}' holds a blob in row {}; sqlml reads numbers and text only",
                        clip(&key_name),
                        row.number()
                    )));
                }
                Input::Text(t) => (SqlValue::Text(t.to_owned()), t.len()),
                other => (sql(other.to_value()), 0),
            };
            memory::reserve(&mut keys, 1, "the keys of a batch")?;
            keys.push(v);
            Ok(bytes)
        })?;
        if read == 0 {
            return Ok(None);
        }
        Ok(Some((first, key_column.map(|_| keys), x, read)))
    }
}

impl Drop for Predicting {
    fn drop(&mut self) {
        // A batch still being scored is waited for: no work outlives the query.
        if let Some(Pending { scores: Scoring::Thread(t), .. }) = self.pending.take() {
            let _ = t.join();
        }
    }
}

/// What was predicted for each row of a chunk.
enum Predicted {
    /// Class indices into the labels.
    Class(Vec<u32>),
    /// Values.
    Value(Vec<SqlValue>),
}

/// The result rows of one batch; the probability objects are written only when read.
struct Scored {
    labels: Arc<Labels>,
    /// Position of the first row in the source (from 1).
    first: usize,
    /// The key column's values, when the option `key` names one.
    keys: Option<Vec<SqlValue>>,
    predicted: Predicted,
    /// Class probabilities, row-major (empty without classes).
    proba: Vec<f64>,
}

impl Chunk for Scored {
    fn len(&self) -> usize {
        match &self.predicted {
            Predicted::Class(c) => c.len(),
            Predicted::Value(v) => v.len(),
        }
    }

    fn cell(&self, row: usize, col: usize, ctx: &mut Context) -> rusqlite::Result<()> {
        let null = SqlValue::Null;
        match col {
            0 => match &self.keys {
                Some(keys) => ctx.set_result(keys.get(row).unwrap_or(&null)),
                None => ctx.set_result(&((self.first + row) as i64)),
            },
            1 => match &self.predicted {
                Predicted::Class(c) => ctx.set_result(
                    c.get(row).and_then(|&i| self.labels.values.get(i as usize)).unwrap_or(&null),
                ),
                Predicted::Value(v) => ctx.set_result(v.get(row).unwrap_or(&null)),
            },
            2 => {
                let k = self.labels.keys.len();
                match self.proba.get(row * k..(row + 1) * k) {
                    Some(probs) if k > 0 => ctx.set_result(&probability_json(&self.labels.keys, probs)),
                    _ => ctx.set_result(&null),
                }
            }
            _ => ctx.set_result(&null),
        }
    }
}

/// The JSON object of one row's class probabilities, as `ml_predict_proba` gives it.
fn probability_json(keys: &[String], probs: &[f64]) -> String {
    let mut json = String::with_capacity(16 * keys.len() + 2);
    json.push('{');
    for (j, (key, prob)) in keys.iter().zip(probs).enumerate() {
        if j > 0 {
            json.push(',');
        }
        let n = serde_json::Number::from_f64(*prob).map_or("null".into(), |n| n.to_string());
        let _ = write!(json, "{key}:{n}");
    }
    json.push('}');
    json
}
