//! Decoding a model plaintext: arbitrary bytes through the store's decode (schema version,
//! postcard, validation), then the model used.
//! See `sqlml::fuzzing::decode` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("decode"), |data: &[u8]| {
    sqlml::fuzzing::decode(data)
});
