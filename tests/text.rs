//! The `text` kind through SQL: train, predict, probabilities, explanations, evaluation and the
//! error text of bad input.

mod common;

use common::{err, int, make_messages, text, unlocked};
use serde_json::Value as Json;

fn trained() -> sqlml::rusqlite::Connection {
    let conn = unlocked(None, "pw");
    make_messages(&conn, 300);
    let report = text(
        &conn,
        "SELECT ml_train('spam', 'text', 'SELECT body, label FROM messages', 'label', json_object('ngrams', json_array(1, 2), 'alpha', 0.5))",
    );
    let report: Json = serde_json::from_str(&report).unwrap();
    assert_eq!(report["algorithm"], "multinomial_nb");
    assert!(report["metrics"]["accuracy"].as_f64().unwrap() > 0.9, "{report}");
    assert_eq!(report["options"]["ngrams"], serde_json::json!([1, 2]));
    conn
}

#[test]
fn predicts_probabilities_and_explains() {
    let conn = trained();
    assert_eq!(text(&conn, "SELECT ml_predict('spam', 'win a free prize now')"), "spam");
    assert_eq!(text(&conn, "SELECT ml_predict('spam', 'see you at lunch tomorrow')"), "ham");
    let p: Json = serde_json::from_str(&text(&conn, "SELECT ml_predict_proba('spam', 'free cash')")).unwrap();
    let total: f64 = p.as_object().unwrap().values().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9 && p["spam"].as_f64().unwrap() > 0.5, "{p}");
    let e: Json = serde_json::from_str(&text(&conn, "SELECT ml_explain('spam', 'free cash prize')")).unwrap();
    let first = &e.as_array().unwrap()[0];
    let spam_terms = ["free", "cash", "prize", "free cash", "cash prize"];
    assert!(spam_terms.iter().any(|t| first["token"] == *t), "{e}");
    assert!(first["contribution"].as_f64().unwrap() > 0.0, "{e}");
    // NULL text gets the prior's answer (two thirds of the messages are ham).
    assert_eq!(text(&conn, "SELECT ml_predict('spam', NULL)"), "ham");
    let rows = int(&conn, "SELECT count(*) FROM messages WHERE ml_predict('spam', body) = label");
    assert!(rows > 280, "{rows}");
}

#[test]
fn evaluates_a_source() {
    let conn = trained();
    let m: Json = serde_json::from_str(&text(&conn, "SELECT ml_evaluate('spam', 'messages')")).unwrap();
    assert_eq!(m["rows"], 300);
    assert!(m["per_class"]["spam"]["recall"].as_f64().unwrap() > 0.9, "{m}");
}

#[test]
fn bad_input_errors() {
    let conn = trained();
    assert_eq!(
        err(&conn, "SELECT ml_predict('spam', x'00ff')"),
        "ml_predict: argument 'text' must be text, got blob"
    );
    assert_eq!(
        err(&conn, "SELECT ml_predict('spam', 'a', 'b')"),
        "ml_predict: a text model takes 1 argument (the text), got 2"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('x', 'text', 'messages', 'label', json_object('ngrams', json_array(3, 1)))"
        ),
        "ml_train: option 'ngrams' must be [min, max] with 1 <= min <= max <= 5 (or one number n for [1, n]), got [3,1]"
    );
    assert_eq!(
        err(
            &conn,
            "SELECT ml_train('x', 'text', 'SELECT id, body, body AS copy, label FROM messages', 'label')"
        ),
        "ml_train: the source has several columns besides the target 'label' ('id', 'body', 'copy'); choose the text column with the option 'text'"
    );
    assert_eq!(
        err(&conn, "SELECT ml_train('x', 'text', 'messages', 'label', json_object('text', 'bdy'))"),
        "ml_train: option 'text' 'bdy' is not a column of the source (columns: id, body, label)"
    );
}

/// `language: 'auto'` picks the training texts' language, stems with it, and says so.
#[test]
fn auto_language_detects_and_stems() {
    let conn = unlocked(None, "pw");
    conn.execute_batch("CREATE TABLE avis(texte TEXT, note TEXT)").unwrap();
    let good =
        ["Les chambres étaient propres et le personnel très aimable", "Nous avons adoré le petit déjeuner"];
    let bad = [
        "Le service était lent et les chambres sentaient mauvais",
        "Nous ne reviendrons jamais dans cet hôtel",
    ];
    for i in 0..40 {
        let (t, n) = if i % 2 == 0 { (good[i / 2 % 2], "bon") } else { (bad[i / 2 % 2], "mauvais") };
        conn.execute("INSERT INTO avis VALUES (?1, ?2)", [t, n]).unwrap();
    }
    let report: Json = serde_json::from_str(&text(
        &conn,
        "SELECT ml_train('avis', 'text', 'avis', 'note', json_object('language', 'auto', 'stem', 1, 'test_size', 0))",
    ))
    .unwrap();
    assert_eq!(report["options"]["language"], "fr", "{report}");
    assert_eq!(report["language_detected"]["detected"], "fra", "{report}");
    // The French stemmer joins "chambre" and "chambres".
    let e = text(&conn, "SELECT ml_explain('avis', 'chambre propre')");
    assert!(e.contains("\"chambr\""), "{e}");
    assert_eq!(text(&conn, "SELECT ml_predict('avis', 'le personnel était aimable')"), "bon");
}
