//! The languages of the `language` option (stopword lists, stemmers, negations kept) and the
//! segmentation of Chinese and Japanese runs (option `cjk`).

use crate::{Error, Result};
use rust_stemmers::Algorithm;
use serde::{Deserialize, Serialize};

/// A language of the `language` option: chooses the stopword list and the stemmer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    /// Arabic.
    Arabic,
    /// Danish.
    Danish,
    /// Dutch.
    Dutch,
    /// English (the default).
    English,
    /// Finnish.
    Finnish,
    /// French.
    French,
    /// German.
    German,
    /// Greek.
    Greek,
    /// Hungarian.
    Hungarian,
    /// Italian.
    Italian,
    /// Norwegian.
    Norwegian,
    /// Portuguese.
    Portuguese,
    /// Romanian.
    Romanian,
    /// Russian.
    Russian,
    /// Spanish.
    Spanish,
    /// Swedish.
    Swedish,
    /// Tamil.
    Tamil,
    /// Turkish.
    Turkish,
    /// Chinese: jieba words (or character bigrams without the `zh` feature), no stemming of
    /// Chinese, the English stemmer for Latin-script words.
    Chinese,
}

/// (language, ISO 639-1 code, English name).
pub(super) const LANGUAGES: &[(Language, &str, &str)] = &[
    (Language::Arabic, "ar", "arabic"),
    (Language::Danish, "da", "danish"),
    (Language::Dutch, "nl", "dutch"),
    (Language::English, "en", "english"),
    (Language::Finnish, "fi", "finnish"),
    (Language::French, "fr", "french"),
    (Language::German, "de", "german"),
    (Language::Greek, "el", "greek"),
    (Language::Hungarian, "hu", "hungarian"),
    (Language::Italian, "it", "italian"),
    (Language::Norwegian, "no", "norwegian"),
    (Language::Portuguese, "pt", "portuguese"),
    (Language::Romanian, "ro", "romanian"),
    (Language::Russian, "ru", "russian"),
    (Language::Spanish, "es", "spanish"),
    (Language::Swedish, "sv", "swedish"),
    (Language::Tamil, "ta", "tamil"),
    (Language::Turkish, "tr", "turkish"),
    (Language::Chinese, "zh", "chinese"),
];

impl Language {
    /// Parses an ISO 639-1 code or an English name, ignoring ASCII case; the error names the
    /// option and lists the codes.
    pub fn parse(s: &str) -> Result<Language> {
        let t = s.trim();
        LANGUAGES
            .iter()
            .find(|(_, code, name)| code.eq_ignore_ascii_case(t) || name.eq_ignore_ascii_case(t))
            .map(|(l, _, _)| *l)
            .ok_or_else(|| {
                let codes = LANGUAGES.iter().map(|(_, c, _)| format!("'{c}'")).collect::<Vec<_>>();
                Error::option(
                    "language",
                    format!(
                        "must be one of {} (or the English name), or 'auto', got '{s}'",
                        codes.join(", ")
                    ),
                )
            })
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        LANGUAGES.iter().find(|(l, _, _)| *l == self).map_or("en", |(_, c, _)| c)
    }

    pub(super) fn stemmer(self) -> Algorithm {
        match self {
            Language::Arabic => Algorithm::Arabic,
            Language::Danish => Algorithm::Danish,
            Language::Dutch => Algorithm::Dutch,
            Language::English | Language::Chinese => Algorithm::English,
            Language::Finnish => Algorithm::Finnish,
            Language::French => Algorithm::French,
            Language::German => Algorithm::German,
            Language::Greek => Algorithm::Greek,
            Language::Hungarian => Algorithm::Hungarian,
            Language::Italian => Algorithm::Italian,
            Language::Norwegian => Algorithm::Norwegian,
            Language::Portuguese => Algorithm::Portuguese,
            Language::Romanian => Algorithm::Romanian,
            Language::Russian => Algorithm::Russian,
            Language::Spanish => Algorithm::Spanish,
            Language::Swedish => Algorithm::Swedish,
            Language::Tamil => Algorithm::Tamil,
            Language::Turkish => Algorithm::Turkish,
        }
    }
}

/// Negations that stay in the text even when stopwords are removed.
pub(super) const NEGATIONS: &[&str] = &[
    // English (NLTK's list splits "n't" forms into fragments such as "don"; keep those too)
    "no", "nor", "not", "never", "none", "nothing", "nobody", "neither", "cannot", "ain", "aren", "couldn",
    "didn", "doesn", "don", "hadn", "hasn", "haven", "isn", "mightn", "mustn", "needn", "shan", "shouldn",
    "wasn", "weren", "won", "wouldn", // French, Spanish, Italian, Portuguese, Romanian
    "ne", "pas", "ni", "non", "sans", "jamais", "rien", "sin", "nunca", "né", "mai", "senza", "não", "nem",
    "sem", "nu", "fără", // German, Dutch, Scandinavian
    "nicht", "kein", "keine", "keinem", "keinen", "keiner", "keines", "nichts", "ohne", "niet", "geen",
    "niets", "noch", "nooit", "ikke", "inte", "ej", "inga",
    "ingen", // Russian, Finnish, Hungarian, Greek
    "не", "нет", "ни", "без", "ei", "nem", "sem", "δεν", "μη", "μην", "όχι",
];

pub(super) fn is_negation(word: &str, language: Language) -> bool {
    if NEGATIONS.contains(&word) || word.ends_with("n't") {
        return true;
    }
    language == Language::Chinese
        && word.starts_with(['不', '没', '沒', '无', '無', '非', '未', '别', '別', '莫', '勿'])
}

/// How runs of Chinese/Japanese characters are cut (option `cjk`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cjk {
    /// Dictionary words by jieba (needs the cargo feature `zh`; the default when it is on).
    Words,
    /// Overlapping character bigrams (faster; the only choice without the `zh` feature).
    Bigrams,
}

impl Cjk {
    /// The default of this build.
    pub const DEFAULT: Cjk = if cfg!(feature = "zh") { Cjk::Words } else { Cjk::Bigrams };

    /// The option value.
    pub fn name(self) -> &'static str {
        match self {
            Cjk::Words => "words",
            Cjk::Bigrams => "bigrams",
        }
    }

    /// Parses the option value; `'words'` is an error in a build without jieba.
    pub fn parse(s: &str) -> Result<Cjk> {
        match s.to_ascii_lowercase().as_str() {
            "words" if cfg!(feature = "zh") => Ok(Cjk::Words),
            "bigrams" => Ok(Cjk::Bigrams),
            "words" => Err(Error::option(
                "cjk",
                "must be 'bigrams' in this build (built without the feature 'zh'), got 'words'",
            )),
            _ => Err(Error::option("cjk", format!("must be one of 'words', 'bigrams', got '{s}'"))),
        }
    }
}
