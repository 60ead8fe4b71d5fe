//! Shared helpers of the integration tests: connections with sqlml registered and small
//! generated data sets.
#![allow(dead_code)]

use sqlml::Config;
use sqlml::rusqlite::Connection;
use sqlml::store::crypto::KdfParams;

/// A cheap Argon2 setting so tests stay fast (the default is 19 MiB, 2 passes).
pub fn test_config() -> Config {
    Config { kdf: KdfParams { m_cost: 256, t_cost: 1, p_cost: 1 }, ..Config::default() }
}

/// Opens `path` (or memory) with sqlml registered; no key yet.
pub fn open(path: Option<&std::path::Path>) -> Connection {
    let conn = match path {
        Some(p) => Connection::open(p).unwrap(),
        None => Connection::open_in_memory().unwrap(),
    };
    sqlml::register_with(&conn, test_config()).unwrap();
    conn
}

/// Opens and unlocks with `passphrase`.
pub fn unlocked(path: Option<&std::path::Path>, passphrase: &str) -> Connection {
    let conn = open(path);
    let _: String = conn.query_row("SELECT ml_unlock(?1)", [passphrase], |r| r.get(0)).unwrap();
    conn
}

/// The error text of a statement that must fail.
pub fn err(conn: &Connection, sql: &str) -> String {
    match conn.query_row(sql, [], |r| r.get::<_, sqlml::rusqlite::types::Value>(0)) {
        Ok(v) => panic!("expected an error from {sql}, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

/// A single text result.
pub fn text(conn: &Connection, sql: &str) -> String {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A single integer result.
pub fn int(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Deterministic pseudo-random numbers (xorshift), so data does not depend on a crate.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

/// Creates `messages(id, body, label)`: `n` short messages, spam or ham, with distinctive
/// made-up words (`zqxvortex` in spam, `plumbrook` in ham) for at-rest leak checks.
pub fn make_messages(conn: &Connection, n: usize) {
    let spam = ["win", "free", "prize", "claim", "cash", "urgent", "zqxvortex", "offer", "txt", "now"];
    let ham = ["see", "you", "lunch", "tomorrow", "meeting", "thanks", "plumbrook", "home", "call", "later"];
    let common = ["the", "a", "to", "and", "is", "ok"];
    let mut rng = Rng::new(7);
    conn.execute_batch("CREATE TABLE messages(id INTEGER PRIMARY KEY, body TEXT, label TEXT)").unwrap();
    let mut ins = conn.prepare("INSERT INTO messages(body, label) VALUES (?1, ?2)").unwrap();
    for i in 0..n {
        let is_spam = i % 3 == 0;
        let words = if is_spam { &spam } else { &ham };
        let len = 4 + rng.below(6);
        let body: Vec<&str> =
            (0..len).map(|_| if rng.below(4) == 0 { rng.pick(&common) } else { rng.pick(words) }).collect();
        ins.execute([body.join(" "), (if is_spam { "spam" } else { "ham" }).to_string()]).unwrap();
    }
}

/// Everything sqlml keeps, for before/after comparisons: every model row with its whole blob,
/// the key record with types, the training log, and the next model id. A table that does not
/// exist (or is not readable, e.g. a damaged file) shows as such instead of failing.
pub fn sqlml_state(conn: &Connection) -> Vec<String> {
    let mut out = Vec::new();
    for sql in [
        "SELECT id || '/' || name || '/' || version || '/' || active || '/' || hex(model) FROM ml_models ORDER BY id",
        "SELECT key || '=' || typeof(value) || ':' || hex(value) FROM ml_meta ORDER BY key",
        "SELECT name || '/' || version || '/' || epoch || '/' || quote(loss) FROM ml_training_log ORDER BY 1",
        "SELECT 'next id ' || seq FROM sqlite_sequence WHERE name = 'ml_models'",
    ] {
        match conn.prepare(sql) {
            Ok(mut stmt) => {
                out.extend(stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap))
            }
            Err(e) => out.push(format!("{sql}: {e}")),
        }
    }
    out
}
