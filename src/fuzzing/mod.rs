//! Entry points of the `cargo fuzz` targets in `fuzz/` (run them with `scripts/fuzz.sh`), and
//! the fixed data, models and inputs they share. Not a public API: hidden from the
//! documentation and compiled only for tests and with the cargo feature `fuzzing`.
//!
//! Each target function takes the fuzzer's bytes and must return normally whatever they are:
//! an `Err` from sqlml is an expected answer, while a panic, an abort (a failed allocation), a
//! hang or a failed property check is a bug. The properties checked beyond "no crash":
//!
//! * [`train_options`]: a model trained with any options encodes and decodes again (so the
//!   validation after decoding never rejects a real model) and can then be used, and a text
//!   model's refit on every row is the model of one fit on every row;
//! * [`tokenize`](fn@tokenize): `tokenize` and `tokenize_hashes` give the same token hashes,
//!   every n-gram's text hashes to the hash the n-gram carries, and no token is empty or holds
//!   a space;
//! * [`source`](fn@source): a table source becomes `SELECT * FROM` one or two quoted
//!   identifiers and nothing else, and reading any source leaves the database unchanged.
//!
//! Targets that decode models ([`envelope`](fn@envelope), [`decode`](fn@decode),
//! [`decode_mutated`]) use every model that decodes: predictions, probabilities, explanations,
//! top tokens, recommendations and similar items on a few fixed inputs
//! ([`exercise`](fn@exercise)).
//!
//! One module a target (`envelope`, `bundle`, `decode` with `mutate` for `decode_mutated`,
//! `options`, `tokenize`, `source`, `predict`), beside the fixed training data (`data`), the
//! seed models (`seeds`) and the use of a decoded model (`exercise`).

mod bundle;
mod data;
mod decode;
mod envelope;
mod exercise;
mod mutate;
mod options;
mod predict;
mod seeds;
mod source;
mod tokenize;

pub use bundle::{bundle, bundle_plaintext, seal_bundle};
pub use data::{classifier_data, ratings_data, text_data, train};
pub use decode::{decode, decode_model, decode_mutated};
pub use envelope::{binding, envelope, seal};
pub use exercise::exercise;
pub use options::{TRAIN_MB, TRAIN_SECONDS, clamp_work, train_options};
pub use predict::predict_inputs;
pub use seeds::{SEED_MODELS, Seed, encode, seeds, warm_up};
pub use source::{parse_source, source};
pub use tokenize::{tokenize, tokenizer_config};

#[cfg(test)]
mod tests;
