//! The seed models every model target starts from, and the warm-up of each target.

use super::data::{dataset, datasets, train};
use super::decode::seed_trees;
use super::envelope::key;
use super::predict::input_models;
use super::source::SOURCE_DB;
use super::tokenize::tokenize;
use crate::models::Model;
use crate::{Error, Result};
use std::sync::OnceLock;

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
/// [`StoredModel`](crate::models::StoredModel), as stored inside the envelope).
#[derive(Debug)]
pub struct Seed {
    /// Name, e.g. `text_complement`.
    pub name: &'static str,
    /// Kind.
    pub kind: &'static str,
    /// The encoded [`StoredModel`](crate::models::StoredModel).
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
