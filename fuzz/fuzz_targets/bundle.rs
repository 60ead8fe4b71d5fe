//! Opening a model bundle (`ml_import`): arbitrary bytes as a whole bundle, or as a bundle's
//! plaintext sealed with the fixed passphrase (a bundle that opens has its model used).
//! See `sqlml::fuzzing::bundle` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("bundle"), |data: &[u8]| {
    sqlml::fuzzing::bundle(data)
});
