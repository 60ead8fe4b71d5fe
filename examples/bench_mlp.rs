//! The `classifier` kind through SQL on the real tables: training from a SQLite table, prediction
//! throughput with positional arguments and with a `json_object(...)` argument, and peak
//! resident memory. Each dataset runs in its own child process so that its peak RSS (VmHWM)
//! is its own. Prints one JSON object per dataset.
//!
//! `cargo run --release --example bench_mlp [telco-churn|bank-full]` (`BENCH_REPEATS`, `BENCH_QUICK`,
//! `BENCH_DATA` as set by bench/run.sh).

#[path = "support/realdata.rs"]
mod realdata;

use serde_json::{Value as Json, json};
use sqlml::rusqlite::Connection;
use std::time::Instant;

fn main() {
    match std::env::args().nth(1) {
        Some(name) => run(&name),
        None => {
            let exe = std::env::current_exe().expect("own path");
            for name in ["telco-churn", "bank-full"] {
                let out = std::process::Command::new(&exe).arg(name).output().expect("child run");
                assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
        }
    }
}

fn summary(mut xs: Vec<f64>) -> Json {
    xs.sort_by(f64::total_cmp);
    json!({"median": xs[xs.len() / 2], "min": xs[0], "max": xs[xs.len() - 1], "n": xs.len()})
}

/// Rows per second of `count(expr)` over the whole table, passes repeated for at least 0.5 s,
/// five such measurements.
fn throughput(conn: &Connection, table: &str, expr: &str, rows: usize) -> Json {
    let sql = format!("SELECT count({expr}) FROM {table}");
    let mut stmt = conn.prepare(&sql).unwrap();
    let rates = (0..5)
        .map(|_| {
            let (start, mut done) = (Instant::now(), 0usize);
            while start.elapsed().as_secs_f64() < 0.5 {
                let n: i64 = stmt.query_row([], |r| r.get(0)).unwrap();
                assert_eq!(n as usize, rows);
                done += rows;
            }
            done as f64 / start.elapsed().as_secs_f64()
        })
        .collect();
    summary(rates)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn run(name: &str) {
    let table = match name {
        "telco-churn" => realdata::telco(),
        "bank-full" => realdata::bank_full(),
        other => panic!("unknown dataset {other}"),
    };
    let data = realdata::dataset(&table);
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench')", [], |r| r.get(0)).unwrap();
    realdata::load(&conn, "src", &data);
    drop(data);
    let exclude = table.exclude.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ");
    // `refit: false`: one fit on the training split, the work the peers' timed `fit` does on the
    // same rows (the default call then fits again on every row; bench_serving measures that).
    let train_sql = format!(
        "SELECT ml_train('m', 'classifier', 'src', '{}', json_object('exclude', json_array({exclude}), 'refit', json('false')))",
        table.target
    );
    let mut times = Vec::new();
    let mut report = Json::Null;
    for _ in 0..realdata::repeats(3) {
        let start = Instant::now();
        let text: String = conn.query_row(&train_sql, [], |r| r.get(0)).unwrap();
        times.push(start.elapsed().as_secs_f64());
        report = serde_json::from_str(&text).unwrap();
    }
    let peak = peak_rss_mb();
    let features: Vec<String> = report["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("\"{}\"", f["column"].as_str().unwrap()))
        .collect();
    let rows: usize =
        conn.query_row("SELECT count(*) FROM src", [], |r| r.get::<_, i64>(0)).unwrap() as usize;
    let positional = format!("ml_predict('m', {})", features.join(", "));
    let pairs: Vec<String> = features.iter().map(|f| format!("'{}', {f}", f.trim_matches('"'))).collect();
    let json_arg = format!("ml_predict('m', json_object({}))", pairs.join(", "));
    let m = &report["metrics"];
    println!(
        "{}",
        json!({
            "task": "mlp", "dataset": name, "library": "sqlml",
            "rows": report["rows"], "train_rows": report["train_rows"], "test_rows": report["test_rows"],
            "accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "roc_auc": m["roc_auc"],
            "train_s": summary(times),
            "fit_s_inside_ml_train": report["seconds"],
            "predict_rows_per_s_positional": throughput(&conn, "src", &positional, rows),
            "predict_rows_per_s_json": throughput(&conn, "src", &json_arg, rows),
            "peak_rss_mb": peak,
        })
    );
}
