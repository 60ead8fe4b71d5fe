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

/// How many rows of `leads` get from `ml_predict_table` (keyed by position) exactly the class
/// and probabilities that `ml_predict` and `ml_predict_proba` give model `c`.
fn same_as_per_row(conn: &Connection) -> i64 {
    int(
        conn,
        "SELECT count(*) FROM ml_predict_table('c', 'SELECT * FROM leads ORDER BY rowid') AS p
           JOIN leads l ON l.rowid = p.key
          WHERE p.prediction = ml_predict('c', l.age, l.visits, l.segment)
            AND p.probability = ml_predict_proba('c', l.age, l.visits, l.segment)",
    )
}

/// `ml_predict_table` gives what per-row prediction gives, for every kind, keyed by position
/// or by a source column.
#[test]
fn batch_prediction_matches_per_row_prediction() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 700, 5);
    conn.execute_batch(
        "ALTER TABLE leads ADD COLUMN id TEXT; UPDATE leads SET id = 'L' || rowid;
         SELECT ml_train('c', 'classifier', 'leads', 'converted', '{\"epochs\": 3, \"exclude\": [\"id\"]}');",
    )
    .unwrap();
    // Keyed by position (the source's order), then by the id column: the batch runs the
    // one-row kernels on each row, so classes and probabilities are the same to the bit.
    let same = same_as_per_row(&conn);
    assert_eq!(same, 700);
    let same = int(
        &conn,
        "SELECT count(*) FROM ml_predict_table('c', 'leads', '{\"key\": \"id\"}') AS p JOIN leads l ON l.id = p.key
          WHERE p.probability = ml_predict_proba('c', json_object('age', l.age, 'visits', l.visits, 'segment', l.segment))",
    );
    assert_eq!(same, 700);
    make_messages(&conn, 150);
    conn.execute_batch("SELECT ml_train('t', 'text', 'messages', 'label')").unwrap();
    let same = int(
        &conn,
        "SELECT count(*) FROM ml_predict_table('t', 'messages', json_object('key', 'id')) AS p JOIN messages m ON m.id = p.key
          WHERE p.prediction = ml_predict('t', m.body) AND p.probability = ml_predict_proba('t', m.body)",
    );
    assert_eq!(same, 150);
    conn.execute_batch(
        "CREATE TABLE ratings(u INTEGER, i INTEGER, r REAL);
         WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 599)
         INSERT INTO ratings SELECT x % 40, (x * 7) % 30, 1 + (x * 13) % 5 FROM n;
         SELECT ml_train('r', 'recommender', 'ratings', 'r', '{\"factors\": 4}');",
    )
    .unwrap();
    let same = int(
        &conn,
        "SELECT count(*) FROM ml_predict_table('r', 'SELECT u, i, u * 100 + i AS k FROM ratings UNION ALL SELECT 999, 999, -1', '{\"key\": \"k\"}') AS p
          WHERE p.probability IS NULL
            AND p.prediction = (SELECT ml_predict('r', u, i) FROM (SELECT 999 AS u, 999 AS i, -1 AS k UNION ALL SELECT u, i, u * 100 + i FROM ratings) WHERE k = p.key LIMIT 1)",
    );
    assert_eq!(same, 601);
    // Errors name the argument or option.
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'leads', '{\"key\": \"nope\"}')"),
        "ml_predict_table: option 'key' 'nope' is not a column of the source (columns: age, visits, segment, converted, id)"
    );
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'leads', '{\"batch\": 3}')"),
        "ml_predict_table: unknown option 'batch' (expected one of: key)"
    );
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'leads', '{\"key\": 3}')"),
        "ml_predict_table: option 'key' must be a string, got 3"
    );
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'leads', '[1]')"),
        "ml_predict_table: argument 'options' must be a JSON object, got [1]"
    );
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'messages')"),
        "ml_predict_table: feature column 'age' is not a column of the source (columns: id, body, label)"
    );
    // A wide source of long names: the list of its columns is cut short, not quoted whole.
    let wide: Vec<String> = (0..500).map(|i| format!("{} AS c{i}_{}", i, "x".repeat(60))).collect();
    let e = err(&conn, &format!("SELECT * FROM ml_predict_table('c', 'SELECT {}')", wide.join(", ")));
    assert!(
        e.starts_with("ml_predict_table: feature column 'age' is not a column of the source (columns: c0_"),
        "{e}"
    );
    assert!(e.len() < 1000, "{} bytes", e.len());
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c', 'SELECT * FROM nope')"),
        "ml_predict_table: argument 'source' is not a valid query: no such table: nope"
    );
    assert_eq!(
        err(&conn, "SELECT * FROM ml_predict_table('c')"),
        "ml_predict_table: argument 'source' is required (SELECT * FROM ml_predict_table(name, source, options))"
    );
    // A source that calls sqlml is refused.
    assert!(
        err(&conn, "SELECT * FROM ml_predict_table('t', 'SELECT ml_drop(''c'') AS body')")
            .contains("ml_drop"),
    );
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models WHERE name = 'c'"), 1);
}

/// A classifier over 1,990 feature columns (SQLite's default limit is 2,000 columns) is trained
/// and scored through `ml_predict_table`, in several batches.
#[test]
fn a_1990_feature_classifier_is_scored_in_batches() {
    let conn = unlocked(None, "pw");
    let features: Vec<String> = (0..1990).map(|i| format!("f{i}")).collect();
    conn.execute_batch(&format!(
        "CREATE TABLE wide(id INTEGER PRIMARY KEY, {}, label TEXT)",
        features.join(" REAL, ") + " REAL"
    ))
    .unwrap();
    let mut rng = Rng::new(6);
    let placeholders = vec!["?"; 1991].join(", ");
    let mut ins = conn
        .prepare(&format!("INSERT INTO wide({}, label) VALUES ({placeholders})", features.join(", ")))
        .unwrap();
    let rows = 1200;
    for _ in 0..rows {
        let mut values: Vec<sqlml::rusqlite::types::Value> =
            (0..1990).map(|_| sqlml::rusqlite::types::Value::Real(rng.below(1000) as f64 / 1000.0)).collect();
        let signal = match (&values[3], &values[1500]) {
            (sqlml::rusqlite::types::Value::Real(a), sqlml::rusqlite::types::Value::Real(b)) => a + b,
            _ => unreachable!(),
        };
        values.push(sqlml::rusqlite::types::Value::Text(if signal > 1.0 { "hi" } else { "lo" }.into()));
        ins.execute(sqlml::rusqlite::params_from_iter(values)).unwrap();
    }
    drop(ins);
    let r = report(
        &conn,
        "SELECT ml_train('w', 'classifier', 'wide', 'label', '{\"exclude\": [\"id\"], \"hidden_layers\": [16], \"epochs\": 30, \"learning_rate\": 0.003}')",
    );
    assert_eq!(r["columns"].as_array().unwrap().len(), 1990);
    let (n, right): (i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(p.prediction = w.label) FROM ml_predict_table('w', 'wide', '{\"key\": \"id\"}') AS p JOIN wide w ON w.id = p.key",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!(n, rows);
    assert!(right as f64 / n as f64 > 0.8, "{right} of {n} right");
    // Keyed by position across batches (527 rows a batch here): positions 1..=1200, in order.
    let keys = int(&conn, "SELECT sum(key) FROM ml_predict_table('w', 'SELECT * FROM wide ORDER BY id')");
    assert_eq!(keys, rows * (rows + 1) / 2);
    // One row through ml_predict_proba (JSON form, all 1,990 keys: too many for json_object's
    // 127 arguments, so built by json_group_object) gives the batch's probabilities exactly.
    let one = int(
        &conn,
        "WITH one AS (SELECT ml_predict_proba('w', (SELECT json_group_object(name, 0.5) FROM pragma_table_info('wide') WHERE name LIKE 'f%')) AS p),
              batch AS (SELECT probability AS q FROM ml_predict_table('w', 'SELECT ' || (SELECT group_concat('0.5 AS ' || name) FROM pragma_table_info('wide') WHERE name LIKE 'f%')))
         SELECT (SELECT p FROM one) = (SELECT q FROM batch)",
    );
    assert_eq!(one, 1);
}

/// Over several batches (two of 4,096 rows and a short one), with NULLs, unseen categories and
/// numbers given as text, every kind's `ml_predict_table` row equals `ml_predict` and
/// `ml_predict_proba` on that row, to the bit; a query that reads only some columns gets the
/// same rows.
#[test]
fn batch_prediction_is_per_row_prediction_across_batches() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 9000, 11);
    conn.execute_batch(
        "SELECT ml_train('c', 'classifier', 'leads', 'converted', '{\"epochs\": 2, \"hidden_layers\": [24, 8]}');
         UPDATE leads SET age = NULL WHERE rowid % 7 = 0;
         UPDATE leads SET segment = 'zz' WHERE rowid % 11 = 0;
         UPDATE leads SET segment = NULL WHERE rowid % 13 = 0;
         UPDATE leads SET visits = CAST(visits AS TEXT) WHERE rowid % 17 = 0;",
    )
    .unwrap();
    let same = same_as_per_row(&conn);
    assert_eq!(same, 9000);
    // Only the predictions read, then only the probabilities.
    let per_row = text(
        &conn,
        "SELECT group_concat(ml_predict('c', age, visits, segment), ',') FROM (SELECT * FROM leads ORDER BY rowid)",
    );
    let batch = text(
        &conn,
        "SELECT group_concat(prediction, ',') FROM ml_predict_table('c', 'SELECT * FROM leads ORDER BY rowid')",
    );
    assert_eq!(batch, per_row);
    let per_row = text(
        &conn,
        "SELECT group_concat(ml_predict_proba('c', age, visits, segment), ';') FROM (SELECT * FROM leads ORDER BY rowid)",
    );
    let batch = text(
        &conn,
        "SELECT group_concat(probability, ';') FROM ml_predict_table('c', 'SELECT * FROM leads ORDER BY rowid')",
    );
    assert_eq!(batch, per_row);
    // A bad value names its row, as one-row prediction names the feature.
    conn.execute_batch("UPDATE leads SET visits = 'many' WHERE rowid = 5000").unwrap();
    assert_eq!(
        err(&conn, "SELECT count(*) FROM ml_predict_table('c', 'SELECT * FROM leads ORDER BY rowid')"),
        format!(
            "ml_predict_table: row 5000: {}",
            err(&conn, "SELECT ml_predict('c', age, visits, segment) FROM leads WHERE rowid = 5000")
                .trim_start_matches("ml_predict: ")
        )
    );
    // Text and recommender models over several batches.
    conn.execute_batch(
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, label TEXT);
         WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 9000)
         INSERT INTO notes(body, label) SELECT CASE x % 3 WHEN 0 THEN 'cheap pills now ' || x WHEN 1 THEN 'meeting at ' || (x % 24) ELSE 'lunch today?' END,
                                               CASE x % 3 WHEN 0 THEN 'spam' ELSE 'ham' END FROM n;
         SELECT ml_train('t', 'text', 'notes', 'label');
         CREATE TABLE ratings(u INTEGER, i INTEGER, r REAL);
         WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 8999)
         INSERT INTO ratings SELECT x % 90, (x * 7) % 60, 1 + (x * 13) % 5 FROM n;
         SELECT ml_train('r', 'recommender', 'ratings', 'r', '{\"factors\": 4}');",
    )
    .unwrap();
    let same = int(
        &conn,
        "SELECT count(*) FROM ml_predict_table('t', 'notes', '{\"key\": \"id\"}') AS p JOIN notes n ON n.id = p.key
          WHERE p.prediction = ml_predict('t', n.body) AND p.probability = ml_predict_proba('t', n.body)",
    );
    assert_eq!(same, 9000);
    let per_row = text(
        &conn,
        "SELECT group_concat(ml_predict('r', u + 1, i), ',') FROM (SELECT * FROM ratings ORDER BY rowid)",
    );
    let batch = text(
        &conn,
        "SELECT group_concat(prediction, ',') FROM ml_predict_table('r', 'SELECT u + 1 AS u, i FROM ratings ORDER BY rowid')",
    );
    assert_eq!(batch, per_row);
}

/// `keep`: after storing, only the newest n versions plus the active one remain, pruned in the
/// same transaction.
#[test]
fn keep_prunes_old_versions_with_the_training() {
    let conn = unlocked(None, "pw");
    make_leads(&conn, 200, 7);
    for _ in 0..4 {
        conn.execute_batch("SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"epochs\": 1}')")
            .unwrap();
    }
    conn.execute_batch("SELECT ml_activate('m', 1)").unwrap();
    let r = report(
        &conn,
        "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"epochs\": 1, \"keep\": 2, \"activate\": \"never\"}')",
    );
    assert_eq!((r["version"].clone(), r["pruned_versions"].clone()), (json!(5), json!(2)), "{r}");
    let versions = text(
        &conn,
        "SELECT group_concat(version || ':' || active, ' ') FROM (SELECT * FROM ml_models WHERE name = 'm' ORDER BY version)",
    );
    assert_eq!(versions, "1:1 4:0 5:0");
    assert_eq!(
        text(
            &conn,
            "SELECT group_concat(DISTINCT version) FROM ml_training_log WHERE name = 'm' ORDER BY version"
        ),
        "1,4,5"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('m', 'classifier', 'leads', 'converted', '{\"keep\": 0}')"),
        "ml_train: option 'keep' must be a positive integer, got 0"
    );
}

/// A bad option fails before the source is read: a source that would fail to read is never
/// reached.
#[test]
fn options_are_checked_before_the_source_is_read() {
    let conn = unlocked(None, "pw");
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('m', 'classifier', 'SELECT * FROM missing_table', 'y', '{\"epochz\": 3}')"
        ),
        "ml_train: unknown option 'epochz' (expected one of: activate, allow_extra_keys, batch_size, class_weight, \
         dropout, epochs, exclude, features, hidden_layers, keep, l2, learning_rate, max_categories, max_memory_mb, \
         patience, progress, refit, seed, shuffle, test_size, validation_split)"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('m', 'recommender', 'SELECT * FROM missing_table', 'y', '{\"factors\": 0}')"
        ),
        "ml_train: option 'factors' must be an integer from 1 to 1024, got 0"
    );
}

/// Batch prediction looks categories up by their bytes: the same classes and probabilities as
/// per-row prediction for many categories (more than the linear scan's 16), few, numbers in a
/// text column (matched by their SQL text), unseen texts, NULLs, and text that is not UTF-8
/// still refused.
#[test]
fn batch_category_lookup_is_per_row_lookup() {
    let conn = unlocked(None, "pw");
    conn.execute_batch(
        "CREATE TABLE shop(city TEXT, size TEXT, spend REAL, bought TEXT);
         WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < 1999)
         INSERT INTO shop SELECT 'city-' || (x % 40), CASE x % 4 WHEN 0 THEN 'S' WHEN 1 THEN 'M' WHEN 2 THEN '5' ELSE 'XL' END,
                                 (x * 37) % 100, CASE WHEN (x % 40) < 15 OR x % 3 = 0 THEN 'yes' ELSE 'no' END FROM n;
         SELECT ml_train('s', 'classifier', 'shop', 'bought', '{\"epochs\": 3, \"max_categories\": 60}');
         UPDATE shop SET city = 'nowhere' WHERE rowid % 9 = 0;
         UPDATE shop SET city = NULL WHERE rowid % 13 = 0;
         UPDATE shop SET size = 5 WHERE rowid % 7 = 0;
         UPDATE shop SET size = 5.0 WHERE rowid % 11 = 0;
         UPDATE shop SET city = 'city-' || (rowid % 40) || '-long-enough-to-hash-all-bytes' WHERE rowid % 17 = 0;",
    )
    .unwrap();
    let per_row = text(
        &conn,
        "SELECT group_concat(ml_predict_proba('s', city, size, spend), ';') FROM (SELECT * FROM shop ORDER BY rowid)",
    );
    let batch = text(
        &conn,
        "SELECT group_concat(probability, ';') FROM ml_predict_table('s', 'SELECT * FROM shop ORDER BY rowid')",
    );
    assert_eq!(batch, per_row);
    conn.execute_batch("UPDATE shop SET city = CAST(x'ff' AS TEXT) WHERE rowid = 3").unwrap();
    assert_eq!(
        err(&conn, "SELECT count(*) FROM ml_predict_table('s', 'SELECT * FROM shop ORDER BY rowid')"),
        "ml_predict_table: row 3: column 'city' holds text that is not valid UTF-8 in row 3"
    );
}
