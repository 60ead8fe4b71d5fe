//! Serving benchmarks (issue 13): batch prediction through `ml_predict_table` against per-row
//! `ml_predict` over the same source, for every kind, and the cost of the default `ml_train`
//! (measure on a held-out split, then refit on every row) against one `test_size: 0` fit, and
//! `ml_evaluate` over the whole source (rows per second). Two floors beside them: stepping the
//! source and reading every cell (`scan_rows_per_s`; no batch path can beat it, so
//! `scan_bound_over_per_row` is the most batch prediction can gain) and the per-row query with a
//! function that does nothing (`noop_per_row_rows_per_s`; the rest is `predict_us_per_row`).
//! One JSON object per data set, medians of `BENCH_REPEATS` runs (default 3).
//!
//! `cargo run --release --example bench_serving` (`BENCH_DATA`: the shared data folder, default
//! `../shared/data`).

#[path = "support/realdata.rs"]
mod realdata;

use serde_json::{Value as Json, json};
use sqlml::rusqlite::functions::FunctionFlags;
use sqlml::rusqlite::types::ValueRef;
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median seconds of `sql` (one value read), `n` runs.
fn time(conn: &Connection, sql: &str, n: usize) -> f64 {
    median(
        (0..n)
            .map(|_| {
                let start = Instant::now();
                let _: sqlml::rusqlite::types::Value = conn.query_row(sql, [], |r| r.get(0)).unwrap();
                start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// Batch and per-row rows per second, the default call against a `test_size: 0` fit.
fn measure(conn: &Connection, dataset: &str, kind: &str, train: &str, per_row: &str, rows: usize) -> Json {
    let n = realdata::repeats(3);
    // `train` ends its options with ", }'": the default call drops it, the other adds test_size.
    let default = train.replace(", }'", "}'");
    let default_s = time(conn, &format!("SELECT ml_train('m', '{kind}', {default})"), n);
    let all_rows = train.replacen("'{", "'{\"test_size\": 0, ", 1).replace(", }'", "}'");
    let test_size_0_s = time(conn, &format!("SELECT ml_train('m0', '{kind}', {all_rows})"), n);
    let batch_s = time(conn, "SELECT count(*) FROM ml_predict_table('m', 'src')", n.max(3));
    let per_row_s = time(conn, &format!("SELECT count({per_row}) FROM src"), n.max(3));
    let evaluate_s = time(conn, "SELECT ml_evaluate('m', 'src')", n.max(3));
    // The floors: stepping the source and reading every cell (what any batch reader must do),
    // and the per-row query with a function that does nothing in place of `ml_predict`.
    let scan_s = median((0..n.max(3)).map(|_| scan(conn)).collect());
    let noop = per_row.replacen("ml_predict('m', ", "bench_noop(", 1);
    let noop_s = time(conn, &format!("SELECT count({noop}) FROM src"), n.max(3));
    json!({
        "task": "serving", "dataset": dataset, "kind": kind, "library": "sqlml", "rows": rows,
        "train_default_s": default_s, "train_test_size_0_s": test_size_0_s,
        "default_over_test_size_0": default_s / test_size_0_s,
        "predict_rows_per_s_batch": rows as f64 / batch_s,
        "predict_rows_per_s_per_row": rows as f64 / per_row_s,
        "batch_over_per_row": per_row_s / batch_s,
        "evaluate_rows_per_s": rows as f64 / evaluate_s,
        "scan_rows_per_s": rows as f64 / scan_s,
        "noop_per_row_rows_per_s": rows as f64 / noop_s,
        "scan_bound_over_per_row": per_row_s / scan_s,
        "predict_us_per_row": (per_row_s - noop_s) / rows as f64 * 1e6,
    })
}

/// Seconds to step `SELECT * FROM src` and read every cell (text and blob bytes touched): the
/// least any reader of the whole source spends, so `per_row_s / scan_s` bounds what batch
/// prediction can gain over per-row prediction.
fn scan(conn: &Connection) -> f64 {
    let start = Instant::now();
    let mut stmt = conn.prepare("SELECT * FROM src").unwrap();
    let n = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut sum = 0u64;
    while let Some(row) = rows.next().unwrap() {
        for i in 0..n {
            sum += match row.get_ref(i).unwrap() {
                ValueRef::Null => 0,
                ValueRef::Integer(v) => v as u64 & 1,
                ValueRef::Real(v) => (v > 0.0) as u64,
                ValueRef::Text(t) | ValueRef::Blob(t) => t.len() as u64,
            };
        }
    }
    std::hint::black_box(sum);
    start.elapsed().as_secs_f64()
}

/// An in-memory database with sqlml, unlocked.
fn connect() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    conn.create_scalar_function("bench_noop", -1, FunctionFlags::SQLITE_UTF8, |_| Ok(Option::<i64>::None))
        .unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench')", [], |r| r.get(0)).unwrap();
    conn
}

fn main() {
    let dir = realdata::data_dir();
    // Classifier: bank marketing (full), the table as it is.
    {
        let table = realdata::bank_full();
        let data = realdata::dataset(&table);
        let conn = connect();
        realdata::load(&conn, "src", &data);
        let rows = data.n_rows;
        drop(data);
        let exclude = table.exclude.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let train = format!("'src', '{}', '{{\"exclude\": [{exclude}], }}'", table.target);
        let report: String = conn
            .query_row(
                &format!("SELECT ml_train('cols', 'classifier', {train})").replace(", }'", "}'"),
                [],
                |r| r.get(0),
            )
            .unwrap();
        let report: Json = serde_json::from_str(&report).unwrap();
        let columns: Vec<String> = report["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| format!("\"{}\"", c.as_str().unwrap()))
            .collect();
        let per_row = format!("ml_predict('m', {})", columns.join(", "));
        println!("{}", measure(&conn, "bank-full", "classifier", &train, &per_row, rows));
    }
    // Text: SMS spam.
    {
        let text = std::fs::read_to_string(format!("{dir}/sms-spam/SMSSpamCollection")).unwrap();
        let conn = connect();
        conn.execute_batch("CREATE TABLE src(label TEXT, body TEXT)").unwrap();
        let mut rows = 0;
        {
            let mut ins = conn.prepare("INSERT INTO src VALUES (?1, ?2)").unwrap();
            for line in text.lines() {
                if let Some((label, body)) = line.split_once('\t') {
                    ins.execute(params![label, body]).unwrap();
                    rows += 1;
                }
            }
        }
        println!(
            "{}",
            measure(
                &conn,
                "sms-spam",
                "text",
                "'src', 'label', '{\"seed\": 1, }'",
                "ml_predict('m', body)",
                rows
            )
        );
    }
    // Recommender: MovieLens 100K.
    {
        let text = std::fs::read_to_string(format!("{dir}/ml-100k/u.data")).unwrap();
        let conn = connect();
        conn.execute_batch("CREATE TABLE src(user INTEGER, item INTEGER, rating REAL)").unwrap();
        let mut rows = 0;
        {
            let mut ins = conn.prepare("INSERT INTO src VALUES (?1, ?2, ?3)").unwrap();
            for line in text.lines() {
                let f: Vec<&str> = line.split_whitespace().collect();
                if f.len() >= 3 {
                    ins.execute(params![
                        f[0].parse::<i64>().unwrap(),
                        f[1].parse::<i64>().unwrap(),
                        f[2].parse::<f64>().unwrap()
                    ])
                    .unwrap();
                    rows += 1;
                }
            }
        }
        println!(
            "{}",
            measure(
                &conn,
                "ml-100k",
                "recommender",
                "'src', 'rating', '{\"seed\": 1, }'",
                "ml_predict('m', user, item)",
                rows
            )
        );
    }
}
