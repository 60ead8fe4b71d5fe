//! The text kind's tokenizer under every configuration (cjk mode, language, stopwords, stemming, n-gram range), with both tokenizer paths compared.
#![no_main]

libfuzzer_sys::fuzz_target!(init: sqlml::fuzzing::warm_up(), |data: &[u8]| sqlml::fuzzing::tokenize(data));
