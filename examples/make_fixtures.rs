//! Writes the stored-format fixture: a database holding one model of every kind and
//! algorithm, sealed with a fixed passphrase, and the predictions those models give.
//!
//! `tests/format.rs` opens the committed fixture and checks that this build still decodes
//! every model and predicts the same. Run this once per model format version, never to
//! "refresh" an existing fixture: the point of a fixture is that it was written by an older
//! build.
//!
//! ```sh
//! cargo run --example make_fixtures -- tests/fixtures/format-1.db
//! ```

use sqlml::Config;
use sqlml::rusqlite::{Connection, params};
use sqlml::store::crypto::KdfParams;

/// The fixture's passphrase (public on purpose: the fixture holds only generated data).
const PASSPHRASE: &str = "sqlml format fixture";

/// Every model of the fixture: name, kind, source, target, options.
pub const MODELS: &[(&str, &str, &str, &str, &str)] = &[
    ("text_multinomial", "text", "messages", "label", r#"{"seed": 1}"#),
    (
        "text_complement",
        "text",
        "messages",
        "label",
        r#"{"algorithm": "complement", "weighting": "tfidf", "seed": 1}"#,
    ),
    (
        "text_bernoulli",
        "text",
        "messages",
        "label",
        r#"{"algorithm": "bernoulli", "stopwords": true, "stem": true, "ngrams": 1}"#,
    ),
    ("text_bigrams", "text", "messages", "label", r#"{"cjk": "bigrams", "min_df": 2}"#),
    ("classifier", "classifier", "customers", "churned", r#"{"exclude": ["id"], "epochs": 20, "seed": 3}"#),
    ("svd", "recommender", "ratings", "rating", r#"{"algorithm": "svd", "seed": 5}"#),
    ("svdpp", "recommender", "ratings", "rating", r#"{"algorithm": "svdpp", "seed": 5}"#),
    ("als", "recommender", "ratings", "rating", r#"{"algorithm": "als", "seed": 5}"#),
];

/// The probe queries whose answers are recorded: (label, SQL returning one text value).
pub const PROBES: &[(&str, &str)] = &[
    ("text_multinomial", "SELECT ml_predict_proba('text_multinomial', 'free cash prize for you now')"),
    ("text_multinomial explain", "SELECT ml_explain('text_multinomial', 'see you at lunch')"),
    ("text_complement", "SELECT ml_predict_proba('text_complement', 'claim your free prize 免费')"),
    ("text_bernoulli", "SELECT ml_predict_proba('text_bernoulli', 'meeting tomorrow at home')"),
    ("text_bigrams", "SELECT ml_predict_proba('text_bigrams', '免费 现金 win cash')"),
    (
        "text top tokens",
        "SELECT group_concat(label || ':' || token, ' ') FROM ml_top_tokens('text_multinomial', 3)",
    ),
    ("classifier", "SELECT ml_predict_proba('classifier', 24, 'pro', 71.5, NULL)"),
    (
        "classifier json",
        "SELECT ml_predict_proba('classifier', json_object('tenure', 2, 'plan', 'basic', 'monthly', 20.0, 'region', 'north'))",
    ),
    ("classifier explain", "SELECT ml_explain('classifier', 12, 'basic', 30.0, 'south')"),
    ("svd", "SELECT ml_predict('svd', 3, 7)"),
    (
        "svd recommend",
        "SELECT group_concat(item || ':' || round(score, 9), ' ') FROM ml_recommend('svd', 3, 5)",
    ),
    ("svdpp", "SELECT ml_predict('svdpp', 4, 11)"),
    (
        "svdpp similar",
        "SELECT group_concat(item || ':' || round(similarity, 9), ' ') FROM ml_similar_items('svdpp', 11, 4)",
    ),
    (
        "als recommend",
        "SELECT group_concat(item || ':' || round(score, 9), ' ') FROM ml_recommend('als', 5, 5)",
    ),
];

fn config() -> Config {
    Config { kdf: KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 }, ..Config::default() }
}

/// Deterministic data, written by SQL alone so it does not depend on this build.
const DATA: &str = "
CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT, label TEXT);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 239)
INSERT INTO messages(body, label)
SELECT CASE WHEN i % 3 = 0
  THEN 'win free cash ' || (i * 7 % 13) || ' prize claim now 免费' || substr('奖金现金优惠', 1 + i % 4, 2)
  ELSE 'see you at lunch ' || (i * 5 % 11) || ' meeting at home tomorrow 明天' || substr('午饭会议回家', 1 + i % 4, 2) END,
  CASE WHEN i % 3 = 0 THEN 'spam' ELSE 'ham' END FROM n;
CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, monthly REAL, region TEXT, churned INTEGER);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 399)
INSERT INTO customers(tenure, plan, monthly, region, churned)
SELECT i % 60, CASE i % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'pro' ELSE 'max' END, 20 + (i * 37 % 80),
  CASE WHEN i % 7 = 0 THEN NULL WHEN i % 2 = 0 THEN 'north' ELSE 'south' END,
  CASE WHEN (i % 60) < 12 AND (i * 37 % 80) > 30 THEN 1 ELSE 0 END FROM n;
CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 1499)
INSERT INTO ratings SELECT i % 40, (i * 7 + i / 40) % 60, 1 + ((i % 40) + ((i * 7 + i / 40) % 60) * 3) % 5 FROM n;
";

/// The one value `sql` returns, as text (reals in Rust's shortest round-trip form).
pub fn probe(conn: &Connection, sql: &str) -> sqlml::rusqlite::Result<String> {
    use sqlml::rusqlite::types::Value;
    Ok(match conn.query_row(sql, [], |r| r.get::<_, Value>(0))? {
        Value::Null => "NULL".into(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Text(t) => t,
        Value::Blob(b) => format!("blob of {} bytes", b.len()),
    })
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: make_fixtures OUT.db");
    let _ = std::fs::remove_file(&path);
    let conn = Connection::open(&path).unwrap();
    sqlml::register_with(&conn, config()).unwrap();
    conn.execute_batch(DATA).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock(?1)", [PASSPHRASE], |r| r.get(0)).unwrap();
    for (name, kind, source, target, options) in MODELS {
        let _: String = conn
            .query_row(
                "SELECT ml_train(?1, ?2, ?3, ?4, ?5)",
                params![name, kind, source, target, options],
                |r| r.get(0),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let mut answers = serde_json::Map::new();
    for (label, sql) in PROBES {
        let v = probe(&conn, sql).unwrap_or_else(|e| panic!("{label}: {e}"));
        answers.insert(label.to_string(), v.into());
    }
    conn.execute_batch("VACUUM").unwrap();
    let json = serde_json::to_string_pretty(&serde_json::Value::Object(answers)).unwrap();
    std::fs::write(format!("{}.json", path.trim_end_matches(".db")), json + "\n").unwrap();
    println!("wrote {path}");
}
