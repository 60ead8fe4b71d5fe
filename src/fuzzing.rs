//! Entry points of the `cargo fuzz` targets in `fuzz/` (run them with `scripts/fuzz.sh`), and
//! the fixed data, models and inputs they share. Not a public API: hidden from the
//! documentation and compiled only for tests and with the cargo feature `fuzzing`.
//!
//! Each target function takes the fuzzer's bytes and must return normally whatever they are:
//! an `Err` from sqlml is an expected answer, while a panic, an abort (a failed allocation), a
//! hang or a failed property check is a bug. The properties checked beyond "no crash":
//!
//! * [`train_options`]: a model trained with any options encodes and decodes again (so the
//!   validation after decoding never rejects a real model) and can then be used;
//! * [`tokenize`]: `tokenize` and `tokenize_hashes` give the same token hashes, every n-gram's
//!   text hashes to the hash the n-gram carries, and no token is empty or holds a space;
//! * [`source`]: a table source becomes `SELECT * FROM` one or two quoted identifiers and
//!   nothing else, and reading any source leaves the database unchanged.
//!
//! Targets that decode models ([`envelope`], [`decode`], [`decode_mutated`]) use every model
//! that decodes: predictions, probabilities, explanations, top tokens, recommendations and
//! similar items on a few fixed inputs ([`exercise`]).

use crate::models::memory::Budget;
use crate::models::stored::Plaintext;
use crate::models::text::tokenize::{Cjk, Language, Tokenizer, TokenizerConfig, Tokens, term_hash};
use crate::models::{self, Column, ColumnData, Common, Dataset, Input, Model, Options, Value};
use crate::models::{SCHEMA_VERSION, StoredModel, mlp::Classifier};
use crate::source::{self, Source};
use crate::store::crypto::{KdfParams, MasterKey};
use crate::store::envelope::{self, Binding};
use crate::{Error, Result};
use serde_json::{Map, Value as Json, json};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// Fixed training data

/// Tickets for the text kind: English, Chinese and a German line, three labels.
const TICKETS: &[(&str, &str)] = &[
    ("I was charged twice for my order", "billing"),
    ("refund the double charge please", "billing"),
    ("my invoice shows the wrong amount", "billing"),
    ("the card payment failed again", "billing"),
    ("Die Zahlung ist fehlgeschlagen", "billing"),
    ("我的订单被重复扣款了", "billing"),
    ("the app crashes when I log in", "bug"),
    ("error 500 after the update", "bug"),
    ("the button does nothing on android", "bug"),
    ("screen freezes while loading photos", "bug"),
    ("应用程序一打开就崩溃", "bug"),
    ("how do I change my password?", "account"),
    ("delete my account and my data", "account"),
    ("I can't sign in to my account", "account"),
    ("update the e-mail on my profile", "account"),
    ("如何修改我的密码", "account"),
];

/// The text kind's training data: columns `body`, `queue`.
pub fn text_data() -> Dataset {
    Dataset::new(vec![
        Column {
            name: "body".into(),
            data: ColumnData::texts(TICKETS.iter().map(|t| Some(t.0.to_string())).collect()),
        },
        Column {
            name: "queue".into(),
            data: ColumnData::texts(TICKETS.iter().map(|t| Some(t.1.to_string())).collect()),
        },
    ])
}

/// The classifier's training data: a real with a NULL, a text with a NULL, an integer, a
/// 0/1 flag, and the label `churned`.
pub fn classifier_data() -> Dataset {
    let n = 24;
    let plans = ["basic", "pro", "team"];
    let amount = (0..n).map(|i| if i == 5 { None } else { Some(10.0 + (i * 7 % 13) as f64 * 2.5) }).collect();
    let plan = (0..n).map(|i| if i == 9 { None } else { Some(plans[i % 3].to_string()) }).collect();
    let visits = (0..n).map(|i| Some((i * 5 % 11) as i64)).collect();
    let flag = (0..n).map(|i| Some((i % 2) as i64)).collect();
    let churned =
        (0..n).map(|i| Some(if (i * 7 % 13) > 6 || i % 5 == 0 { "yes" } else { "no" }.into())).collect();
    Dataset::new(vec![
        Column { name: "amount".into(), data: ColumnData::reals(amount) },
        Column { name: "plan".into(), data: ColumnData::texts(plan) },
        Column { name: "visits".into(), data: ColumnData::integers(visits) },
        Column { name: "flag".into(), data: ColumnData::integers(flag) },
        Column { name: "churned".into(), data: ColumnData::texts(churned) },
    ])
}

/// The recommender's training data: integer users 1–6, text items `i1`–`i8`, ratings 1–5.
pub fn ratings_data() -> Dataset {
    let mut users = Vec::new();
    let mut items = Vec::new();
    let mut ratings = Vec::new();
    for u in 1..=6i64 {
        for i in 1..=8i64 {
            if (u * 3 + i * 5) % 4 == 0 {
                continue;
            }
            users.push(Some(u));
            items.push(Some(format!("i{i}")));
            ratings.push(Some(((u * i) % 5 + 1) as f64));
        }
    }
    Dataset::new(vec![
        Column { name: "user_id".into(), data: ColumnData::integers(users) },
        Column { name: "item".into(), data: ColumnData::texts(items) },
        Column { name: "rating".into(), data: ColumnData::reals(ratings) },
    ])
}

fn datasets() -> &'static [(&'static str, Dataset, &'static str)] {
    static DATA: OnceLock<Vec<(&'static str, Dataset, &'static str)>> = OnceLock::new();
    DATA.get_or_init(|| {
        vec![
            ("text", text_data(), "queue"),
            ("classifier", classifier_data(), "churned"),
            ("recommender", ratings_data(), "rating"),
        ]
    })
}

fn dataset(kind: &str) -> (&'static Dataset, &'static str) {
    let found = datasets().iter().find(|d| d.0 == kind).unwrap_or(&datasets()[0]);
    (&found.1, found.2)
}

/// Trains a model of `kind` on its fixed data with `options` (a JSON object), as `ml_train`
/// does: the common options first, then the kind's.
pub fn train(kind: &str, options: &str, target: Option<&str>) -> Result<Model> {
    let (data, _) = dataset(kind);
    let mut opts = Options::parse(Some(options))?;
    let common = Common::read(&mut opts)?;
    Ok(models::train(kind, data, target, &mut opts, &common)?.model)
}

// ---------------------------------------------------------------------------------------------
// Seed models

/// The tiny models every model target starts from: one per kind and algorithm, and some
/// variants (options that change the stored layout).
pub const SEED_MODELS: &[(&str, &str, &str)] = &[
    ("text_multinomial", "text", r#"{"ngrams": [1, 2]}"#),
    ("text_complement", "text", r#"{"algorithm": "complement", "weighting": "tfidf", "cjk": "bigrams"}"#),
    ("text_bernoulli", "text", r#"{"algorithm": "bernoulli", "stem": true, "stopwords": true, "ngrams": 3}"#),
    ("classifier", "classifier", r#"{"hidden_layers": [4], "epochs": 2}"#),
    ("classifier_deep", "classifier", r#"{"hidden_layers": [3, 2], "epochs": 1, "test_size": 0}"#),
    ("classifier_one_text", "classifier", r#"{"features": ["plan"], "hidden_layers": [], "epochs": 1}"#),
    (
        "classifier_extra_keys",
        "classifier",
        r#"{"allow_extra_keys": true, "hidden_layers": [2], "epochs": 1}"#,
    ),
    // refit: false serves the split model, which keeps the held-out ratings as rated.
    ("recommender_svd", "recommender", r#"{"n_factors": 3, "n_epochs": 2, "refit": false}"#),
    ("recommender_svd_unbiased", "recommender", r#"{"biased": false, "n_factors": 9, "n_epochs": 1}"#),
    (
        "recommender_svdpp",
        "recommender",
        r#"{"algorithm": "svdpp", "n_factors": 2, "n_epochs": 2, "test_size": 0}"#,
    ),
    ("recommender_als", "recommender", r#"{"algorithm": "als", "factors": 3, "iterations": 2}"#),
];

/// A seed model: its name (see [`SEED_MODELS`]), kind and plaintext (a postcard
/// [`StoredModel`], as stored inside the envelope).
#[derive(Debug)]
pub struct Seed {
    /// Name, e.g. `text_complement`.
    pub name: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// The encoded [`StoredModel`].
    pub plain: Vec<u8>,
}

/// Encodes a model as the store does (before encryption).
pub fn encode(model: Model) -> Result<Vec<u8>> {
    crate::models::stored::encode(model).map_err(|e| Error::Codec(e.to_string()))
}

/// The seed models, trained once per process.
pub fn seeds() -> &'static [Seed] {
    static SEEDS: OnceLock<Vec<Seed>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        SEED_MODELS
            .iter()
            .map(|&(name, kind, options)| {
                let (_, target) = dataset(kind);
                let model = train(kind, options, Some(target))
                    .unwrap_or_else(|e| panic!("seed model '{name}' does not train: {e}"));
                let plain = encode(model).unwrap_or_else(|e| panic!("seed model '{name}': {e}"));
                Seed { name, kind, plain }
            })
            .collect()
    })
}

/// Prepares what `target` uses (seed models, the source database, jieba's dictionary, the
/// stopword sets), so that the first fuzzer input is not charged for it.
pub fn warm_up(target: &str) {
    match target {
        "envelope" | "decode" | "decode_mutated" | "bundle" => {
            let _ = (key(), seed_trees());
        }
        "predict_inputs" => {
            let _ = input_models();
        }
        "source" => SOURCE_DB.with(|_| ()),
        "options" => {
            let _ = datasets();
        }
        _ => {}
    }
    if matches!(target, "options" | "tokenize") {
        for b0 in [0u8, 1, 7] {
            tokenize(&[b0, 0x21, 0xe6, 0x88, 0x91, b' ', b'a']);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Using a model

const PROBE_TEXTS: &[&str] = &[
    "",
    "I was charged twice",
    "我的订单 crashes after the update 密码",
    "the the the the the the",
    "ÉCOLE ﬁnance ß 𝔘𝔫𝔦 ½ ١٢٣ 한국어",
];

fn probe_ids() -> [Input<'static>; 9] {
    [
        Input::Integer(1),
        Input::Integer(2),
        Input::Integer(6),
        Input::Text("i1"),
        Input::Text("i3"),
        Input::Integer(-7),
        Input::Real(2.0),
        Input::Text("nobody"),
        Input::Null,
    ]
}

/// Uses a decoded model as the SQL functions would: predictions, probabilities and
/// explanations on a few inputs, top tokens, recommendations, similar items; for a
/// classifier also an evaluation over rows built from its own features and classes. Errors
/// are ignored: only a panic, an abort or a hang is a failure.
pub fn exercise(model: &Model) {
    let _ = (model.kind(), model.algorithm());
    match model {
        Model::Text(m) => {
            for &t in PROBE_TEXTS {
                let args = [Input::Text(t)];
                let _ = model.predict(&args);
                let _ = model.predict_proba(&args);
                let _ = model.explain(&args);
            }
            let _ = model.predict(&[Input::Integer(42)]);
            let _ = model.predict(&[]);
            let _ = (m.classes().len(), m.vocabulary_size(), m.text_column(), m.options_json());
            let _ = m.top_tokens(3);
            let _ = m.top_tokens(0);
        }
        Model::Classifier(m) => {
            let names: Vec<&str> = m.encoder().features.iter().map(|f| f.name.as_str()).collect();
            let n = names.len().min(256);
            let positional: [Vec<Input<'_>>; 5] = [
                vec![Input::Null; n],
                vec![Input::Integer(1); n],
                vec![Input::Real(-1.5e9); n],
                vec![Input::Text("pro"); n],
                vec![Input::Text("basic"); n + 1],
            ];
            let numbers: Map<String, Json> = names.iter().map(|&k| (k.to_string(), json!(1.5))).collect();
            let texts: Map<String, Json> = names.iter().map(|&k| (k.to_string(), json!("team"))).collect();
            let objects = [Json::Object(numbers).to_string(), Json::Object(texts).to_string()];
            let json_args = objects.iter().map(|o| vec![Input::Text(o.as_str())]);
            for args in positional.into_iter().chain(json_args) {
                let _ = model.predict(&args);
                let _ = model.predict_proba(&args);
                let _ = model.explain(&args);
            }
            let _ = model.evaluate(&classifier_rows(m));
        }
        Model::Recommender(r) => {
            let ids = probe_ids();
            for &u in &ids {
                let _ = r.recommend(u, 5, false);
                let _ = r.recommend(u, 3, true);
                let _ = r.similar_items(u, 4);
                for &i in ids.iter().step_by(2) {
                    let _ = model.predict(&[u, i]);
                    let _ = model.explain(&[u, i]);
                }
            }
            let _ = model.predict(&[Input::Integer(1)]);
            let _ = (r.n_users(), r.n_items());
        }
    }
}

/// Three rows for [`Model::evaluate`] of a classifier: every feature 1.0 (or text `pro`, as
/// the feature's encoding wants) and the first classes as labels.
fn classifier_rows(m: &Classifier) -> Dataset {
    use crate::models::mlp::features::Encoding;
    let rows = 3;
    let mut columns: Vec<Column> = m
        .encoder()
        .features
        .iter()
        .take(256)
        .map(|f| Column {
            name: f.name.clone(),
            data: match f.encoding {
                Encoding::Numeric { .. } => ColumnData::reals(vec![Some(1.0); rows]),
                Encoding::Categorical { .. } => ColumnData::texts(vec![Some("pro".into()); rows]),
            },
        })
        .collect();
    let classes = m.classes();
    let label = |r: usize| classes.get(r % classes.len().max(1)).cloned().unwrap_or(Value::Null);
    let data = match classes.first() {
        Some(Value::Integer(_)) => ColumnData::integers(
            (0..rows).map(|r| if let Value::Integer(i) = label(r) { Some(i) } else { None }).collect(),
        ),
        Some(Value::Real(_)) => ColumnData::reals(
            (0..rows).map(|r| if let Value::Real(x) = label(r) { Some(x) } else { None }).collect(),
        ),
        Some(Value::Text(_)) => ColumnData::texts(
            (0..rows).map(|r| if let Value::Text(t) = label(r) { Some(t) } else { None }).collect(),
        ),
        _ => ColumnData::Null(rows),
    };
    columns.push(Column { name: m.target().to_string(), data });
    Dataset::new(columns)
}

// ---------------------------------------------------------------------------------------------
// Target `envelope`

fn key() -> &'static MasterKey {
    static KEY: OnceLock<MasterKey> = OnceLock::new();
    KEY.get_or_init(|| {
        MasterKey::derive(
            b"fuzz passphrase",
            b"fuzz-salt-16byte",
            KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 },
        )
        .expect("fixed key parameters are valid")
    })
}

/// The fixed binding of the `envelope` target's blobs.
pub fn binding() -> Binding<'static> {
    Binding { name: "fuzz", kind: "text", version: 1, db_id: b"fuzz-database-id" }
}

/// Seals `plain` with the fixed key and binding (seed blobs of the `envelope` target).
pub fn seal(plain: &[u8]) -> Vec<u8> {
    envelope::seal(key(), &binding(), plain).expect("a small blob is sealed")
}

/// Target `envelope`: opens `blob` with the fixed key and binding; a blob that opens is
/// decoded and the model used.
pub fn envelope(blob: &[u8]) {
    if let Ok(plain) = envelope::open(key(), &binding(), blob) {
        decode(&plain);
    }
}

// ---------------------------------------------------------------------------------------------
// Target `bundle`

/// The passphrase of the `bundle` target's bundles.
const BUNDLE_PASS: &[u8] = b"fuzz bundle passphrase";
/// The Argon2id costs the `bundle` target seals with.
const BUNDLE_KDF: KdfParams = KdfParams { m_cost: 64, t_cost: 1, p_cost: 1 };
/// The highest costs the `bundle` target opens. A real bundle may ask for up to 256 MiB and
/// 16 passes (seconds: bounded, and checked before hashing, but too slow to fuzz); above
/// these the header check refuses it, as it refuses costs above the real bounds.
const BUNDLE_CEILING: KdfParams = KdfParams { m_cost: 1024, t_cost: 2, p_cost: 4 };

/// A bundle of the `bundle` target: `plaintext` (metadata length ‖ metadata ‖ model
/// plaintext) sealed with the fixed passphrase, its header saying model format `schema`.
pub fn seal_bundle(schema: u32, plaintext: &[u8]) -> Result<Vec<u8>> {
    crate::store::bundle::seal_raw(BUNDLE_PASS, BUNDLE_KDF, schema, plaintext.len(), |buf| {
        buf.extend_from_slice(plaintext);
        Ok(())
    })
}

/// The plaintext of a bundle of a seed model (metadata length ‖ metadata ‖ model plaintext).
pub fn bundle_plaintext(seed: &Seed) -> Vec<u8> {
    let algorithm = decode_model(&seed.plain).map(|m| m.algorithm()).unwrap_or_default();
    let info = crate::store::bundle::BundleInfo {
        name: seed.name.to_string(),
        version: 1,
        kind: seed.kind.to_string(),
        algorithm,
        rows: 16,
        created_at: "2026-01-01T00:00:00.000Z".into(),
        params: r#"{"source": "t", "target": "label"}"#.into(),
        metrics: Some(r#"{"accuracy": 0.5}"#.into()),
        log: vec![crate::store::bundle::LogRow {
            epoch: 1,
            loss: Some(0.5),
            val_loss: None,
            metric: Some(0.25),
            seconds: Some(0.01),
        }],
    };
    let meta = postcard::to_stdvec(&info).expect("seed metadata encodes");
    let mut out = (meta.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&meta);
    out.extend_from_slice(&seed.plain);
    out
}

/// Target `bundle` (`ml_import`'s opener): the first byte says how the rest is used.
/// Even: the rest is a whole bundle, opened with the fixed passphrase (header checks, key
/// derivation, authentication; a random bundle rarely gets further). Odd: the rest is a
/// bundle's plaintext, sealed with the fixed passphrase and then opened, so that the checks
/// after authentication (metadata length, metadata, model format, model, their agreement)
/// see arbitrary bytes; the header says model format 1, or (bit 1 set) the first byte's
/// upper bits. A bundle that opens has its model used ([`exercise`]).
pub fn bundle(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let opened = if mode % 2 == 0 {
        crate::store::bundle::open_with(rest, BUNDLE_PASS, BUNDLE_CEILING)
    } else {
        let schema = if mode & 2 == 0 { SCHEMA_VERSION } else { u32::from(mode >> 2) };
        let Ok(sealed) = seal_bundle(schema, rest) else { return };
        crate::store::bundle::open_with(&sealed, BUNDLE_PASS, BUNDLE_CEILING)
    };
    if let Ok(opened) = opened {
        exercise(&opened.model);
    }
}

// ---------------------------------------------------------------------------------------------
// Targets `decode` and `decode_mutated`

/// The store's decoding of a model plaintext (schema version check, postcard, validation).
pub fn decode_model(plain: &[u8]) -> Result<Model> {
    crate::store::decode("fuzz", plain)
}

/// Target `decode`: `plain` as a model plaintext; a model that decodes is used.
pub fn decode(plain: &[u8]) {
    if let Ok(model) = decode_model(plain) {
        exercise(&model);
    }
}

/// The seed models as JSON trees (serde's view of a [`StoredModel`]).
fn seed_trees() -> &'static [Json] {
    static TREES: OnceLock<Vec<Json>> = OnceLock::new();
    TREES.get_or_init(|| {
        seeds()
            .iter()
            .map(|s| {
                let (stored, _): (StoredModel, &[u8]) =
                    postcard::take_from_bytes(&s.plain).expect("seed models decode");
                serde_json::to_value(&stored).expect("seed models convert to JSON")
            })
            .collect()
    })
}

/// Numbers a mutation can write: sizes at and around powers of two and the integer type
/// limits, negative, fractional, tiny and huge (3.4e39 becomes infinity as an `f32`).
fn interesting(i: u8) -> Json {
    const INTEGERS: &[i128] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        9,
        16,
        17,
        255,
        256,
        65_535,
        65_536,
        1 << 24,
        u32::MAX as i128,
        1 << 32,
        1 << 40,
        i64::MAX as i128,
        u64::MAX as i128,
        -1,
        -2,
        -9,
        i32::MIN as i128,
        i64::MIN as i128,
    ];
    const REALS: &[f64] =
        &[0.5, -0.5, 1.5, -0.0, 1e-300, 1e10, 3.4e39, -3.4e39, 1e300, -1e300, f64::MIN_POSITIVE];
    let i = i as usize % (INTEGERS.len() + REALS.len());
    match INTEGERS.get(i) {
        Some(&n) if n < 0 => json!(n as i64),
        Some(&n) => json!(n as u64),
        None => json!(REALS[i - INTEGERS.len()]),
    }
}

const STRINGS: &[&str] =
    &["", "a", "plan", "amount", "billing", "i1", "zz top", "Multinomial", "Svd", "Words"];

#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Number,
    Array,
    String,
    Bool,
    Any,
}

fn shape_of(v: &Json) -> Shape {
    match v {
        Json::Number(_) => Shape::Number,
        Json::Array(_) => Shape::Array,
        Json::String(_) => Shape::String,
        Json::Bool(_) => Shape::Bool,
        _ => Shape::Any,
    }
}

fn count(v: &Json, shape: Shape) -> usize {
    let own = usize::from(shape == Shape::Any || shape_of(v) == shape);
    own + match v {
        Json::Array(a) => a.iter().map(|x| count(x, shape)).sum(),
        Json::Object(o) => o.values().map(|x| count(x, shape)).sum(),
        _ => 0,
    }
}

/// The path (child positions) to the `n`-th node of `shape` in depth-first order.
fn nth(v: &Json, shape: Shape, n: &mut usize, path: &mut Vec<usize>) -> bool {
    if shape == Shape::Any || shape_of(v) == shape {
        if *n == 0 {
            return true;
        }
        *n -= 1;
    }
    let children: Box<dyn Iterator<Item = &Json>> = match v {
        Json::Array(a) => Box::new(a.iter()),
        Json::Object(o) => Box::new(o.values()),
        _ => return false,
    };
    for (i, child) in children.enumerate() {
        path.push(i);
        if nth(child, shape, n, path) {
            return true;
        }
        path.pop();
    }
    false
}

fn pick(tree: &mut Json, shape: Shape, which: u16) -> Option<&mut Json> {
    let total = count(tree, shape);
    if total == 0 {
        return None;
    }
    let mut path = Vec::new();
    if !nth(tree, shape, &mut (which as usize % total), &mut path) {
        return None;
    }
    let mut node = tree;
    for i in path {
        node = match node {
            Json::Array(a) => a.get_mut(i)?,
            Json::Object(o) => o.values_mut().nth(i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Applies one 4-byte mutation `[op, node, node, arg]` to a JSON tree.
fn mutate(tree: &mut Json, op: &[u8]) {
    let [op, n0, n1, arg] = [
        op[0],
        op.get(1).copied().unwrap_or(0),
        op.get(2).copied().unwrap_or(0),
        op.get(3).copied().unwrap_or(0),
    ];
    let which = u16::from_le_bytes([n0, n1]);
    let arg_usize = arg as usize;
    match op % 10 {
        0 => {
            if let Some(v) = pick(tree, Shape::Number, which) {
                *v = interesting(arg);
            }
        }
        1 => {
            if let Some(v) = pick(tree, Shape::Number, which) {
                let delta = i64::from(arg as i8);
                *v = match (v.as_i64(), v.as_u64(), v.as_f64()) {
                    (Some(i), _, _) => json!(i.saturating_add(delta)),
                    (None, Some(u), _) => json!(u.saturating_add_signed(delta)),
                    (_, _, Some(f)) => json!(f * (delta as f64 + 0.5)),
                    _ => v.clone(),
                };
            }
        }
        2 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                a.remove(arg_usize % a.len());
            }
        }
        3 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                let x = a[arg_usize % a.len()].clone();
                for _ in 0..1 + arg_usize % 3 {
                    a.push(x.clone());
                }
            }
        }
        4 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which)
                && !a.is_empty()
            {
                let (i, j) = (arg_usize % a.len(), (arg_usize / 16) % a.len());
                a.swap(i, j);
            }
        }
        5 => {
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which) {
                a.truncate(arg_usize % (a.len() + 1));
            }
        }
        6 => {
            if let Some(v) = pick(tree, Shape::String, which) {
                *v = json!(STRINGS[arg_usize % STRINGS.len()]);
            }
        }
        7 => {
            if let Some(Json::Bool(b)) = pick(tree, Shape::Bool, which) {
                *b = !*b;
            }
        }
        8 => {
            // Inserts a number into an array (a list one longer than its partner lists).
            if let Some(Json::Array(a)) = pick(tree, Shape::Array, which) {
                let at = arg_usize % (a.len() + 1);
                let x = a.first().filter(|x| !x.is_number()).cloned().unwrap_or_else(|| interesting(arg));
                a.insert(at, x);
            }
        }
        _ => {
            // Replaces a node by a copy of another node of the same shape.
            let shape = [Shape::Number, Shape::Array, Shape::String][arg_usize % 3];
            let source = pick(tree, shape, u16::from(arg).wrapping_mul(257)).map(|v| v.clone());
            if let (Some(source), Some(v)) = (source, pick(tree, shape, which)) {
                *v = source;
            }
        }
    }
}

/// Target `decode_mutated`, structure-aware: the first byte picks a seed model, each next 4
/// bytes mutate its serde tree (a size, an index, a list's length, a name, a flag...); the
/// result is encoded as the store would and decoded by the store's `decode` (so the model is
/// well-formed postcard but possibly inconsistent), and used when it decodes.
pub fn decode_mutated(data: &[u8]) {
    let Some((&seed, ops)) = data.split_first() else { return };
    let trees = seed_trees();
    let mut tree = trees[seed as usize % trees.len()].clone();
    for op in ops.chunks(4).take(64) {
        mutate(&mut tree, op);
    }
    // Values serde cannot take back (a size that does not fit, a negative count) end here.
    let Ok(stored) = serde_json::from_value::<StoredModel>(tree) else { return };
    let Ok(plain) = postcard::to_stdvec(&Plaintext::new(&stored)) else { return };
    drop(stored);
    decode(&plain);
}

// ---------------------------------------------------------------------------------------------
// Target `options`

/// Options that multiply the work of a training run, and the most the `options` target lets
/// through: a fuzzer would otherwise spend its time in (legitimately) long trainings
/// (`epochs` up to 1,000,000; `n_epochs` and `iterations` unbounded; layers of 65,536 units).
/// The training's interrupt check and memory budget are tested too: every training of the
/// target is stopped by its interrupt check after [`TRAIN_SECONDS`] and has a budget of
/// [`TRAIN_MB`] (at most), so a value past these caps ends in a clean error, not a hang or
/// an out-of-memory abort.
const WORK_CAPS: &[(&str, u64)] = &[("epochs", 200), ("n_epochs", 200), ("iterations", 50)];
/// Largest hidden layer width and number of hidden layers let through.
const MAX_WIDTH: u64 = 256;
const MAX_LAYERS: usize = 4;
/// Seconds after which the `options` target interrupts a training.
pub const TRAIN_SECONDS: f64 = 2.0;
/// The memory budget of the `options` target's trainings, in MiB (below the fuzzer's default
/// limit of 2 GiB).
pub const TRAIN_MB: u64 = 512;

/// Lowers the options that only scale the work (see [`WORK_CAPS`]); every other value is
/// passed on as the fuzzer wrote it.
pub fn clamp_work(map: &mut Map<String, Json>) {
    for &(key, cap) in WORK_CAPS {
        if let Some(v) = map.get_mut(key)
            && v.as_f64().is_some_and(|x| x > cap as f64)
        {
            *v = json!(cap);
        }
    }
    if let Some(v) = map.get_mut("hidden_layers") {
        let parsed = match &*v {
            Json::String(s) => serde_json::from_str::<Json>(s).ok(),
            other => Some(other.clone()),
        };
        let clamp = |x: &Json| match x.as_f64() {
            Some(f) if f > MAX_WIDTH as f64 => json!(MAX_WIDTH),
            _ => x.clone(),
        };
        match parsed {
            Some(Json::Array(a)) => *v = Json::Array(a.iter().take(MAX_LAYERS).map(clamp).collect()),
            Some(x @ Json::Number(_)) => *v = clamp(&x),
            _ => {}
        }
    }
}

/// Target `options`: `text` as the options of `ml_train`, parsed, lowered by [`clamp_work`],
/// then given to the training of every kind on its fixed data (the recommender also without
/// a target), each with a deadline and a memory budget (see [`WORK_CAPS`]). A model that
/// trains must encode, decode and work.
pub fn train_options(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    let Ok(opts) = Options::parse(Some(text)) else { return };
    let Json::Object(mut map) = opts.to_json() else { return };
    clamp_work(&mut map);
    let runs = [
        ("text", Some("queue")),
        ("classifier", Some("churned")),
        ("recommender", Some("rating")),
        ("recommender", None),
    ];
    for (kind, target) in runs {
        let (data, _) = dataset(kind);
        let mut opts = Options::from_map(map.clone());
        let started = Instant::now();
        let deadline = move || {
            if started.elapsed().as_secs_f64() > TRAIN_SECONDS {
                Err(Error::argument("interrupted by the fuzz target's deadline"))
            } else {
                Ok(())
            }
        };
        let Ok(mut common) = Common::read(&mut opts) else { return };
        common.budget = Budget::training_mb(common.budget.mb().min(TRAIN_MB));
        common.control = std::mem::take(&mut common.control).with_check(&deadline);
        if let Ok(trained) = models::train(kind, data, target, &mut opts, &common) {
            let plain = encode(trained.model).expect("a trained model encodes");
            match decode_model(&plain) {
                Ok(model) => exercise(&model),
                Err(e) => panic!("a {kind} model trained with {text} does not decode: {e}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Target `tokenize`

const LANGUAGES: [Language; 19] = [
    Language::Arabic,
    Language::Danish,
    Language::Dutch,
    Language::English,
    Language::Finnish,
    Language::French,
    Language::German,
    Language::Greek,
    Language::Hungarian,
    Language::Italian,
    Language::Norwegian,
    Language::Portuguese,
    Language::Romanian,
    Language::Russian,
    Language::Spanish,
    Language::Swedish,
    Language::Tamil,
    Language::Turkish,
    Language::Chinese,
];

/// The tokenizer configuration of the first byte (`cjk`, `stopwords`, `stem`, and the
/// language among all 19 from the upper bits), with the n-gram range of the second.
pub fn tokenizer_config(b0: u8, b1: u8) -> (TokenizerConfig, usize, usize) {
    let cjk = if b0 & 1 == 0 { Cjk::Bigrams } else { Cjk::DEFAULT };
    let language = LANGUAGES[(b0 >> 3) as usize % LANGUAGES.len()];
    let config = TokenizerConfig { cjk, language, stopwords: b0 & 2 != 0, stem: b0 & 4 != 0 };
    let max = models::text::MAX_NGRAM;
    let lo = 1 + (b1 as usize % max);
    let hi = lo + (b1 as usize / 8) % (max - lo + 1);
    (config, lo, hi)
}

fn with_tokenizer<T>(config: TokenizerConfig, f: impl FnOnce(&Tokenizer) -> T) -> T {
    type Cache = Mutex<HashMap<(bool, usize, bool, bool), &'static Tokenizer>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (config.cjk == Cjk::Bigrams, config.language as usize, config.stopwords, config.stem);
    let cache = CACHE.get_or_init(Cache::default);
    let tokenizer = {
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_insert_with(|| Box::leak(Box::new(Tokenizer::new(config))))
    };
    f(tokenizer)
}

/// Target `tokenize`: two configuration bytes (see [`tokenizer_config`]), then the text
/// (invalid UTF-8 replaced, as it could not reach the tokenizer from SQL). Checks that both
/// tokenizer paths agree and that n-gram hashes match their text.
pub fn tokenize(data: &[u8]) {
    let [b0, b1, rest @ ..] = data else { return };
    let (config, lo, hi) = tokenizer_config(*b0, *b1);
    let text = String::from_utf8_lossy(rest);
    with_tokenizer(config.clone(), |tok| {
        let (mut full, mut hashed) = (Tokens::default(), Tokens::default());
        tok.tokenize(&text, &mut full);
        tok.tokenize_hashes(&text, &mut hashed);
        assert_eq!(
            full.hashes(),
            hashed.hashes(),
            "tokenize and tokenize_hashes disagree on {text:?} ({config:?})"
        );
        for i in 0..full.len() {
            let t = full.get(i);
            assert!(!t.is_empty() && !t.contains(' '), "token {t:?} of {text:?} ({config:?})");
        }
        let mut grams = Vec::new();
        full.ngrams_into(lo, hi, &mut grams);
        let mut hashes = Vec::new();
        hashed.ngram_hashes_into(lo, hi, &mut hashes);
        assert_eq!(grams.iter().map(|g| g.hash).collect::<Vec<_>>(), hashes, "n-gram hashes of {text:?}");
        for g in &grams {
            let gram = &full.text()[g.start as usize..g.end as usize];
            assert_eq!(term_hash(gram), g.hash, "n-gram {gram:?} of {text:?} ({config:?})");
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Target `source`

/// How many progress callbacks (each after 1,000 SQLite virtual machine steps) a source may
/// take before it is interrupted: a source that never ends (a recursive CTE) is a user's own
/// query, not a bug, but would stall the fuzzer.
const SOURCE_STEPS: u32 = 2_000;

thread_local! {
    static SOURCE_DB: rusqlite::Connection = source_db();
    static STEPS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn source_db() -> rusqlite::Connection {
    // Bounds what one statement can allocate (`zeroblob(1e9)`, `printf('%.*c', 1e9, 'x')`).
    // SAFETY: a plain setter of a process-wide limit, valid at any time.
    unsafe { rusqlite::ffi::sqlite3_hard_heap_limit64(256 << 20) };
    let conn = rusqlite::Connection::open_in_memory().expect("in-memory database");
    conn.execute_batch(
        "CREATE TABLE t(a, b, c);
         INSERT INTO t VALUES (1, 'x', 2.5), (2, 'y', NULL), (3, NULL, -1);
         CREATE VIEW v AS SELECT a, b FROM t WHERE a > 1;
         CREATE TABLE \"we\"\"ird.name\"(x);
         INSERT INTO \"we\"\"ird.name\" VALUES ('z');",
    )
    .expect("fixed schema");
    conn.progress_handler(
        1_000,
        Some(|| {
            STEPS.with(|s| {
                s.set(s.get() + 1);
                s.get() > SOURCE_STEPS
            })
        }),
    )
    .expect("a progress handler");
    conn
}

/// What a table source must be: `SELECT * FROM ` then one or two double-quoted identifiers
/// (inner quotes doubled) joined by a dot, and nothing else.
fn is_quoted_path(sql: &str) -> bool {
    let Some(mut rest) = sql.strip_prefix("SELECT * FROM ") else { return false };
    for part in 0..2 {
        let Some(body) = rest.strip_prefix('"') else { return false };
        let mut chars = body.char_indices().peekable();
        let end = loop {
            match chars.next() {
                None => return false,
                Some((i, '"')) => {
                    if chars.peek().is_some_and(|&(_, c)| c == '"') {
                        chars.next();
                    } else {
                        break i;
                    }
                }
                Some(_) => {}
            }
        };
        rest = &body[end + 1..];
        if rest.is_empty() {
            return true;
        }
        if part == 0 {
            let Some(r) = rest.strip_prefix('.') else { return false };
            rest = r;
        }
    }
    false
}

/// `source::parse`, for tests.
pub fn parse_source(text: &str) -> Result<String> {
    Ok(match source::parse(text)? {
        Source::Table(sql) => sql,
        Source::Query(sql) => sql,
    })
}

/// Target `source`: classifies `text` as a source, checks a table source is a quoted name,
/// then reads it from a fixed in-memory database and checks that nothing changed.
pub fn source(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    match source::parse(text) {
        Ok(Source::Table(sql)) => assert!(is_quoted_path(&sql), "source {text:?} became {sql:?}"),
        Ok(Source::Query(sql)) => assert!(text.contains(&sql), "query {text:?} became {sql:?}"),
        Err(_) => return,
    }
    SOURCE_DB.with(|conn| {
        let fingerprint = |conn: &rusqlite::Connection| -> (u64, i64, i64) {
            let schema = conn.query_row("PRAGMA schema_version", [], |r| r.get(0)).unwrap_or(-1);
            let rows = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap_or(-1);
            (conn.total_changes(), schema, rows)
        };
        let before = fingerprint(conn);
        STEPS.with(|s| s.set(0));
        let _ = source::read(conn, text);
        STEPS.with(|s| s.set(0));
        assert_eq!(fingerprint(conn), before, "reading source {text:?} changed the database");
    });
}

// ---------------------------------------------------------------------------------------------
// Target `predict_inputs`

/// The classifiers of the `predict_inputs` target: several features, with extra JSON keys
/// allowed, and one text feature (where one text argument is the feature value, not JSON).
fn input_models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        ["classifier", "classifier_extra_keys", "classifier_one_text"]
            .iter()
            .map(|name| {
                let seed = seeds().iter().find(|s| s.name == *name).expect("a seed of that name");
                decode_model(&seed.plain).expect("seed models decode")
            })
            .collect()
    })
}

/// Target `predict_inputs`: the first byte picks a classifier and the form of the arguments.
/// Even: the rest is one text argument (a JSON object of feature values, or a value).
/// Odd: the rest is a list of positional arguments, each a tag byte then its payload.
pub fn predict_inputs(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else { return };
    let models = input_models();
    let model = &models[(head >> 1) as usize % models.len()];
    let run = |args: &[Input<'_>]| {
        let _ = model.predict(args);
        let _ = model.predict_proba(args);
        let _ = model.explain(args);
    };
    if head & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        run(&[Input::Text(&text)]);
        return;
    }
    // Owned payloads first, then the borrowed inputs.
    enum Arg {
        Null,
        Integer(i64),
        Real(f64),
        Text(String),
        Blob(Vec<u8>),
    }
    let mut args = Vec::new();
    let mut bytes = rest;
    while let [tag, tail @ ..] = bytes {
        if args.len() >= 64 {
            break;
        }
        let take = |n: usize, tail: &[u8]| -> ([u8; 8], usize) {
            let n = n.min(tail.len());
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&tail[..n]);
            (b, n)
        };
        let (arg, used) = match tag % 6 {
            0 => (Arg::Null, 0),
            1 => {
                let (b, n) = take(8, tail);
                (Arg::Integer(i64::from_le_bytes(b)), n)
            }
            2 => {
                let (b, n) = take(8, tail);
                (Arg::Real(f64::from_le_bytes(b)), n)
            }
            3 | 4 => {
                let len = (*tail.first().unwrap_or(&0) as usize).min(tail.len().saturating_sub(1));
                let body = &tail[tail.len().min(1)..tail.len().min(1) + len];
                let arg = if tag % 6 == 3 {
                    Arg::Text(String::from_utf8_lossy(body).into_owned())
                } else {
                    Arg::Blob(body.to_vec())
                };
                (arg, tail.len().min(1) + len)
            }
            _ => (Arg::Integer(i64::from(*tail.first().unwrap_or(&0) as i8)), tail.len().min(1)),
        };
        args.push(arg);
        bytes = &tail[used..];
    }
    let inputs: Vec<Input<'_>> = args
        .iter()
        .map(|a| match a {
            Arg::Null => Input::Null,
            Arg::Integer(i) => Input::Integer(*i),
            Arg::Real(r) => Input::Real(*r),
            Arg::Text(t) => Input::Text(t),
            Arg::Blob(b) => Input::Blob(b),
        })
        .collect();
    run(&inputs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_models_decode_and_work() {
        for seed in seeds() {
            let model = decode_model(&seed.plain).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            assert_eq!(model.kind(), seed.kind, "{}", seed.name);
            exercise(&model);
            envelope(&seal(&seed.plain));
            let plain = bundle_plaintext(seed);
            let sealed = seal_bundle(SCHEMA_VERSION, &plain).unwrap();
            let opened = crate::store::bundle::open_with(&sealed, BUNDLE_PASS, BUNDLE_CEILING)
                .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            assert_eq!(opened.model.kind(), seed.kind, "{}", seed.name);
            bundle(&[&[0u8][..], &sealed].concat());
            bundle(&[&[1u8][..], &plain].concat());
        }
        assert_eq!(seed_trees().len(), SEED_MODELS.len());
    }

    #[test]
    fn every_target_takes_empty_and_small_inputs() {
        for data in [&b""[..], b"\0", b"\x01\x02\x03\x04\x05", b"{}", b"{\"epochs\": 1e9}", b"t", b"\xff\xfe"]
        {
            envelope(data);
            decode(data);
            decode_mutated(data);
            train_options(data);
            tokenize(data);
            source(data);
            predict_inputs(data);
            bundle(data);
        }
    }

    /// A few thousand mutations of the seed bundles (whole, and as plaintexts sealed
    /// properly, which reaches the checks after authentication): errors, never a panic; the
    /// metadata length pointing anywhere, the metadata cut or grown, the model's bytes changed.
    #[test]
    fn mutated_bundles_are_errors() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for seed in seeds().iter().step_by(2) {
            let plain = bundle_plaintext(seed);
            let sealed = seal_bundle(SCHEMA_VERSION, &plain).unwrap();
            for (mode, original) in [(0u8, &sealed), (1, &plain)] {
                for _ in 0..150 {
                    let mut d = original.clone();
                    for _ in 0..1 + next() % 3 {
                        let at = next() as usize % d.len();
                        match next() % 5 {
                            0 => d[at] ^= 1 << (next() % 8),
                            1 => d.truncate(at),
                            2 => d.insert(at, next() as u8),
                            3 if d.len() >= 4 => d[..4].copy_from_slice(&(next() as u32 % 600).to_le_bytes()),
                            _ => d[at] = [0, 1, 0x7f, 0x80, 0xff][next() as usize % 5],
                        }
                        if d.is_empty() {
                            break;
                        }
                    }
                    bundle(&[&[mode][..], &d].concat());
                }
            }
        }
    }

    #[test]
    fn table_sources_are_one_quoted_name() {
        assert!(is_quoted_path("SELECT * FROM \"t\""));
        assert!(is_quoted_path("SELECT * FROM \"main\".\"a\"\"b\""));
        assert!(!is_quoted_path("SELECT * FROM \"t\"; DROP TABLE t"));
        assert!(!is_quoted_path("SELECT * FROM \"a\".\"b\".\"c\""));
        assert_eq!(parse_source(" main.t ; ").unwrap(), "SELECT * FROM \"main\".\"t\"");
        source(b"t");
        source(b"WITH x AS (SELECT 1) DELETE FROM t");
        source(b"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c");
    }

    #[test]
    fn clamp_lowers_only_the_work() {
        let given = json!({
            "epochs": 1e9,
            "n_epochs": 5,
            "hidden_layers": "[65536, 2, 3, 4, 5]",
            "min_df": 1e9,
        });
        let Json::Object(mut map) = given else { unreachable!() };
        clamp_work(&mut map);
        assert_eq!(
            Json::Object(map),
            json!({"epochs": 200, "n_epochs": 5, "hidden_layers": [256, 2, 3, 4], "min_df": 1e9})
        );
    }

    /// Past the caps, the deadline and the budget end a training with an error: layers of
    /// 65,536 units need more than the target's budget, and one of 256 units for 200 epochs
    /// takes about the deadline or less.
    #[test]
    fn huge_work_is_an_error_or_bounded() {
        let started = Instant::now();
        train_options(br#"{"hidden_layers": [4096, 4096], "epochs": 1000000}"#);
        train_options(br#"{"n_epochs": 1e12, "n_factors": 1024, "iterations": 1e12, "algorithm": "als"}"#);
        assert!(started.elapsed().as_secs_f64() < 8.0 * TRAIN_SECONDS, "{:?}", started.elapsed());
    }

    /// A seed model changed by `edit` (on its serde tree), encoded as the store writes
    /// models, then decoded: the error, or (after using the model) `None`.
    fn corrupted(seed: &str, edit: impl FnOnce(&mut Json)) -> Option<String> {
        let i = SEED_MODELS.iter().position(|s| s.0 == seed).expect("a seed of that name");
        let mut tree = seed_trees()[i].clone();
        edit(&mut tree);
        // Deserializing checks the model (as the store's postcard decoding does).
        let stored: StoredModel = match serde_json::from_value(tree) {
            Ok(stored) => stored,
            Err(e) => return Some(e.to_string()),
        };
        match decode_model(&postcard::to_stdvec(&Plaintext::new(&stored)).expect("the edited model encodes"))
        {
            Ok(model) => {
                exercise(&model);
                None
            }
            Err(e) => Some(e.to_string()),
        }
    }

    fn set(pointer: &str, value: Json) -> impl FnOnce(&mut Json) + '_ {
        move |tree: &mut Json| *tree.pointer_mut(pointer).expect("the pointer names a node") = value
    }

    /// Seed models with one value changed, each of which made prediction panic (an index or
    /// slice out of range, `copy_from_slice` of another length, a zero chunk size, the
    /// assertion of `f64::clamp`) or abort (an allocation of petabytes) before decoding
    /// checked that a model's parts agree. Found by the `decode` and `decode_mutated` targets.
    #[test]
    fn inconsistent_models_are_decoding_errors() {
        let (c, t, r) = ("/model/Classifier", "/model/Text", "/model/Recommender");
        let cases: Vec<(&str, String, Json)> = vec![
            ("classifier", format!("{c}/network/params"), json!([0.5])),
            ("classifier", format!("{c}/network/sizes"), json!([7, 0, 2])),
            ("classifier", format!("{c}/network/sizes"), json!([7])),
            ("classifier", format!("{c}/network/sizes"), json!([1u64 << 60, 4, 2])),
            ("classifier", format!("{c}/encoder/width"), json!(1u64 << 50)),
            ("classifier", format!("{c}/encoder/features/2/offset"), json!(999)),
            ("classifier", format!("{c}/classes"), json!([{"Text": "no"}])),
            ("classifier", format!("{c}/baseline"), json!([0.0])),
            ("classifier", format!("{c}/encoder/features/1/encoding/Categorical/sorted"), json!([0, 1, 9])),
            ("text_multinomial", format!("{t}/classes"), json!([{"Text": "account"}, {"Text": "billing"}])),
            ("text_multinomial", format!("{t}/classes"), json!([{"Text": "a"}])),
            ("text_multinomial", format!("{t}/settings/ngrams"), json!([0, 9])),
            ("text_complement", format!("{t}/idf"), json!([])),
            ("recommender_svd", format!("{r}/history/offsets"), json!([])),
            ("recommender_svd", format!("{r}/history/cols/0"), json!(8)),
            ("recommender_svd", format!("{r}/held_out_rated/offsets/1"), json!(99)),
            ("recommender_svd", format!("{r}/item_norms"), json!([])),
            ("recommender_als", format!("{r}/popularity"), json!([1.0])),
            ("recommender_svd", format!("{r}/rating_scale"), json!([5.0, 1.0])),
            ("recommender_svd", format!("{r}/user_bias"), json!([])),
            ("recommender_svd", format!("{r}/user_factors/stride"), json!(4)),
            ("recommender_svd_unbiased", format!("{r}/item_factors/k"), json!(3)),
        ];
        for (seed, pointer, value) in cases {
            let shown = format!("{seed}: {pointer} = {value}");
            assert!(corrupted(seed, set(&pointer, value)).is_some(), "{shown} decoded");
        }
        // A term beyond the weights: an index out of range when the term is found.
        let longer = |tree: &mut Json| {
            let vocab = tree.pointer_mut("/model/Text/vocab").and_then(Json::as_array_mut).expect("vocab");
            vocab.push(json!("\u{10ffff}"));
        };
        assert!(corrupted("text_multinomial", longer).is_some());
        // Consistent but unusual values still decode: an unbiased model without biases.
        assert_eq!(corrupted("recommender_svd_unbiased", set(&format!("{r}/user_bias"), json!([]))), None);
    }

    /// A space then a combining mark that counts as a letter (U+073F, Arabic U+064B): UAX #29
    /// keeps the space in the word, and such a token's n-grams hashed differently after a
    /// model's save and load (found by the `tokenize` target).
    #[test]
    fn no_token_holds_a_space() {
        let text = "word \u{73f} x \u{64b}\u{64b} \u{3000}\u{5bf}y  \u{200d}z";
        for b0 in 0..=255u8 {
            let mut data = vec![b0, 0x29];
            data.extend_from_slice(text.as_bytes());
            tokenize(&data);
        }
    }

    /// A fuzz target: it takes the fuzzer's bytes.
    type Target = fn(&[u8]);

    /// Every cargo-fuzz target by its name (its folder under `fuzz/corpus/`).
    const TARGETS: &[(&str, Target)] = &[
        ("envelope", envelope),
        ("decode", decode),
        ("decode_mutated", decode_mutated),
        ("options", train_options),
        ("tokenize", tokenize),
        ("source", source),
        ("predict_inputs", predict_inputs),
        ("bundle", bundle),
    ];

    /// Every file named `bug-*` under `fuzz/corpus/<target>/` (inputs that once crashed a
    /// target) runs through its target again.
    #[test]
    fn regressions_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for &(name, target) in TARGETS {
            let Ok(dir) = std::fs::read_dir(root.join(name)) else { continue };
            for entry in dir.flatten() {
                if entry.file_name().to_string_lossy().starts_with("bug-") {
                    let data = std::fs::read(entry.path()).expect("readable corpus file");
                    target(&data);
                }
            }
        }
    }

    /// Every target, briefly, in every `cargo test` (so in CI, where the coverage-guided
    /// `scripts/fuzz.sh short` does not fit: its instrumented build alone takes about 10
    /// minutes): each committed corpus file as it is, then a fixed number of seeded mutations
    /// of the corpus (bytes flipped or set to edge values, cut, repeated, inserted, spliced
    /// with another file). Not coverage-guided: a smoke run that catches a target that
    /// panics, aborts or hangs on its own seeds' near neighbours. The target's own checks
    /// (see each one) are the assertions.
    #[test]
    fn every_target_on_its_corpus_and_mutations() {
        const MUTATIONS: usize = 3000;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for &(name, target) in TARGETS {
            let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(root.join(name))
                .unwrap_or_else(|e| panic!("fuzz/corpus/{name}: {e}"))
                .flatten()
                .map(|e| std::fs::read(e.path()).expect("readable corpus file"))
                .collect();
            corpus.sort();
            assert!(!corpus.is_empty(), "fuzz/corpus/{name} is empty");
            for data in &corpus {
                target(data);
            }
            for _ in 0..MUTATIONS {
                let mut data = corpus[next() as usize % corpus.len()].clone();
                for _ in 0..1 + next() % 4 {
                    let at = if data.is_empty() { 0 } else { next() as usize % data.len() };
                    match next() % 6 {
                        0 if !data.is_empty() => data[at] ^= 1 << (next() % 8),
                        1 if !data.is_empty() => data[at] = [0, 0xff, 0x7f, 0x80, 1][next() as usize % 5],
                        2 => data.truncate(at),
                        3 => {
                            let end = (at + 1 + next() as usize % 16).min(data.len());
                            let chunk = data[at..end].to_vec();
                            data.splice(at..at, chunk);
                        }
                        4 => {
                            let bytes: Vec<u8> = (0..1 + next() % 8).map(|_| next() as u8).collect();
                            data.splice(at..at, bytes);
                        }
                        _ => {
                            let other = &corpus[next() as usize % corpus.len()];
                            let from = if other.is_empty() { 0 } else { next() as usize % other.len() };
                            data.truncate(at);
                            data.extend_from_slice(&other[from..]);
                        }
                    };
                }
                target(&data);
            }
        }
    }

    /// Writes the seed corpora into `$SQLML_FUZZ_SEEDS/<target>/` (see `scripts/fuzz.sh seeds`).
    #[test]
    #[ignore = "writes files; run by scripts/fuzz.sh seeds"]
    fn write_seed_corpus() {
        let Ok(root) = std::env::var("SQLML_FUZZ_SEEDS") else { return };
        let root = std::path::PathBuf::from(root);
        let write = |target: &str, name: &str, data: &[u8]| {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).expect("corpus directory");
            std::fs::write(dir.join(format!("seed-{name}")), data).expect("corpus file");
        };
        for (i, seed) in seeds().iter().enumerate() {
            write("decode", seed.name, &seed.plain);
            write("envelope", seed.name, &seal(&seed.plain));
            write("decode_mutated", seed.name, &[i as u8]);
            // One mutation each of a few kinds, as examples for the fuzzer to build on.
            write("decode_mutated", &format!("{}-sizes", seed.name), &[i as u8, 0, 3, 0, 9, 5, 1, 0, 0]);
            let plain = bundle_plaintext(seed);
            let mut sealed = vec![0u8];
            sealed.extend(seal_bundle(SCHEMA_VERSION, &plain).expect("seed bundles seal"));
            write("bundle", &format!("{}-sealed", seed.name), &sealed);
            let mut open = vec![1u8];
            open.extend_from_slice(&plain);
            write("bundle", &format!("{}-plaintext", seed.name), &open);
        }
        for (name, _, options) in SEED_MODELS {
            write("options", name, options.as_bytes());
        }
        let more_options = [
            r#"{}"#,
            r#"{"seed": 7, "test_size": 0.5}"#,
            r#"{"language": "auto", "stopwords": 1, "stem": 1, "min_df": 2, "max_features": 5, "priors": "uniform", "alpha": 1e-9}"#,
            r#"{"cjk": "words", "language": "zh", "ngrams": "[2, 5]", "weighting": "binary"}"#,
            r#"{"exclude": ["visits"], "class_weight": "balanced", "validation_split": 0.3, "patience": 1, "dropout": 0.5, "l2": 0.1, "batch_size": 1, "shuffle": false, "max_categories": 1}"#,
            r#"{"learning_rate": 1e308, "epochs": 3}"#,
            r#"{"algorithm": "svdpp", "lr_all": 10, "reg_all": 0, "init_std_dev": 100, "rating_scale": [1, 5], "relevant": 3, "user": "item", "item": "user_id"}"#,
            r#"{"algorithm": "als", "feedback": "implicit", "alpha": 40, "regularization": 0, "factors": 1024, "iterations": 2}"#,
        ];
        for (i, o) in more_options.iter().enumerate() {
            write("options", &format!("more-{i}"), o.as_bytes());
        }
        let texts = [
            "Hello, World! It's 3.14 o'clock",
            "我的订单被重复扣款了，怎么办？",
            "ＡＢＣ１２３ ﬁ ½ Ⅻ ㍻",
            "Die Zahlung ist fehlgeschlagen, nicht wahr?",
            "Привет, как дела? не знаю",
            "كيف حالك اليوم",
            "naïve café résumé coöperate",
            "日本語のテキストとカタカナ",
            "e\u{301}\u{301} a\u{308}\u{20dd} 한국어 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
        ];
        for (i, t) in texts.iter().enumerate() {
            for (j, cfg) in [(0u8, 9u8), (1, 1), (6 + 8 * 6, 0x21), (7 + 8 * 18, 0x0a)].iter().enumerate() {
                let mut data = vec![cfg.0, cfg.1];
                data.extend_from_slice(t.as_bytes());
                write("tokenize", &format!("{i}-{j}"), &data);
            }
        }
        let sources = [
            "t",
            "main.t",
            "\"we\"\"ird.name\"",
            "[t]",
            "`v`",
            "SELECT a, b FROM t WHERE a > 1",
            "WITH x AS (SELECT 1 AS k) SELECT * FROM x",
            "VALUES (1, 'a'), (2, 'b')",
            "(SELECT * FROM t)",
            "SELECT 1; DELETE FROM t",
            "WITH x AS (SELECT 1) DELETE FROM t",
            "select * from pragma_table_info('t')",
            "t; drop table t",
        ];
        for (i, s) in sources.iter().enumerate() {
            write("source", &i.to_string(), s.as_bytes());
        }
        let inputs: [&[u8]; 8] = [
            br#"{"amount": 12.5, "plan": "pro", "visits": 3, "flag": 1}"#,
            br#"{"AMOUNT": null, "plan": null, "visits": "7", "flag": true, "churned": "yes"}"#,
            br#"{"amount": 1, "amount": 2}"#,
            br#"{"plan": "team", "extra": [1, {"a": 2}], "amount": -1e308, "visits": 0, "flag": false}"#,
            b"\x01\x01\x00\x00\x00\x00\x00\x00\x00\x40\x03\x03pro\x05\x07\x00",
            b"\x03\x02\x00\x00\x00\x00\x00\x00\xf0\x7f\x00\x04\x02\xff\xfe\x01\x01",
            b"\x04basic",
            b"\x02{\"plan\": \"basic\", \"zzz\": 1, \"visits\": 2, \"flag\": 0, \"amount\": 3}",
        ];
        for (i, d) in inputs.iter().enumerate() {
            let mut data = d.to_vec();
            if i < 4 {
                data.insert(0, 0);
            }
            write("predict_inputs", &i.to_string(), &data);
        }
    }
}
