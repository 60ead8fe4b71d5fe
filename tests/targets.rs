//! Targets a classifier cannot learn are refused with the reason, before a fit: an id (a value
//! in every row) or an amount (more values than half the rows, many in one row each). A split that can hold out no row
//! says so in the report instead of leaving `metrics` null without a word.

mod common;
use common::*;
use sqlml::rusqlite::Connection;

/// `customers(id, age, spend, plan, churned)`: 300 rows, `spend` an amount with cents.
fn customers() -> Connection {
    let conn = unlocked(None, "pw");
    conn.execute_batch(
        "CREATE TABLE customers AS
           WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
           SELECT i AS id, 20 + i % 50 AS age, round(10 + i * 1.37 + (i % 7) * 0.01, 2) AS spend,
                  CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'team' END AS plan,
                  CASE WHEN i % 4 = 0 THEN 'yes' ELSE 'no' END AS churned
           FROM n;",
    )
    .unwrap();
    conn
}

#[test]
fn a_target_that_does_not_recur_is_refused() {
    let conn = customers();
    let regression = "a classifier learns classes that recur (an id or an amount is not one; sqlml does no \
                      regression: bucket amounts into classes, e.g. with CASE in a SELECT)";
    for kind in ["classifier", "text"] {
        let e =
            err(&conn, &format!("SELECT ml_train('m', '{kind}', 'SELECT plan, id FROM customers', 'id')"));
        assert_eq!(
            e,
            format!(
                "ml_train: target column 'id' has a different value in every row (300 values in 300 rows): {regression}"
            ),
            "{kind}"
        );
    }
    // An amount: every tenth row 0, the others each their own.
    let e = err(
        &conn,
        "SELECT ml_train('m', 'classifier', 'SELECT age, CASE WHEN id % 10 THEN spend ELSE 0 END AS spend FROM customers', 'spend')",
    );
    assert_eq!(
        e,
        format!(
            "ml_train: target column 'spend' has 271 distinct values in 300 rows, at least 242 of them in one row only: {regression}"
        )
    );
    // Just past half as many classes as rows: 140 classes of two rows, 20 of one (not most).
    let e = err(
        &conn,
        "SELECT ml_train('m', 'classifier', 'SELECT age, CASE WHEN id <= 280 THEN id % 140 ELSE 1000 + id END AS k FROM customers', 'k')",
    );
    assert_eq!(
        e,
        format!(
            "ml_train: target column 'k' has 160 distinct values in 300 rows, at least 20 of them in one row only: {regression}"
        )
    );
    // Nothing was stored.
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models"), 0);
    // Classes of two rows each recur: trained (half as many classes as rows).
    let r = text(
        &conn,
        "SELECT ml_train('m', 'classifier', 'SELECT age, id % 150 AS k FROM customers', 'k', \
         json_object('epochs', 1, 'hidden_layers', json_array(4)))",
    );
    assert!(r.contains("\"version\":1"), "{r}");
    // A small worked example may have a class a row.
    let r = text(
        &conn,
        "SELECT ml_train('tiny', 'text', 'SELECT ''x x y'' AS t, ''a'' AS l UNION ALL SELECT ''y z'', ''b''', 'l')",
    );
    assert!(r.contains("\"version\":1"), "{r}");
}

/// No row held out although `test_size` asked for some: the report says why there are no
/// metrics; with rows to hold out, it says nothing.
#[test]
fn a_split_that_holds_out_nothing_says_so() {
    let conn = customers();
    let r = text(
        &conn,
        "SELECT ml_train('m', 'text', 'SELECT ''x x y'' AS t, ''a'' AS l UNION ALL SELECT ''y z'', ''b''', 'l')",
    );
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["test_rows"], 0);
    assert_eq!(r["metrics"], serde_json::Value::Null);
    assert_eq!(
        r["metrics_note"],
        "no row was held out for metrics: test_size 0.2 holds out that share of the rows (of each class, leaving it \
         one row), rounded, which was none here; use more rows or a larger test_size"
    );
    let r = text(&conn, "SELECT ml_train('p', 'text', 'SELECT plan, churned FROM customers', 'churned')");
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["test_rows"], 60);
    assert!(r.get("metrics_note").is_none(), "{r}");
    // Asked for none: no note either.
    let r = text(
        &conn,
        "SELECT ml_train('q', 'text', 'SELECT plan, churned FROM customers', 'churned', json_object('test_size', 0))",
    );
    assert!(!r.contains("metrics_note"), "{r}");
}
