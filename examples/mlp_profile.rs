//! Where the time of `ml_train(..., 'classifier', ...)` goes, phase by phase, on a real table:
//! the whole call through SQL (read from SQLite + train + store), `Classifier::train` in pure
//! Rust, and its phases replayed one by one with the same public pieces (labels/split/encoding,
//! fit without monitoring, the monitoring passes, test metrics, permutation importance).
//! Each figure is the fastest of `BENCH_REPEATS` (default 9) runs, in CPU time of the thread (the machine is shared). Prints one JSON object.
//!
//! `cargo run --release --example mlp_profile [telco-churn|bank-full]`

#[path = "support/realdata.rs"]
mod realdata;

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_ns;
use serde_json::{Value as Json, json};
use sqlml::models::data::encode_labels;
use sqlml::models::mlp::network::Workspace;
use sqlml::models::mlp::{Classifier, features, importance, trainer};
use sqlml::models::split::train_test_split;
use sqlml::models::{Common, Control, Estimator, Options, metrics};
use sqlml::rusqlite::Connection;
use std::time::Instant;

/// The fastest run: on a shared, loaded machine the minimum is far steadier than the median.
fn fastest(xs: Vec<f64>) -> f64 {
    xs.into_iter().fold(f64::INFINITY, f64::min)
}

/// Seconds since `start` on this thread's CPU clock, else wall seconds.
fn elapsed(start: (Instant, Option<u64>)) -> f64 {
    match (start.1, cpu_ns()) {
        (Some(a), Some(b)) => (b - a) as f64 * 1e-9,
        _ => start.0.elapsed().as_secs_f64(),
    }
}

/// Fastest seconds (CPU time of this thread where Linux reports it) of `repeats` runs of `f`.
fn time<T>(repeats: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut out = None;
    let times = (0..repeats)
        .map(|_| {
            let start = (Instant::now(), cpu_ns());
            out = Some(f());
            elapsed(start)
        })
        .collect();
    (fastest(times), out.expect("at least one run"))
}

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "telco-churn".into());
    let table = match name.as_str() {
        "telco-churn" => realdata::telco(),
        "bank-full" => realdata::bank_full(),
        other => panic!("unknown dataset {other}"),
    };
    let repeats = realdata::repeats(9);
    let data = realdata::dataset(&table);
    let options = json!({"exclude": table.exclude}).to_string();

    // The whole call through SQL.
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench')", [], |r| r.get(0)).unwrap();
    realdata::load(&conn, "src", &data);
    let sql = format!("SELECT ml_train('m', 'classifier', 'src', '{}', '{options}')", table.target);
    let (sql_s, report) = time(repeats, || {
        let text: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
        serde_json::from_str::<Json>(&text).unwrap()
    });

    // Classifier::train in pure Rust.
    let (train_s, trained) = time(repeats, || {
        let mut opts = Options::parse(Some(&options)).unwrap();
        let common = Common::read(&mut opts).unwrap();
        Classifier::train(&data, Some(table.target), &mut opts, &common).unwrap()
    });

    // Its phases.
    let mut opts = Options::parse(Some(&options)).unwrap();
    let common = Common::read(&mut opts).unwrap();
    let target_idx = data.index_of(table.target).unwrap();
    let sel = features::Selection {
        exclude: table.exclude.iter().map(|s| s.to_string()).collect(),
        max_categories: 50,
        ..features::Selection::default()
    };
    let (encode_s, (labels, train_rows, test_rows, enc, x_train, x_test)) = time(repeats, || {
        let labels = encode_labels(data.column(table.target, "target").unwrap()).unwrap();
        let (train_rows, test_rows) =
            train_test_split(data.n_rows, Some(&labels.y), common.test_size, common.seed).unwrap();
        let enc = features::Encoder::fit(&data, target_idx, &train_rows, &sel).unwrap();
        let x_train = enc.encode_dataset(&data, &train_rows).unwrap();
        let x_test = enc.encode_dataset(&data, &test_rows).unwrap();
        (labels, train_rows, test_rows, enc, x_train, x_test)
    });
    let (labels_s, _) =
        time(repeats, || encode_labels(data.column(table.target, "target").unwrap()).unwrap());
    let (split_s, _) =
        time(repeats, || train_test_split(data.n_rows, Some(&labels.y), common.test_size, common.seed));
    let (encoder_fit_s, _) =
        time(repeats, || features::Encoder::fit(&data, target_idx, &train_rows, &sel).unwrap());
    let (encode_rows_s, _) = time(repeats, || {
        (enc.encode_dataset(&data, &train_rows).unwrap(), enc.encode_dataset(&data, &test_rows).unwrap())
    });
    let d = enc.width;
    let k = labels.classes.len();
    let y_train: Vec<u32> = train_rows.iter().map(|&i| labels.y[i]).collect();
    let y_test: Vec<u32> = test_rows.iter().map(|&i| labels.y[i]).collect();
    let cfg = trainer::Config { seed: common.seed, ..trainer::Config::default() };
    let (fit_s, fitted) =
        time(repeats, || trainer::fit(&x_train, d, &y_train, k, &cfg, None, &Control::new()).unwrap());
    let (fit_monitor_s, _) = time(repeats, || {
        trainer::fit(&x_train, d, &y_train, k, &cfg, Some((&x_test, &y_test)), &Control::new()).unwrap()
    });
    let net = fitted.net;
    let (metrics_s, _) = time(repeats, || {
        let view = ndarray::ArrayView2::from_shape((y_test.len(), d), &x_test[..]).unwrap();
        let proba = Workspace::new(&net, 256).predict_proba(&net, view, &Control::new()).unwrap();
        metrics::classification(&y_test, &proba, &labels.classes)
    });
    let (importance_s, _) = time(repeats, || {
        importance::permutation_importance(&net, &enc, &x_test, &y_test, common.seed, &Control::new())
    });
    let steps = train_rows.len().div_ceil(32) * 10;

    println!(
        "{}",
        json!({
            "dataset": name, "repeats": repeats, "train_rows": train_rows.len(), "inputs": d,
            "ml_train_sql_s": sql_s,
            "train_inside_ml_train_s": report["seconds"],
            "classifier_train_s": train_s,
            "phases_s": {
                "labels_split_encode": encode_s,
                "of_which": {"labels": labels_s, "split": split_s, "encoder_fit": encoder_fit_s, "encode_rows": encode_rows_s},
                "fit_no_monitor": fit_s,
                "monitor": fit_monitor_s - fit_s,
                "test_metrics": metrics_s,
                "permutation_importance": importance_s,
            },
            "step_us": fit_s / steps as f64 * 1e6,
            "accuracy": trained.metrics["accuracy"],
        })
    );
}
