//! A model's lifecycle through SQL: retention (`ml_prune`, space reuse after pruning) and
//! moving models between databases (`ml_export` / `ml_import`) for every kind and algorithm.

mod common;
use common::*;
use serde_json::Value as Json;
use sqlml::rusqlite::{Connection, params};

fn blob(conn: &Connection, sql: &str) -> Vec<u8> {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn import(conn: &Connection, name: &str, bundle: &[u8], pass: &str) -> Result<i64, String> {
    conn.query_row("SELECT ml_import(?1, ?2, ?3)", params![name, bundle, pass], |r| r.get(0))
        .map_err(|e| e.to_string())
}

fn versions(conn: &Connection, name: &str) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT version FROM ml_models WHERE name = ?1 ORDER BY version").unwrap();
    stmt.query_map([name], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

fn column(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    stmt.query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .map(|r| r.unwrap().unwrap_or_else(|| "NULL".into()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Data: the same tables in every database of a test

/// `messages` (text), `customers` (classifier) and `ratings` (recommender).
fn make_data(conn: &Connection) {
    make_messages(conn, 120);
    conn.execute_batch(
        "CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure REAL, plan TEXT, monthly REAL, churn TEXT);
         WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 299)
         INSERT INTO customers(tenure, plan, monthly, churn)
         SELECT (i * 37) % 72, CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'team' END,
                CASE WHEN i % 23 = 0 THEN NULL ELSE 20 + (i * 13) % 100 END,
                CASE WHEN ((i * 37) % 72 < 12) + (i % 3 = 0) + (20 + (i * 13) % 100 > 80) >= 2 THEN 'yes' ELSE 'no' END
         FROM c;
         CREATE TABLE ratings(user_id INTEGER, film TEXT, stars REAL);
         WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < 30),
         m(j) AS (SELECT 1 UNION ALL SELECT j + 1 FROM m WHERE j < 20)
         INSERT INTO ratings
         SELECT i, 'film-' || j, CASE WHEN (i % 2) = (j % 2) THEN 4.5 + (j % 3) * 0.25 ELSE 1 + (i % 3) * 0.5 END
         FROM u, m WHERE (i + j * 3) % 4 <> 0;",
    )
    .unwrap();
}

/// One model of every kind and algorithm: (name, training call, queries whose answers must
/// be the same wherever the model is).
struct Case {
    name: &'static str,
    train: &'static str,
    queries: &'static [&'static str],
}

const TEXT_QUERIES: &[&str] = &[
    "SELECT ml_predict('NAME', body) || ' ' || ml_predict_proba('NAME', body) FROM messages ORDER BY id",
    "SELECT ml_explain('NAME', body) FROM messages ORDER BY id LIMIT 5",
    "SELECT label || token || score FROM ml_top_tokens('NAME', 5)",
];
const CLASSIFIER_QUERIES: &[&str] = &[
    "SELECT ml_predict('NAME', tenure, plan, monthly) || ' ' || ml_predict_proba('NAME', tenure, plan, monthly) FROM customers ORDER BY id",
    "SELECT ml_explain('NAME', json_object('tenure', tenure, 'plan', plan, 'monthly', monthly)) FROM customers ORDER BY id LIMIT 5",
];
const RECOMMENDER_QUERIES: &[&str] = &[
    "SELECT quote(ml_predict('NAME', user_id, film)) FROM ratings ORDER BY rowid",
    "SELECT quote(ml_predict('NAME', 999, 'film-1')) || quote(ml_predict('NAME', 1, 'no-such-film'))",
    "SELECT u.i || r.item || r.score FROM (SELECT 1 AS i UNION ALL SELECT 2 UNION ALL SELECT 777) u, ml_recommend('NAME', u.i, 5) r",
    "SELECT item || similarity FROM ml_similar_items('NAME', 'film-3', 4)",
    "SELECT ml_explain('NAME', 3, 'film-4')",
];

const CASES: &[Case] = &[
    Case {
        name: "t_multinomial",
        train: "ml_train('NAME', 'text', 'messages', 'label', json_object('seed', 1))",
        queries: TEXT_QUERIES,
    },
    Case {
        name: "t_complement",
        train: "ml_train('NAME', 'text', 'messages', 'label', json_object('algorithm', 'complement', 'weighting', 'tfidf'))",
        queries: TEXT_QUERIES,
    },
    Case {
        name: "t_bernoulli",
        train: "ml_train('NAME', 'text', 'messages', 'label', json_object('algorithm', 'bernoulli', 'stem', true))",
        queries: TEXT_QUERIES,
    },
    Case {
        name: "classifier",
        train: "ml_train('NAME', 'classifier', 'customers', 'churn', json_object('exclude', json_array('id'), 'epochs', 3, 'hidden_layers', json_array(8)))",
        queries: CLASSIFIER_QUERIES,
    },
    Case {
        name: "r_svd",
        train: "ml_train('NAME', 'recommender', 'ratings', 'stars', json_object('factors', 6, 'epochs', 5))",
        queries: RECOMMENDER_QUERIES,
    },
    Case {
        name: "r_svdpp",
        train: "ml_train('NAME', 'recommender', 'ratings', 'stars', json_object('algorithm', 'svdpp', 'factors', 4, 'epochs', 3))",
        queries: RECOMMENDER_QUERIES,
    },
    Case {
        name: "r_als",
        train: "ml_train('NAME', 'recommender', 'ratings', 'stars', json_object('algorithm', 'als', 'factors', 5, 'epochs', 3))",
        queries: RECOMMENDER_QUERIES,
    },
];

fn answers(conn: &Connection, case: &Case, name: &str) -> Vec<Vec<String>> {
    case.queries.iter().map(|q| column(conn, &q.replace("NAME", name))).collect()
}

fn train(conn: &Connection, case: &Case, name: &str) -> Json {
    serde_json::from_str(&text(conn, &format!("SELECT {}", case.train.replace("NAME", name)))).unwrap()
}

/// The facts of a version that must travel with it: kind, algorithm, rows, params, metrics
/// and the training log.
fn facts(conn: &Connection, name: &str, version: i64) -> Vec<String> {
    let mut out = column(
        conn,
        &format!(
            "SELECT kind || '|' || algorithm || '|' || rows || '|' || params || '|' || quote(metrics)
             FROM ml_models WHERE name = '{name}' AND version = {version}"
        ),
    );
    out.extend(column(
        conn,
        &format!(
            "SELECT epoch || '|' || quote(loss) || '|' || quote(val_loss) || '|' || quote(metric) || '|' || quote(seconds)
             FROM ml_training_log WHERE name = '{name}' AND version = {version} ORDER BY epoch"
        ),
    ));
    out
}

// ---------------------------------------------------------------------------------------------
// Export and import

#[test]
fn every_kind_and_algorithm_moves_between_databases_with_different_keys() {
    let dir = tempfile::tempdir().unwrap();
    let source = unlocked(Some(&dir.path().join("trainer.db")), "trainer key");
    let target = unlocked(Some(&dir.path().join("app.db")), "app key");
    make_data(&source);
    make_data(&target);
    for case in CASES {
        train(&source, case, case.name);
        let expected = answers(&source, case, case.name);
        assert!(expected.iter().all(|a| !a.is_empty()), "{}: {expected:?}", case.name);
        let bundle = blob(&source, &format!("SELECT ml_export('{}', 'transfer pass')", case.name));
        assert_eq!(&bundle[..4], b"SQMB", "{}", case.name);
        // Ciphertext: no training text appears in a bundle.
        for marker in [&b"zqxvortex"[..], b"plumbrook", b"film-1", b"basic", b"messages"] {
            assert!(
                !bundle.windows(marker.len()).any(|w| w == marker),
                "{}: bundle leaks {marker:?}",
                case.name
            );
        }
        let imported = format!("{}_prod", case.name);
        assert_eq!(import(&target, &imported, &bundle, "transfer pass"), Ok(1), "{}", case.name);
        assert_eq!(answers(&target, case, &imported), expected, "{}: predictions differ", case.name);
        assert_eq!(facts(&target, &imported, 1), facts(&source, case.name, 1), "{}", case.name);
        assert_eq!(int(&target, &format!("SELECT active FROM ml_models WHERE name = '{imported}'")), 1);
        // Stored under the app database's own key: the rows' blobs differ, and a fresh
        // connection with the app key predicts the same.
        let a = blob(&source, &format!("SELECT model FROM ml_models WHERE name = '{}'", case.name));
        let b = blob(&target, &format!("SELECT model FROM ml_models WHERE name = '{imported}'"));
        assert_ne!(a, b);
    }
    drop(target);
    let reopened = unlocked(Some(&dir.path().join("app.db")), "app key");
    for case in CASES {
        let imported = format!("{}_prod", case.name);
        assert_eq!(answers(&reopened, case, &imported), answers(&source, case, case.name), "{}", case.name);
    }
}

#[test]
fn import_adds_a_version_and_export_takes_any_version() {
    let source = unlocked(None, "a");
    let target = unlocked(None, "b");
    make_data(&source);
    make_data(&target);
    let case = &CASES[0];
    train(&source, case, "spam");
    let v1 = answers(&source, case, "spam");
    text(
        &source,
        "SELECT ml_train('spam', 'text', 'messages', 'label', json_object('alpha', 3, 'ngrams', 1))",
    );
    let v2 = answers(&source, case, "spam");
    assert_ne!(v1, v2);
    // The target already has versions of that name: an import is the next one, and active.
    train(&target, &CASES[1], "spam");
    let old = blob(&source, "SELECT ml_export('spam', 1, 'p')");
    let active = blob(&source, "SELECT ml_export('spam', 'p')");
    let null_version = blob(&source, "SELECT ml_export('spam', NULL, 'p')");
    assert_eq!(import(&target, "spam", &old, "p"), Ok(2));
    assert_eq!(answers(&target, case, "spam"), v1);
    assert_eq!(import(&target, "spam", &active, "p"), Ok(3));
    assert_eq!(answers(&target, case, "spam"), v2);
    assert_eq!(import(&target, "spam", &null_version, "p"), Ok(4));
    assert_eq!(answers(&target, case, "spam"), v2);
    assert_eq!(int(&target, "SELECT ml_activate('spam', 2)"), 2);
    assert_eq!(answers(&target, case, "spam"), v1);
    // Fresh salt and nonce each time.
    assert_ne!(active, null_version);
    // A bundle can go back into the database it came from, under another name.
    assert_eq!(import(&source, "spam_copy", &old, "p"), Ok(1));
    assert_eq!(answers(&source, case, "spam_copy"), v1);
    // Through a table of an attached database, as an application would carry it.
    source.execute_batch("ATTACH ':memory:' AS carry; CREATE TABLE carry.bundles(b BLOB)").unwrap();
    source.execute("INSERT INTO carry.bundles SELECT ml_export('spam', 2, 'p')", []).unwrap();
    assert_eq!(int(&source, "SELECT ml_import('spam_attached', (SELECT b FROM carry.bundles), 'p')"), 1);
    assert_eq!(answers(&source, case, "spam_attached"), v2);

    assert_eq!(
        err(&source, "SELECT ml_export('spam', 9, 'p')"),
        "ml_export: model 'spam' has no version 9 (list versions with: SELECT version FROM ml_models WHERE name = 'spam')"
    );
    assert!(err(&source, "SELECT ml_export('nope', 'p')").starts_with("ml_export: no model named 'nope'"));
    assert_eq!(
        err(&source, "SELECT ml_export('spam', '')"),
        "ml_export: argument 'passphrase' must be a non-empty text, got ''"
    );
    assert_eq!(
        err(&source, "SELECT ml_export('spam', 'x', 'p')"),
        "ml_export: argument 'version' must be an integer, got text"
    );
    assert_eq!(
        err(&source, "SELECT ml_import('x', ml_export('spam', 'p'), '')"),
        "ml_import: argument 'passphrase' must be a non-empty text, got ''"
    );
    let long = "n".repeat(256);
    assert!(
        err(&source, &format!("SELECT ml_import('{long}', ml_export('spam', 'p'), 'p')"))
            .contains("at most 255 bytes")
    );
}

/// Everything that can be wrong with a bundle is one clear error, and the importing database
/// is exactly as before.
#[test]
fn bad_bundles_change_nothing() {
    let source = unlocked(None, "a");
    let target = unlocked(None, "b");
    make_data(&source);
    make_data(&target);
    train(&source, &CASES[0], "spam");
    train(&target, &CASES[0], "spam");
    let bundle = blob(&source, "SELECT ml_export('spam', 'right')");
    let before = sqlml_state(&target);
    let wrong = "ml_import: cannot open the bundle: wrong passphrase or damaged bundle";
    let fails = |b: &[u8], pass: &str| -> String {
        let e = import(&target, "spam", b, pass).expect_err("a bad bundle must fail");
        assert_eq!(sqlml_state(&target), before, "{e}");
        e
    };
    assert_eq!(fails(&bundle, "wrong"), wrong);
    assert_eq!(fails(&bundle, "right "), wrong);

    // Every header byte flipped, and body bytes throughout.
    let mut positions: Vec<usize> = (0..64).collect();
    positions.extend((64..bundle.len()).step_by(131));
    positions.extend(bundle.len() - 17..bundle.len());
    for i in positions {
        let mut d = bundle.clone();
        d[i] ^= 0x41;
        let e = fails(&d, "right");
        let expected = match i {
            0..4 => e.starts_with("ml_import: argument 'bundle' is not a model bundle from ml_export"),
            4 => {
                e == "ml_import: argument 'bundle' has bundle format 64; this build reads up to 1 (upgrade the extension)"
            }
            20..=23 => e.starts_with("ml_import: argument 'bundle' holds a model of format "),
            5..=19 => e.starts_with("ml_import: argument 'bundle' is damaged: ") || e == wrong,
            _ => e == wrong,
        };
        assert!(expected, "byte {i}: {e}");
    }
    // Truncated, extended.
    for len in [0, 3, 4, 5, 40, 63, 64, 67, 83, 84, 85, bundle.len() / 2, bundle.len() - 16, bundle.len() - 1]
    {
        let e = fails(&bundle[..len], "right");
        let ok = if len < 4 {
            e.starts_with("ml_import: argument 'bundle' is not a model bundle from ml_export")
        } else if len < 84 {
            e.starts_with("ml_import: argument 'bundle' is damaged: it is ")
                && e.contains("shorter than the shortest bundle (84 bytes)")
        } else {
            e == wrong
        };
        assert!(ok, "truncated to {len}: {e}");
    }
    let mut longer = bundle.clone();
    longer.push(0);
    assert_eq!(fails(&longer, "right"), wrong);
    // Not bundles at all.
    let envelope = blob(&source, "SELECT model FROM ml_models WHERE name = 'spam'");
    assert!(
        fails(&envelope, "right")
            .starts_with("ml_import: argument 'bundle' is not a model bundle from ml_export")
    );
    for (sql, got) in [("'text'", "text"), ("NULL", "NULL"), ("42", "an integer"), ("4.5", "a real")] {
        assert_eq!(
            err(&target, &format!("SELECT ml_import('spam', {sql}, 'right')")),
            format!("ml_import: argument 'bundle' must be a blob made by ml_export, got {got}")
        );
    }
    assert_eq!(
        err(&target, "SELECT ml_import('spam', CAST(ml_export('spam', 'x') AS TEXT), 'x')"),
        "ml_import: argument 'bundle' must be a blob made by ml_export, got text"
    );
    assert_eq!(sqlml_state(&target), before);
}

/// Bundles sealed properly with the right passphrase but holding what this build cannot or
/// must not use: a newer model format, metadata that contradicts the model.
#[test]
fn newer_or_inconsistent_contents() {
    use sqlml::store::bundle::{BundleInfo, seal};
    use sqlml::store::crypto::KdfParams;
    let target = unlocked(None, "b");
    make_data(&target);
    train(&target, &CASES[0], "spam");
    let before = sqlml_state(&target);
    let kdf = KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 };
    let info = BundleInfo {
        name: "m".into(),
        version: 1,
        kind: "text".into(),
        algorithm: "multinomial_nb".into(),
        rows: 3,
        created_at: String::new(),
        params: "{}".into(),
        metrics: None,
        log: vec![],
    };
    // A newer model format (a postcard varint first): refused before the key is derived.
    let newer_format = sqlml::models::SCHEMA_VERSION + 1;
    let newer = seal(b"p", kdf, &info, &[newer_format as u8, 0, 1, 2, 3]).unwrap();
    assert_eq!(
        import(&target, "spam", &newer, "p").unwrap_err(),
        format!(
            "ml_import: argument 'bundle' holds a model of format {newer_format}; this build reads up to {} (upgrade the extension)",
            newer_format - 1
        )
    );
    // A real model whose metadata says another kind or algorithm.
    let source = unlocked(None, "a");
    make_data(&source);
    train(&source, &CASES[0], "spam");
    let real = blob(&source, "SELECT ml_export('spam', 'p')");
    assert_eq!(import(&target, "copy", &real, "p"), Ok(1));
    int(&target, "SELECT ml_drop('copy')");
    let before_copy = sqlml_state(&target);
    assert_eq!(before_copy.len(), before.len());
    // The model plaintext of the real bundle, taken back out through the store API.
    let opened = sqlml::store::bundle::open(&real, b"p").unwrap();
    assert_eq!(opened.info.kind, "text");
    assert_eq!(opened.info.algorithm, "multinomial_nb");
    assert_eq!(opened.info.name, "spam");
    let log = opened.info.log.len();
    assert_eq!(log as i64, int(&source, "SELECT count(*) FROM ml_training_log WHERE name = 'spam'"));
    drop(opened);
    // Metadata that contradicts a (garbage) model: the model is decoded first.
    let bad = seal(b"p", kdf, &BundleInfo { kind: "classifier".into(), ..info.clone() }, &[1, 0]).unwrap();
    let e = import(&target, "spam", &bad, "p").unwrap_err();
    assert!(e.starts_with("ml_import: argument 'bundle' is damaged: "), "{e}");
    assert_eq!(sqlml_state(&target), before_copy);
}

#[test]
fn import_needs_a_key_and_is_atomic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let source = unlocked(None, "a");
    make_data(&source);
    train(&source, &CASES[0], "spam");
    let bundle = blob(&source, "SELECT ml_export('spam', 'p')");
    {
        let setup = unlocked(Some(&path), "app key");
        make_data(&setup);
        train(&setup, &CASES[0], "spam");
    }
    let locked = open(Some(&path));
    let before = sqlml_state(&locked);
    if std::env::var("SQLML_KEY").is_err() {
        assert_eq!(
            import(&locked, "spam", &bundle, "p").unwrap_err(),
            "ml_import: no key for this database (call SELECT ml_unlock('passphrase') first, or set the environment variable SQLML_KEY)"
        );
        assert!(
            err(&locked, "SELECT ml_export('spam', 'p')").starts_with("ml_export: no key for this database")
        );
        assert_eq!(sqlml_state(&locked), before);
        // Nor on a database with no key at all.
        let fresh = open(None);
        assert!(import(&fresh, "spam", &bundle, "p").unwrap_err().starts_with("ml_import: no key"));
    }
    text(&locked, "SELECT ml_unlock('app key')");
    // Inside the caller's transaction: a savepoint, and the caller decides.
    locked.execute_batch("BEGIN").unwrap();
    assert_eq!(import(&locked, "spam", &bundle, "p"), Ok(2));
    assert!(import(&locked, "spam", &bundle, "wrong").is_err());
    locked.execute_batch("ROLLBACK").unwrap();
    assert_eq!(sqlml_state(&locked), before);
    // Refused where every writing function is: triggers on sqlml's tables.
    locked.execute_batch("CREATE TRIGGER t AFTER INSERT ON ml_models BEGIN SELECT 1; END").unwrap();
    let before = sqlml_state(&locked);
    assert!(import(&locked, "spam", &bundle, "p").unwrap_err().contains("refusing to write"));
    assert_eq!(sqlml_state(&locked), before);
}

#[test]
fn refused_from_the_schema_and_from_inside_other_calls() {
    let conn = unlocked(None, "a");
    make_data(&conn);
    train(&conn, &CASES[0], "spam");
    for call in ["ml_prune('spam', 0)", "ml_export('spam', 'p')", "ml_import('x', x'00', 'p')"] {
        conn.execute_batch(&format!("CREATE VIEW v AS SELECT {call} AS x")).unwrap();
        let e = err(&conn, "SELECT * FROM v");
        assert!(e.contains("unsafe use of ml_"), "{call}: {e}");
        conn.execute_batch("DROP VIEW v").unwrap();
        let source = format!("select body, label, {call} as z from messages");
        let e =
            err(&conn, &format!("SELECT ml_train('x', 'text', '{}', 'label')", source.replace('\'', "''")));
        assert!(e.contains("refused: called while ml_train is running"), "{call}: {e}");
    }
    assert_eq!(versions(&conn, "spam"), [1]);
    assert_eq!(versions(&conn, "x"), Vec::<i64>::new());
}

// ---------------------------------------------------------------------------------------------
// Retention

fn train_versions(conn: &Connection, name: &str, n: usize) {
    for i in 0..n {
        text(
            conn,
            &format!("SELECT ml_train('{name}', 'text', 'messages', 'label', json_object('seed', {i}))"),
        );
    }
}

fn log_versions(conn: &Connection, name: &str) -> Vec<i64> {
    let mut stmt = conn
        .prepare("SELECT DISTINCT version FROM ml_training_log WHERE name = ?1 ORDER BY version")
        .unwrap();
    stmt.query_map([name], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// A name keeps its kind: a training or an import of another kind under it is refused (every
/// caller of the name would get another kind's answers), before the fit for a training; with
/// the name dropped, it may be reused.
#[test]
fn a_name_keeps_its_kind() {
    let conn = unlocked(None, "pw");
    make_data(&conn);
    text(&conn, "SELECT ml_train('router', 'text', 'messages', 'label')");
    text(&conn, "SELECT ml_train('churn', 'classifier', 'customers', 'churn', json_object('epochs', 2))");
    let before = column(&conn, "SELECT name || version || kind || active FROM ml_models ORDER BY rowid");
    let e = err(&conn, "SELECT ml_train('router', 'recommender', 'ratings', 'stars')");
    let refused = |verb: &str, kind: &str| {
        format!(
            "{verb}: model 'router' is a text model, not a {kind} one: a version of another kind would change what \
             every caller of 'router' gets; use another name, or drop 'router' first (ml_drop)"
        )
    };
    assert_eq!(e, refused("ml_train", "recommender"));
    let churn = blob(&conn, "SELECT ml_export('churn', 'p')");
    assert_eq!(import(&conn, "router", &churn, "p"), Err(refused("ml_import", "classifier")));
    assert_eq!(
        column(&conn, "SELECT name || version || kind || active FROM ml_models ORDER BY rowid"),
        before
    );
    // The same kind goes on; dropped, the name takes another kind.
    assert_eq!(import(&conn, "churn", &churn, "p"), Ok(2));
    assert_eq!(int(&conn, "SELECT ml_drop('router')"), 1);
    text(&conn, "SELECT ml_train('router', 'recommender', 'ratings', 'stars')");
}

/// A version's row deleted by hand leaves its log rows behind: the next training of the name
/// takes that version number and its log replaces them (the insert failed on them after every
/// fit). A last version that is not a whole number below 2⁶³ − 1 is a clear error.
#[test]
fn a_version_deleted_by_hand_does_not_block_its_name() {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 120);
    train_versions(&conn, "spam", 2);
    conn.execute("DELETE FROM ml_models WHERE name = 'spam' AND version = 2", []).unwrap();
    conn.execute("UPDATE ml_training_log SET loss = -1 WHERE name = 'spam' AND version = 2", []).unwrap();
    train_versions(&conn, "spam", 1);
    assert_eq!(versions(&conn, "spam"), [1, 2]);
    assert_eq!(log_versions(&conn, "spam"), [1, 2]);
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_training_log WHERE loss < 0"), 0);
    let before = column(&conn, "SELECT name || version || active FROM ml_models ORDER BY rowid");
    for (set, shown) in [("9223372036854775807", "Integer(9223372036854775807)"), ("'2b'", "Text(\"2b\")")] {
        conn.execute(
            &format!("UPDATE ml_models SET version = {set} WHERE name = 'spam' AND version = 2"),
            [],
        )
        .unwrap();
        let e = err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label')");
        assert_eq!(
            e,
            format!(
                "ml_train: ml_models holds a version of 'spam' that is not a whole number from 0 to 2^63 - 2 \
                 ({shown}): the table was changed outside sqlml; delete or mend that row"
            )
        );
        conn.execute(
            &format!("UPDATE ml_models SET version = 2 WHERE name = 'spam' AND version = {set}"),
            [],
        )
        .unwrap();
        assert_eq!(column(&conn, "SELECT name || version || active FROM ml_models ORDER BY rowid"), before);
    }
    // A version of text where a model is read, pruned, exported or re-keyed: said as what it is.
    conn.execute("UPDATE ml_models SET version = 'v2' WHERE name = 'spam' AND active", []).unwrap();
    let text_version = "ml_models holds a 'version' of type Text that sqlml does not store there: the table was \
                        changed outside sqlml; delete or mend that row";
    for (f, sql) in [
        ("ml_predict", "SELECT ml_predict('spam', 'free prize')"),
        ("ml_prune", "SELECT ml_prune('spam', 1)"),
        ("ml_export", "SELECT ml_export('spam', 'p')"),
        ("ml_rekey", "SELECT ml_rekey('pw2')"),
    ] {
        assert_eq!(err(&conn, sql), format!("{f}: {text_version}"), "{sql}");
    }
    // The failed rekey changed nothing: the old key still reads the other versions.
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models WHERE name = 'spam'"), 2);
    conn.execute("UPDATE ml_models SET version = 2 WHERE name = 'spam' AND version = 'v2'", []).unwrap();
    assert_eq!(int(&conn, "SELECT ml_rekey('pw2')"), 2);
}

#[test]
fn prune_keeps_the_newest_and_the_active_version() {
    let conn = unlocked(None, "pw");
    make_data(&conn);
    train_versions(&conn, "spam", 5);
    train_versions(&conn, "other", 2);
    // Text models log one row per training; every version has its log.
    assert_eq!(log_versions(&conn, "spam"), [1, 2, 3, 4, 5]);
    assert_eq!(int(&conn, "SELECT ml_activate('spam', 2)"), 2);
    let v2 = answers(&conn, &CASES[0], "spam");
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 2)"), 2);
    assert_eq!(versions(&conn, "spam"), [2, 4, 5]);
    assert_eq!(log_versions(&conn, "spam"), [2, 4, 5]);
    assert_eq!(int(&conn, "SELECT version FROM ml_models WHERE name = 'spam' AND active"), 2);
    assert_eq!(answers(&conn, &CASES[0], "spam"), v2);
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 2)"), 0);
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 100)"), 0);
    // keep 0: only the active version stays.
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 0)"), 2);
    assert_eq!(versions(&conn, "spam"), [2]);
    assert_eq!(log_versions(&conn, "spam"), [2]);
    // The next training is the highest remaining version plus one, as after ml_drop.
    train_versions(&conn, "spam", 1);
    assert_eq!(versions(&conn, "spam"), [2, 3]);
    // Without an active version, only the newest `keep` stay.
    int(&conn, "SELECT ml_drop('spam', 3)");
    train_versions(&conn, "spam", 2);
    int(&conn, "SELECT ml_drop('spam', 4)");
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models WHERE name = 'spam' AND active"), 0);
    assert_eq!(versions(&conn, "spam"), [2, 3]);
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 1)"), 1);
    assert_eq!(versions(&conn, "spam"), [3]);
    // Other models are untouched.
    assert_eq!(versions(&conn, "other"), [1, 2]);
    assert_eq!(log_versions(&conn, "other"), [1, 2]);

    let before = sqlml_state(&conn);
    assert!(err(&conn, "SELECT ml_prune('nope', 1)").starts_with("ml_prune: no model named 'nope'"));
    assert_eq!(
        err(&conn, "SELECT ml_prune('spam', -1)"),
        "ml_prune: argument 'keep' must be a non-negative integer, got -1"
    );
    assert_eq!(
        err(&conn, "SELECT ml_prune('spam', NULL)"),
        "ml_prune: argument 'keep' must be an integer, got NULL"
    );
    assert_eq!(
        err(&conn, "SELECT ml_prune('spam', '1')"),
        "ml_prune: argument 'keep' must be an integer, got text"
    );
    assert_eq!(err(&conn, "SELECT ml_prune(NULL, 1)"), "ml_prune: argument 'name' must be text, got NULL");
    assert_eq!(sqlml_state(&conn), before);
    // Pruning needs no key (it decrypts nothing).
    let no_key = open(None);
    assert!(err(&no_key, "SELECT ml_prune('spam', 1)").starts_with("ml_prune: no model named 'spam'"));
}

#[test]
fn a_failed_prune_changes_nothing() {
    let conn = unlocked(None, "pw");
    make_data(&conn);
    train_versions(&conn, "spam", 4);
    // A foreign key that forbids deleting version 1 fails the deletion after the log rows and
    // version 3 are already gone: all of it is undone.
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         CREATE TABLE pins(model_id INTEGER REFERENCES ml_models(id) ON DELETE RESTRICT);
         INSERT INTO pins SELECT id FROM ml_models WHERE name = 'spam' AND version = 1;",
    )
    .unwrap();
    let before = sqlml_state(&conn);
    let e = err(&conn, "SELECT ml_prune('spam', 1)");
    assert!(e.starts_with("ml_prune: ") && e.contains("FOREIGN KEY"), "{e}");
    assert_eq!(sqlml_state(&conn), before);
    assert!(conn.is_autocommit());
    // Inside the caller's transaction: the caller's work stays, the prune's does not.
    conn.execute_batch("BEGIN; CREATE TABLE mine(x); INSERT INTO mine VALUES (1);").unwrap();
    assert!(err(&conn, "SELECT ml_prune('spam', 1)").contains("FOREIGN KEY"));
    conn.execute_batch("COMMIT").unwrap();
    assert_eq!(int(&conn, "SELECT count(*) FROM mine"), 1);
    assert_eq!(sqlml_state(&conn), before);
    // Rolled back by the caller.
    conn.execute_batch("DELETE FROM pins; BEGIN").unwrap();
    assert_eq!(int(&conn, "SELECT ml_prune('spam', 1)"), 3);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(sqlml_state(&conn), before);
    // A trigger on sqlml's tables: refused before anything is done.
    conn.execute_batch("CREATE TRIGGER keep_all BEFORE DELETE ON ml_models BEGIN SELECT RAISE(IGNORE); END")
        .unwrap();
    let before = sqlml_state(&conn);
    assert!(err(&conn, "SELECT ml_prune('spam', 1)").contains("refusing to write"));
    assert_eq!(sqlml_state(&conn), before);
}

fn file_size(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

/// Messages with many distinct words, so that a text model is large (hundreds of KB).
fn make_wordy(conn: &Connection) {
    let mut rng = Rng::new(11);
    conn.execute_batch("BEGIN; CREATE TABLE wordy(body TEXT, label TEXT)").unwrap();
    let mut ins = conn.prepare("INSERT INTO wordy VALUES (?1, ?2)").unwrap();
    for i in 0..3000 {
        let words: Vec<String> = (0..8).map(|_| format!("w{}", rng.below(30000))).collect();
        ins.execute([words.join(" "), ["a", "b", "c"][i % 3].to_string()]).unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

fn pragma(conn: &Connection, name: &str) -> i64 {
    int(conn, &format!("PRAGMA {name}"))
}

#[test]
fn pruned_space_is_reused_and_vacuum_returns_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db");
    let conn = unlocked(Some(&path), "pw");
    make_wordy(&conn);
    let train = "SELECT ml_train('big', 'text', 'wordy', 'label', json_object('test_size', 0))";
    for _ in 0..4 {
        text(&conn, train);
    }
    let model = int(&conn, "SELECT max(size) FROM ml_models");
    assert!(model > 500_000, "the model should be large, got {model} bytes");
    let pages = pragma(&conn, "page_count");
    assert_eq!(int(&conn, "SELECT ml_prune('big', 1)"), 3);
    // The pages are free but still in the file...
    assert_eq!(pragma(&conn, "page_count"), pages);
    let free = pragma(&conn, "freelist_count") * pragma(&conn, "page_size");
    assert!(free > 3 * model - 100_000, "{free} bytes free after pruning 3 versions of {model}");
    // ...where the next versions go without growing the file.
    for _ in 0..2 {
        text(&conn, train);
    }
    assert_eq!(pragma(&conn, "page_count"), pages);
    assert_eq!(int(&conn, "SELECT ml_prune('big', 1)"), 2);
    let before = file_size(&path);
    conn.execute_batch("VACUUM").unwrap();
    let after = file_size(&path);
    assert!(after + 2 * model as u64 <= before, "VACUUM: {before} -> {after} bytes (model {model})");
    assert_eq!(versions(&conn, "big"), [6]);
    assert_eq!(text(&conn, "SELECT ml_predict('big', 'w1 w2 w3')").len(), 1);

    // With auto_vacuum = INCREMENTAL (set before the first table), incremental_vacuum returns
    // the pages without rewriting the whole file.
    let path = dir.path().join("incremental.db");
    let conn = open(Some(&path));
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL").unwrap();
    text(&conn, "SELECT ml_unlock('pw')");
    make_wordy(&conn);
    for _ in 0..3 {
        text(&conn, train);
    }
    assert_eq!(int(&conn, "SELECT ml_prune('big', 1)"), 2);
    let before = file_size(&path);
    assert!(pragma(&conn, "freelist_count") > 0);
    assert_eq!(pragma(&conn, "auto_vacuum"), 2);
    // Stepped to its end (each step frees some pages).
    let mut vacuum = conn.prepare("PRAGMA incremental_vacuum").unwrap();
    let mut rows = vacuum.raw_query();
    while rows.next().unwrap().is_some() {}
    drop(rows);
    assert_eq!(pragma(&conn, "freelist_count"), 0);
    let after = file_size(&path);
    assert!(after + 2 * model as u64 - 100_000 <= before, "incremental_vacuum: {before} -> {after} bytes");
}
