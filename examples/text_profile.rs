//! Where the time of the Chinese text path goes, on ChnSentiCorp (all 7,765 reviews): the
//! tokenizer alone per `cjk` mode, jieba's `cut` alone on the raw CJK runs, and the SQL calls
//! (`ml_train` without a test split, `ml_predict` over the table). Each figure is the fastest
//! of `REPEATS` (default 5) runs, in CPU time of the thread (the machine is shared). One JSON object per line.
//!
//! ```text
//! cargo run --release --example text_profile [-- PHASE [REPEATS]]
//! ```
//!
//! PHASE (default `all`): `tokenize-words`, `tokenize-bigrams`, `tokenize-hashes-words`,
//! `tokenize-hashes-bigrams` (`Tokenizer::tokenize_hashes`, as prediction needs), `jieba`, `fit-words` (the
//! pieces of the fit in Rust), `fit-bigrams`, `train-words`,
//! `train-bigrams`, `predict-words`, `predict-bigrams` — run one phase alone under `perf record`.

mod text_data;

#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::cpu_ns;
use serde_json::json;
use sqlml::models::text::naive_bayes::{Algorithm, NaiveBayes, Priors};
use sqlml::models::text::tokenize::{Cjk, Language, Tokenizer, TokenizerConfig, Tokens};
use sqlml::models::text::vectorize::{VocabularyBuilder, Weighting};
use sqlml::rusqlite::{Connection, params};
use std::time::Instant;

/// The fastest of `repeats` runs of `f`, in seconds of this thread's CPU time where Linux
/// reports it (else wall time).
fn fastest(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_ns());
            f();
            match (c, cpu_ns()) {
                (Some(a), Some(b)) => (b - a) as f64 * 1e-9,
                _ => t.elapsed().as_secs_f64(),
            }
        })
        .fold(f64::INFINITY, f64::min)
}

/// The default tokenizer for Chinese, with CJK runs cut as `cjk` says.
fn chinese(cjk: Cjk) -> Tokenizer {
    Tokenizer::new(TokenizerConfig { cjk, language: Language::Chinese, ..TokenizerConfig::default() })
}

fn connect(texts: &[(String, String)]) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    sqlml::register(&conn).unwrap();
    let _: String = conn.query_row("SELECT ml_unlock('bench passphrase')", [], |r| r.get(0)).unwrap();
    conn.execute_batch("CREATE TABLE t(label TEXT, text TEXT)").unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    {
        let mut ins = tx.prepare("INSERT INTO t VALUES (?1, ?2)").unwrap();
        for (label, text) in texts {
            ins.execute(params![label, text]).unwrap();
        }
    }
    tx.commit().unwrap();
    conn
}

/// Trains; returns the report's `seconds` (the fit inside `ml_train`) and its `fit_s`.
fn train(conn: &Connection, cjk: &str) -> (f64, f64) {
    let sql = format!(
        "SELECT ml_train('m_{cjk}', 'text', 't', 'label', json_object('test_size', 0, 'language', 'zh', 'cjk', '{cjk}'))"
    );
    let r: String = conn.query_row(&sql, [], |r| r.get(0)).unwrap();
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    (r["seconds"].as_f64().unwrap(), r["timings"]["fit_s"].as_f64().unwrap())
}

fn predict(conn: &Connection, cjk: &str) -> usize {
    let mut stmt = conn.prepare(&format!("SELECT ml_predict('m_{cjk}', text) FROM t")).unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut n = 0;
    while let Some(row) = rows.next().unwrap() {
        let _: String = row.get(0).unwrap();
        n += 1;
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let phase = args.get(1).cloned().unwrap_or_else(|| "all".into());
    let repeats: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5);
    let docs = text_data::chn_senti_corp().train;
    let n = docs.len() as f64;
    let run = |p: &str| phase == "all" || phase == p;
    let tokenize_phases = [("words", Cjk::Words, false), ("bigrams", Cjk::Bigrams, false)]
        .into_iter()
        .chain([("hashes-words", Cjk::Words, true), ("hashes-bigrams", Cjk::Bigrams, true)]);
    for (name, cjk, hashes_only) in tokenize_phases {
        if !run(&format!("tokenize-{name}")) {
            continue;
        }
        let t = chinese(cjk);
        let mut out = Tokens::default();
        let mut count = 0;
        let s = fastest(repeats, || {
            count = 0;
            for (_, text) in &docs {
                if hashes_only {
                    t.tokenize_hashes(text, &mut out);
                } else {
                    t.tokenize(text, &mut out);
                }
                count += out.len();
            }
        });
        println!(
            "{}",
            json!({"phase": format!("tokenize-{name}"), "s": s, "docs_per_s": n / s, "tokens": count})
        );
    }
    if run("jieba") {
        let jieba = jieba_rs::Jieba::new();
        let mut count = 0;
        let s = fastest(repeats, || {
            count = 0;
            for (_, text) in &docs {
                count += jieba.cut(text, true).len();
            }
        });
        println!(
            "{}",
            json!({"phase": "jieba cut(text, hmm) on the raw text", "s": s, "docs_per_s": n / s, "tokens": count})
        );
    }
    for (name, cjk) in [("words", Cjk::Words), ("bigrams", Cjk::Bigrams)] {
        if !run(&format!("fit-{name}")) {
            continue;
        }
        // The pieces of the fit in pure Rust: tokenize + vocabulary counts, finish, NB fit.
        let t = chinese(cjk);
        let labels: Vec<u32> = docs.iter().map(|(l, _)| (l == "1") as u32).collect();
        let mut out = Tokens::default();
        let (mut add, mut finish, mut nb) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
        for _ in 0..repeats {
            let mut b = VocabularyBuilder::default();
            add = add.min(fastest(1, || {
                for (_, text) in &docs {
                    t.tokenize(text, &mut out);
                    b.add(&out, 1, 2);
                }
            }));
            let mut result = None;
            let mut b = Some(b);
            finish = finish.min(fastest(1, || {
                result = b
                    .take()
                    .map(|b| b.finish(1, None, Weighting::Count, &sqlml::models::Control::new()).unwrap())
            }));
            let (vocab, rows, _) = result.unwrap();
            nb = nb.min(fastest(1, || {
                let control = sqlml::models::Control::new();
                NaiveBayes::fit(
                    &rows,
                    &labels,
                    2,
                    vocab.len(),
                    Algorithm::Multinomial,
                    0.1,
                    Priors::Learned,
                    &control,
                )
                .unwrap();
            }));
        }
        println!(
            "{}",
            json!({"phase": format!("fit-{name}"), "tokenize_and_count_s": add, "finish_s": finish, "nb_fit_s": nb})
        );
    }
    let conn = connect(&docs);
    for cjk in ["words", "bigrams"] {
        if run(&format!("train-{cjk}")) || run(&format!("predict-{cjk}")) {
            train(&conn, cjk); // warm-up (jieba's dictionary)
        }
        if run(&format!("train-{cjk}")) {
            let mut inner = (f64::INFINITY, f64::INFINITY);
            let s = fastest(repeats, || {
                let (a, b) = train(&conn, cjk);
                inner = (inner.0.min(a), inner.1.min(b));
            });
            println!(
                "{}",
                json!({"phase": format!("train-{cjk}"), "s": s, "docs": n,
                       "wall_fastest": {"train_in_ml_train_s": inner.0, "fit_s": inner.1}})
            );
        }
        if run(&format!("predict-{cjk}")) {
            let s = fastest(repeats, || {
                predict(&conn, cjk);
            });
            println!("{}", json!({"phase": format!("predict-{cjk}"), "s": s, "docs_per_s": n / s}));
        }
    }
}
