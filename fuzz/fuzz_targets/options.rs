//! ml_train options: arbitrary text parsed as the options JSON, then every kind trained on tiny
//! fixed data (work-scaling options clamped, see sqlml::fuzzing::clamp_work).
//! See `sqlml::fuzzing::train_options` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("options"), |data: &[u8]| {
    sqlml::fuzzing::train_options(data)
});
