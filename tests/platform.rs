//! The platform through `register`: surface, keys and encryption at rest, atomic training,
//! versions, rekey, and the refusal of calls from views and triggers.

mod common;
use common::*;
use sqlml::rusqlite::Connection;

fn train_spam(conn: &Connection) -> String {
    text(conn, "SELECT ml_train('spam', 'text', 'messages', 'label', json_object('seed', 1))")
}

fn predictions(conn: &Connection) -> Vec<String> {
    let mut stmt =
        conn.prepare("SELECT ml_predict('spam', body) FROM messages ORDER BY id LIMIT 40").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

#[test]
fn surface_is_pinned() {
    let conn = open(None);
    let mut stmt = conn
        .prepare("SELECT DISTINCT name, narg FROM pragma_function_list WHERE name LIKE 'ml\\_%' ESCAPE '\\' ORDER BY 1, 2")
        .unwrap();
    let got: Vec<(String, i32)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    let mut want: Vec<(String, i32)> = sqlml::FUNCTIONS.iter().map(|(n, a)| (n.to_string(), *a)).collect();
    want.sort();
    assert_eq!(got, want);
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_module_list WHERE name LIKE 'ml\\_%' ESCAPE '\\' ORDER BY 1")
        .unwrap();
    let modules: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    let mut want_modules: Vec<String> = sqlml::MODULES.iter().map(|m| m.to_string()).collect();
    want_modules.sort();
    assert_eq!(modules, want_modules);
}

#[test]
fn version_and_debug() {
    let conn = open(None);
    assert_eq!(text(&conn, "SELECT ml_version()"), format!("v{}", env!("CARGO_PKG_VERSION")));
    let debug = text(&conn, "SELECT ml_debug()");
    assert!(debug.contains("Model format: 2"), "{debug}");
    assert!(debug.contains("Kinds: text, classifier, recommender"), "{debug}");
}

#[test]
fn no_key_says_how_to_unlock() {
    let conn = open(None);
    make_messages(&conn, 30);
    let hint = "no key for this database (call SELECT ml_unlock('passphrase') first, or set the environment variable SQLML_KEY)";
    if std::env::var("SQLML_KEY").is_err() {
        assert_eq!(
            err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label')"),
            format!("ml_train: {hint}")
        );
    }
    let no_model = "no model named 'spam' (train one with ml_train, or list models with: SELECT name, version FROM ml_models)";
    assert_eq!(err(&conn, "SELECT ml_activate('spam', 1)"), format!("ml_activate: {no_model}"));
    assert_eq!(err(&conn, "SELECT ml_drop('spam', 1)"), format!("ml_drop: {no_model}"));
    assert_eq!(err(&conn, "SELECT ml_evaluate('spam', 'messages')"), format!("ml_evaluate: {no_model}"));
    assert_eq!(
        err(&conn, "SELECT ml_predict('spam', 'hello')"),
        "ml_predict: no model named 'spam' (train one with ml_train, or list models with: SELECT name, version FROM ml_models)"
    );
}

#[test]
fn models_are_ciphertext_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leak.db");
    {
        let conn = unlocked(Some(&path), "correct horse");
        make_messages(&conn, 200);
        train_spam(&conn);
        // Remove the source so only the model could still hold the words.
        conn.execute_batch("DROP TABLE messages; VACUUM;").unwrap();
        let blob: Vec<u8> = conn.query_row("SELECT model FROM ml_models", [], |r| r.get(0)).unwrap();
        assert_eq!(&blob[..4], b"SQML");
        assert!(!blob.windows(9).any(|w| w == b"zqxvortex"));
    }
    let bytes = std::fs::read(&path).unwrap();
    for needle in [&b"zqxvortex"[..], b"plumbrook", b"correct horse"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{} found in the file",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn wrong_key_tamper_and_swap_give_the_fixed_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = unlocked(Some(&path), "pw1");
    make_messages(&conn, 60);
    train_spam(&conn);
    train_spam(&conn);
    drop(conn);

    let other = open(Some(&path));
    assert_eq!(err(&other, "SELECT ml_unlock('pw2')"), "ml_unlock: wrong passphrase for this database");
    assert_eq!(
        err(&other, "SELECT ml_predict('spam', 'free cash')"),
        "ml_predict: no key for this database (call SELECT ml_unlock('passphrase') first, or set the environment variable SQLML_KEY)"
    );

    let conn = unlocked(Some(&path), "pw1");
    let fixed = "ml_predict: cannot decrypt model 'spam': wrong key or corrupted data";
    // A blob copied to another version of the same model.
    conn.execute_batch(
        "UPDATE ml_models SET model = (SELECT model FROM ml_models WHERE version = 1) WHERE version = 2",
    )
    .unwrap();
    assert_eq!(err(&conn, "SELECT ml_predict('spam', 'free cash')"), fixed);
    // A blob copied to another model name.
    conn.execute_batch(
        "INSERT INTO ml_models(name, version, kind, algorithm, created_at, rows, params, metrics, active, size, model)
         SELECT 'copy', 1, kind, algorithm, created_at, rows, params, metrics, 1, size, model FROM ml_models WHERE version = 1",
    )
    .unwrap();
    assert_eq!(
        err(&conn, "SELECT ml_predict('copy', 'free cash')"),
        "ml_predict: cannot decrypt model 'copy': wrong key or corrupted data"
    );
    // One flipped byte in the ciphertext of version 1.
    conn.execute_batch("SELECT ml_activate('spam', 1)").unwrap();
    let before = text(&conn, "SELECT ml_predict('spam', 'free cash now')");
    assert_eq!(before, "spam");
    let blob: Vec<u8> = conn
        .query_row("SELECT model FROM ml_models WHERE name='spam' AND version=1", [], |r| r.get(0))
        .unwrap();
    for i in [0usize, 7, 30, 70, blob.len() - 1] {
        let mut t = blob.clone();
        t[i] ^= 1;
        let fresh = unlocked(Some(&path), "pw1"); // no cached plaintext
        fresh.execute("UPDATE ml_models SET model = ?1 WHERE name='spam' AND version=1", [&t]).unwrap();
        assert_eq!(err(&fresh, "SELECT ml_predict('spam', 'free cash')"), fixed, "byte {i}");
        fresh.execute("UPDATE ml_models SET model = ?1 WHERE name='spam' AND version=1", [&blob]).unwrap();
    }
    let fresh = unlocked(Some(&path), "pw1");
    assert_eq!(text(&fresh, "SELECT ml_predict('spam', 'free cash now')"), "spam");
}

#[test]
fn views_and_triggers_cannot_call_sqlml() {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 30);
    conn.execute_batch("CREATE VIEW v AS SELECT ml_train('x', 'text', 'messages', 'label') AS r").unwrap();
    assert_eq!(err(&conn, "SELECT r FROM v"), "unsafe use of ml_train()");
    conn.execute_batch(
        "CREATE TABLE audit(x);
         CREATE TRIGGER t AFTER INSERT ON audit BEGIN SELECT ml_unlock('stolen'); END;",
    )
    .unwrap();
    let e = conn.execute("INSERT INTO audit VALUES (1)", []).unwrap_err().to_string();
    assert_eq!(e, "unsafe use of ml_unlock()");
    conn.execute_batch("CREATE VIEW p AS SELECT ml_predict('spam', body) AS y FROM messages").unwrap();
    assert_eq!(err(&conn, "SELECT y FROM p"), "unsafe use of ml_predict()");
}

#[test]
fn failed_training_changes_nothing() {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 120);
    train_spam(&conn);
    let before = predictions(&conn);
    let snapshot = |c: &Connection| -> (i64, i64, i64) {
        (
            int(c, "SELECT count(*) FROM ml_models"),
            int(c, "SELECT version FROM ml_models WHERE name = 'spam' AND active"),
            int(c, "SELECT count(*) FROM ml_training_log"),
        )
    };
    let state = snapshot(&conn);

    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label', json_object('alpha', -3))"),
        "ml_train: option 'alpha' must be a positive number, got -3"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label', json_object('alpah', 1))")
            .split(" (expected")
            .next()
            .unwrap(),
        "ml_train: unknown option 'alpah'"
    );
    assert!(
        err(&conn, "SELECT ml_train('spam', 'text', 'nope', 'label')")
            .starts_with("ml_train: argument 'source' must name a table or view")
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'DELETE FROM messages', 'label')")
            .split(';')
            .next()
            .unwrap(),
        "ml_train: argument 'source' must be a read-only SELECT"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'WITH x AS (SELECT 1) DELETE FROM messages', 'label')"),
        "ml_train: argument 'source' must be a read-only SELECT; this statement writes"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'nb', 'messages', 'label')"),
        "ml_train: argument 'kind' must be one of 'text', 'classifier', 'recommender', got 'nb'"
    );
    // Interrupted while reading the source.
    conn.progress_handler(50, Some(|| true)).unwrap();
    let e = err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label')");
    assert!(e.contains("interrupted"), "{e}");
    conn.progress_handler(0, None::<fn() -> bool>).unwrap();
    // Failing while writing: the database is full.
    let pages = int(&conn, "PRAGMA page_count");
    conn.execute_batch(&format!("PRAGMA max_page_count = {pages}")).unwrap();
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label')"),
        "ml_train: database or disk is full"
    );
    conn.execute_batch("PRAGMA max_page_count = 1073741823").unwrap();
    // A trigger on sqlml's tables could swallow or redirect the write: refused, naming it.
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON ml_models WHEN NEW.version = 2 BEGIN SELECT RAISE(ABORT, 'disk says no'); END;",
    )
    .unwrap();
    assert_eq!(
        err(&conn, "SELECT ml_train('spam', 'text', 'messages', 'label')"),
        "ml_train: refusing to write: sqlml's tables carry triggers that could change what is written ('refuse' on ml_models); nothing was changed (drop them with DROP TRIGGER)"
    );
    conn.execute_batch("DROP TRIGGER refuse").unwrap();

    assert_eq!(snapshot(&conn), state);
    assert_eq!(predictions(&conn), before);
    // Inside a user transaction that is rolled back, training leaves nothing either.
    conn.execute_batch("BEGIN").unwrap();
    train_spam(&conn);
    conn.execute_batch("ROLLBACK").unwrap();
    assert_eq!(snapshot(&conn), state);
}

#[test]
fn versions_activate_and_drop() {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 90);
    let r1: serde_json::Value = serde_json::from_str(&train_spam(&conn)).unwrap();
    assert_eq!(r1["version"], 1);
    assert!(r1["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{r1}");
    let r2: serde_json::Value = serde_json::from_str(&text(
        &conn,
        "SELECT ml_train('spam', 'text', 'messages', 'label', json_object('alpha', 5, 'seed', 3))",
    ))
    .unwrap();
    assert_eq!(r2["version"], 2);
    assert_eq!(int(&conn, "SELECT version FROM ml_models WHERE name = 'spam' AND active"), 2);
    assert!(int(&conn, "SELECT count(*) FROM ml_training_log WHERE name = 'spam' AND version = 2") > 0);
    let metrics: serde_json::Value =
        serde_json::from_str(&text(&conn, "SELECT metrics FROM ml_models WHERE version = 2")).unwrap();
    assert!(metrics["accuracy"].is_number());
    assert!(metrics.get("per_class").is_none(), "label names must not be stored in the clear");
    assert_eq!(int(&conn, "SELECT ml_activate('spam', 1)"), 1);
    assert_eq!(int(&conn, "SELECT version FROM ml_models WHERE name = 'spam' AND active"), 1);
    assert_eq!(
        err(&conn, "SELECT ml_activate('spam', 9)"),
        "ml_activate: model 'spam' has no version 9 (list versions with: SELECT version FROM ml_models WHERE name = 'spam')"
    );
    assert_eq!(int(&conn, "SELECT ml_drop('spam', 1)"), 1);
    assert_eq!(
        err(&conn, "SELECT ml_predict('spam', 'x')"),
        "ml_predict: model 'spam' has no active version (activate one with: SELECT ml_activate('spam', version))"
    );
    assert_eq!(int(&conn, "SELECT ml_drop('spam')"), 1);
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_training_log"), 0);
    assert!(err(&conn, "SELECT ml_drop('spam')").starts_with("ml_drop: no model named 'spam'"));
}

#[test]
fn rekey_reencrypts_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let conn = unlocked(Some(&path), "old");
    make_messages(&conn, 90);
    train_spam(&conn);
    text(
        &conn,
        "SELECT ml_train('spam2', 'text', 'messages', 'label', json_object('algorithm', 'complement'))",
    );
    let before = predictions(&conn);
    let blobs_before: Vec<Vec<u8>> = conn
        .prepare("SELECT model FROM ml_models ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(int(&conn, "SELECT ml_rekey('new')"), 2);
    let blobs_after: Vec<Vec<u8>> = conn
        .prepare("SELECT model FROM ml_models ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(blobs_before.iter().zip(&blobs_after).all(|(a, b)| a != b));
    assert_eq!(predictions(&conn), before);
    drop(conn);
    let conn = open(Some(&path));
    assert_eq!(err(&conn, "SELECT ml_unlock('old')"), "ml_unlock: wrong passphrase for this database");
    assert_eq!(text(&conn, "SELECT ml_unlock('new')"), "unlocked");
    assert_eq!(predictions(&conn), before);
    assert_eq!(text(&conn, "SELECT ml_predict('spam2', 'free prize claim')"), "spam");
    // Another connection, unlocked before a re-key there, is told the key changed (not that it
    // has no key), and predicts again once it unlocks with the new passphrase.
    let other = unlocked(Some(&path), "new");
    assert_eq!(text(&other, "SELECT ml_predict('spam2', 'free prize claim')"), "spam");
    assert_eq!(int(&conn, "SELECT ml_rekey('newer')"), 2);
    let changed = "this database's key changed since this connection unlocked it (ml_rekey on another \
                   connection, or another file): call SELECT ml_unlock('passphrase') with its passphrase now";
    assert_eq!(
        err(&other, "SELECT ml_predict('spam2', 'free prize claim')"),
        format!("ml_predict: {changed}")
    );
    assert_eq!(
        err(&other, "SELECT ml_train('x', 'text', 'messages', 'label')"),
        format!("ml_train: {changed}")
    );
    assert_eq!(text(&other, "SELECT ml_unlock('newer')"), "unlocked");
    assert_eq!(text(&other, "SELECT ml_predict('spam2', 'free prize claim')"), "spam");
}

#[test]
fn argument_errors_name_the_argument() {
    let conn = unlocked(None, "pw");
    assert_eq!(
        err(&conn, "SELECT ml_train(1, 'text', 't', 'y')"),
        "ml_train: argument 'name' must be text, got integer"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('', 'text', 't', 'y')"),
        "ml_train: argument 'name' must be a non-empty text, got ''"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('m', 'text', 't', 'y', '[1]')"),
        "ml_train: argument 'options' must be a JSON object, got [1]"
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('m')"),
        "ml_predict: expected the model name and at least one input, got only the name"
    );
    assert_eq!(
        err(&conn, "SELECT ml_activate('m', 'x')"),
        "ml_activate: argument 'version' must be an integer, got text"
    );
    assert_eq!(
        err(&conn, "SELECT ml_unlock(NULL)"),
        "ml_unlock: argument 'passphrase' must be text, got NULL"
    );
}

#[test]
fn survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.db");
    let conn = unlocked(Some(&path), "pw");
    make_messages(&conn, 90);
    train_spam(&conn);
    let before = predictions(&conn);
    drop(conn);
    let conn = unlocked(Some(&path), "pw");
    assert_eq!(predictions(&conn), before);
}
