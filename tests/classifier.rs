//! The `classifier` kind through SQL: training on a customer table, the two prediction forms,
//! probabilities, explanations, evaluation, the training log, error texts and persistence.

mod common;
use common::*;
use serde_json::{Value as Json, json};
use sqlml::rusqlite::Connection;

/// `customers(id, tenure, plan, monthly, churn)`: churn is likely for short tenure on the
/// 'basic' plan with high charges; some `monthly` values are NULL.
fn make_customers(conn: &Connection, n: usize) {
    conn.execute_batch(
        "CREATE TABLE customers(id TEXT PRIMARY KEY, tenure INTEGER, plan TEXT, monthly REAL, churn TEXT)",
    )
    .unwrap();
    let mut rng = Rng::new(3);
    let mut ins = conn.prepare("INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5)").unwrap();
    for i in 0..n {
        let tenure = rng.below(72) as i64;
        let plan = rng.pick(&["basic", "pro", "team"]);
        let monthly = 20.0 + rng.below(100) as f64;
        let risk = (tenure < 12) as i32 + (plan == "basic") as i32 + (monthly > 80.0) as i32;
        let churn = if risk >= 2 || (risk == 1 && rng.below(4) == 0) { "yes" } else { "no" };
        let monthly = if i % 23 == 0 { None } else { Some(monthly) };
        ins.execute(sqlml::rusqlite::params![format!("c{i:05}"), tenure, plan, monthly, churn]).unwrap();
    }
}

fn train(conn: &Connection) -> Json {
    let report = text(
        conn,
        "SELECT ml_train('churn', 'classifier', 'customers', 'churn',
                json_object('exclude', json_array('id'), 'epochs', 15))",
    );
    serde_json::from_str(&report).unwrap()
}

fn predictions(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT ml_predict('churn', tenure, plan, monthly) FROM customers ORDER BY id LIMIT 50")
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn trains_predicts_explains_and_evaluates() {
    let conn = unlocked(None, "pw");
    make_customers(&conn, 1500);
    let report = train(&conn);
    assert_eq!(report["kind"], json!("classifier"));
    assert_eq!(report["algorithm"], json!("mlp"));
    assert!(report["metrics"]["accuracy"].as_f64().unwrap() > 0.85, "{report}");
    assert!(report["metrics"]["roc_auc"].as_f64().unwrap() > 0.85, "{report}");
    let importance = report["permutation_importance"].as_array().unwrap();
    assert_eq!(importance.len(), 3);
    assert_eq!(report["features"][2]["missing_flag"], json!(true));
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_training_log WHERE name = 'churn'"), 15);

    // Positional and JSON forms agree on every row; the label comes back as text.
    let disagree = int(
        &conn,
        "SELECT count(*) FROM customers WHERE ml_predict('churn', tenure, plan, monthly)
           IS NOT ml_predict('churn', json_object('monthly', monthly, 'plan', plan, 'tenure', tenure, 'id', id))",
    );
    assert_eq!(disagree, 0);
    assert_eq!(text(&conn, "SELECT typeof(ml_predict('churn', 3, 'basic', 99.0))"), "text");
    assert_eq!(text(&conn, "SELECT ml_predict('churn', 3, 'basic', 99.0)"), "yes");
    assert_eq!(text(&conn, "SELECT ml_predict('churn', 60, 'team', 25.0)"), "no");

    let proba: Json =
        serde_json::from_str(&text(&conn, "SELECT ml_predict_proba('churn', 3, 'basic', 99.0)")).unwrap();
    let (no, yes) = (proba["no"].as_f64().unwrap(), proba["yes"].as_f64().unwrap());
    assert!((no + yes - 1.0).abs() < 1e-6 && yes > 0.5);

    // Unseen category and NULLs have defined encodings.
    assert!(
        ["yes", "no"].contains(&text(&conn, "SELECT ml_predict('churn', NULL, 'enterprise', NULL)").as_str())
    );

    let explained: Json =
        serde_json::from_str(&text(&conn, "SELECT ml_explain('churn', 3, 'basic', 99.0)")).unwrap();
    let rows = explained.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().any(|r| r["feature"] == "plan" && r["value"] == "basic"));
    let total: f64 = rows.iter().map(|r| r["contribution"].as_f64().unwrap()).sum();
    let base = report["baseline_scores"]["yes"].as_f64().unwrap();
    assert!(total > 0.0, "a churner's contributions push towards 'yes' from the baseline {base}");

    let eval: Json = serde_json::from_str(&text(&conn, "SELECT ml_evaluate('churn', 'customers')")).unwrap();
    assert_eq!(eval["rows"], json!(1500));
    assert!(eval["accuracy"].as_f64().unwrap() > 0.85);
    assert!(eval["roc_auc"].as_f64().is_some());
}

#[test]
fn errors_name_the_problem() {
    let conn = unlocked(None, "pw");
    make_customers(&conn, 200);
    text(
        &conn,
        "SELECT ml_train('churn', 'classifier', 'customers', 'churn', json_object('exclude', 'id', 'epochs', 1))",
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('churn', 3, 'basic')"),
        "ml_predict: expected 3 values in training order (tenure, plan, monthly) or one JSON object, got 2 arguments"
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('churn', json_object('tenure', 3, 'plan', 'basic'))"),
        "ml_predict: feature 'monthly' is missing from the JSON object (expected keys: tenure, plan, monthly)"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_predict('churn', json_object('tenure', 3, 'plan', 'basic', 'monthly', 9, 'color', 'red'))"
        ),
        "ml_predict: unknown feature 'color' in the JSON object (expected keys: tenure, plan, monthly; train with allow_extra_keys to ignore other keys)"
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('churn', 'three', 'basic', 9)"),
        "ml_predict: feature 'tenure' must be a number, got text 'three'"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('c2', 'classifier', 'customers', 'churn', json_object('hidden_layers', json_array(64, 0)))"
        ),
        "ml_train: option 'hidden_layers' must be a list of layer widths from 1 to 65536, got [64, 0]"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('c2', 'classifier', 'customers', 'churn', json_object('exclude', 'nope'))"
        ),
        "ml_train: option 'exclude' names 'nope', which is not a column of the source (columns: id, tenure, plan, monthly, churn)"
    );
    // allow_extra_keys: other keys are ignored.
    text(
        &conn,
        "SELECT ml_train('loose', 'classifier', 'customers', 'churn', json_object('exclude', 'id', 'epochs', 1, 'allow_extra_keys', json('true')))",
    );
    text(
        &conn,
        "SELECT ml_predict('loose', json_object('tenure', 3, 'plan', 'basic', 'monthly', 9, 'color', 'red'))",
    );
}

#[test]
fn survives_closing_and_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.db");
    let conn = unlocked(Some(&path), "pw");
    make_customers(&conn, 400);
    train(&conn);
    let before = predictions(&conn);
    let proba_before = text(&conn, "SELECT ml_predict_proba('churn', 10, 'pro', 50.0)");
    drop(conn);
    let conn = unlocked(Some(&path), "pw");
    assert_eq!(predictions(&conn), before);
    assert_eq!(text(&conn, "SELECT ml_predict_proba('churn', 10, 'pro', 50.0)"), proba_before);
}

#[test]
fn same_seed_same_predictions_integer_labels() {
    let conn = unlocked(None, "pw");
    make_customers(&conn, 300);
    conn.execute_batch(
        "CREATE VIEW v AS SELECT tenure, plan, monthly, churn = 'yes' AS churned FROM customers",
    )
    .unwrap();
    let a = text(
        &conn,
        "SELECT ml_train('a', 'classifier', 'v', 'churned', json_object('epochs', 3, 'seed', 5))",
    );
    let b = text(
        &conn,
        "SELECT ml_train('b', 'classifier', 'v', 'churned', json_object('epochs', 3, 'seed', 5))",
    );
    let metrics = |r: &str| serde_json::from_str::<Json>(r).unwrap()["metrics"].clone();
    assert_eq!(metrics(&a), metrics(&b));
    let same = int(
        &conn,
        "SELECT count(*) FROM v WHERE ml_predict_proba('a', tenure, plan, monthly) = ml_predict_proba('b', tenure, plan, monthly)",
    );
    assert_eq!(same, 300);
    assert_eq!(text(&conn, "SELECT typeof(ml_predict('a', 3, 'basic', 99.0))"), "integer");
}
