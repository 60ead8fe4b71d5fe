//! Evaluation metrics shared by the classifiers (text and tabular).

use super::data::Value;
use super::memory::Budget;
use serde_json::{Map, Value as Json, json};

/// Bytes per cell of the confusion matrix in a report: the count, its JSON value and its text.
const CONFUSION_CELL_BYTES: f64 = 48.0;

/// Checks that the report of a classifier with `k` classes fits `budget`: its confusion matrix
/// takes `k²` cells (a target column with one value per row, such as an id, has as many
/// classes as rows). The error names the target column.
pub fn check_classes(budget: &Budget, target: &str, k: usize) -> crate::Result<()> {
    budget.check_data(
        &format!("target column '{target}' with {k} classes"),
        "the confusion matrix of the metrics",
        k as f64 * k as f64 * CONFUSION_CELL_BYTES,
    )
}

/// The log-loss of one row whose true class got probability `p`: `−ln p`, with `p` clamped
/// to `[1e-15, 1]` (as scikit-learn's `log_loss`).
pub fn log_loss_of(p: f64) -> f64 {
    -p.clamp(1e-15, 1.0).ln()
}

/// Metrics of a classifier on labelled rows.
///
/// `y` holds the true class ids, `proba` the predicted probabilities row-major
/// (`y.len() × classes.len()`). Returns a JSON object with `rows`, `accuracy`, `macro_f1`,
/// `log_loss`, `per_class` (precision, recall, f1, support per label), `confusion_matrix`
/// (`labels` and `matrix`, rows = true, columns = predicted) and, for two classes, `roc_auc`
/// (the score of the second class in sort order). The same as one [`Classification`] given
/// every row at once.
pub fn classification(y: &[u32], proba: &[f64], classes: &[Value]) -> Json {
    let mut m = Classification::new(classes);
    m.keep_scores(y.len());
    m.add_unchecked(y, proba);
    m.finish()
}

/// The size of the batches of [`classification_in_batches`]: about `bytes` of what a row takes
/// (`row_bytes`: its probabilities, and what else the caller makes of it a batch at a time),
/// and at least `min_rows` rows.
#[derive(Clone, Copy, Debug)]
pub struct BatchSize {
    /// Bytes a batch takes, about.
    pub bytes: usize,
    /// Bytes a row takes (at least its `8 × classes` bytes of probabilities).
    pub row_bytes: usize,
    /// The fewest rows a batch takes.
    pub min_rows: usize,
}

impl BatchSize {
    /// Rows a batch takes (at least one).
    pub fn rows(&self) -> usize {
        (self.bytes / self.row_bytes.max(1)).max(self.min_rows).max(1)
    }
}

/// [`classification`] of rows held in memory whose probabilities are made a batch at a time
/// (`batches`): `proba(range)` gives those of the rows `range` (row-major,
/// `range.len() × classes.len()`), each batch added in row order. The same sums, so the same
/// metrics, as every row at once, without holding every row's probabilities (at many classes,
/// more than the rows themselves). The rows are the caller's already: no memory budget is
/// checked ([`Classification::add_in_memory`]).
pub fn classification_in_batches(
    classes: &[Value],
    y: &[u32],
    batches: BatchSize,
    mut proba: impl FnMut(std::ops::Range<usize>) -> crate::Result<Vec<f64>>,
) -> crate::Result<Json> {
    let k = classes.len();
    let batch = batches.rows();
    let mut m = Classification::new(classes);
    let mut start = 0;
    while start < y.len() {
        let end = y.len().min(start + batch);
        let p = proba(start..end)?;
        if p.len() != (end - start) * k {
            return Err(crate::Error::Internal(format!(
                "{} probabilities for {} rows of {k} classes",
                p.len(),
                end - start
            )));
        }
        m.add_in_memory(&y[start..end], &p)?;
        start = end;
    }
    Ok(m.finish())
}

/// Classification metrics accumulated a batch of rows at a time (`ml_evaluate` reads its
/// source in batches): the confusion matrix and the log loss are sums, and for two classes
/// each row keeps 8 bytes (its score and label, for the exact ROC AUC at the end). Rows added
/// in batches give exactly the metrics of [`classification`] on all of them.
pub struct Classification {
    classes: Vec<Value>,
    confusion: Vec<Vec<u64>>,
    log_loss: f64,
    rows: usize,
    /// Two classes: each row's score of the second class with its label in the sign bit.
    scores: Vec<u64>,
}

/// Bytes a row keeps for the ROC AUC of two classes ([`Classification`]).
pub const AUC_BYTES_PER_ROW: f64 = 8.0;

impl Classification {
    /// No rows yet, over `classes`.
    pub fn new(classes: &[Value]) -> Classification {
        let k = classes.len();
        Classification {
            classes: classes.to_vec(),
            confusion: vec![vec![0u64; k]; k],
            log_loss: 0.0,
            rows: 0,
            scores: Vec::new(),
        }
    }

    fn keep_scores(&mut self, rows: usize) {
        if self.classes.len() == 2 {
            self.scores.reserve_exact(rows);
        }
    }

    /// Adds a batch: `y` the true class ids, `proba` the probabilities row-major. The scores
    /// the ROC AUC keeps (two classes) are checked against `budget` and grown fallibly.
    pub fn add(&mut self, y: &[u32], proba: &[f64], budget: &Budget) -> crate::Result<()> {
        if self.classes.len() == 2 {
            let rows = self.rows + y.len();
            budget.check_data(
                &format!("evaluating {rows} rows"),
                "the scores of the ROC AUC",
                rows as f64 * AUC_BYTES_PER_ROW,
            )?;
        }
        self.add_in_memory(y, proba)
    }

    /// [`Classification::add`] of rows already held in memory (a fit's held-out rows, which
    /// the training's own checks cover): no budget, the scores grown fallibly.
    pub fn add_in_memory(&mut self, y: &[u32], proba: &[f64]) -> crate::Result<()> {
        if self.classes.len() == 2 {
            super::memory::reserve(&mut self.scores, y.len(), "the scores of the ROC AUC")?;
        }
        self.add_unchecked(y, proba);
        Ok(())
    }

    fn add_unchecked(&mut self, y: &[u32], proba: &[f64]) {
        let k = self.classes.len();
        debug_assert_eq!(proba.len(), y.len() * k);
        for (i, &t) in y.iter().enumerate() {
            let row = &proba[i * k..(i + 1) * k];
            let pred = argmax(row);
            self.confusion[t as usize][pred] += 1;
            self.log_loss += log_loss_of(row[t as usize]);
            if k == 2 {
                // A probability is not negative: its sign bit carries the label.
                self.scores.push(row[1].abs().to_bits() | (u64::from(t == 1) << 63));
            }
        }
        self.rows += y.len();
    }

    /// Rows added so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The metrics of every row added (see [`classification`]).
    pub fn finish(self) -> Json {
        let k = self.classes.len();
        let n = self.rows;
        let confusion = self.confusion;
        let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
        let mut per_class = Map::new();
        // Macro F1 averages over the classes present among the true or the predicted labels
        // (as scikit-learn's `f1_score(average='macro')`): a class absent from both, as a rare
        // class can be from a small held-out set, would count as an F1 of 0.
        let (mut f1_sum, mut present) = (0.0, 0usize);
        for (c, row) in confusion.iter().enumerate() {
            let tp = row[c] as f64;
            let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
            let support: u64 = row.iter().sum();
            let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
            let recall = if support > 0 { tp / support as f64 } else { 0.0 };
            let f1 =
                if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
            if support + predicted > 0 {
                f1_sum += f1;
                present += 1;
            }
            per_class.insert(
                self.classes[c].to_key(),
                json!({"precision": precision, "recall": recall, "f1": f1, "support": support}),
            );
        }
        let mut out = Map::new();
        out.insert("rows".into(), json!(n));
        out.insert("accuracy".into(), json!(if n > 0 { correct as f64 / n as f64 } else { 0.0 }));
        out.insert("macro_f1".into(), json!(if present > 0 { f1_sum / present as f64 } else { 0.0 }));
        out.insert("log_loss".into(), json!(if n > 0 { self.log_loss / n as f64 } else { 0.0 }));
        if k == 2 {
            const SIGN: u64 = 1 << 63;
            let scores: Vec<f64> = self.scores.iter().map(|&b| f64::from_bits(b & !SIGN)).collect();
            let positive: Vec<bool> = self.scores.iter().map(|&b| b & SIGN != 0).collect();
            if let Some(auc) = roc_auc(&scores, &positive) {
                out.insert("roc_auc".into(), json!(auc));
            }
        }
        out.insert("per_class".into(), Json::Object(per_class));
        out.insert(
            "confusion_matrix".into(),
            json!({
                "labels": self.classes.iter().map(Value::to_json).collect::<Vec<_>>(),
                "matrix": confusion,
            }),
        );
        Json::Object(out)
    }
}

/// Index of the largest value (the first on ties).
pub fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// Area under the ROC curve (Mann–Whitney U with average ranks for ties); `None` when only one
/// class is present.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &idx in &order[i..=j] {
            if positive[idx] {
                rank_sum += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows added in batches of any size give the metrics of every row at once, with the
    /// ROC AUC of two classes; probabilities of the wrong shape are an error.
    #[test]
    fn metrics_in_batches_are_the_metrics_of_every_row() {
        for k in [2usize, 3] {
            let classes: Vec<Value> = (0..k as i64).map(Value::Integer).collect();
            let n = 101;
            let y: Vec<u32> = (0..n).map(|i| ((i * 7 + i / 5) % k) as u32).collect();
            let proba: Vec<f64> = (0..n)
                .flat_map(|i| {
                    let raw: Vec<f64> = (0..k).map(|c| 1.0 + ((i * 31 + c * 17) % 13) as f64).collect();
                    let sum: f64 = raw.iter().sum();
                    raw.into_iter().map(move |p| p / sum)
                })
                .collect();
            let every = classification(&y, &proba, &classes);
            for (bytes, min_rows) in [(0, 1), (8 * k * 10, 1), (0, 33), (1 << 20, 1)] {
                let batches = BatchSize { bytes, row_bytes: 8 * k, min_rows };
                let batched = classification_in_batches(&classes, &y, batches, |r| {
                    Ok(proba[r.start * k..r.end * k].to_vec())
                })
                .unwrap();
                assert_eq!(batched, every, "{k} classes, batches of {bytes} bytes, {min_rows} rows");
            }
            let batches = BatchSize { bytes: 0, row_bytes: 8 * k, min_rows: 10 };
            let short = classification_in_batches(&classes, &y, batches, |r| Ok(vec![0.5; r.len()]));
            assert!(matches!(short, Err(crate::Error::Internal(_))));
        }
    }

    #[test]
    fn hand_computed_binary_metrics() {
        // 4 rows: true 0,0,1,1; predicted p(1) = 0.1, 0.6, 0.4, 0.9
        let y = [0, 0, 1, 1];
        let p = [0.9, 0.1, 0.4, 0.6, 0.6, 0.4, 0.1, 0.9];
        let classes = [Value::Integer(0), Value::Integer(1)];
        let m = classification(&y, &p, &classes);
        assert_eq!(m["accuracy"], json!(0.5));
        assert_eq!(m["confusion_matrix"]["matrix"], json!([[1, 1], [1, 1]]));
        // AUC: pairs (pos, neg): (0.4 vs 0.1 ✓), (0.4 vs 0.6 ✗), (0.9 ✓), (0.9 ✓) = 3/4
        assert_eq!(m["roc_auc"], json!(0.75));
        let ll = -(0.9f64.ln() + 0.4f64.ln() + 0.4f64.ln() + 0.9f64.ln()) / 4.0;
        assert!((m["log_loss"].as_f64().unwrap() - ll).abs() < 1e-12);
        assert_eq!(m["per_class"]["1"]["precision"], json!(0.5));
    }

    /// Macro F1 averages over the classes among the true or predicted labels (scikit-learn's
    /// convention): one held-out row of three classes, predicted right, scores 1; a class
    /// predicted but never true counts (as an F1 of 0), one neither true nor predicted does not.
    #[test]
    fn macro_f1_counts_the_classes_present() {
        let classes = [Value::Integer(0), Value::Integer(1), Value::Integer(2)];
        let m = classification(&[1], &[0.1, 0.8, 0.1], &classes);
        assert_eq!((m["accuracy"].clone(), m["macro_f1"].clone()), (json!(1.0), json!(1.0)));
        // True 0, 0, 1; predicted 0, 1, 1: class 0 F1 2/3, class 1 F1 2/3, class 2 absent.
        let m = classification(&[0, 0, 1], &[0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.8, 0.1], &classes);
        assert!((m["macro_f1"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-12, "{m}");
        // True 0, 0; predicted 0, 2: class 0 F1 2/3, class 2 (predicted, never true) 0.
        let m = classification(&[0, 0], &[0.8, 0.1, 0.1, 0.1, 0.1, 0.8], &classes);
        assert!((m["macro_f1"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12, "{m}");
        assert_eq!(m["per_class"]["1"]["f1"], json!(0.0));
    }

    /// Rows added in batches give the metrics of all of them at once, bit for bit (AUC,
    /// log loss, confusion), for two and for three classes.
    #[test]
    fn batches_accumulate_to_the_whole() {
        let mut next = crate::models::text::xorshift(7);
        for k in [2usize, 3] {
            let classes: Vec<Value> = (0..k as i64).map(Value::Integer).collect();
            let n = 1000;
            let y: Vec<u32> = (0..n).map(|_| (next() % k as u64) as u32).collect();
            let proba: Vec<f64> = (0..n)
                .flat_map(|_| {
                    // Coarse scores, so that the AUC meets ties.
                    let raw: Vec<f64> = (0..k).map(|_| (next() % 20) as f64 + 1.0).collect();
                    let sum: f64 = raw.iter().sum();
                    raw.into_iter().map(move |r| r / sum)
                })
                .collect();
            let whole = classification(&y, &proba, &classes);
            let mut m = Classification::new(&classes);
            for (ys, ps) in y.chunks(37).zip(proba.chunks(37 * k)) {
                m.add(ys, ps, &Budget::default()).unwrap();
            }
            assert_eq!(m.rows(), n);
            assert_eq!(m.finish(), whole);
            if k == 2 {
                assert!(whole.get("roc_auc").is_some());
            }
        }
    }

    /// The ROC AUC's 8 bytes a row are checked against the budget.
    #[test]
    fn auc_scores_are_budgeted() {
        let classes = [Value::Integer(0), Value::Integer(1)];
        let mut m = Classification::new(&classes);
        let budget = Budget::training_mb(1);
        let y = vec![0u32; 100_000];
        let p = vec![0.5; 200_000];
        m.add(&y, &p, &budget).unwrap();
        let e = m.add(&y, &p, &budget).unwrap_err().to_string();
        assert!(
            e.starts_with("evaluating 200000 rows would need 1.5 MiB for the scores of the ROC AUC"),
            "{e}"
        );
    }

    #[test]
    fn auc_with_ties() {
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, true]), None);
    }
}
