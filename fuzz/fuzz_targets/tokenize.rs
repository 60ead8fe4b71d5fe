//! The text kind's tokenizer under every configuration (cjk mode, language, stopwords, stemming,
//! n-gram range), with both tokenizer paths compared.
//! See `sqlml::fuzzing::tokenize` (src/fuzzing/) and scripts/fuzz.sh.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up("tokenize"), |data: &[u8]| {
    sqlml::fuzzing::tokenize(data)
});
