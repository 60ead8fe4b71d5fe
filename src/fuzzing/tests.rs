//! Every target on small, mutated and corpus inputs; regressions found by fuzzing; writing
//! the seed corpora.

use super::bundle::{BUNDLE_CEILING, BUNDLE_PASS};
use super::decode::seed_trees;
use super::source::is_quoted_path;
use super::*;
use crate::models::stored::Plaintext;
use crate::models::{SCHEMA_VERSION, StoredModel};
use rand::Rng;
use serde_json::{Value as Json, json};
use std::time::Instant;

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
    for data in [&b""[..], b"\0", b"\x01\x02\x03\x04\x05", b"{}", b"{\"epochs\": 1e9}", b"t", b"\xff\xfe"] {
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
    let mut rng = crate::models::split::rng(0x9E37_79B9_7F4A_7C15u64);
    let mut next = move || rng.random::<u64>();
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
    match decode_model(&postcard::to_stdvec(&Plaintext::new(&stored)).expect("the edited model encodes")) {
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
    let mut rng = crate::models::split::rng(0x9e37_79b9_7f4a_7c15u64);
    let mut next = move || rng.random::<u64>();
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

/// The `options` target's text data with many classes trains (so the target reaches the lists
/// of runs), with the default refit and without.
#[test]
fn the_many_classes_text_data_trains() {
    use crate::models::{Common, Options, train};
    let data = super::data::many_classes_text_data();
    for test_size in [0.2, 0.0] {
        let common = Common { test_size, ..Common::default() };
        let trained = train("text", data, Some("queue"), &mut Options::parse(None).unwrap(), &common)
            .unwrap_or_else(|e| panic!("test_size {test_size}: {e}"));
        assert_eq!(trained.model.classes().len(), 20, "test_size {test_size}");
        assert_eq!(trained.served_rows, 40, "test_size {test_size}");
    }
}

/// The target `options` trains a text model on a lent column from its first pass on (its texts
/// given back as they are counted) for odd-length inputs, and checks it against the training
/// not lent: options that take that path (an explicit `min_df`, word pairs or longer) pass, and
/// the path is taken.
#[test]
fn options_train_text_on_a_lent_column_given_back_as_counted() {
    let before = crate::models::text::given_back_as_counted();
    let inputs = [
        r#"{"min_df": 2, "seed": 3}"#,
        r#"{"min_df": 2, "ngrams": [1, 3], "algorithm": "complement"}"#,
        r#"{"min_df": 3, "weighting": "binary", "test_size": 0.5}"#,
        r#"{"min_df": 2, "ngrams": [2, 2], "priors": "uniform"}"#,
    ];
    for input in inputs {
        let input = if input.len() % 2 == 1 { input.to_string() } else { format!("{input} ") };
        train_options(input.as_bytes());
    }
    assert!(crate::models::text::given_back_as_counted() > before);
}
