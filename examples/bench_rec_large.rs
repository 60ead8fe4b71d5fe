//! The recommender on large catalogues, through SQL (issue 14), on generated sets with the shapes
//! of real ones (`support/ratings_gen.rs`; no data file is read or copied). Prints one JSON
//! object per line.
//!
//! ```text
//! cargo run --release --example bench_rec_large                 # everything below
//! cargo run --release --example bench_rec_large -- --write-data DIR
//! ```
//!
//! 1. **MovieLens 1M shape** (6,040 users, 3,706 items, 1,000,209 ratings), split 80/20 with a
//!    seeded shuffle: `ml_train(... test_size 0, seed 42)` on the training rows, timed end to end
//!    (reading the table, fitting, sealing, storing), for `svd` and `svdpp`; then the test rows
//!    are predicted through `ml_predict` for RMSE and MAE. `--write-data DIR` writes the same
//!    split as `DIR/gen-ml-1m.{train,test}.tsv` for `bench/surprise_generated.py`, which fits
//!    Surprise's `SVD()` and `SVDpp()` on exactly these rows (in this order, so with
//!    `random_state=42` both start from the same factors).
//! 2. **A 10k-item catalogue** (100,000 ratings, 1,000 users, 10,000 items): the fixed cost of
//!    `ml_train` with `test_size: 0`, i.e. everything but the SGD epochs (reading, ids, starting
//!    factors, sealing and writing the blob), as the call's time minus the epochs' time taken
//!    from the training log; and the cost of the default held-out report (`test_size` 0.2:
//!    per-epoch validation and the metrics, the report's `report_seconds`) against the median
//!    `test_size: 0` call (one fit of every row).
//!
//! `BENCH_REPEATS` (default 3) repeats every timing; medians. `BENCH_QUICK=1` skips SVD++ on the
//! 1M set.

#[path = "support/movielens.rs"]
mod movielens;
#[path = "support/ratings_gen.rs"]
mod ratings_gen;
use movielens::{peak_rss_mb, summary, thread_cpu_s};
use ratings_gen::{CATALOGUE_10K, ML_1M};
use serde_json::{Value as Json, json};
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeats: usize = std::env::var("BENCH_REPEATS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|q| q == "1");
    let rows = ratings_gen::generate(ML_1M, 1);
    let (train, test) = ratings_gen::split(&rows, 0.2, 42);
    if let Some(at) = args.iter().position(|a| a == "--write-data") {
        let dir = std::path::PathBuf::from(args.get(at + 1).ok_or("--write-data needs a folder")?);
        std::fs::create_dir_all(&dir)?;
        ratings_gen::write_tsv(&dir.join(format!("{}.train.tsv", ML_1M.name)), &train)?;
        ratings_gen::write_tsv(&dir.join(format!("{}.test.tsv", ML_1M.name)), &test)?;
        println!("{}", json!({"task": "svd_large_data", "shape": ratings_gen::describe(&rows, ML_1M)}));
        return Ok(());
    }
    let conn = Connection::open_in_memory()?;
    sqlml::register(&conn)?;
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0))?;

    load(&conn, "train", &train)?;
    load(&conn, "test", &test)?;
    // BENCH_ONLY=catalogue: the 10k-item part alone.
    let only_catalogue = std::env::var("BENCH_ONLY").is_ok_and(|o| o == "catalogue");
    let algos: &[&str] = if only_catalogue {
        &[]
    } else if quick {
        &["svd"]
    } else {
        &["svd", "svdpp"]
    };
    for &algo in algos {
        let n = if algo == "svd" { repeats } else { repeats.min(2) };
        let options = format!("json_object('test_size', 0, 'algorithm', '{algo}', 'seed', 42)");
        let (mut fit_s, mut fit_cpu_s) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (seconds, cpu, _) = train_call(&conn, "rec1m", "train", &options)?;
            fit_s.push(seconds);
            fit_cpu_s.push(cpu);
        }
        let (rmse, mae) = score(&conn, "rec1m", "test")?;
        println!(
            "{}",
            json!({
                "task": "svd_large", "dataset": ML_1M.name, "library": "sqlml", "algo": algo, "seed": 42,
                "train_rows": train.len(), "test_rows": test.len(), "rmse": rmse, "mae": mae,
                "fit_s": summary(fit_s), "fit_cpu_s": summary(fit_cpu_s), "peak_rss_mb": peak_rss_mb(),
            })
        );
    }

    let rows = ratings_gen::generate(CATALOGUE_10K, 1);
    load(&conn, "cat", &rows)?;
    let (mut call_s, mut epochs_s, mut fixed_s, mut share) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats.max(5) {
        let (seconds, _, _) = train_call(&conn, "cat", "cat", "json_object('test_size', 0)")?;
        let epochs = epochs_seconds(&conn, "cat")?;
        call_s.push(seconds);
        epochs_s.push(epochs);
        fixed_s.push(seconds - epochs);
        share.push((seconds - epochs) / seconds);
    }
    let (mut report_s, mut rest_s) = (Vec::new(), Vec::new());
    for _ in 0..repeats.max(5) {
        let (seconds, _, report) = train_call(&conn, "cat", "cat", "json_object()")?;
        let r = report["report_seconds"].as_f64().ok_or("no report_seconds in the report")?;
        report_s.push(r);
        rest_s.push(seconds - r);
    }
    // The report against one fit of all the rows (the `test_size: 0` call above).
    let fit_median = median(&call_s);
    let report_share: Vec<f64> = report_s.iter().map(|r| r / fit_median).collect();
    let (_, _, last_report) = train_call(&conn, "cat", "cat", "json_object()")?;
    println!(
        "{}",
        json!({
            "task": "svd_catalogue", "dataset": CATALOGUE_10K.name, "library": "sqlml", "algo": "svd",
            "ratings": rows.len(), "items": CATALOGUE_10K.items, "users": CATALOGUE_10K.users,
            "fit_s": summary(call_s), "sgd_epochs_s": summary(epochs_s), "fixed_s": summary(fixed_s),
            "fixed_share": summary(share),
            "report_s": summary(report_s), "fit_s_default_without_report": summary(rest_s),
            "report_share": summary(report_share),
            "ranking_users": last_report["metrics"]["ranking_users"],
            "ranking_users_held_out": last_report["metrics"]["ranking_users_held_out"],
            "blob_bytes": blob_bytes(&conn, "cat")?,
            "peak_rss_mb": peak_rss_mb(),
        })
    );
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    summary(v.to_vec())["median"].as_f64().unwrap_or(f64::NAN)
}

fn load(conn: &Connection, table: &str, rows: &[(i64, i64, f64)]) -> Result<(), Box<dyn std::error::Error>> {
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table}(user INTEGER, item INTEGER, rating REAL);"
    ))?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare(&format!("INSERT INTO {table} VALUES (?1, ?2, ?3)"))?;
        for &(u, i, r) in rows {
            insert.execute(params![u, i, r])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// One `ml_train` call: wall seconds, CPU seconds of this thread, the JSON report.
fn train_call(
    conn: &Connection,
    name: &str,
    table: &str,
    options: &str,
) -> Result<(f64, f64, Json), Box<dyn std::error::Error>> {
    let sql = format!("SELECT ml_train('{name}', 'recommender', '{table}', 'rating', {options})");
    let (started, cpu) = (Instant::now(), thread_cpu_s());
    let report: String = conn.query_row(&sql, [], |r| r.get(0))?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((seconds, thread_cpu_s() - cpu, serde_json::from_str(&report)?))
}

/// The SGD epochs' seconds of the active version of `name`, from its training log: the time
/// from the end of the first epoch to the end of the last, scaled to all epochs.
fn epochs_seconds(conn: &Connection, name: &str) -> Result<f64, Box<dyn std::error::Error>> {
    let (n, first, last): (f64, f64, f64) = conn.query_row(
        "SELECT count(*), min(seconds), max(seconds) FROM ml_training_log
         WHERE name = ?1 AND version = (SELECT max(version) FROM ml_models WHERE name = ?1)",
        [name],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((last - first) * n / (n - 1.0))
}

fn blob_bytes(conn: &Connection, name: &str) -> Result<i64, Box<dyn std::error::Error>> {
    Ok(conn.query_row("SELECT size FROM ml_models WHERE name = ?1 AND active", [name], |r| r.get(0))?)
}

/// RMSE and MAE of `ml_predict` over `table`.
fn score(conn: &Connection, name: &str, table: &str) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let mut stmt = conn.prepare(&format!("SELECT rating, ml_predict('{name}', user, item) FROM {table}"))?;
    let pairs: Vec<(f64, f64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let n = pairs.len() as f64;
    let rmse = (pairs.iter().map(|(t, p)| (t - p) * (t - p)).sum::<f64>() / n).sqrt();
    let mae = pairs.iter().map(|(t, p)| (t - p).abs()).sum::<f64>() / n;
    Ok((rmse, mae))
}
