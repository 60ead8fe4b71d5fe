//! Opening a stored blob: arbitrary bytes as an envelope, with a fixed key and binding (a blob
//! that opens is decoded and its model used).
//! See `sqlml::fuzzing::envelope` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("envelope"), |data: &[u8]| {
    sqlml::fuzzing::envelope(data)
});
