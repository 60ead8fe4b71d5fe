//! Serving models: the full-data refit after measuring, and the activation strategies.

mod common;
use common::*;
use serde_json::{Value as Json, json};
use sqlml::rusqlite::Connection;

/// `leads(age, visits, segment, converted)`: conversion likely for many visits in segment 'b'.
fn make_leads(conn: &Connection, n: usize, seed: u64) {
    conn.execute_batch("DROP TABLE IF EXISTS leads; CREATE TABLE leads(age REAL, visits INTEGER, segment TEXT, converted TEXT)")
        .unwrap();
    let mut rng = Rng::new(seed);
    let mut ins = conn.prepare("INSERT INTO leads VALUES (?1, ?2, ?3, ?4)").unwrap();
    for _ in 0..n {
        let age = 18.0 + rng.below(50) as f64;
        let visits = rng.below(20) as i64;
        let segment = rng.pick(&["a", "b", "c"]);
        let score =
            visits as f64 / 10.0 + if segment == "b" { 1.0 } else { 0.0 } + rng.below(100) as f64 / 100.0;
        let converted = if score > 1.6 { "yes" } else { "no" };
        ins.execute(sqlml::rusqlite::params![age, visits, segment, converted]).unwrap();
    }
}

fn report(conn: &Connection, sql: &str) -> Json {
    serde_json::from_str(&text(conn, sql)).unwrap()
}

fn active(conn: &Connection, name: &str) -> i64 {
    int(conn, &format!("SELECT version FROM ml_models WHERE name = '{name}' AND active"))
}

/// The default serves a model fitted on every row; the report says which rows fed the
/// metrics and which the served model; `refit: false` serves the split model.
#[test]
fn the_served_model_is_fitted_on_every_row() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 500, 1);
    let r = report(&conn, "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"epochs\": 3}')");
    assert_eq!(
        (r["train_rows"].clone(), r["test_rows"].clone(), r["served_rows"].clone()),
        (json!(400), json!(100), json!(500))
    );
    assert_eq!(r["metrics_fit"]["rows"], json!(400));
    assert_eq!(r["metrics_fit"]["held_out_rows"], json!(100));
    assert_eq!(r["served_fit"]["rows"], json!(500));
    assert!(r["metrics"]["accuracy"].as_f64().is_some());
    // The same options on every row with test_size 0: the same served model bytes, so the
    // same predictions.
    conn.execute_batch(
        "SELECT ml_train('all', 'classifier', 'leads', 'converted', '{\"epochs\": 3, \"test_size\": 0}')",
    )
    .unwrap();
    let same = int(
        &conn,
        "SELECT count(*) FROM leads WHERE ml_predict_proba('m', age, visits, segment) = ml_predict_proba('all', age, visits, segment)",
    );
    assert_eq!(same, 500);
    let split = report(
        &conn,
        "SELECT ml_train('s', 'classifier', 'leads', 'converted', '{\"epochs\": 3, \"refit\": false}')",
    );
    assert_eq!(split["served_rows"], json!(400));
    assert_eq!(split["served_fit"]["fit_on"], json!("the training split (refit: false)"));
    // The split model's metrics are the default call's: the measured fit is the same.
    assert_eq!(split["metrics"], r["metrics"]);
    let differ = int(
        &conn,
        "SELECT count(*) FROM leads WHERE ml_predict_proba('s', age, visits, segment) != ml_predict_proba('all', age, visits, segment)",
    );
    assert!(differ > 0);

    // Every kind refits: text and recommender.
    make_messages(&conn, 200);
    let t = report(&conn, "SELECT ml_train('t', 'text', 'messages', 'label')");
    assert_eq!(t["served_rows"], json!(200));
    assert_eq!(t["served_fit"]["rows"], json!(200));
    conn.execute_batch(
        "CREATE TABLE ratings(u INTEGER, i INTEGER, r REAL);
         WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 599)
         INSERT INTO ratings SELECT x % 40, (x * 7) % 30, 1 + (x * 13) % 5 FROM n;",
    )
    .unwrap();
    let rec = report(&conn, "SELECT ml_train('r', 'recommender', 'ratings', 'r', '{\"factors\": 4}')");
    assert_eq!((rec["train_rows"].clone(), rec["served_rows"].clone()), (json!(480), json!(600)));
    assert!(rec["metrics"]["rmse"].as_f64().is_some());
}

/// A classifier stopped early on the split is refitted for the epoch count found there.
#[test]
fn early_stopping_sets_the_refit_epochs() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 400, 2);
    let r = report(
        &conn,
        "SELECT ml_train('m', 'classifier', 'leads', 'converted',
            '{\"epochs\": 60, \"validation_split\": 0.3, \"patience\": 2, \"learning_rate\": 0.05}')",
    );
    let best = r["metrics_fit"]["details"]["best_epoch"]
        .as_u64()
        .unwrap_or_else(|| r["best_epoch"].as_u64().unwrap());
    assert!(best < 60, "{r}");
    // The served fit ran exactly `best` epochs on every row, with no validation part.
    assert_eq!(r["epochs_run"], json!(best), "{r}");
    assert_eq!(r["validation_rows"], json!(0), "{r}");
    assert_eq!(r["served_rows"], json!(400));
}

/// `activate`: 'never' stores without serving; 'if_better' keeps a better active version and
/// reports both figures; 'always' (the default) serves the new version.
#[test]
fn activation_strategies() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 600, 3);
    conn.execute_batch("SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"epochs\": 30, \"learning_rate\": 0.01}')")
        .unwrap();
    assert_eq!(active(&conn, "m"), 1);
    let r = report(
        &conn,
        "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"activate\": \"never\", \"epochs\": 1}')",
    );
    assert_eq!(r["activation"], json!({"strategy": "never", "activated": false}));
    assert_eq!((r["version"].clone(), active(&conn, "m")), (json!(2), 1));
    // A much worse model (one epoch of a tiny rate) does not replace the active one.
    let before = sqlml_state(&conn);
    let r = report(
        &conn,
        "SELECT ml_train('m', 'classifier', 'leads', 'converted',
            '{\"activate\": \"if_better\", \"epochs\": 1, \"learning_rate\": 0.00001, \"hidden_layers\": [2]}')",
    );
    let a = &r["activation"];
    assert_eq!(
        (a["strategy"].clone(), a["metric"].clone(), a["active_version"].clone()),
        (json!("if_better"), json!("macro_f1"), json!(1)),
        "{r}"
    );
    assert!(a["active"].as_f64().unwrap() > a["new"].as_f64().unwrap(), "{r}");
    assert_eq!(a["activated"], json!(false), "{r}");
    assert_eq!((r["version"].clone(), active(&conn, "m")), (json!(3), 1));
    assert_ne!(before, sqlml_state(&conn), "version 3 is stored");
    // A better one does.
    let r = report(
        &conn,
        "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"activate\": \"if_better\", \"epochs\": 60, \"learning_rate\": 0.01, \"seed\": 9}')",
    );
    let a = &r["activation"];
    if a["new"].as_f64().unwrap() > a["active"].as_f64().unwrap() {
        assert_eq!((a["activated"].clone(), active(&conn, "m")), (json!(true), 4), "{r}");
    } else {
        assert_eq!((a["activated"].clone(), active(&conn, "m")), (json!(false), 1), "{r}");
    }
    // A first version is activated; 'if_better' needs held-out rows.
    let r = report(
        &conn,
        "SELECT ml_train('fresh', 'classifier', 'leads', 'converted', '{\"activate\": \"if_better\", \"epochs\": 1}')",
    );
    assert_eq!(r["activation"]["reason"], json!("no version was active"));
    assert_eq!(active(&conn, "fresh"), 1);
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"activate\": \"if_better\", \"test_size\": 0}')"
        ),
        "ml_train: option 'activate' 'if_better' needs held-out rows to compare on (a test_size above 0)"
    );
    // The recommender compares RMSE.
    conn.execute_batch(
        "CREATE TABLE ratings(u INTEGER, i INTEGER, r REAL);
         WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 799)
         INSERT INTO ratings SELECT x % 40, (x * 7) % 30, 1 + ((x % 40) + (x * 7) % 30) % 5 FROM n;
         SELECT ml_train('r', 'recommender', 'ratings', 'r', '{\"factors\": 4, \"epochs\": 40}');",
    )
    .unwrap();
    let r = report(
        &conn,
        "SELECT ml_train('r', 'recommender', 'ratings', 'r', '{\"factors\": 4, \"epochs\": 1, \"lr_all\": 0.00001, \"activate\": \"if_better\"}')",
    );
    assert_eq!(r["activation"]["metric"], json!("rmse"), "{r}");
    assert_eq!(r["activation"]["activated"], json!(false), "{r}");
    assert_eq!(active(&conn, "r"), 1);
}

/// Positional prediction takes the training columns in source order, dropped ones included
/// (their values are ignored); a wrong count lists that order.
#[test]
fn positional_prediction_takes_the_training_columns() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 300, 4);
    conn.execute_batch(
        "CREATE TABLE wide AS SELECT 'x' AS const, age, NULL AS empty, visits, 7 AS seven, segment, converted FROM leads",
    )
    .unwrap();
    let r = report(&conn, "SELECT ml_train('w', 'classifier', 'wide', 'converted', '{\"epochs\": 2}')");
    let dropped: Vec<&str> =
        r["dropped_columns"].as_array().unwrap().iter().map(|d| d["column"].as_str().unwrap()).collect();
    assert_eq!(dropped, ["const", "empty", "seven"], "{r}");
    assert_eq!(r["columns"], json!(["const", "age", "empty", "visits", "seven", "segment"]));
    // The table's own columns, in order, as SQL gives them; dropped values are ignored.
    let same = int(
        &conn,
        "SELECT count(*) FROM wide WHERE ml_predict_proba('w', const, age, empty, visits, seven, segment)
            = ml_predict_proba('w', json_object('age', age, 'visits', visits, 'segment', segment))
          AND ml_predict_proba('w', 'other', age, 3.5, visits, NULL, segment)
            = ml_predict_proba('w', const, age, empty, visits, seven, segment)",
    );
    assert_eq!(same, 300);
    assert_eq!(
        err(&conn, "SELECT ml_predict('w', 30, 4, 'b')"),
        "ml_predict: expected 6 values in training order (const, age, empty, visits, seven, segment) or one JSON \
         object, got 3 arguments"
    );
    // With `features` the order is the option's; with `exclude` the excluded columns are not
    // arguments.
    conn.execute_batch(
        "SELECT ml_train('f', 'classifier', 'wide', 'converted', '{\"epochs\": 2, \"features\": [\"segment\", \"seven\", \"age\"]}');
         SELECT ml_train('e', 'classifier', 'wide', 'converted', '{\"epochs\": 2, \"exclude\": [\"visits\"]}');",
    )
    .unwrap();
    assert_eq!(
        int(&conn, "SELECT count(*) FROM wide WHERE ml_predict('f', segment, seven, age) IS NOT NULL"),
        300
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('e', 1)"),
        "ml_predict: expected 5 values in training order (const, age, empty, seven, segment) or one JSON object, \
         got 1 argument"
    );
}
