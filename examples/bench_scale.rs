//! The scaling table (issue 14): `ml_train` time and peak memory for each kind at three sizes,
//! on generated data in a SQLite file, one child process per size. Prints one JSON object per
//! line.
//!
//! ```text
//! cargo run --release --example bench_scale                  # every kind and size
//! cargo run --release --example bench_scale -- text classifier   # some kinds
//! BENCH_QUICK=1 ...                                          # the two smaller sizes only
//! BENCH_SCALE_OPTIONS='{"weighting": "tfidf"}' ... -- --one text 1000000   # other options
//! ```
//!
//! | kind | sizes | data |
//! |---|---|---|
//! | text | 10k, 100k, 1M documents | 5 classes, 20–60 words (about 250 bytes) from a Zipf vocabulary of 50,000 words, each class favouring its own words |
//! | text-77 | the same | 77 classes (as many intents as Banking77's), the same texts otherwise: more classes than are counted by class, so training keeps the texts' rows |
//! | classifier | 100k, 1M, 10M rows | 8 numeric columns, 2 text columns (5 and 20 categories), a yes/no label from a noisy linear rule |
//! | recommender | 1M, 10M, 25M ratings | the MovieLens 25M shape (`support/ratings_gen.rs`): 162,541 users and 59,047 items at 25M, scaled down in proportion |
//!
//! Each child writes its rows into a fresh database file (journal off), measures the table's
//! size in SQLite (`page_count × page_size` of the file, which holds only that table), drops
//! the generated rows, resets the peak RSS (Linux `clear_refs`), then runs `ml_train` with the
//! kind's default options (`test_size` 0.2, so the held-out report is included; or the JSON
//! options of `BENCH_SCALE_OPTIONS`, for measuring by hand: the table uses the defaults) and reports
//! the wall time and the peak RSS of the process during the call (`VmHWM`: the extension's
//! memory plus SQLite's page cache and the process's few MB). The database file is deleted at
//! the end. `memory_ratio` = peak RSS / data size in SQLite. A text model then predicts the first
//! 100,000 texts through SQL, one `ml_predict` a row, twice: `predict_rows_per_s` is the second.
//! At each kind's largest size (or with `BENCH_SCALE_RETRAIN=1` and `--one`), the same name is
//! then trained again on the same rows, as a user retrains: `retrain` holds that call's wall
//! time and peak RSS (reset before it), which include deactivating the first version.

#[path = "support/movielens.rs"]
mod movielens;
#[path = "support/ratings_gen.rs"]
mod ratings_gen;
use movielens::peak_rss_mb;
use ratings_gen::Rng;
use serde_json::{Value as Json, json};
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;

const KINDS: [(&str, [usize; 3]); 4] = [
    ("text", [10_000, 100_000, 1_000_000]),
    ("text-77", [10_000, 100_000, 1_000_000]),
    ("classifier", [100_000, 1_000_000, 10_000_000]),
    ("recommender", [1_000_000, 10_000_000, 25_000_095]),
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--one") {
        let kind = args.get(1).ok_or("--one KIND ROWS")?;
        let rows: usize = args.get(2).ok_or("--one KIND ROWS")?.parse()?;
        println!("{}", one(kind, rows)?);
        return Ok(());
    }
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|q| q == "1");
    let exe = std::env::current_exe()?;
    for (kind, sizes) in KINDS {
        if !args.is_empty() && !args.iter().any(|a| a == kind) {
            continue;
        }
        let sizes = &sizes[..if quick { 2 } else { 3 }];
        for &rows in sizes {
            eprintln!("bench_scale: {kind} {rows}");
            // At the largest size the same name is trained again: retraining's peak too.
            let retrain = if Some(&rows) == sizes.last() { "1" } else { "" };
            let out = std::process::Command::new(&exe)
                .args(["--one", kind, &rows.to_string()])
                .env("BENCH_SCALE_RETRAIN", retrain)
                .output()?;
            let line = String::from_utf8_lossy(&out.stdout);
            match line.lines().find(|l| l.starts_with('{')) {
                Some(l) if out.status.success() => println!("{l}"),
                _ => {
                    let err = String::from_utf8_lossy(&out.stderr);
                    println!("{}", json!({"task": "scale", "kind": kind, "rows": rows, "error": err.trim()}));
                }
            }
        }
    }
    Ok(())
}

/// One kind at one size, in this process.
fn one(kind: &str, rows: usize) -> Result<Json, Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("sqlml-scale-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("data.db");
    let conn = Connection::open(&path)?;
    conn.execute_batch("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")?;
    let generated = Instant::now();
    let (table, target, shape) = match kind {
        "text" => (write_text(&conn, rows, 5)?, "label", Json::Null),
        "text-77" => (write_text(&conn, rows, 77)?, "label", Json::Null),
        "classifier" => (write_tabular(&conn, rows)?, "label", Json::Null),
        "recommender" => {
            let shape = if rows == ratings_gen::ML_25M.ratings {
                ratings_gen::ML_25M
            } else {
                ratings_gen::ml25m_like(rows, "gen-ml-25m-scaled")
            };
            write_ratings(&conn, shape)?;
            ("ratings", "rating", json!({"users": shape.users, "items": shape.items, "name": shape.name}))
        }
        _ => return Err(format!("unknown kind {kind}").into()),
    };
    let generate_s = generated.elapsed().as_secs_f64();
    let sqlite_bytes: i64 =
        conn.query_row("SELECT page_count * page_size FROM pragma_page_count, pragma_page_size", [], |r| {
            r.get(0)
        })?;
    sqlml::register(&conn)?;
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0))?;
    let before_mb = current_rss_mb();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let options = std::env::var("BENCH_SCALE_OPTIONS").ok();
    let started = Instant::now();
    let text = kind.starts_with("text");
    let model_kind = if text { "text" } else { kind };
    let report: String =
        conn.query_row("SELECT ml_train('m', ?1, ?2, ?3, ?4)", (model_kind, table, target, &options), |r| {
            r.get(0)
        })?;
    let train_s = started.elapsed().as_secs_f64();
    let peak = peak_rss_mb();
    let report: Json = serde_json::from_str(&report)?;
    let blob: i64 =
        conn.query_row("SELECT size FROM ml_models WHERE name = 'm' AND active", [], |r| r.get(0))?;
    // A text model's prediction through SQL, row by row, over the first 100,000 training texts
    // (after the peak is read: it does not count).
    let predict_rows_per_s = if text {
        let n = rows.min(100_000);
        let sql = format!("SELECT count(ml_predict('m', body)) FROM (SELECT body FROM docs LIMIT {n})");
        let _: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        let started = Instant::now();
        let _: i64 = conn.query_row(&sql, [], |r| r.get(0))?;
        json!(n as f64 / started.elapsed().as_secs_f64())
    } else {
        Json::Null
    };
    // Retraining the same name (`BENCH_SCALE_RETRAIN=1`): the previous version is deactivated
    // in the same change as the new one is stored.
    let retrain = if std::env::var("BENCH_SCALE_RETRAIN").is_ok_and(|r| r == "1") {
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let started = Instant::now();
        let _: String = conn.query_row(
            "SELECT ml_train('m', ?1, ?2, ?3, ?4)",
            (model_kind, table, target, &options),
            |r| r.get(0),
        )?;
        json!({"train_s": started.elapsed().as_secs_f64(), "peak_rss_mb": peak_rss_mb()})
    } else {
        Json::Null
    };
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
    let sqlite_mb = sqlite_bytes as f64 / (1 << 20) as f64;
    Ok(json!({
        "task": "scale", "kind": kind, "rows": rows, "shape": shape, "options": options,
        "train_s": train_s, "us_per_row": train_s * 1e6 / rows as f64,
        "peak_rss_mb": peak, "rss_before_mb": before_mb, "sqlite_mb": sqlite_mb,
        "memory_ratio": peak / sqlite_mb, "model_mb": blob as f64 / (1 << 20) as f64,
        "generate_and_insert_s": generate_s,
        "metrics": report["metrics"].as_object().map(|m| {
            m.iter().filter(|(_, v)| v.is_number()).map(|(k, v)| (k.clone(), v.clone())).collect::<serde_json::Map<_, _>>()
        }),
        "report_seconds": report["report_seconds"], "fit_seconds": report["fit_seconds"],
        "seconds_in_report": report["seconds"],
        // The classifier's epochs (early stopping decides them), to read the time per row per epoch.
        "epochs_run": report["epochs_run"], "best_epoch": report["best_epoch"], "served_fit": report["served_fit"],
        // A text model's terms: kept, and distinct before `min_df` (what counting holds).
        "vocabulary_size": report["vocabulary_size"], "distinct_terms": report["distinct_terms"],
        "predict_rows_per_s": predict_rows_per_s, "retrain": retrain,
    }))
}

fn current_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn write_ratings(conn: &Connection, shape: ratings_gen::Shape) -> Result<(), Box<dyn std::error::Error>> {
    let rows = ratings_gen::generate(shape, 1);
    conn.execute_batch("CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL);")?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO ratings VALUES (?1, ?2, ?3)")?;
        for &(u, i, r) in &rows {
            insert.execute(params![u, i, r])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// `classes` classes; words `w<rank>` spelled out in letters, drawn from a Zipf(1.1) vocabulary
/// of 50,000 words, a third of each document's words from its class's own slice of the
/// vocabulary.
fn write_text(
    conn: &Connection,
    rows: usize,
    classes: usize,
) -> Result<&'static str, Box<dyn std::error::Error>> {
    let vocab = 50_000usize;
    let word = |mut n: usize| {
        let mut w = String::new();
        loop {
            w.push((b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                break w;
            }
        }
    };
    let words: Vec<String> = (0..vocab).map(|n| word(n + 26 * 26)).collect();
    // Zipf by inversion of a continuous approximation.
    let zipf = |rng: &mut Rng| -> usize {
        let s = 1.1f64;
        let u = rng.uniform();
        let max = (vocab as f64).powf(1.0 - s);
        (((1.0 - u) + u * max).powf(1.0 / (1.0 - s)) as usize).min(vocab) - 1
    };
    conn.execute_batch("CREATE TABLE docs(body TEXT, label TEXT);")?;
    let mut rng = Rng::new(5);
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO docs VALUES (?1, ?2)")?;
        let mut body = String::new();
        for _ in 0..rows {
            let class = rng.below(classes);
            body.clear();
            for n in 0..20 + rng.below(41) {
                let w = zipf(&mut rng);
                let w = if n % 3 == 0 { (w / classes) * classes + class } else { w };
                body.push_str(&words[w.min(vocab - 1)]);
                body.push(' ');
            }
            insert.execute(params![body, format!("class{class}")])?;
        }
    }
    tx.commit()?;
    Ok("docs")
}

/// 8 numeric columns, 2 categorical text columns, label yes/no from a noisy linear rule.
fn write_tabular(conn: &Connection, rows: usize) -> Result<&'static str, Box<dyn std::error::Error>> {
    conn.execute_batch(
        "CREATE TABLE t(x0 REAL, x1 REAL, x2 REAL, x3 REAL, x4 REAL, x5 REAL, x6 REAL, x7 REAL, c0 TEXT, c1 TEXT, label TEXT);",
    )?;
    let mut rng = Rng::new(9);
    let weights = [0.8, -0.5, 0.3, 0.0, 1.1, -0.2, 0.05, 0.6];
    let c0 = ["red", "green", "blue", "amber", "violet"];
    let tx = conn.unchecked_transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)")?;
        for _ in 0..rows {
            let x: Vec<f64> = (0..8).map(|_| (rng.normal() * 100.0).round() / 100.0).collect();
            let (a, b) = (rng.below(5), rng.below(20));
            let z: f64 = x.iter().zip(weights).map(|(x, w)| x * w).sum::<f64>()
                + [0.5, -0.5, 0.2, 0.0, -0.3][a]
                + (b as f64 - 10.0) * 0.05
                + 0.7 * rng.normal();
            insert.execute(params![
                x[0],
                x[1],
                x[2],
                x[3],
                x[4],
                x[5],
                x[6],
                x[7],
                c0[a],
                format!("k{b}"),
                if z > 0.0 { "yes" } else { "no" }
            ])?;
        }
    }
    tx.commit()?;
    Ok("t")
}
