//! Trust boundaries (issue 10): sources that call sqlml, schema-borne calls, a damaged or
//! hostile key record, triggers and views on sqlml's tables, concurrent writers, and the size
//! of error messages. Each test states the attack and checks that it fails with a clear error
//! and that nothing is lost.

mod common;
use common::*;
use sqlml::rusqlite::functions::FunctionFlags;
use sqlml::rusqlite::{Connection, params};

/// A database with one text model `keep` (and the messages it was trained on).
fn with_model(path: Option<&std::path::Path>) -> Connection {
    let conn = unlocked(path, "pw");
    make_messages(&conn, 60);
    text(&conn, "SELECT ml_train('keep', 'text', 'messages', 'label', json_object('seed', 1))");
    conn
}

fn keep_predicts(conn: &Connection) {
    assert_eq!(text(conn, "SELECT ml_predict('keep', 'free cash prize now')"), "spam");
}

// ---- 1. No re-entrancy through a source ----

#[test]
fn a_source_cannot_drop_a_model() {
    let conn = with_model(None);
    let before = sqlml_state(&conn);
    let e = err(
        &conn,
        "SELECT ml_train('evil', 'text', 'select ml_drop(''keep'') as body, ''a'' as label union all select body, label from messages', 'label')",
    );
    assert_eq!(
        e,
        "ml_train: argument 'source' failed at row 1: ml_drop: refused: called while ml_train is running on this connection (a source, view, trigger or function that ml_train runs cannot call sqlml functions)"
    );
    assert_eq!(sqlml_state(&conn), before);
    keep_predicts(&conn);
}

#[test]
fn a_source_cannot_rekey() {
    let conn = with_model(None);
    let before = sqlml_state(&conn);
    let e = err(
        &conn,
        "SELECT ml_train('evil', 'text', 'select body, label, (select ml_rekey(''x'')) as k from messages', 'label')",
    );
    assert!(e.contains("ml_rekey: refused: called while ml_train is running"), "{e}");
    assert_eq!(sqlml_state(&conn), before);
    keep_predicts(&conn);
    // Nor unlock, activate, predict or list, from ml_evaluate's source either.
    for inner in [
        "ml_unlock(''y'')",
        "ml_activate(''keep'', 1)",
        "ml_predict(''keep'', body)",
        "(select count(*) from ml_top_tokens(''keep''))",
    ] {
        let e = err(
            &conn,
            &format!("SELECT ml_evaluate('keep', 'select body, label, {inner} as x from messages')"),
        );
        assert!(e.contains("refused: called while ml_evaluate is running"), "{inner}: {e}");
    }
    assert_eq!(sqlml_state(&conn), before);
}

#[test]
fn a_source_cannot_recurse() {
    let conn = with_model(None);
    // A source that reads its own text from a table and evaluates it again: unbounded
    // recursion (a stack overflow) before; one level deep now.
    conn.execute_batch("CREATE TABLE q(sql TEXT)").unwrap();
    conn.execute(
        "INSERT INTO q VALUES (?1)",
        ["SELECT body, label, (SELECT ml_evaluate('keep', sql) FROM q) AS x FROM messages"],
    )
    .unwrap();
    let e = err(&conn, "SELECT ml_evaluate('keep', (SELECT sql FROM q))");
    assert!(e.contains("ml_evaluate: refused: called while ml_evaluate is running"), "{e}");
    keep_predicts(&conn);
}

// ---- 2. Calls from the database schema ----

/// Builds a hostile file: the schema is written by a connection that has look-alike functions
/// of the same names and no key (as an attacker would, elsewhere), then the victim opens it
/// with sqlml, without unlocking yet.
fn hostile_file(dir: &tempfile::TempDir, ddl: &str) -> Connection {
    let path = dir.path().join("hostile.db");
    drop(with_model(Some(&path)));
    let attacker = Connection::open(&path).unwrap();
    for name in ["ml_drop", "ml_predict"] {
        attacker
            .create_scalar_function(
                name,
                -1,
                FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
                |_| Ok(0),
            )
            .unwrap();
    }
    attacker.execute_batch(ddl).unwrap();
    drop(attacker);
    open(Some(&path))
}

/// [`hostile_file`], unlocked by the victim.
fn hostile(dir: &tempfile::TempDir, ddl: &str) -> Connection {
    let conn = hostile_file(dir, ddl);
    let _: String = conn.query_row("SELECT ml_unlock('pw')", [], |r| r.get(0)).unwrap();
    conn
}

/// Everything sqlml keeps in the file at `path`, read by a connection without sqlml (which
/// parses any schema).
fn file_snapshot(path: &std::path::Path) -> Vec<String> {
    sqlml_state(&Connection::open(path).unwrap())
}

#[test]
fn schema_places_cannot_call_sqlml() {
    // Each place: the DDL of the file, then what the victim does.
    let cases: &[(&str, &str, &str)] = &[
        ("view", "CREATE VIEW v AS SELECT ml_drop('keep') AS x", "SELECT * FROM v"),
        (
            "trigger",
            "CREATE TABLE t(a); CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT ml_drop('keep'); END;",
            "INSERT INTO t VALUES (1)",
        ),
        ("check", "CREATE TABLE t(a CHECK (ml_drop('keep') >= 0))", "INSERT INTO t VALUES (1)"),
        (
            "check predict",
            "CREATE TABLE t(a CHECK (ml_predict('keep', a) IS NOT NULL))",
            "INSERT INTO t VALUES ('free cash')",
        ),
        ("default", "CREATE TABLE t(a, b DEFAULT (ml_drop('keep')))", "INSERT INTO t(a) VALUES (1)"),
        (
            "generated virtual",
            "CREATE TABLE t(a, b AS (ml_drop('keep')))",
            "INSERT INTO t(a) VALUES (1); SELECT b FROM t",
        ),
        (
            "generated stored",
            "CREATE TABLE t(a, b AS (ml_drop('keep')) STORED)",
            "INSERT INTO t(a) VALUES (1)",
        ),
        (
            "index expression",
            "CREATE TABLE t(a); CREATE INDEX i ON t(ml_drop('keep'))",
            "INSERT INTO t VALUES (1)",
        ),
        (
            "partial index",
            "CREATE TABLE t(a); CREATE INDEX i ON t(a) WHERE ml_drop('keep') > 0",
            "INSERT INTO t VALUES (1)",
        ),
        ("table-valued in view", "CREATE VIEW v AS SELECT * FROM ml_top_tokens('keep')", "SELECT * FROM v"),
    ];
    for (place, ddl, victim) in cases {
        let dir = tempfile::tempdir().unwrap();
        let conn = hostile_file(&dir, ddl);
        let path = dir.path().join("hostile.db");
        let before = file_snapshot(&path);
        // Newer SQLite refuses some places as soon as it parses the schema ("malformed
        // database schema (t) - unsafe use of ml_drop()"): then the unlock itself fails.
        let run = conn.execute_batch("SELECT ml_unlock('pw')").and_then(|_| conn.execute_batch(victim));
        let e = run.expect_err(place).to_string();
        eprintln!("{place}: {e}");
        assert!(
            e.contains("unsafe use of ml_")
                || e.contains("unsafe use of virtual table \"ml_")
                || e.contains("non-deterministic functions prohibited")
                || e.contains("refused: called from the database schema"),
            "{place}: {e}"
        );
        assert_eq!(file_snapshot(&path), before, "{place}");
        drop(conn);
        // The models are intact and still decrypt (with the hostile schema moved away).
        let plain = Connection::open(&path).unwrap();
        plain.execute_batch("PRAGMA writable_schema = ON; DELETE FROM sqlite_schema WHERE name IN ('t', 'v', 'i', 'tr'); PRAGMA writable_schema = OFF;").unwrap();
        drop(plain);
        keep_predicts(&unlocked(Some(&path), "pw"));
    }
}

#[test]
fn top_level_calls_still_work_beside_schema_places() {
    // The victim's own statement names the function: its own call runs; a trigger that
    // calls sqlml from another table stays refused.
    let dir = tempfile::tempdir().unwrap();
    let conn = hostile(
        &dir,
        "CREATE TABLE t(a); CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT ml_drop('keep'); END; CREATE TABLE out(x);",
    );
    conn.execute_batch("INSERT INTO out SELECT ml_predict('keep', body) FROM messages LIMIT 3").unwrap();
    assert_eq!(int(&conn, "SELECT count(*) FROM out"), 3);
    assert!(conn.execute_batch("INSERT INTO t VALUES (1)").is_err());
    keep_predicts(&conn);
}

// ---- 3. The key record is data from the file ----

fn meta_damage_is_refused(damage: &str, want: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let conn = with_model(Some(&path));
    let original: Vec<(String, sqlml::rusqlite::types::Value)> = {
        let mut s = conn.prepare("SELECT key, value FROM ml_meta ORDER BY key").unwrap();
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    drop(conn);
    let attacker = Connection::open(&path).unwrap();
    attacker.execute_batch(damage).unwrap();
    drop(attacker);
    let conn = open(Some(&path));
    let before = sqlml_state(&conn);
    let e = err(&conn, "SELECT ml_unlock('pw')");
    assert!(e.starts_with("ml_unlock: "), "{damage}: {e}");
    assert!(e.contains(want), "{damage}: {e}");
    assert!(!e.contains("key created"), "{damage}: {e}");
    assert_eq!(sqlml_state(&conn), before, "{damage}: something was written");
    // Training with a key from the environment is refused the same way, writing nothing.
    let e = err(&conn, "SELECT ml_predict('keep', 'free cash')");
    assert!(e.starts_with("ml_predict: "), "{e}");
    assert_eq!(sqlml_state(&conn), before, "{damage}: something was written");
    // Repairing the record brings every model back.
    if int(&conn, "SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = 'ml_meta'") == 1 {
        conn.execute_batch("DROP VIEW ml_meta").unwrap();
    }
    conn.execute_batch("CREATE TABLE IF NOT EXISTS ml_meta(key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID; DELETE FROM ml_meta")
        .unwrap();
    for (k, v) in &original {
        conn.execute("INSERT INTO ml_meta VALUES (?1, ?2)", params![k, v]).unwrap();
    }
    assert_eq!(text(&conn, "SELECT ml_unlock('pw')"), "unlocked");
    keep_predicts(&conn);
}

#[test]
fn kdf_costs_are_bounded_before_hashing() {
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = 4194304 WHERE key = 'kdf_m_cost'",
        "field 'kdf_m_cost' must be from 8 to 262144 KiB, got 4194304",
    );
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = 2147483648 WHERE key = 'kdf_t_cost'",
        "field 'kdf_t_cost' must be from 1 to 16 passes, got 2147483648",
    );
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = 0 WHERE key = 'kdf_p_cost'",
        "field 'kdf_p_cost' must be from 1 to 16 lanes, got 0",
    );
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = x'40' WHERE key = 'kdf_m_cost'",
        "field 'kdf_m_cost' must be an integer, got a blob",
    );
}

#[test]
fn a_damaged_key_record_never_creates_a_key() {
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = CAST(value AS TEXT) WHERE key = 'kdf_salt'",
        "the key record in ml_meta is damaged: field 'kdf_salt' must be a 16-byte blob, got text",
    );
    meta_damage_is_refused(
        "DELETE FROM ml_meta WHERE key = 'key_check'",
        "the key record in ml_meta is damaged: field 'key_check' is missing",
    );
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = substr(value, 1, 20) WHERE key = 'key_check'",
        "field 'key_check' must be a 55-byte blob, got 20 bytes",
    );
    meta_damage_is_refused(
        "DROP TABLE ml_meta",
        "ml_meta holds no key record but ml_models holds 1 model version(s)",
    );
    meta_damage_is_refused(
        "DELETE FROM ml_meta",
        "ml_meta holds no key record but ml_models holds 1 model version(s)",
    );
    meta_damage_is_refused(
        "UPDATE ml_meta SET value = 'scrypt' WHERE key = 'kdf'",
        "field 'kdf' must be 'argon2id', got 'scrypt'",
    );
    meta_damage_is_refused(
        "DROP TABLE ml_meta; CREATE VIEW ml_meta AS SELECT 'kdf' AS key, 'argon2id' AS value",
        "'ml_meta' in this database is a view, not sqlml's table",
    );
}

#[test]
fn a_new_database_still_gets_a_key() {
    let conn = open(None);
    assert_eq!(text(&conn, "SELECT ml_unlock('pw')"), "key created");
    assert_eq!(text(&conn, "SELECT ml_unlock('pw')"), "unlocked");
    assert_eq!(err(&conn, "SELECT ml_unlock('other')"), "ml_unlock: wrong passphrase for this database");
    // An ml_meta table with only foreign keys in it is no key record either.
    let conn = open(None);
    conn.execute_batch("CREATE TABLE ml_meta(key TEXT PRIMARY KEY, value ANY) WITHOUT ROWID; INSERT INTO ml_meta VALUES ('note', 'mine')")
        .unwrap();
    assert_eq!(text(&conn, "SELECT ml_unlock('pw')"), "key created");
    assert_eq!(text(&conn, "SELECT value FROM ml_meta WHERE key = 'note'"), "mine");
}

// ---- 7. sqlml's own tables cannot be turned against it ----

#[test]
fn triggers_on_sqlml_tables_are_refused() {
    for (table, ddl) in [
        ("ml_models", "CREATE TRIGGER swallow BEFORE INSERT ON ml_models BEGIN SELECT RAISE(IGNORE); END;"),
        ("ml_models", "CREATE TRIGGER keepit BEFORE DELETE ON ml_models BEGIN SELECT RAISE(IGNORE); END;"),
        ("ml_meta", "CREATE TRIGGER m AFTER UPDATE ON ml_meta BEGIN DELETE FROM ml_models; END;"),
        (
            "ml_training_log",
            "CREATE TRIGGER l AFTER INSERT ON ml_training_log BEGIN DELETE FROM ml_models; END;",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let conn = hostile(&dir, ddl);
        let before = sqlml_state(&conn);
        let trigger = ddl.split_whitespace().nth(2).unwrap();
        for call in [
            "SELECT ml_train('keep', 'text', 'messages', 'label')",
            "SELECT ml_train('other', 'text', 'messages', 'label')",
            "SELECT ml_drop('keep', 1)",
            "SELECT ml_activate('keep', 1)",
            "SELECT ml_rekey('new')",
        ] {
            let e = err(&conn, call);
            assert!(
                e.contains(&format!("refusing to write: sqlml's tables carry triggers that could change what is written ('{trigger}' on {table})")),
                "{call}: {e}"
            );
            assert_eq!(sqlml_state(&conn), before, "{call}");
        }
        keep_predicts(&conn);
    }
}

#[test]
fn ml_models_that_is_not_sqlml_s_table_is_refused() {
    // A view in its place.
    let dir = tempfile::tempdir().unwrap();
    let conn = hostile_file(
        &dir,
        "ALTER TABLE ml_models RENAME TO real_models; CREATE VIEW ml_models AS SELECT * FROM real_models;",
    );
    let e = err(&conn, "SELECT ml_unlock('pw')");
    assert!(e.contains("'ml_models' in this database is a view, not sqlml's table"), "{e}");
    let e = err(&conn, "SELECT ml_train('other', 'text', 'messages', 'label')");
    assert!(e.contains("'ml_models' in this database is a view, not sqlml's table"), "{e}");
    let e = err(&conn, "SELECT ml_predict('keep', 'x')");
    assert!(e.contains("'ml_models' in this database is a view"), "{e}");
    // A table whose constraints replace other rows on insert: the write is verified.
    let dir = tempfile::tempdir().unwrap();
    let conn = hostile(
        &dir,
        "CREATE TABLE x AS SELECT * FROM ml_models; DROP TABLE ml_models;
         CREATE TABLE ml_models(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version INTEGER NOT NULL,
           kind TEXT NOT NULL UNIQUE ON CONFLICT REPLACE, algorithm TEXT NOT NULL, created_at TEXT NOT NULL,
           rows INTEGER NOT NULL, params TEXT NOT NULL, metrics TEXT, active INTEGER NOT NULL DEFAULT 0,
           size INTEGER NOT NULL, model BLOB NOT NULL);
         INSERT INTO ml_models SELECT * FROM x; DROP TABLE x;",
    );
    let before = sqlml_state(&conn);
    let e = err(&conn, "SELECT ml_train('other', 'text', 'messages', 'label')");
    assert!(e.contains("the new model row could not be verified after the insert"), "{e}");
    assert_eq!(sqlml_state(&conn), before);
    // A model large enough to be sealed on a second thread while the row is written fails
    // the same way, and changes nothing either.
    // (The first recommender is stored: the table replaces rows of the same kind.)
    conn.execute_batch(LARGE_RATINGS).unwrap();
    text(&conn, LARGE_TRAIN);
    let before = sqlml_state(&conn);
    let e = err(&conn, LARGE_TRAIN);
    assert!(e.contains("the new model row could not be verified after the insert"), "{e}");
    assert_eq!(sqlml_state(&conn), before);
    keep_predicts(&conn);
}

/// Ratings whose recommender is a blob of more than 1 MB (3,000 items of 100 factors): one
/// the store seals on a second thread while it deactivates the previous version and inserts
/// the new row.
const LARGE_RATINGS: &str =
    "CREATE TABLE ratings AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999)
     SELECT i / 150 AS user, (i * 7) % 3000 AS item, 1 + (i * 13) % 5 AS rating FROM n;";
const LARGE_TRAIN: &str =
    "SELECT ml_train('big', 'recommender', 'ratings', 'rating', json_object('test_size', 0, 'epochs', 2))";

#[test]
fn a_large_model_is_stored_whole_and_replaces_the_active_one() {
    let conn = with_model(None);
    conn.execute_batch(LARGE_RATINGS).unwrap();
    let first = text(&conn, LARGE_TRAIN);
    let again = text(&conn, LARGE_TRAIN);
    assert!(first.contains("\"version\":1") && again.contains("\"version\":2"), "{first}\n{again}");
    let size: i64 = conn
        .query_row("SELECT size FROM ml_models WHERE name = 'big' AND version = 2", [], |r| r.get(0))
        .unwrap();
    assert!(size > 1 << 20, "{size} bytes: not large enough to be sealed aside");
    let active: Vec<(i64, i64)> = conn
        .prepare("SELECT version, active FROM ml_models WHERE name = 'big' ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(active, [(1, 0), (2, 1)]);
    // Both versions decrypt and, trained alike, predict alike.
    let predict = || -> f64 { conn.query_row("SELECT ml_predict('big', 3, 17)", [], |r| r.get(0)).unwrap() };
    let second = predict();
    let _: i64 = conn.query_row("SELECT ml_activate('big', 1)", [], |r| r.get(0)).unwrap();
    assert_eq!(predict(), second);
    keep_predicts(&conn);
}

// ---- 8. Concurrent writers wait instead of failing ----

#[test]
fn concurrent_trainings_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    {
        let conn = open(Some(&path));
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        make_messages(&conn, 200);
    }
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let path = path.clone();
            std::thread::spawn(move || {
                let conn = open(Some(&path));
                conn.busy_timeout(std::time::Duration::from_secs(20)).unwrap();
                // Every writer unlocks the fresh database at the same time: one creates the
                // key, the others find it.
                let _: String = conn.query_row("SELECT ml_unlock('pw')", [], |r| r.get(0)).unwrap();
                (0..4)
                    .map(|i| {
                        conn.query_row(
                            "SELECT ml_train(?1, 'text', 'messages', 'label', json_object('seed', ?2))",
                            params![format!("m{}", i % 2), w * 10 + i],
                            |r| r.get::<_, String>(0),
                        )
                        .map_err(|e| e.to_string())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let reader = {
        let path = path.clone();
        std::thread::spawn(move || {
            let conn = open(Some(&path));
            conn.busy_timeout(std::time::Duration::from_secs(20)).unwrap();
            let mut ok = 0;
            let started = std::time::Instant::now();
            while started.elapsed() < std::time::Duration::from_millis(1500) {
                match conn.query_row("SELECT ml_unlock('pw'), ml_predict('m0', 'free cash prize')", [], |r| {
                    r.get::<_, String>(1)
                }) {
                    Ok(_) => ok += 1,
                    Err(e)
                        if e.to_string().contains("no model named") || e.to_string().contains("no ml_") => {}
                    Err(e) if e.to_string().contains("no key") => {}
                    Err(e) => panic!("reader: {e}"),
                }
            }
            ok
        })
    };
    for w in writers {
        for r in w.join().unwrap() {
            r.unwrap();
        }
    }
    reader.join().unwrap();
    let conn = unlocked(Some(&path), "pw");
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models"), 12);
    assert_eq!(int(&conn, "SELECT max(version) FROM ml_models WHERE name = 'm0'"), 6);
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models WHERE active = 1"), 2);
}

#[test]
fn a_write_inside_a_writing_statement_is_refused_cleanly() {
    let conn = with_model(None);
    let before = sqlml_state(&conn);
    let e = err(&conn, "CREATE TABLE r AS SELECT ml_train('keep', 'text', 'messages', 'label') AS report");
    assert_eq!(
        e,
        "ml_train: cannot change sqlml's tables from inside a statement that itself writes (such as CREATE TABLE ... AS SELECT or INSERT ... SELECT); run the call as a plain SELECT, then store its result"
    );
    assert_eq!(sqlml_state(&conn), before);
    // Reading inside a writing statement is fine.
    conn.execute_batch("CREATE TABLE p AS SELECT ml_predict('keep', body) AS y FROM messages").unwrap();
    assert_eq!(int(&conn, "SELECT count(*) FROM p"), 60);
}

// ---- 9. Errors stay small ----

#[test]
fn errors_quote_little_of_huge_arguments() {
    let conn = with_model(None);
    let huge = "x".repeat(10 << 20);
    for sql in [
        "SELECT ml_train('m', 'text', ?1, 'label')",
        "SELECT ml_predict(?1, 'text')",
        "SELECT ml_drop(?1)",
        "SELECT ml_evaluate('keep', ?1)",
    ] {
        let e = conn.query_row(sql, [&huge], |r| r.get::<_, String>(0)).unwrap_err().to_string();
        assert!(e.len() < 1000, "{sql}: {} bytes: {}", e.len(), &e[..300]);
        assert!(e.contains("xxxx"), "{sql}: {e}");
    }
    // A name too long to store is refused before the source is read or a model fitted.
    let long_name = "n".repeat(256);
    let e = conn
        .query_row("SELECT ml_train(?1, 'text', 'no_such_table', 'label')", [&long_name], |r| {
            r.get::<_, String>(0)
        })
        .unwrap_err()
        .to_string();
    assert_eq!(e, "ml_train: argument 'name' must be at most 255 bytes, got 256 bytes");
    let select = format!("SELECT 1 AS a WHERE '{huge}' = ''");
    let e = conn
        .query_row("SELECT ml_train('m', 'text', ?1, 'a')", [&select], |r| r.get::<_, String>(0))
        .unwrap_err()
        .to_string();
    assert!(e.len() < 1000 && e.contains("has no rows"), "{} bytes", e.len());
}

/// Registers (once) a copy of the default VFS named like dqlite's (`dqlite-...`).
fn dqlite_like_vfs() -> &'static str {
    use sqlml::rusqlite::ffi;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the default VFS is copied field by field (its methods find their state
        // through the copy's own fields) and the copy, like its name, lives forever.
        unsafe {
            let default = ffi::sqlite3_vfs_find(std::ptr::null());
            assert!(!default.is_null());
            let copy: &'static mut ffi::sqlite3_vfs = Box::leak(Box::new(std::ptr::read(default)));
            copy.zName = c"dqlite-test".as_ptr();
            copy.pNext = std::ptr::null_mut();
            assert_eq!(ffi::sqlite3_vfs_register(copy, 0), ffi::SQLITE_OK);
        }
    });
    "dqlite-test"
}

#[test]
fn on_dqlite_write_side_calls_need_a_transaction() {
    use sqlml::rusqlite::OpenFlags;
    let dir = tempfile::tempdir().unwrap();
    let conn = Connection::open_with_flags_and_vfs(
        dir.path().join("d.db"),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        dqlite_like_vfs(),
    )
    .unwrap();
    sqlml::register_with(&conn, test_config()).unwrap();
    make_messages(&conn, 60);
    let refused = "on dqlite, call write-side functions inside BEGIN ... COMMIT";
    let e = err(&conn, "SELECT ml_unlock('pw')");
    assert!(e.starts_with(&format!("ml_unlock: {refused}")), "{e}");
    assert_eq!(int(&conn, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'ml_%'"), 0);
    conn.execute_batch("BEGIN; SELECT ml_unlock('pw'); COMMIT;").unwrap();
    let e = err(&conn, "SELECT ml_train('m', 'text', 'messages', 'label')");
    assert!(e.starts_with(&format!("ml_train: {refused}")), "{e}");
    conn.execute_batch("BEGIN; SELECT ml_train('m', 'text', 'messages', 'label'); COMMIT;").unwrap();
    assert_eq!(text(&conn, "SELECT ml_predict('m', 'free cash prize')"), "spam");
    assert!(err(&conn, "SELECT ml_drop('m')").contains(refused));
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models"), 1);
}

// ---- Found by the fuzzers ----

#[test]
fn a_row_id_reused_after_a_rollback_does_not_serve_the_cached_model() {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 60);
    conn.execute_batch("CREATE TABLE ratings(user, item, rating); INSERT INTO ratings VALUES (1,1,5),(1,2,3),(2,1,4),(2,3,2),(3,2,1);")
        .unwrap();
    conn.execute_batch("BEGIN").unwrap();
    text(&conn, "SELECT ml_train('a', 'text', 'messages', 'label', json_object('test_size', 0))");
    text(&conn, "SELECT ml_predict('a', 'free cash')");
    conn.execute_batch("ROLLBACK").unwrap();
    text(&conn, "SELECT ml_train('b', 'recommender', 'ratings', 'rating', json_object('test_size', 0))");
    let r: f64 = conn.query_row("SELECT ml_predict('b', 1, 2)", [], |r| r.get(0)).unwrap();
    assert!((1.0..=5.0).contains(&r), "{r}");
    assert!(err(&conn, "SELECT * FROM ml_top_tokens('b', 2)").contains("is a recommender model"));
}

#[test]
fn a_rolled_back_rekey_keeps_the_connection_unlocked() {
    let conn = with_model(None);
    conn.execute_batch("BEGIN; SELECT ml_rekey('new'); ROLLBACK;").unwrap();
    keep_predicts(&conn);
    assert_eq!(err(&conn, "SELECT ml_unlock('new')"), "ml_unlock: wrong passphrase for this database");
}

#[test]
fn a_collation_on_ml_models_cannot_merge_names() {
    let dir = tempfile::tempdir().unwrap();
    let conn = hostile(
        &dir,
        "CREATE TABLE x AS SELECT * FROM ml_models; DROP TABLE ml_models;
         CREATE TABLE ml_models(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL COLLATE NOCASE, version INTEGER NOT NULL,
           kind TEXT NOT NULL, algorithm TEXT NOT NULL, created_at TEXT NOT NULL, rows INTEGER NOT NULL, params TEXT NOT NULL,
           metrics TEXT, active INTEGER NOT NULL DEFAULT 0, size INTEGER NOT NULL, model BLOB NOT NULL);
         INSERT INTO ml_models SELECT * FROM x; DROP TABLE x;",
    );
    assert!(err(&conn, "SELECT ml_drop('KEEP')").contains("no model named 'KEEP'"));
    text(&conn, "SELECT ml_train('Keep', 'text', 'messages', 'label')");
    keep_predicts(&conn);
    assert_eq!(int(&conn, "SELECT count(*) FROM ml_models WHERE active = 1"), 2);
}

#[test]
fn a_check_is_not_let_through_by_a_string_or_comment_naming_the_function() {
    let dir = tempfile::tempdir().unwrap();
    // (On the bundled SQLite the unlock already fails: the schema does not parse with sqlml.)
    let conn = hostile_file(&dir, "CREATE TABLE notes(a CHECK (ml_predict('keep', a) = 'ham'))");
    let _ = conn.execute_batch("SELECT ml_unlock('pw')");
    for sql in [
        "INSERT INTO notes VALUES ('free cash, says the nightly ml_predict job')",
        "INSERT INTO notes VALUES ('free cash') -- ml_predict",
        "INSERT /* ml_predict */ INTO notes VALUES ('free cash')",
    ] {
        let e = conn.execute_batch(sql).unwrap_err().to_string();
        assert!(
            e.contains("unsafe use of ml_predict") || e.contains("refused: called from the database schema"),
            "{sql}: {e}"
        );
    }
}

#[test]
fn odd_text_in_arguments_keeps_a_clear_error() {
    let conn = with_model(None);
    let e = err(&conn, "SELECT ml_predict(CAST(x'6100' AS TEXT), 'x')");
    assert!(e.starts_with("ml_predict: no model named 'a\\0'"), "{e}");
    let e = conn
        .query_row("SELECT * FROM ml_similar_items('keep', CAST(x'ff' AS TEXT))", [], |_| Ok(()))
        .unwrap_err();
    assert_eq!(e.to_string(), "ml_similar_items: argument 'item' is not valid UTF-8");
}

/// An interrupt that lands on one of sqlml's own statements that do not write (its check of
/// the new row, its `COMMIT`, the `RELEASE` of its savepoint inside the caller's transaction)
/// used to leave the transaction open, holding the change of a call that reported an error
/// (found by the SQL fuzzer about once in 20,000 calls): SQLite then refuses every later
/// statement, the prepared `ROLLBACK` included. The update hook raises the interrupt on the
/// insert of the new model row. Nothing may change and no transaction stay open.
#[test]
fn an_interrupt_on_sqlml_s_own_statements_leaves_no_transaction_open() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    for in_transaction in [false, true] {
        let conn = with_model(None);
        let train =
            "SELECT ml_train('keep', 'text', 'messages', 'label', json_object('seed', 1, 'test_size', 0))";
        let before = snapshot(&conn);
        let seen = Arc::new(AtomicUsize::new(0));
        let (handle, counter) = (conn.get_interrupt_handle(), seen.clone());
        conn.update_hook(Some(move |action, _: &str, table: &str, _| {
            if table == "ml_models" && action == sqlml::rusqlite::hooks::Action::SQLITE_INSERT {
                counter.fetch_add(1, Ordering::SeqCst);
                handle.interrupt();
            }
        }))
        .unwrap();
        if in_transaction {
            conn.execute_batch("BEGIN").unwrap();
        }
        let e = conn.query_row(train, [], |r| r.get::<_, String>(0)).unwrap_err().to_string();
        conn.update_hook(None::<fn(_, &str, &str, _)>).unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 1, "the hook saw the insert");
        assert!(e.contains("interrupt"), "{e}");
        assert!(conn.is_autocommit(), "a transaction was left open (in_transaction: {in_transaction})");
        assert_eq!(snapshot(&conn), before);
        keep_predicts(&conn);
    }
}

/// The versions and log of every model, to compare before and after a failed call.
fn snapshot(conn: &Connection) -> Vec<String> {
    conn.prepare(
        "SELECT name || ' ' || version || ' ' || active || ' ' || hex(model) FROM ml_models
         UNION ALL SELECT name || ' ' || version || ' ' || epoch FROM ml_training_log ORDER BY 1",
    )
    .unwrap()
    .query_map([], |r| r.get(0))
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}
