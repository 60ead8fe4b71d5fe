//! Accuracy and training time of the `classifier` kind on the real tables, in pure Rust (no
//! SQLite), with default options and the peers' split (stratified 80/20, seed 42).
//!
//! Run: `cargo run --release --example mlp_accuracy`. Prints one JSON object per dataset.

#[path = "support/realdata.rs"]
mod realdata;

use serde_json::json;
use sqlml::models::mlp::Classifier;
use sqlml::models::{Common, Estimator, Options};
use std::time::Instant;

fn main() {
    let repeats = realdata::repeats(3);
    for table in [realdata::telco(), realdata::bank_full()] {
        let data = realdata::dataset(&table);
        let options = json!({"exclude": table.exclude}).to_string();
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..repeats {
            let mut opts = Options::parse(Some(&options)).expect("options");
            let common = Common::read(&mut opts).expect("common options");
            let start = Instant::now();
            let trained = Classifier::train(&data, Some(table.target), &mut opts, &common).expect("training");
            times.push(start.elapsed().as_secs_f64());
            last = Some(trained);
        }
        let t = last.expect("at least one repeat");
        times.sort_by(f64::total_cmp);
        let m = &t.metrics;
        println!(
            "{}",
            json!({
                "task": "mlp", "dataset": table.name, "library": "sqlml (pure Rust)",
                "rows": data.n_rows, "train_rows": t.train_rows, "test_rows": t.test_rows,
                "inputs": t.details["inputs"], "dropped": t.details["dropped_columns"],
                "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "roc_auc": m["roc_auc"],
                "log_loss": m["log_loss"],
                "train_s": {"median": times[times.len() / 2], "min": times[0], "max": times[times.len() - 1], "n": times.len()},
                "epoch_loss": t.log.iter().map(|e| e.loss).collect::<Vec<_>>(),
                "importance_top3": t.details["permutation_importance"].as_array().map(|a| a.iter().take(3).cloned().collect::<Vec<_>>()),
            })
        );
    }
}
