//! Benchmark of the `text` kind through SQL on the real sets in `../shared/data`.
//!
//! ```text
//! cargo run --release --example bench_text [-- REPEATS] [--only FILTER]
//! ```
//!
//! `--only FILTER` runs only the lines whose `"dataset config"` (e.g. `chnsenticorp cjk bigrams`,
//! `sms-spam default`, `mixed-20k` for the memory child, `imdb default`, `imdb-rating-1k`)
//! contains FILTER (comma-separated: any
//! of them); without it everything runs.
//!
//! Per set: the rows go into SQLite tables `train_t(label, text)` and `test_t(label, text)`
//! (SMS spam and ChnSentiCorp: stratified 80/20 split, seed 42, the split `ml_train` itself
//! makes; Banking77: the official files). Then, each repeated (default 3, after one untimed
//! training run: `first_train_s`) and reported as
//! median/min/max: `SELECT ml_train('m', 'text', 'train_t', 'label', json_object(...))` (read,
//! fit, encrypt, store), `SELECT ml_predict('m', text) FROM test_t` and `SELECT prediction FROM
//! ml_predict_table('m', 'test_t')` (documents per second,
//! end to end from raw text; after one query that loads the model, the query runs again and
//! again for at least 0.3 s per repeat, as the peers' `throughput` does). ChnSentiCorp also runs the bigram models of [`CHINESE_CONFIGS`].
//! Quality is `ml_evaluate('m', 'test_t')`. A child process reports
//! the peak resident memory (VmHWM) of training on 20,000 documents (Banking77 train + test,
//! SMS, and the first ChnSentiCorp reviews), next to its resident memory before training.
//! The long-document sets (IMDB reviews and their star ratings, see `bench/long_docs.py`) run
//! the [`LONG_CONFIGS`], each in a child process that reports its own peak memory.
//! One JSON object per line.

mod text_data;

use serde_json::{Value as Json, json};
use sqlml::models::data::encode_labels;
use sqlml::models::split::train_test_split;
use sqlml::models::{Column, ColumnData};
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;
use text_data::TextSet;

fn connect() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0)).unwrap();
    conn
}

fn load(conn: &Connection, table: &str, rows: &[&(String, String)]) {
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table}(label TEXT, text TEXT);"
    ))
    .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut ins = tx.prepare(&format!("INSERT INTO {table} VALUES (?1, ?2)")).unwrap();
        for (label, text) in rows {
            ins.execute(params![label, text]).unwrap();
        }
    }
    tx.commit().unwrap();
}

/// ChnSentiCorp runs these besides the defaults (jieba words, n-grams 1–2): character bigrams,
/// then the two faster bigram models that drop the terms of a single training review (`min_df`
/// 2), the second also without n-grams of bigrams (a bigram token already spans two characters).
const CHINESE_CONFIGS: [(&str, &str); 3] = [
    ("cjk bigrams", ", 'cjk', 'bigrams'"),
    ("cjk bigrams min_df 2", ", 'cjk', 'bigrams', 'min_df', 2"),
    ("cjk bigrams ngrams 1 min_df 2", ", 'cjk', 'bigrams', 'ngrams', 1, 'min_df', 2"),
];

/// The long-document sets ([`text_data::LONG`]) run these, each in a child process of its own
/// so that its peak resident memory (`peak_rss_mb`, VmHWM: loading, training and predicting)
/// is its own: the defaults, the defaults on the training rows in another order (the shared
/// sets are written sorted by label, a user's table rarely is: the same model, by the same
/// work), unigrams only, and the most accurate option set we measured on the set
/// ([`best_long`]).
const LONG_CONFIGS: [&str; 4] = ["default", "default, rows shuffled", "ngrams 1", "best"];

/// The configuration of [`LONG_CONFIGS`] that trains on `train_shuffled`: `train_t`'s rows in
/// a fixed pseudo-random order ([`long_load`]).
const SHUFFLED: &str = "default, rows shuffled";

/// The `json_object` arguments of a long-document configuration. "best": the most accurate of
/// the option sets tried on the set (`examples/text_long_profile`, see bench/README.md).
fn long_options(set: &str, config: &str) -> &'static str {
    match (set, config) {
        (_, "default") | (_, SHUFFLED) => "",
        (_, "ngrams 1") => ", 'ngrams', 1",
        ("imdb", "best") => ", 'weighting', 'tfidf', 'algorithm', 'complement', 'ngrams', 3",
        (_, "best") => ", 'ngrams', 3, 'alpha', 0.3",
        _ => panic!("unknown long-document configuration {config}"),
    }
}

/// Minimum duration of one prediction measurement, in seconds (the peers' `min_seconds`).
const PREDICT_MIN_S: f64 = 0.3;

/// Borrowed (label, text) rows.
type Rows<'a> = Vec<&'a (String, String)>;

/// The same stratified split `ml_train` makes with `test_size` 0.2 and seed 42.
fn split(rows: &[(String, String)]) -> (Rows<'_>, Rows<'_>) {
    let col = Column {
        name: "label".into(),
        data: ColumnData::texts(rows.iter().map(|r| Some(r.0.clone())).collect()),
    };
    let labels = encode_labels(&col).unwrap();
    let (train, test) = train_test_split(rows.len(), Some(&labels.y), 0.2, 42).unwrap();
    (train.iter().map(|&i| &rows[i]).collect(), test.iter().map(|&i| &rows[i]).collect())
}

fn stats(mut v: Vec<f64>) -> Json {
    v.sort_by(f64::total_cmp);
    json!({"median": v[v.len() / 2], "min": v[0], "max": v[v.len() - 1], "n": v.len()})
}

fn vm_hwm_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// `extra` is appended to the `json_object(...)` arguments, e.g. `, 'cjk', 'bigrams'`; `config`
/// names the line (the report keys a table by dataset and config).
fn bench(set: &TextSet, config: &str, extra: &str, repeats: usize) -> Json {
    let conn = connect();
    let loaded = load_set(&conn, set);
    bench_loaded(&conn, &loaded, config, extra, repeats)
}

/// What [`bench_loaded`] needs of a set once its rows are in `train_t` and `test_t`.
struct Loaded {
    name: &'static str,
    language: &'static str,
    train_docs: usize,
    test_docs: usize,
    /// The first 200 test texts (single-text latency).
    sample: Vec<String>,
}

/// Writes `set`'s rows into `train_t` and `test_t`.
fn load_set(conn: &Connection, set: &TextSet) -> Loaded {
    let (train, test): (Vec<_>, Vec<_>) = match &set.test {
        Some(test) => (set.train.iter().collect(), test.iter().collect()),
        None => split(&set.train),
    };
    load(conn, "train_t", &train);
    load(conn, "test_t", &test);
    Loaded {
        name: set.name,
        language: set.language,
        train_docs: train.len(),
        test_docs: test.len(),
        sample: test.iter().take(200).map(|r| r.1.clone()).collect(),
    }
}

fn bench_loaded(conn: &Connection, set: &Loaded, config: &str, extra: &str, repeats: usize) -> Json {
    let options = format!("json_object('test_size', 0, 'language', '{}'{extra})", set.language);
    let table = if config == SHUFFLED { "train_shuffled" } else { "train_t" };
    let mut train_s = Vec::new();
    let mut report = Json::Null;
    // One untimed run first: the first training in a process also builds the lazy tables
    // (jieba's dictionary, the normalisation table, the stopword sets); `first_train_s` reports it.
    let mut first_train_s = 0.0;
    for i in 0..=repeats {
        let t = Instant::now();
        let r: String = conn
            .query_row(&format!("SELECT ml_train('m', 'text', '{table}', 'label', {options})"), [], |r| {
                r.get(0)
            })
            .unwrap();
        if i == 0 {
            first_train_s = t.elapsed().as_secs_f64();
        } else {
            train_s.push(t.elapsed().as_secs_f64());
        }
        report = serde_json::from_str(&r).unwrap();
    }
    // Per-row prediction, then batch prediction over the table (each batch's texts scored on two
    // threads). The first query loads the model into the connection's cache (the peers predict
    // from the model in memory). Then, as the peers' `throughput`, each repeat runs the whole
    // query again and again for at least `PREDICT_MIN_S` and reports the mean rate.
    let rates = |sql: &str| {
        let mut stmt = conn.prepare(sql).unwrap();
        let mut all = || {
            let mut rows = stmt.query([]).unwrap();
            let mut n = 0usize;
            while let Some(row) = rows.next().unwrap() {
                let _: String = row.get(0).unwrap();
                n += 1;
            }
            n
        };
        all();
        (0..repeats)
            .map(|_| {
                let (t, mut n) = (Instant::now(), 0);
                while t.elapsed().as_secs_f64() < PREDICT_MIN_S {
                    n += all();
                }
                n as f64 / t.elapsed().as_secs_f64()
            })
            .collect::<Vec<f64>>()
    };
    let docs_per_s = rates("SELECT ml_predict('m', text) FROM test_t");
    let table_docs_per_s = rates("SELECT prediction FROM ml_predict_table('m', 'test_t')");
    let mut latencies = Vec::new();
    let mut one = conn.prepare("SELECT ml_predict('m', ?1)").unwrap();
    for text in &set.sample {
        let t1 = Instant::now();
        let _: String = one.query_row([text], |r| r.get(0)).unwrap();
        latencies.push(t1.elapsed().as_secs_f64() * 1e6);
    }
    let metrics: String = conn.query_row("SELECT ml_evaluate('m', 'test_t')", [], |r| r.get(0)).unwrap();
    let metrics: Json = serde_json::from_str(&metrics).unwrap();
    json!({
        "task": "nb",
        "dataset": set.name,
        "config": config,
        "library": "sqlml",
        "algorithm": report["algorithm"],
        "options": report["options"],
        "train_docs": set.train_docs,
        "test_docs": set.test_docs,
        "vocabulary": report["vocabulary_size"],
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "train_s": stats(train_s),
        "first_train_s": first_train_s,
        "predict_docs_per_s": stats(docs_per_s),
        "predict_table_docs_per_s": stats(table_docs_per_s),
        "predict_1doc_us": stats(latencies),
    })
}

/// Child process: train on 20,000 documents and report memory.
fn rss_child() {
    let mut docs: Vec<(String, String)> = Vec::new();
    let banking = text_data::banking77();
    docs.extend(banking.train);
    docs.extend(banking.test.unwrap());
    docs.extend(text_data::sms().train);
    let chinese = text_data::chn_senti_corp().train;
    let rest = 20_000 - docs.len();
    docs.extend(chinese.into_iter().take(rest));
    let conn = connect();
    load(&conn, "docs", &docs.iter().collect::<Vec<_>>());
    drop(docs);
    let before = vm_hwm_mb("VmRSS:");
    let t = Instant::now();
    let _: String = conn
        .query_row("SELECT ml_train('m', 'text', 'docs', 'label', json_object('test_size', 0))", [], |r| {
            r.get(0)
        })
        .unwrap();
    println!(
        "{}",
        json!({"task": "nb", "dataset": "mixed-20k", "config": "banking77 + SMS + ChnSentiCorp, 81 classes", "library": "sqlml",
               "train_docs": 20_000, "train_s": t.elapsed().as_secs_f64(),
               "rss_before_train_mb": before, "peak_rss_mb": vm_hwm_mb("VmHWM:")})
    );
}

/// Child process: writes a long-document set into the SQLite file `db` (tables `train_t` and
/// `test_t`), for [`long_child`].
fn long_load(name: &str, db: &str) {
    let set = text_data::long(name).expect("a long-document set");
    let conn = Connection::open(db).unwrap();
    load_set(&conn, &set);
    // The same rows in an order that does not follow the labels (a fixed permutation of the
    // row ids: the multiplier is odd, so no two rows get the same key).
    conn.execute_batch(
        "CREATE TABLE train_shuffled AS SELECT label, text FROM train_t ORDER BY (rowid * 2654435761) % 4294967296",
    )
    .unwrap();
}

/// Child process: one long-document set and configuration, with the process's peak memory.
///
/// The rows are in the SQLite file `db` (written by [`long_load`] in a process of its own), as
/// a user's are: the peak is the process's from opening the database to the trained model and
/// the predictions, as scikit-learn's is from reading the CSV files to its model and predictions.
fn long_child(name: &str, config: &str, repeats: usize, db: &str) {
    let extra = long_options(name, config);
    let conn = Connection::open(db).unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0)).unwrap();
    let count = |table: &str| -> usize {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap() as usize
    };
    let mut sample = conn.prepare("SELECT text FROM test_t LIMIT 200").unwrap();
    let loaded = Loaded {
        name: text_data::LONG.iter().copied().find(|n| *n == name).expect("a long-document set"),
        language: "en",
        train_docs: count("train_t"),
        test_docs: count("test_t"),
        sample: sample.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect(),
    };
    drop(sample);
    let before = vm_hwm_mb("VmRSS:");
    let mut line = bench_loaded(&conn, &loaded, config, extra, repeats);
    line["rss_after_load_mb"] = json!(before);
    line["peak_rss_mb"] = json!(vm_hwm_mb("VmHWM:"));
    line["data"] = json!("a SQLite file written by another process");
    println!("{line}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--rss-child") {
        return rss_child();
    }
    if args.get(1).map(String::as_str) == Some("--long-load") {
        return long_load(&args[2], &args[3]);
    }
    if args.get(1).map(String::as_str) == Some("--long-child") {
        return long_child(&args[2], &args[3], args[4].parse().expect("repeats"), &args[5]);
    }
    let mut repeats = 3usize;
    let mut only: Vec<String> = Vec::new();
    let mut rest = args.iter().skip(1);
    while let Some(a) = rest.next() {
        if a == "--only" {
            let f = rest.next().expect("--only needs a filter");
            only.extend(f.split(',').map(str::to_string));
        } else {
            repeats = a.parse().expect("arguments: [REPEATS] [--only FILTER]");
        }
    }
    let repeats = repeats.max(1);
    let wanted = |line: &str| only.is_empty() || only.iter().any(|f| line.contains(f.as_str()));
    for set in text_data::all() {
        let mut configs = vec![("default", "")];
        if set.language == "zh" {
            configs.extend(CHINESE_CONFIGS);
        }
        for (config, extra) in configs {
            if wanted(&format!("{} {config}", set.name)) {
                println!("{}", bench(&set, config, extra, repeats));
            }
        }
    }
    let child = |args: &[&str]| {
        let out = std::process::Command::new(std::env::current_exe().expect("this example's path"))
            .args(args)
            .output()
            .expect("run a child");
        print!("{}", String::from_utf8_lossy(&out.stdout));
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
    };
    if wanted("mixed-20k") {
        child(&["--rss-child"]);
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    for name in text_data::LONG {
        let db = dir.path().join(format!("{name}.db"));
        let db = db.to_str().expect("a UTF-8 temporary path");
        for config in LONG_CONFIGS {
            if wanted(&format!("{name} {config}")) {
                if !std::path::Path::new(db).exists() {
                    child(&["--long-load", name, db]);
                }
                child(&["--long-child", name, config, &repeats.to_string(), db]);
            }
        }
    }
}
