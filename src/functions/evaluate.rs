//! `ml_evaluate(name, source)` on the batch engine of `ml_predict_table`: a classifier's or a
//! text model's source is read in bounded batches ([`Batches`], the same sizes), each batch is
//! scored on a second thread while the next is read, and the metrics are accumulated
//! ([`Classification`]: sums, plus 8 bytes a row for an exact ROC AUC, checked against the
//! memory budget). The result equals the metrics of the whole source at once. A recommender's
//! ranking metrics group every user's rows, so its source is still read whole.

use super::predict_table::{BATCH_CELLS, BATCH_TEXT_BYTES, MAX_BATCH_ROWS};
use crate::error::clip;
use crate::models::metrics::Classification;
use crate::models::{Budget, Dataset, Model, named_once};
use crate::source::{self, Batches};
use crate::store::LoadedModel;
use crate::{Error, Result};
use rusqlite::Connection;
use serde_json::Value as Json;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The metrics of `model` on `source` (the JSON `ml_evaluate` returns).
pub fn evaluate(conn: &Connection, model: &Arc<LoadedModel>, source: &str) -> Result<String> {
    Ok(evaluate_in(conn, model, source, None)?.0.to_string())
}

type Labelled = Result<(Vec<u32>, Vec<f64>)>;

/// What holds the model being evaluated: a stored model, or (tests) a model alone.
trait Holds: Send + Sync + 'static {
    fn model(&self) -> &Model;
}

impl Holds for LoadedModel {
    fn model(&self) -> &Model {
        &self.model
    }
}

impl Holds for Model {
    fn model(&self) -> &Model {
        self
    }
}

/// A batch being scored.
enum Scoring {
    Thread(JoinHandle<Labelled>),
    Done(Labelled),
}

impl Scoring {
    fn finish(self) -> Labelled {
        match self {
            Scoring::Done(s) => s,
            Scoring::Thread(t) => {
                t.join().map_err(|p| Error::panicked("the scoring thread of ml_evaluate", p))?
            }
        }
    }
}

/// The metrics and the number of batches read; `batch_rows` overrides the batch size (tests).
fn evaluate_in<M: Holds>(
    conn: &Connection,
    model: &Arc<M>,
    source: &str,
    batch_rows: Option<usize>,
) -> Result<(Json, usize)> {
    // Only the columns the model scores are read (a column left unread may hold anything),
    // each of which the source must name once.
    let pick = |names: &[String]| model.model().columns_read(names);
    let named_once =
        |names: &[String]| model.model().columns_used().iter().try_for_each(|n| named_once(names, n));
    if matches!(model.model(), Model::Recommender(_)) {
        named_once(&source::column_names(conn, source)?)?;
        let data = source::read_columns(conn, source, pick)?;
        return Ok((model.model().evaluate(&data)?, 1));
    }
    let budget = Budget::for_queries()?;
    let mut batches = Batches::open(conn, source)?;
    named_once(batches.names())?;
    batches.pick_columns(pick);
    let rows = batch_rows.unwrap_or_else(|| (BATCH_CELLS / batches.width().max(1)).clamp(16, MAX_BATCH_ROWS));
    let mut metrics = Classification::new(model.model().classes());
    let mut pending: Option<Scoring> = None;
    let mut count = 0;
    let result = (|| -> Result<()> {
        loop {
            let first = batches.rows_read();
            let batch = batches.next_batch(rows, BATCH_TEXT_BYTES)?;
            // Batch n is scored on another thread while batch n + 1 is read here.
            let started = match batch {
                Some(batch) => {
                    count += 1;
                    Some(score(model, batch, first))
                }
                None => None,
            };
            match std::mem::replace(&mut pending, started) {
                Some(done) => {
                    let (y, p) = done.finish()?;
                    metrics.add(&y, &p, &budget)?;
                }
                None if pending.is_none() => return Ok(()),
                None => {}
            }
        }
    })();
    // No work outlives the call.
    if let Some(t) = pending.take() {
        let _ = t.finish();
    }
    result?;
    if metrics.rows() == 0 {
        return Err(Error::data(format!("source '{}' has no rows", clip(source.trim()))));
    }
    Ok((metrics.finish(), count))
}

/// Starts scoring a batch on a new thread, or scores it here when none can be started.
fn score<M: Holds>(model: &Arc<M>, batch: Dataset, first: usize) -> Scoring {
    let run = move |model: &Model, batch: &Dataset| -> Labelled {
        model.labelled_proba(batch, first)?.ok_or_else(|| {
            Error::Internal("evaluating in batches a model whose metrics need every row".into())
        })
    };
    // Shared, so that the batch is still here to score when no thread can be started.
    let batch = Arc::new(batch);
    let (theirs, mine) = (model.clone(), batch.clone());
    match std::thread::Builder::new().name("sqlml-evaluate".into()).spawn(move || run(theirs.model(), &mine))
    {
        Ok(handle) => Scoring::Thread(handle),
        Err(_) => Scoring::Done(run(model.model(), &batch)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{Common, Options};

    /// A table of `n` labelled rows: two numbers, a category, a text and the label.
    fn table(n: usize) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(&format!(
            "CREATE TABLE t(a REAL, b INTEGER, c TEXT, body TEXT, y TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
             INSERT INTO t SELECT (i * 37 % 101) / 10.0, i % 7, char(97 + i % 3),
               CASE WHEN i % 3 = 0 THEN 'good fine day' WHEN i % 3 = 1 THEN 'bad awful day' ELSE 'so so day' END,
               CASE WHEN (i * 37 % 101) > 50 OR i % 5 = 0 THEN 'yes' ELSE 'no' END FROM n;"
        ))
        .unwrap();
        c
    }

    fn trained(conn: &Connection, kind: &str, source: &str) -> Arc<Model> {
        let data = source::read(conn, source).unwrap();
        let mut opts = Options::parse(Some(r#"{"seed": 3}"#)).unwrap();
        Arc::new(crate::models::train(kind, &data, Some("y"), &mut opts, &Common::default()).unwrap().model)
    }

    /// Evaluation reads the source in batches and gives exactly the metrics of the whole source
    /// at once (the former `ml_evaluate`), for the classifier and for text.
    #[test]
    fn reads_in_batches_and_equals_the_whole() {
        let conn = table(500);
        for (kind, source) in [("classifier", "SELECT a, b, c, y FROM t"), ("text", "SELECT body, y FROM t")]
        {
            let model = trained(&conn, kind, source);
            let whole = model.evaluate(&source::read(&conn, source).unwrap()).unwrap();
            assert!(whole.get("roc_auc").is_some(), "{kind}: {whole}");
            let (batched, batches) = evaluate_in(&conn, &model, source, Some(64)).unwrap();
            assert_eq!(batches, 8, "{kind}");
            assert_eq!(batched, whole, "{kind}");
            let (default, batches) = evaluate_in(&conn, &model, source, None).unwrap();
            assert_eq!((default, batches), (whole, 1), "{kind}");
        }
    }

    /// Row errors name the row of the source, not of the batch; no rows is refused as before.
    #[test]
    fn errors_name_source_rows() {
        let conn = table(100);
        let model = trained(&conn, "classifier", "SELECT a, b, c, y FROM t");
        let e = evaluate_in(
            &conn,
            &model,
            "SELECT a, b, c, CASE WHEN rowid = 70 THEN 'maybe' ELSE y END AS y FROM t",
            Some(16),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'y' has the value 'maybe' in row 70,"), "{e}");
        let e =
            evaluate_in(&conn, &model, "SELECT a, b, c, y FROM t WHERE 0", Some(16)).unwrap_err().to_string();
        assert!(e.ends_with("has no rows"), "{e}");
    }
}
