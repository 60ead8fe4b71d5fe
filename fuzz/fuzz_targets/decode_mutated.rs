//! Structure-aware decoding: a seed model of each kind/algorithm, its serde tree mutated (sizes,
//! indices, list lengths), re-encoded, decoded by the store, then used.
//! See `sqlml::fuzzing::decode_mutated` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("decode_mutated"), |data: &[u8]| {
    sqlml::fuzzing::decode_mutated(data)
});
