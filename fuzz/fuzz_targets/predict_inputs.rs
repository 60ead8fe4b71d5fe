//! Classifier prediction inputs: one JSON-object (or text) argument, or positional mixed-type arguments, against small trained classifiers.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up(), |data: &[u8]| sqlml::fuzzing::predict_inputs(data));
