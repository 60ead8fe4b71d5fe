//! The `recommender` kind through SQL: training report and log, persistence across reopening
//! the database, text and integer ids, cold start, explanations, evaluation, implicit ALS.

mod common;

use common::{err, int, text, unlocked};
use serde_json::Value as Json;
use sqlml::rusqlite::Connection;

/// 60 users × 40 films: users of one parity love films of the same parity. Text film ids.
fn make_ratings(conn: &Connection) {
    conn.execute_batch(
        "CREATE TABLE ratings(user_id INTEGER, film TEXT, stars REAL);
         WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 60),
         m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < 40)
         INSERT INTO ratings
         SELECT i, 'film-' || j, CASE WHEN (i % 2) = (j % 2) THEN 4.5 + (j % 3) * 0.25 ELSE 1 + (i % 3) * 0.5 END
         FROM u, m WHERE (i + j * 3) % 4 <> 0;",
    )
    .unwrap();
}

/// Clicks: no target column; each row counts once. Users click films of their own parity,
/// three in four of them (chosen by a hash, so that no film is systematically skipped).
fn make_clicks(conn: &Connection) {
    conn.execute_batch(
        "CREATE TABLE clicks(user_id INTEGER, film TEXT);
         WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 60),
         m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < 40)
         INSERT INTO clicks SELECT i, 'film-' || j FROM u, m
         WHERE i % 2 = j % 2 AND ((i * 1000 + j) * 2654435761) % 4294967296 / 65536 % 4 <> 0;",
    )
    .unwrap();
}

fn train(conn: &Connection, options: &str) -> Json {
    let sql = format!("SELECT ml_train('films', 'recommender', 'ratings', 'stars', json_object({options}))");
    serde_json::from_str(&text(conn, &sql)).unwrap()
}

fn real(conn: &Connection, sql: &str) -> f64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn rows(conn: &Connection, sql: &str) -> Vec<(String, f64)> {
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn report_log_and_held_out_metrics() {
    let conn = unlocked(None, "pw");
    make_ratings(&conn);
    let report = train(&conn, "'n_factors', 8, 'n_epochs', 40, 'lr_all', 0.01");
    assert_eq!(report["algorithm"], "svd");
    assert_eq!((report["users"].as_i64(), report["items"].as_i64()), (Some(60), Some(40)));
    let rmse = report["metrics"]["rmse"].as_f64().unwrap();
    let baseline = report["baseline_rmse"].as_f64().unwrap();
    assert!(rmse < 0.5 * baseline, "svd {rmse} vs baseline {baseline}: {report}");
    for key in ["mae", "precision_at_10", "recall_at_10", "ndcg_at_10"] {
        assert!(report["metrics"][key].is_number(), "{key}: {report}");
    }
    assert_eq!(
        int(&conn, "SELECT count(*) FROM ml_training_log WHERE name = 'films' AND val_loss IS NOT NULL"),
        40
    );
    let (first, last) = (
        real(&conn, "SELECT loss FROM ml_training_log WHERE name = 'films' AND epoch = 1"),
        real(&conn, "SELECT loss FROM ml_training_log WHERE name = 'films' AND epoch = 40"),
    );
    assert!(last < first, "training rmse {first} -> {last}");
    let e: Json = serde_json::from_str(&text(&conn, "SELECT ml_evaluate('films', 'ratings')")).unwrap();
    assert!(e["rmse"].as_f64().unwrap() < 0.6, "{e}");
}

#[test]
fn model_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop.db");
    let (before, top_before) = {
        let conn = unlocked(Some(&path), "secret");
        make_ratings(&conn);
        train(&conn, "'n_factors', 8, 'test_size', 0");
        (
            real(&conn, "SELECT ml_predict('films', 3, 'film-5')"),
            rows(&conn, "SELECT item, score FROM ml_recommend('films', 3, 5)"),
        )
    };
    let conn = unlocked(Some(&path), "secret");
    assert_eq!(real(&conn, "SELECT ml_predict('films', 3, 'film-5')"), before);
    assert_eq!(rows(&conn, "SELECT item, score FROM ml_recommend('films', 3, 5)"), top_before);
    assert_eq!(top_before.len(), 5);
}

#[test]
fn ids_keep_their_sql_type_and_top_n_follows_taste() {
    let conn = unlocked(None, "pw");
    make_ratings(&conn);
    train(&conn, "'n_factors', 8, 'n_epochs', 60, 'lr_all', 0.01, 'test_size', 0");
    assert_eq!(
        text(&conn, "SELECT group_concat(DISTINCT typeof(item)) FROM ml_recommend('films', 2, 10)"),
        "text"
    );
    // User 2 likes even films: every recommended (unrated) film is even.
    let top = rows(&conn, "SELECT item, score FROM ml_recommend('films', 2, 5)");
    assert!(top.iter().all(|(f, _)| f[5..].parse::<i64>().unwrap() % 2 == 0), "{top:?}");
    assert_eq!(
        int(
            &conn,
            "SELECT count(*) FROM ml_recommend('films', 2, 100) WHERE item IN (SELECT film FROM ratings WHERE user_id = 2)"
        ),
        0
    );
    // Integer item ids come back as integers.
    conn.execute_batch(
        "CREATE TABLE r2 AS SELECT user_id, CAST(substr(film, 6) AS INTEGER) AS film_no, stars FROM ratings",
    )
    .unwrap();
    text(
        &conn,
        "SELECT ml_train('nums', 'recommender', 'r2', 'stars', json_object('n_factors', 4, 'test_size', 0))",
    );
    assert_eq!(
        text(&conn, "SELECT group_concat(DISTINCT typeof(item)) FROM ml_recommend('nums', 2, 10)"),
        "integer"
    );
    // An integer user id given as text still finds the user.
    assert_eq!(
        real(&conn, "SELECT ml_predict('nums', '2', 4)"),
        real(&conn, "SELECT ml_predict('nums', 2, 4)")
    );
}

#[test]
fn cold_start_and_explanations() {
    let conn = unlocked(None, "pw");
    make_ratings(&conn);
    let report = train(&conn, "'n_factors', 8, 'test_size', 0");
    let mean = report["global_mean"].as_f64().unwrap();
    assert!((real(&conn, "SELECT ml_predict('films', 999, 'film-404')") - mean).abs() < 1e-9);
    let e: Json = serde_json::from_str(&text(&conn, "SELECT ml_explain('films', 999, 'film-2')")).unwrap();
    assert_eq!((e["user_known"].as_bool(), e["item_known"].as_bool()), (Some(false), Some(true)), "{e}");
    let unknown_user = real(&conn, "SELECT ml_predict('films', 999, 'film-2')");
    assert!((unknown_user - (mean + e["item_bias"].as_f64().unwrap())).abs() < 1e-6, "{e}");
    // The unknown user is offered the popular films; NULL gets nothing.
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_recommend('films', 999, 4)"), 4);
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_recommend('films', NULL, 4)"), 0);
    assert_eq!(text(&conn, "SELECT typeof(ml_predict('films', NULL, 'film-2'))"), "null");
    let e: Json = serde_json::from_str(&text(&conn, "SELECT ml_explain('films', 2, 'film-4')")).unwrap();
    let because = e["because"].as_array().unwrap();
    assert!(!because.is_empty() && because[0]["item"].is_string(), "{e}");
    assert_eq!(
        err(&conn, "SELECT ml_predict('films', x'00', 'film-2')"),
        "ml_predict: argument 'user' must be an integer or text id, got blob"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('bad', 'recommender', 'ratings', 'stars', json_object('alpha', 1))"),
        "ml_train: unknown option 'alpha' (expected one of: activate, algorithm, biased, epochs, factors, feedback, init_mean, init_std_dev, item, keep, lr_all, lr_bi, lr_bu, lr_pu, lr_qi, max_memory_mb, progress, rating_scale, refit, reg_all, reg_bi, reg_bu, reg_pu, reg_qi, relevant, seed, test_size, user)"
    );
}

#[test]
fn svdpp_and_implicit_als_through_sql() {
    let conn = unlocked(None, "pw");
    make_ratings(&conn);
    let report = train(&conn, "'algorithm', 'svdpp', 'n_epochs', 30, 'lr_all', 0.01");
    assert_eq!(report["algorithm"], "svdpp");
    assert!(
        report["metrics"]["rmse"].as_f64().unwrap() < report["baseline_rmse"].as_f64().unwrap(),
        "{report}"
    );
    make_clicks(&conn);
    let report: Json = serde_json::from_str(&text(
        &conn,
        "SELECT ml_train('clicks', 'recommender', 'clicks', NULL, json_object('algorithm', 'als', 'factors', 8, 'alpha', 10))",
    ))
    .unwrap();
    assert_eq!(report["algorithm"], "als");
    assert!(report["metrics"]["recall_at_10"].as_f64().unwrap() > 0.5, "{report}");
    // Served on every click (test_size 0), with the rank of the pattern (parity: 2 factors; with
    // many more, ALS also learns which films each user skipped, as it should): the unclicked
    // films of user 2's parity come first, before any film of the other parity, and no clicked
    // film comes back.
    text(
        &conn,
        "SELECT ml_train('clicks', 'recommender', 'clicks', NULL, json_object('algorithm', 'als', 'factors', 2, 'alpha', 10, 'test_size', 0))",
    );
    let unclicked_even = int(
        &conn,
        "SELECT 20 - count(DISTINCT film) FROM clicks WHERE user_id = 2 AND film IN (SELECT item FROM ml_recommend('clicks', 2, 40, 1))",
    );
    let top = rows(&conn, "SELECT item, score FROM ml_recommend('clicks', 2, 40)");
    assert_eq!(
        int(
            &conn,
            "SELECT count(*) FROM ml_recommend('clicks', 2, 40) WHERE item IN (SELECT film FROM clicks WHERE user_id = 2)"
        ),
        0
    );
    let even: Vec<bool> = top.iter().map(|(f, _)| f[5..].parse::<i64>().unwrap() % 2 == 0).collect();
    assert!(unclicked_even > 0 && even.iter().take(unclicked_even as usize).all(|&e| e), "{top:?}");
    assert_eq!(
        err(&conn, "SELECT ml_train('x', 'recommender', 'clicks', NULL)"),
        "ml_train: a recommender needs the rating column as target (only algorithm 'als' takes a NULL target, \
         counting each row as one interaction)"
    );
}

/// Implicit ALS under `activate: 'if_better'`: the active version, fitted on every row, is
/// scored on the new training's held-out rows. Their items are ranked though it rated them in
/// training (left out, the active version scored 0 and any new version won, however bad); and
/// `ml_evaluate` of its own training rows ranks them too.
#[test]
fn if_better_with_implicit_als_compares_rankings() {
    let conn = unlocked(None, "pw");
    make_clicks(&conn);
    let train = |opts: &str| -> Json {
        serde_json::from_str(&text(
            &conn,
            &format!(
                "SELECT ml_train('c', 'recommender', 'clicks', NULL, json_object('algorithm', 'als', {opts}))"
            ),
        ))
        .unwrap()
    };
    train("'factors', 8, 'alpha', 10");
    let own = text(&conn, "SELECT ml_evaluate('c', 'clicks')");
    let own: Json = serde_json::from_str(&own).unwrap();
    assert!(own["ndcg_at_10"].as_f64().unwrap() > 0.5, "{own}");
    // A degenerate new version: one factor, one iteration, a huge regularization.
    let worse = train("'factors', 1, 'iterations', 1, 'regularization', 1000, 'activate', 'if_better'");
    let a = &worse["activation"];
    assert_eq!(a["metric"], "ndcg_at_10", "{a}");
    assert!(a["active"].as_f64().unwrap() > a["new"].as_f64().unwrap(), "{a}");
    assert_eq!(a["activated"], false, "{a}");
    assert_eq!(int(&conn, "SELECT version FROM ml_models WHERE name = 'c' AND active"), 1);
    // The active version was fitted on every row of this source: the report says its score is
    // optimistic. Fitted on its training rows alone (refit: false), it says nothing.
    assert_eq!(a["active_fitted_on_these_rows"], true, "{a}");
    assert!(a["note"].as_str().unwrap().starts_with("the active version was fitted on every row"), "{a}");
    train("'factors', 8, 'alpha', 10, 'refit', false");
    let next = train("'factors', 8, 'alpha', 10, 'seed', 7, 'activate', 'if_better'");
    assert!(next["activation"].get("active_fitted_on_these_rows").is_none(), "{next}");
    assert!(next["activation"]["active"].is_number(), "{next}");
}
