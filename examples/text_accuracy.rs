//! Accuracy of the `text` kind on the real sets in `../shared/data`, per option set, through the
//! pure Rust API (no SQL). SMS spam and ChnSentiCorp: stratified 80/20 split with seed 42 (our
//! own split, made by `ml_train`'s `test_size`); Banking77: its official train/test files.
//!
//! ```text
//! cargo run --release --example text_accuracy                      # the default grid
//! cargo run --release --example text_accuracy -- '{"stem": true}'  # given option sets only
//! ```
//!
//! Prints one JSON object per line: dataset, options, accuracy, macro-F1, vocabulary size,
//! training seconds.

mod text_data;

use serde_json::{Map, Value as Json, json};
use sqlml::models::text::TextModel;
use sqlml::models::{Column, ColumnData, Common, Dataset, Estimator, Options};
use std::time::Instant;
use text_data::TextSet;

fn dataset(rows: &[(String, String)]) -> Dataset {
    Dataset::new(vec![
        Column {
            name: "label".into(),
            data: ColumnData::texts(rows.iter().map(|r| Some(r.0.clone())).collect()),
        },
        Column {
            name: "text".into(),
            data: ColumnData::texts(rows.iter().map(|r| Some(r.1.clone())).collect()),
        },
    ])
}

/// Trains with `options` (plus the set's language unless given) and returns the metrics line.
fn run(set: &TextSet, options: &Map<String, Json>) -> Json {
    let mut map = options.clone();
    map.entry("language").or_insert(json!(set.language));
    let mut opts = Options::from_map(map.clone());
    let common =
        Common { seed: 42, test_size: if set.test.is_some() { 0.0 } else { 0.2 }, ..Common::default() };
    let start = Instant::now();
    let trained = TextModel::train(&dataset(&set.train), Some("label"), &mut opts, &common)
        .unwrap_or_else(|e| panic!("{}: {e}", set.name));
    let train_s = start.elapsed().as_secs_f64();
    let metrics = match &set.test {
        Some(test) => trained.model.evaluate(&dataset(test)).expect("evaluate"),
        None => trained.metrics,
    };
    json!({
        "dataset": set.name,
        "options": Json::Object(map),
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "test_rows": metrics["rows"],
        "vocabulary": trained.model.vocabulary_size(),
        "train_s": train_s,
    })
}

fn grid() -> Vec<Json> {
    let mut out = vec![json!({})];
    for (k, v) in [
        ("ngrams", json!([1, 1])),
        ("ngrams", json!([1, 3])),
        ("stopwords", json!(true)),
        ("stem", json!(true)),
        ("alpha", json!(1.0)),
        ("alpha", json!(0.3)),
        ("alpha", json!(0.03)),
        ("weighting", json!("binary")),
        ("weighting", json!("tfidf")),
        ("algorithm", json!("complement")),
        ("algorithm", json!("bernoulli")),
        ("priors", json!("uniform")),
        ("min_df", json!(2)),
    ] {
        out.push(json!({ k: v }));
    }
    out.push(json!({"stem": true, "stopwords": true, "ngrams": [1, 1], "alpha": 1.0}));
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let option_sets: Vec<Json> = if args.is_empty() {
        grid()
    } else {
        args.iter().map(|a| serde_json::from_str(a).expect("each argument is a JSON object")).collect()
    };
    for set in text_data::all() {
        for options in &option_sets {
            let map = options.as_object().expect("a JSON object").clone();
            println!("{}", run(&set, &map));
        }
    }
}
