//! The sqlml demo: a SQLite file with generated customer data, and all three model kinds
//! trained, stored encrypted, and applied from SQL.
//!
//! `cargo run --release --example demo [path/to/demo.db]` (default `target/demo.db`)

use sqlml::rusqlite::{Connection, params};

/// Small deterministic generator (xorshift64*), so the demo needs no extra crate.
struct Rng(u64);
impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n
    }
}

fn generate(conn: &Connection) -> sqlml::rusqlite::Result<()> {
    let mut rng = Rng(0x5eed);
    conn.execute_batch(
        "DROP TABLE IF EXISTS customers; DROP TABLE IF EXISTS tickets; DROP TABLE IF EXISTS ratings;
         CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, monthly_spend REAL,
                                support_calls INTEGER, has_partner INTEGER, churned TEXT);
         CREATE TABLE tickets(id INTEGER PRIMARY KEY, body TEXT, queue TEXT);
         CREATE TABLE ratings(user_id INTEGER, item TEXT, rating REAL);",
    )?;
    let tx = conn.unchecked_transaction()?;
    {
        let mut ins = tx.prepare("INSERT INTO customers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?;
        for id in 1..=3000 {
            let tenure = rng.below(72) as i64;
            let plan = ["basic", "pro", "enterprise"][rng.below(3)];
            let spend = 20.0 + rng.next_f64() * 100.0;
            let calls = rng.below(8) as i64;
            let partner = rng.below(2) as i64;
            let score = 1.5 - tenure as f64 / 20.0 + calls as f64 * 0.45 + (spend - 70.0) / 40.0
                - if plan == "enterprise" { 1.0 } else { 0.0 }
                - partner as f64 * 0.5;
            let p = 1.0 / (1.0 + (-score).exp());
            let churned = if rng.next_f64() < p { "yes" } else { "no" };
            let spend_value = if id % 50 == 0 { None } else { Some((spend * 100.0).round() / 100.0) };
            ins.execute(params![id, tenure, plan, spend_value, calls, partner, churned])?;
        }
        let queues: [(&str, &[&str]); 3] = [
            ("billing", &["invoice", "charged", "twice", "refund", "payment", "card", "bill", "price"]),
            ("technical", &["error", "crash", "login", "app", "slow", "bug", "password", "screen"]),
            ("account", &["address", "close", "account", "upgrade", "plan", "email", "name", "change"]),
        ];
        let filler = ["please", "help", "my", "the", "i", "was", "not", "can", "you", "today"];
        let mut ins = tx.prepare("INSERT INTO tickets(body, queue) VALUES (?1, ?2)")?;
        for _ in 0..1500 {
            let (queue, words) = queues[rng.below(3)];
            let n = 5 + rng.below(8);
            let body: Vec<&str> = (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        filler[rng.below(filler.len())]
                    } else {
                        words[rng.below(words.len())]
                    }
                })
                .collect();
            ins.execute(params![body.join(" "), queue])?;
        }
        // Ratings from a rank-2 taste model: users like one of two genres.
        let mut ins = tx.prepare("INSERT INTO ratings VALUES (?1, ?2, ?3)")?;
        for user in 1..=300 {
            let taste = rng.next_f64();
            for _ in 0..25 {
                let item = rng.below(200);
                let genre = (item % 2) as f64;
                let affinity = 1.0 - (taste - genre).abs();
                let r = (1.0 + 4.0 * affinity + (rng.next_f64() - 0.5)).clamp(1.0, 5.0).round();
                ins.execute(params![user, format!("item-{item:03}"), r])?;
            }
        }
    }
    tx.commit()
}

fn show(conn: &Connection, title: &str, sql: &str) -> sqlml::rusqlite::Result<()> {
    println!("\n-- {title}\n{sql}");
    let mut stmt = conn.prepare(sql)?;
    let cols = stmt.column_count();
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let cells: Vec<String> = (0..cols)
            .map(|i| match row.get_ref(i) {
                Ok(v) => match v {
                    sqlml::rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    sqlml::rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    sqlml::rusqlite::types::ValueRef::Real(r) => format!("{r:.4}"),
                    sqlml::rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    sqlml::rusqlite::types::ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
                },
                Err(e) => e.to_string(),
            })
            .collect();
        println!("  {}", cells.join(" | "));
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "target/demo.db".to_string());
    let _ = std::fs::remove_file(&path);
    let conn = Connection::open(&path)?;
    sqlml::register(&conn)?;
    generate(&conn)?;
    println!("demo database: {path} (customers 3000, tickets 1500, ratings 7500 rows; generated)");
    show(&conn, "version", "SELECT ml_version()")?;
    show(&conn, "unlock (creates the key on first use)", "SELECT ml_unlock('demo passphrase')")?;

    show(
        &conn,
        "churn classifier (MLP)",
        "SELECT json_extract(r, '$.version'), json_extract(r, '$.metrics.accuracy'), json_extract(r, '$.metrics.roc_auc')
         FROM (SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'))) AS r)",
    )?;
    show(
        &conn,
        "score customers",
        "SELECT id, ml_predict('churn', json_object('tenure', tenure, 'plan', plan, 'monthly_spend', monthly_spend,
                  'support_calls', support_calls, 'has_partner', has_partner)) AS churn,
                json_extract(ml_predict_proba('churn', tenure, plan, monthly_spend, support_calls, has_partner), '$.yes') AS p_yes
         FROM customers ORDER BY id LIMIT 5",
    )?;
    show(
        &conn,
        "why customer 1",
        "SELECT ml_explain('churn', tenure, plan, monthly_spend, support_calls, has_partner) FROM customers WHERE id = 1",
    )?;

    show(
        &conn,
        "ticket router (Naive Bayes)",
        "SELECT json_extract(r, '$.metrics.accuracy'), json_extract(r, '$.metrics.macro_f1')
         FROM (SELECT ml_train('router', 'text', 'SELECT body, queue FROM tickets', 'queue') AS r)",
    )?;
    show(
        &conn,
        "route new tickets",
        "SELECT t, ml_predict('router', t), ml_predict_proba('router', t)
         FROM (SELECT 'I was charged twice on my card' AS t UNION ALL SELECT 'the app shows an error at login'
               UNION ALL SELECT 'please change my email address')",
    )?;
    show(&conn, "why", "SELECT ml_explain('router', 'I was charged twice on my card')")?;
    show(
        &conn,
        "most informative tokens",
        "SELECT label, token, round(score, 2) FROM ml_top_tokens('router', 3)",
    )?;

    show(
        &conn,
        "recommender (SVD)",
        "SELECT json_extract(r, '$.metrics.rmse'), json_extract(r, '$.metrics.mae')
         FROM (SELECT ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 20, 'n_epochs', 40)) AS r)",
    )?;
    show(&conn, "top 5 for user 7", "SELECT item, round(score, 2) FROM ml_recommend('recs', 7, 5)")?;
    show(
        &conn,
        "items like item-010",
        "SELECT item, round(similarity, 3) FROM ml_similar_items('recs', 'item-010', 3)",
    )?;
    show(
        &conn,
        "predicted rating",
        "SELECT ml_predict('recs', 7, 'item-010'), ml_predict('recs', 99999, 'item-010')",
    )?;

    show(
        &conn,
        "the model store (blobs are XChaCha20-Poly1305 ciphertext)",
        "SELECT name, version, kind, algorithm, rows, active, size, hex(substr(model, 1, 8)) FROM ml_models ORDER BY id",
    )?;
    show(
        &conn,
        "training log (first epochs)",
        "SELECT name, epoch, round(loss, 4) FROM ml_training_log WHERE epoch <= 2 ORDER BY name, epoch",
    )?;
    Ok(())
}
