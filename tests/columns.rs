//! Real tables have columns a training does not use: an attachment held as a blob, a notes
//! column of numbers and text. `ml_train` reads only the columns its options name (`text`;
//! `user`, `item` or the first two besides the target; `features` or `exclude`) and the
//! target, and `ml_evaluate` only those the model scores, so such a column neither fails the
//! call nor takes memory, and the result is the one a SELECT of the used columns gives.

mod common;
use common::*;
use serde_json::json;
use sqlml::rusqlite::Connection;

/// `tickets(id, body, label, attachment, notes, user_id, item)`: `messages` with a blob
/// column, a column of numbers and text, and ids for a recommender. (`id` is a number of each
/// row, but not a row number, which a classifier would drop as an identifier.)
fn tickets() -> Connection {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 240);
    conn.execute_batch(
        "CREATE TABLE tickets AS
           SELECT id * 7 % 1009 AS id, body, label, randomblob(8) AS attachment,
                  CASE WHEN id % 3 THEN 'n/a' ELSE id END AS notes,
                  id % 17 AS user_id, id % 11 AS item, (id % 5) + 1 AS stars
           FROM messages;",
    )
    .unwrap();
    conn
}

/// The predictions of model `name` for every ticket (`ml_predict_proba`'s JSON of a classifier,
/// `ml_predict`'s rating of a recommender, as text), `args` the prediction's arguments after
/// the name.
fn predictions(conn: &Connection, name: &str, args: &str) -> Vec<String> {
    let f = if name.starts_with('r') { "ml_predict" } else { "ml_predict_proba" };
    let sql = format!("SELECT CAST({f}('{name}', {args}) AS TEXT) FROM tickets ORDER BY id");
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

#[test]
fn columns_the_options_do_not_name_are_not_read() {
    let conn = tickets();
    // Text, with the option `text`: the same model as from a SELECT of its two columns.
    let opts = "json_object('text', 'body', 'seed', 3)";
    text(&conn, &format!("SELECT ml_train('t', 'text', 'tickets', 'label', {opts})"));
    text(
        &conn,
        &format!("SELECT ml_train('t_sel', 'text', 'SELECT body, label FROM tickets', 'label', {opts})"),
    );
    assert!(predictions(&conn, "t", "body") == predictions(&conn, "t_sel", "body"));
    // A recommender: the first two columns besides the target, or the named ones.
    for (name, source, opts) in [
        ("r", "SELECT user_id, item, stars, attachment FROM tickets", "json_object('seed', 3)"),
        ("r_named", "tickets", "json_object('user', 'user_id', 'item', 'item', 'seed', 3)"),
        ("r_sel", "SELECT user_id, item, stars FROM tickets", "json_object('seed', 3)"),
    ] {
        text(&conn, &format!("SELECT ml_train('{name}', 'recommender', '{source}', 'stars', {opts})"));
    }
    // Only the user named: the item is the second column besides the target, as when every
    // column is read (here `body`), not the second of those read.
    text(
        &conn,
        "SELECT ml_train('r_user', 'recommender', 'tickets', 'stars', json_object('user', 'user_id', 'seed', 3))",
    );
    text(
        &conn,
        "SELECT ml_train('r_user_sel', 'recommender', 'SELECT user_id, body, stars FROM tickets', 'stars', json_object('seed', 3))",
    );
    assert!(
        predictions(&conn, "r_user", "user_id, body") == predictions(&conn, "r_user_sel", "user_id, body")
    );
    let r = predictions(&conn, "r_sel", "user_id, item");
    assert!(predictions(&conn, "r", "user_id, item") == r);
    assert!(predictions(&conn, "r_named", "user_id, item") == r);
    // A classifier with `features`, or with `exclude` (the excluded columns stay names that a
    // JSON argument may carry, as before: they are ignored).
    let small = "'hidden_layers', json_array(4), 'epochs', 2, 'seed', 3";
    text(
        &conn,
        &format!(
            "SELECT ml_train('c', 'classifier', 'tickets', 'label', json_object('features', json_array('id', 'body'), {small}))"
        ),
    );
    text(
        &conn,
        &format!(
            "SELECT ml_train('c_ex', 'classifier', 'SELECT id, body, label, attachment, notes FROM tickets', 'label', \
             json_object('exclude', json_array('attachment', 'NOTES'), {small}))"
        ),
    );
    // (The same selection each: columns named by `features` are kept where the others may be
    // dropped.)
    text(
        &conn,
        &format!(
            "SELECT ml_train('c_sel', 'classifier', 'SELECT id, body, label FROM tickets', 'label', json_object('features', json_array('id', 'body'), {small}))"
        ),
    );
    text(
        &conn,
        &format!(
            "SELECT ml_train('c_all', 'classifier', 'SELECT id, body, label FROM tickets', 'label', json_object({small}))"
        ),
    );
    assert!(predictions(&conn, "c", "id, body") == predictions(&conn, "c_sel", "id, body"));
    let c = predictions(&conn, "c_all", "id, body");
    assert!(predictions(&conn, "c_ex", "id, body") == c);
    let with_unread = "json_object('id', id, 'body', body, 'attachment', 'x', 'notes', 1)";
    assert!(predictions(&conn, "c_ex", with_unread) == c);
    // `ml_evaluate` reads only the columns the model scores, and measures what it measures on
    // a SELECT of them.
    for (name, columns) in
        [("t", "body, label"), ("r_named", "user_id, item, stars"), ("c_ex", "id, body, label")]
    {
        let metrics = text(&conn, &format!("SELECT ml_evaluate('{name}', 'tickets')"));
        let selected = text(&conn, &format!("SELECT ml_evaluate('{name}', 'SELECT {columns} FROM tickets')"));
        assert_eq!(metrics, selected, "{name}");
    }
    // (A column the model scores that the source lacks: every column is read, and the error
    // is the blob's, met first.)
    let e = err(&conn, "SELECT ml_evaluate('t', 'SELECT body AS text, label, attachment FROM tickets')");
    assert!(e.contains("holds a blob"), "{e}");
    // A name the options give that is not a column: every column is read (those that cannot
    // be read set aside), and the error is the fit's, listing every column of the source.
    let e = err(&conn, "SELECT ml_train('x', 'text', 'tickets', 'label', json_object('text', 'nope'))");
    assert_eq!(
        e,
        "ml_train: option 'text' 'nope' is not a column of the source (columns: id, body, label, attachment, \
         notes, user_id, item, stars)"
    );
    let e = err(
        &conn,
        "SELECT ml_train('x', 'text', 'SELECT body, label FROM tickets', 'label', json_object('text', 'nope'))",
    );
    assert_eq!(e, "ml_train: option 'text' 'nope' is not a column of the source (columns: body, label)");
}

/// The rows of `ml_predict_table(name, source, options)` as text (key, prediction, probability).
fn predicted_table(conn: &Connection, name: &str, source: &str, options: &str) -> Vec<String> {
    let sql = format!(
        "SELECT CAST(key AS TEXT) || '|' || CAST(prediction AS TEXT) || '|' || coalesce(probability, '')          FROM ml_predict_table('{name}', '{source}'{options})"
    );
    let mut stmt = conn.prepare(&sql).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
}

/// `ml_predict_table` reads only the columns a model predicts from, and the key: a text model
/// or a recommender predicts a table with a blob and a mixed column as it predicts a SELECT of
/// its inputs (a classifier already read its features only).
#[test]
fn predicting_a_table_reads_only_the_models_inputs() {
    let conn = tickets();
    text(&conn, "SELECT ml_train('t', 'text', 'tickets', 'label', json_object('text', 'body', 'seed', 3))");
    text(
        &conn,
        "SELECT ml_train('r', 'recommender', 'tickets', 'stars', json_object('user', 'user_id', 'item', 'item', 'seed', 3))",
    );
    for (name, inputs) in [("t", "body"), ("r", "user_id, item")] {
        let whole = predicted_table(&conn, name, "tickets", "");
        assert_eq!(whole.len(), 240, "{name}");
        assert_eq!(
            whole,
            predicted_table(&conn, name, &format!("SELECT {inputs} FROM tickets"), ""),
            "{name}"
        );
        // The key, read beside them, whatever its place among the columns.
        let keyed = predicted_table(&conn, name, "tickets", ", json_object('key', 'id')");
        let selected = predicted_table(
            &conn,
            name,
            &format!("SELECT {inputs}, id FROM tickets"),
            ", json_object('key', 'ID')",
        );
        assert_eq!(keyed, selected, "{name}");
        assert!(keyed[0].starts_with("7|"), "{}", keyed[0]);
        // A blob chosen as the key is still an error.
        let e = err(
            &conn,
            &format!("SELECT * FROM ml_predict_table('{name}', 'tickets', json_object('key', 'attachment'))"),
        );
        assert!(e.contains("column 'attachment' holds a blob in row 1"), "{e}");
    }
}

/// A source with two columns of a name the model uses is refused by `ml_predict_table` and
/// `ml_evaluate`, as by `ml_train` (which of the two is meant is unknown).
#[test]
fn a_column_named_twice_is_refused_where_it_is_used() {
    let conn = tickets();
    text(&conn, "SELECT ml_train('t', 'text', 'tickets', 'label', json_object('text', 'body', 'seed', 3))");
    let small = "'hidden_layers', json_array(4), 'epochs', 2, 'seed', 3";
    text(
        &conn,
        &format!(
            "SELECT ml_train('c', 'classifier', 'SELECT id, body, label FROM tickets', 'label', json_object({small}))"
        ),
    );
    let twice = |column: &str| {
        format!("the source has two columns named '{column}'; name each column once (AS in a SELECT)")
    };
    for (sql, column) in [
        ("SELECT * FROM ml_predict_table('t', 'SELECT body, label AS BODY FROM tickets')", "body"),
        ("SELECT * FROM ml_predict_table('c', 'SELECT id, body, 7 AS Id FROM tickets')", "id"),
        (
            "SELECT * FROM ml_predict_table('t', 'SELECT body, id, id FROM tickets', json_object('key', 'id'))",
            "id",
        ),
    ] {
        assert_eq!(err(&conn, sql), format!("ml_predict_table: {}", twice(column)), "{sql}");
    }
    for (sql, column) in [
        ("SELECT ml_evaluate('t', 'SELECT body, label, body FROM tickets')", "body"),
        ("SELECT ml_evaluate('c', 'SELECT id, body, label, label FROM tickets')", "label"),
    ] {
        assert_eq!(err(&conn, sql), format!("ml_evaluate: {}", twice(column)), "{sql}");
    }
    // A repeated name the model does not use is no matter.
    assert_eq!(predicted_table(&conn, "t", "SELECT body, id, id FROM tickets", "").len(), 240);
}

/// A training that reads every column sets aside a column it cannot read (a blob, numbers mixed
/// with text): the call fails on it only if it uses it, with its error, and otherwise trains
/// what a SELECT without it trains.
#[test]
fn columns_that_cannot_be_read_are_set_aside_until_used() {
    let conn = tickets();
    let blob = "column 'attachment' holds a blob in row 1; sqlml reads numbers and text only";
    // A text model finds its one text column beside a blob and numbers.
    text(
        &conn,
        "SELECT ml_train('t', 'text', 'SELECT id, body, label, attachment, user_id FROM tickets', 'label', \
         json_object('seed', 3))",
    );
    text(
        &conn,
        "SELECT ml_train('t_sel', 'text', 'SELECT body, label FROM tickets', 'label', json_object('seed', 3))",
    );
    assert!(predictions(&conn, "t", "body") == predictions(&conn, "t_sel", "body"));
    // A column set aside that may be of text (text until a number came, or text that is not
    // UTF-8) is not passed over: which column is the text is then for the option to say.
    let several = "the source has several columns besides the target 'label'";
    let e = err(&conn, "SELECT ml_train('x', 'text', 'tickets', 'label')");
    assert!(e.contains(several) && e.contains("'notes'"), "{e}");
    conn.execute_batch(
        "CREATE TABLE titled AS SELECT id, CASE WHEN id % 2 THEN 'short title' ELSE 'other title' END AS title, \
           body, label FROM messages;
         UPDATE titled SET body = CAST(x'ff' AS TEXT) WHERE id = 200;",
    )
    .unwrap();
    let e = err(&conn, "SELECT ml_train('x', 'text', 'titled', 'label')");
    assert!(e.contains(several) && e.contains("'body'"), "{e}");
    let e = err(&conn, "SELECT ml_train('x', 'text', 'titled', 'label', json_object('text', 'body'))");
    assert_eq!(e, "ml_train: column 'body' holds text that is not valid UTF-8 in row 200");
    // Used, a column set aside is its error.
    for sql in [
        "SELECT ml_train('x', 'text', 'tickets', 'label', json_object('text', 'attachment'))",
        "SELECT ml_train('x', 'text', 'SELECT attachment, label FROM tickets', 'label')",
        "SELECT ml_train('x', 'recommender', 'SELECT attachment, user_id, item, stars FROM tickets', 'stars')",
        "SELECT ml_train('x', 'recommender', 'SELECT user_id, attachment, item, stars FROM tickets', 'stars', \
         json_object('user', 'user_id'))",
        "SELECT ml_train('x', 'classifier', 'tickets', 'label', json_object('features', json_array('id', 'attachment')))",
        "SELECT ml_train('x', 'classifier', 'SELECT id, attachment AS label FROM tickets', 'label')",
    ] {
        let e = err(&conn, sql);
        assert!(
            e.starts_with("ml_train: ") && e.ends_with(blob.split_once("'attachment'").unwrap().1),
            "{sql}: {e}"
        );
    }
    // A classifier of every column: a blob column is dropped (in the report, with why), one of
    // mixed values is an error that says how to leave it out.
    let small = "'hidden_layers', json_array(4), 'epochs', 2, 'seed', 3";
    let e =
        err(&conn, &format!("SELECT ml_train('x', 'classifier', 'tickets', 'label', json_object({small}))"));
    assert!(
        e.contains("column 'notes' mixes") && e.ends_with("(or leave it out with the option 'exclude')"),
        "{e}"
    );
    let report: serde_json::Value = serde_json::from_str(&text(
        &conn,
        &format!(
            "SELECT ml_train('c', 'classifier', 'tickets', 'label', json_object('exclude', json_array('notes'), {small}))"
        ),
    ))
    .unwrap();
    // (`body`, all distinct, is dropped as an identifier, as from a SELECT.)
    assert_eq!(report["dropped_columns"][0]["column"], "body", "{report}");
    assert_eq!(
        report["dropped_columns"][1],
        json!({"column": "attachment", "reason": "holds a blob in row 1; sqlml reads numbers and text only"}),
        "{report}"
    );
    // Its positional inputs are the table's columns, the blob among them (ignored).
    assert_eq!(
        report["columns"],
        json!(["id", "body", "attachment", "user_id", "item", "stars"]),
        "{report}"
    );
    text(
        &conn,
        &format!(
            "SELECT ml_train('c_sel', 'classifier', 'SELECT id, body, label, user_id, item, stars FROM tickets', \
             'label', json_object({small}))"
        ),
    );
    let by_name = "json_object('id', id, 'body', body, 'user_id', user_id, 'item', item, 'stars', stars)";
    let c = predictions(&conn, "c_sel", by_name);
    assert!(predictions(&conn, "c", by_name) == c);
    assert!(predictions(&conn, "c", "id, body, attachment, user_id, item, stars") == c);
    // A recommender's scoring reads whole (as its training does): a column it uses that cannot
    // be read is its error.
    text(
        &conn,
        "SELECT ml_train('r', 'recommender', 'tickets', 'stars', json_object('user', 'user_id', 'item', 'item'))",
    );
    let e = err(&conn, "SELECT ml_evaluate('r', 'SELECT attachment AS user_id, item, stars FROM tickets')");
    assert_eq!(e, format!("ml_evaluate: {}", blob.replace("'attachment'", "'user_id'")));
    // A blob column of the target's name is no input; two columns of one name are an error
    // that says so.
    let report: serde_json::Value = serde_json::from_str(&text(
        &conn,
        &format!(
            "SELECT ml_train('c2', 'classifier', 'SELECT randomblob(4) AS label, id, stars, label FROM tickets', \
             'label', json_object({small}))"
        ),
    ))
    .unwrap();
    assert_eq!(report["columns"], json!(["id", "stars"]), "{report}");
    let e = err(
        &conn,
        &format!(
            "SELECT ml_train('x', 'classifier', 'SELECT id, stars, 1 AS ID, label FROM tickets', 'label', json_object({small}))"
        ),
    );
    assert_eq!(e, "ml_train: the source has two columns named 'ID'; name each column once (AS in a SELECT)");
    // Reading every column to score still fails on a blob, and says how to leave it out.
    let e = err(&conn, "SELECT ml_evaluate('t', 'SELECT body AS text, label, attachment FROM tickets')");
    assert_eq!(
        e,
        format!("ml_evaluate: {blob} (leave such a column out: name the columns to use in a SELECT)")
    );
}

/// `activate: 'if_better'` scores the active version on the new training's held-out rows: the
/// columns it scores are read too, and only those.
#[test]
fn if_better_reads_the_active_versions_columns_too() {
    let conn = tickets();
    let if_better = "json_object('text', 'body', 'activate', 'if_better', 'seed', 3)";
    // No active version: the new training's columns (the blob is not read).
    let report = text(&conn, &format!("SELECT ml_train('t', 'text', 'tickets', 'label', {if_better})"));
    assert!(report.contains("\"reason\":\"no version was active\""), "{report}");
    // An active version of another text column: read too, and scored.
    conn.execute_batch("CREATE TABLE shouting AS SELECT *, upper(body) AS shout FROM tickets").unwrap();
    text(&conn, "SELECT ml_train('s', 'text', 'shouting', 'label', json_object('text', 'shout'))");
    let report = text(&conn, &format!("SELECT ml_train('s', 'text', 'shouting', 'label', {if_better})"));
    assert!(report.contains("\"active_version\":1") && report.contains("\"active\":"), "{report}");
    // The same decision and metrics as from a SELECT of the columns both use.
    text(
        &conn,
        "SELECT ml_train('s2', 'text', 'SELECT body, label, shout FROM shouting', 'label', json_object('text', 'shout'))",
    );
    let selected = text(
        &conn,
        &format!(
            "SELECT ml_train('s2', 'text', 'SELECT body, label, shout FROM shouting', 'label', {if_better})"
        ),
    );
    let activation = |r: &str| {
        let j: serde_json::Value = serde_json::from_str(r).unwrap();
        (j["activation"].clone(), j["metrics"].clone())
    };
    assert_eq!(activation(&report), activation(&selected));
    // An active version whose column this source holds as a blob: its scoring meets the blob.
    let report = text(
        &conn,
        &format!(
            "SELECT ml_train('s', 'text', 'SELECT body, label, randomblob(4) AS shout FROM tickets', 'label', {if_better})"
        ),
    );
    assert!(
        report.contains("could not be scored on the held-out rows: column 'shout' holds a blob in row 1"),
        "{report}"
    );
    // An active version whose column this source lacks: every column is read (the blob set
    // aside), the training made, and the active version, which cannot be scored, kept.
    let report = text(&conn, &format!("SELECT ml_train('s', 'text', 'tickets', 'label', {if_better})"));
    assert!(
        report.contains("\"activated\":false")
            && report
                .contains("could not be scored on the held-out rows: text column 'shout' is not a column"),
        "{report}"
    );
}

/// Another connection activates another version while `if_better`'s training reads its source
/// (the columns of the version active before were read): the version now active is not scored
/// on columns that were not read, and the report says why; the new version is kept inactive.
#[test]
fn if_better_does_not_score_a_version_activated_meanwhile_on_columns_not_read() {
    use sqlml::rusqlite::functions::FunctionFlags;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db");
    let conn = unlocked(Some(&path), "pw");
    conn.execute_batch("PRAGMA journal_mode = WAL;").unwrap();
    make_messages(&conn, 120);
    conn.execute_batch("CREATE TABLE t AS SELECT id, body, label, upper(body) AS shout FROM messages")
        .unwrap();
    text(&conn, "SELECT ml_train('s', 'text', 't', 'label', json_object('text', 'body'))");
    text(
        &conn,
        "SELECT ml_train('s', 'text', 't', 'label', json_object('text', 'shout', 'activate', 'never'))",
    );
    // The first row read activates version 2, from another connection (on another thread:
    // this one's sqlml calls are refused while ml_train runs).
    let fired = AtomicBool::new(false);
    let other = path.clone();
    conn.create_scalar_function("hook", 1, FunctionFlags::SQLITE_UTF8, move |ctx| {
        if !fired.swap(true, Ordering::SeqCst) {
            let other = other.clone();
            std::thread::spawn(move || {
                let b = unlocked(Some(&other), "pw");
                let _: i64 = b.query_row("SELECT ml_activate('s', 2)", [], |r| r.get(0)).unwrap();
            })
            .join()
            .unwrap();
        }
        ctx.get::<i64>(0)
    })
    .unwrap();
    let report = text(
        &conn,
        "SELECT ml_train('s', 'text', 'SELECT body, label, shout, hook(id) AS h FROM t', 'label', \
         json_object('text', 'body', 'activate', 'if_better'))",
    );
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let activation = &report["activation"];
    assert_eq!(
        (activation["activated"].clone(), activation["active_version"].clone()),
        (json!(false), json!(2))
    );
    let reason = activation["reason"].as_str().unwrap();
    assert!(reason.starts_with("the active version changed while training (to version 2)"), "{reason}");
    assert!(reason.contains("'shout'"), "{reason}");
    assert_eq!(int(&conn, "SELECT version FROM ml_models WHERE name = 's' AND active"), 2);
}
