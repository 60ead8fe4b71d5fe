//! Classifier prediction inputs: one JSON-object (or text) argument, or positional mixed-type
//! arguments, against small trained classifiers.
//! See `sqlml::fuzzing::predict_inputs` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("predict_inputs"), |data: &[u8]| {
    sqlml::fuzzing::predict_inputs(data)
});
