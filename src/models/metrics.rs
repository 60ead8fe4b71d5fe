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

/// Metrics of a classifier on labelled rows.
///
/// `y` holds the true class ids, `proba` the predicted probabilities row-major
/// (`y.len() × classes.len()`). Returns a JSON object with `rows`, `accuracy`, `macro_f1`,
/// `log_loss`, `per_class` (precision, recall, f1, support per label), `confusion_matrix`
/// (`labels` and `matrix`, rows = true, columns = predicted) and, for two classes, `roc_auc`
/// (the score of the second class in sort order).
pub fn classification(y: &[u32], proba: &[f64], classes: &[Value]) -> Json {
    let k = classes.len();
    let n = y.len();
    debug_assert_eq!(proba.len(), n * k);
    let mut confusion = vec![vec![0u64; k]; k];
    let mut log_loss = 0.0;
    for (i, &t) in y.iter().enumerate() {
        let row = &proba[i * k..(i + 1) * k];
        let pred = argmax(row);
        confusion[t as usize][pred] += 1;
        log_loss -= row[t as usize].clamp(1e-15, 1.0).ln();
    }
    let correct: u64 = (0..k).map(|c| confusion[c][c]).sum();
    let mut per_class = Map::new();
    let mut f1_sum = 0.0;
    for c in 0..k {
        let tp = confusion[c][c] as f64;
        let predicted: u64 = (0..k).map(|t| confusion[t][c]).sum();
        let support: u64 = confusion[c].iter().sum();
        let precision = if predicted > 0 { tp / predicted as f64 } else { 0.0 };
        let recall = if support > 0 { tp / support as f64 } else { 0.0 };
        let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
        f1_sum += f1;
        per_class.insert(
            classes[c].to_key(),
            json!({"precision": precision, "recall": recall, "f1": f1, "support": support}),
        );
    }
    let mut out = Map::new();
    out.insert("rows".into(), json!(n));
    out.insert("accuracy".into(), json!(if n > 0 { correct as f64 / n as f64 } else { 0.0 }));
    out.insert("macro_f1".into(), json!(if k > 0 { f1_sum / k as f64 } else { 0.0 }));
    out.insert("log_loss".into(), json!(if n > 0 { log_loss / n as f64 } else { 0.0 }));
    if k == 2 {
        let scores: Vec<f64> = (0..n).map(|i| proba[i * 2 + 1]).collect();
        let positive: Vec<bool> = y.iter().map(|&t| t == 1).collect();
        if let Some(auc) = roc_auc(&scores, &positive) {
            out.insert("roc_auc".into(), json!(auc));
        }
    }
    out.insert("per_class".into(), Json::Object(per_class));
    out.insert(
        "confusion_matrix".into(),
        json!({
            "labels": classes.iter().map(Value::to_json).collect::<Vec<_>>(),
            "matrix": confusion,
        }),
    );
    Json::Object(out)
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

    #[test]
    fn auc_with_ties() {
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.5], &[true, true]), None);
    }
}
