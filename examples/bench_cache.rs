//! Per-row prediction cost with and without the model cache: predictions per second over
//! 100,000 rows through `SELECT ml_predict(...)`, for a text model. Without the cache every row
//! looks the model up, decrypts and decodes it; with it (the default) that happens once per
//! statement. Prints one JSON object.
//!
//! `cargo run --release --example bench_cache [rows]`

use sqlml::rusqlite::Connection;
use sqlml::{Config, register_with};
use std::time::Instant;

fn setup(config: Config, rows: usize) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    register_with(&conn, config).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench')", [], |r| r.get(0)).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE docs(body TEXT, label TEXT);
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < {rows} - 1)
         INSERT INTO docs SELECT
           CASE i % 3 WHEN 0 THEN 'win a free prize now claim cash ' || (i % 97)
                      ELSE 'see you at lunch tomorrow thanks ' || (i % 89) END,
           CASE i % 3 WHEN 0 THEN 'spam' ELSE 'ham' END
         FROM n;"
    ))
    .unwrap();
    let _: String = conn
        .query_row("SELECT ml_train('m', 'text', 'SELECT * FROM docs LIMIT 5000', 'label')", [], |r| r.get(0))
        .unwrap();
    conn
}

fn rate(conn: &Connection, rows: usize, repeats: usize) -> Vec<f64> {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            let n: i64 =
                conn.query_row("SELECT count(ml_predict('m', body)) FROM docs", [], |r| r.get(0)).unwrap();
            assert_eq!(n as usize, rows);
            rows as f64 / t.elapsed().as_secs_f64()
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let cached = setup(Config::default(), rows);
    let uncached_rows = rows / 10; // decrypting per row is slow; measure on a tenth and scale
    let uncached = setup(Config { cache_models: false, ..Config::default() }, uncached_rows);
    let with_cache = median(rate(&cached, rows, 5));
    let without_cache = median(rate(&uncached, uncached_rows, 3));
    println!(
        "{}",
        serde_json::json!({
            "task": "cache",
            "library": "sqlml",
            "rows": rows,
            "predict_rows_per_s_cached": with_cache,
            "predict_rows_per_s_uncached": without_cache,
            "uncached_rows_measured": uncached_rows,
            "speedup": with_cache / without_cache,
        })
    );
}
