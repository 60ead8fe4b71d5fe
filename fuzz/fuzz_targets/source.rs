//! Classifying and reading a source statement (table name or read-only SELECT) against a fixed
//! in-memory database, which must stay unchanged.
//! See `sqlml::fuzzing::source` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("source"), |data: &[u8]| {
    sqlml::fuzzing::source(data)
});
