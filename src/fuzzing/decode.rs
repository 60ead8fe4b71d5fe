//! Targets `decode` and `decode_mutated`: model plaintexts as they are, and seed models
//! mutated on their serde trees.

use super::exercise::exercise;
use super::mutate::mutate;
use super::seeds::seeds;
use crate::Result;
use crate::models::stored::Plaintext;
use crate::models::{Model, StoredModel};
use serde_json::Value as Json;
use std::sync::OnceLock;

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
pub(super) fn seed_trees() -> &'static [Json] {
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
