//! Where the time of the long-document text path goes (IMDB reviews, see `bench/long_docs.py`):
//! the tokenizer alone, tokenize + count (by class, as the defaults count), the vocabulary's
//! `finish_by_class` (`min_df` 2, as chosen for IMDB), the NB fit, then the SQL
//! calls (`ml_train` without a test split, `ml_predict` and `ml_predict_table` over the test
//! table). Each figure is the fastest of `REPEATS` (default 3) runs, in wall seconds. One JSON
//! object per line.
//!
//! ```text
//! cargo run --release --example text_long_profile [-- PHASE [REPEATS [SET [OPTIONS]]]]
//! ```
//!
//! PHASE (default `all`): `tokenize`, `tokenize-hashes`, `tokenize-split` (hash-only tokenizing
//! of the ASCII texts and of the others, MB/s), `fit`, `train`, `predict`; SET `imdb`
//! (default) or `imdb-rating-1k`; OPTIONS extra `json_object` arguments for the SQL phases, e.g.
//! `, 'ngrams', 1`. Run one phase alone under `perf record`. `ORDER=class` or `ORDER=shuffled`
//! counts (`fit`) or writes the training table (`train`, `predict`) in that order instead of the
//! file's, which is sorted by label (see `text_order`). `TEST_SIZE` (default 0) is the `train`
//! phase's `test_size`: with 0.2, the default, the wall time `s` is the whole default call (the
//! measured fit, its held-out report and the refit on every row); the report's `timings` are
//! then the refit's.

mod text_data;

use serde_json::json;
use sqlml::models::text::naive_bayes::{Algorithm, NaiveBayes, Priors};
use sqlml::models::text::tokenize::{Tokenizer, TokenizerConfig, Tokens};
use sqlml::models::text::vectorize::VocabularyBuilder;
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;

fn fastest(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn connect(train: &[(String, String)], test: &[(String, String)]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0)).unwrap();
    conn.execute_batch(
        "CREATE TABLE train_t(label TEXT, text TEXT); CREATE TABLE test_t(label TEXT, text TEXT);",
    )
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for (table, rows) in [("train_t", train), ("test_t", test)] {
        let mut ins = tx.prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)")).unwrap();
        for (label, text) in rows {
            ins.execute(params![label, text]).unwrap();
        }
    }
    tx.commit().unwrap();
    conn
}

/// The order of the training texts of classes `labels` that the `fit` phase counts and the
/// `train` phase's table holds, from `ORDER`: `rows` (the file's, sorted by label: the default),
/// `class` (class by class, as training counts each half) or `shuffled` (a fixed shuffle).
fn text_order(labels: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    match std::env::var("ORDER").as_deref() {
        Ok("class") => order.sort_by_key(|&i| labels[i]),
        Ok("shuffled") => {
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            for i in (1..order.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
        }
        _ => {}
    }
    order
}

fn hwm() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ["VmRSS:", "VmHWM:"]
        .map(|k| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .join(", ")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let phase = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let repeats: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3);
    let set = text_data::long(args.get(3).map_or("imdb", String::as_str)).expect("imdb or imdb-rating-1k");
    let extra = args.get(4).cloned().unwrap_or_default();
    let (train, test) = (set.train, set.test.unwrap());
    let n = train.len() as f64;
    let run = |p: &str| phase == "all" || phase == p;
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut out = Tokens::default();
    for (name, hashes_only) in [("tokenize", false), ("tokenize-hashes", true)] {
        if !run(name) {
            continue;
        }
        let mut count = 0;
        let s = fastest(repeats, || {
            count = 0;
            for (_, text) in &train {
                if hashes_only {
                    t.tokenize_hashes(text, &mut out);
                } else {
                    t.tokenize(text, &mut out);
                }
                count += out.len();
            }
        });
        println!("{}", json!({"phase": name, "s": s, "docs_per_s": n / s, "tokens": count}));
    }
    if run("tokenize-split") {
        // Throughput of hash-only tokenizing on the ASCII texts and on the others, per byte.
        for ascii in [true, false] {
            let docs: Vec<&str> =
                train.iter().map(|(_, t)| t.as_str()).filter(|t| t.is_ascii() == ascii).collect();
            let bytes: usize = docs.iter().map(|t| t.len()).sum();
            let s = fastest(repeats, || {
                for text in &docs {
                    t.tokenize_hashes(text, &mut out);
                }
            });
            println!(
                "{}",
                json!({"phase": "tokenize-split", "ascii": ascii, "docs": docs.len(), "mb_per_s": bytes as f64 / s / 1e6})
            );
        }
    }
    // The class of each training text (the labels in sorted order, as `ml_train` numbers
    // them), and the order `ORDER` asks for.
    let mut classes: Vec<&str> = train.iter().map(|(l, _)| l.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let labels: Vec<u32> =
        train.iter().map(|(l, _)| classes.binary_search(&l.as_str()).unwrap() as u32).collect();
    let order = text_order(&labels);
    if run("fit") {
        let (mut add, mut finish, mut nb) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        let mut terms = 0;
        for _ in 0..repeats {
            // As the defaults count: words and pairs, by class (no rows).
            let mut b = VocabularyBuilder::by_class(classes.len(), false).unwrap();
            add = add.min(fastest(1, || {
                for &i in &order {
                    t.tokenize(&train[i].1, &mut out);
                    b.try_add_in_class(&out, 1, 2, labels[i]).unwrap();
                }
            }));
            terms = b.distinct_terms();
            let mut result = None;
            let mut b = Some(b);
            finish = finish.min(fastest(1, || {
                result = b.take().map(|b| b.finish_by_class(2, None, &sqlml::models::Control::new()).unwrap())
            }));
            let mut sums = result.map(|(_, sums)| sums);
            nb = nb.min(fastest(1, || {
                let sums = sums.take().unwrap();
                NaiveBayes::from_class_sums(
                    sums,
                    &labels,
                    classes.len(),
                    Algorithm::Multinomial,
                    0.1,
                    Priors::Learned,
                )
                .unwrap();
            }));
        }
        println!(
            "{}",
            json!({"phase": "fit (one thread, by class, min_df 2)", "tokenize_and_count_s": add, "finish_s": finish, "nb_fit_s": nb, "terms": terms})
        );
    }
    if !(run("train") || run("predict")) {
        return;
    }
    // The training table's rows in the order `ORDER` asks for (moved, not copied: the
    // memory printed next is the rows' once).
    drop(classes);
    let mut rows: Vec<Option<(String, String)>> = train.into_iter().map(Some).collect();
    let train: Vec<(String, String)> = order.iter().map(|&i| rows[i].take().unwrap()).collect();
    drop(rows);
    let conn = connect(&train, &test);
    drop((train, test));
    println!("{}", json!({"phase": "loaded", "memory": hwm()}));
    let test_size: f64 = std::env::var("TEST_SIZE").map_or(0.0, |t| t.parse().expect("TEST_SIZE: a number"));
    let sql = format!(
        "SELECT ml_train('m', 'text', 'train_t', 'label', json_object('test_size', {test_size}{extra}))"
    );
    let mut timings = serde_json::Value::Null;
    let s = fastest(if run("train") { repeats } else { 1 }, || {
        let r: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
        let r: serde_json::Value = serde_json::from_str(&r).unwrap();
        timings =
            json!({"seconds": r["seconds"], "timings": r["timings"], "vocabulary": r["vocabulary_size"]});
    });
    if run("train") {
        println!("{}", json!({"phase": "train", "s": s, "report": timings, "memory": hwm()}));
    }
    if run("predict") {
        // Per-row, then batch prediction over the table (each batch's texts scored on two threads).
        let timed = |sql: &str| {
            let mut stmt = conn.prepare(sql).unwrap();
            let mut count = 0;
            let s = fastest(repeats, || {
                let mut rows = stmt.query([]).unwrap();
                count = 0;
                while let Some(row) = rows.next().unwrap() {
                    let _: String = row.get(0).unwrap();
                    count += 1;
                }
            });
            (s, count)
        };
        let (s, count) = timed("SELECT ml_predict('m', text) FROM test_t");
        let (batch_s, batch_count) = timed("SELECT prediction FROM ml_predict_table('m', 'test_t')");
        assert_eq!(batch_count, count, "ml_predict_table and ml_predict read the same rows");
        let m: String = conn.query_row("SELECT ml_evaluate('m', 'test_t')", [], |r| r.get(0)).unwrap();
        let m: serde_json::Value = serde_json::from_str(&m).unwrap();
        let hwm = hwm();
        println!(
            "{}",
            json!({"phase": "predict", "s": s, "docs_per_s": count as f64 / s, "table_docs_per_s": count as f64 / batch_s, "accuracy": m["accuracy"], "peak": hwm})
        );
    }
}
