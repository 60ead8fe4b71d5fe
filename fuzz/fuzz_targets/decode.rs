//! Decoding a model plaintext: arbitrary bytes through the store's decode (schema version, postcard, validation), then the model used.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up(), |data: &[u8]| sqlml::fuzzing::decode(data));
