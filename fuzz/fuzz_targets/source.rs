//! Classifying and reading a source statement (table name or read-only SELECT) against a fixed in-memory database, which must stay unchanged.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up(), |data: &[u8]| sqlml::fuzzing::source(data));
