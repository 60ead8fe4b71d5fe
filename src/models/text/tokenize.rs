//! From raw text to tokens: Unicode normalisation, word segmentation, stopwords and stemming.
//!
//! The pipeline, in order:
//!
//! 1. **Normalise**: NFKC, then lower-case; the typographic apostrophe U+2019 becomes `'` so
//!    `don’t` and `don't` are one token. ASCII text skips NFKC (it is already normal).
//! 2. **Segment**: runs of Chinese/Japanese ideographs and kana are cut by jieba (cargo feature
//!    `zh`) or, without it, into overlapping character bigrams (a lone character stays a
//!    unigram). Everything else is split into words by UAX #29 (`unicode-segmentation`), which
//!    drops punctuation and whitespace and keeps `they'd`, `10.5km` and `e-mail`'s parts as the
//!    standard says.
//! 3. **Stopwords** (optional): NLTK's list for the language, minus negations (`not`, `no`,
//!    `nor`, `never`, every `n't` form, and their equivalents in the other languages), because
//!    negations carry sentiment and intent.
//! 4. **Stemming** (optional): Snowball for the language (`rust-stemmers`). Chinese tokens are
//!    never stemmed; with `language = 'zh'` Latin-script words in the text get the English
//!    stemmer.
//!
//! Tokens are written into a reusable [`Tokens`] buffer, separated by one space, so that an
//! n-gram of adjacent tokens is a plain slice of that buffer: no allocation per token or n-gram.

use crate::{Error, Result};
use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

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
const LANGUAGES: &[(Language, &str, &str)] = &[
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
                    format!("must be one of {} (or the English name), got '{s}'", codes.join(", ")),
                )
            })
    }

    /// The ISO 639-1 code.
    pub fn code(self) -> &'static str {
        LANGUAGES.iter().find(|(l, _, _)| *l == self).map_or("en", |(_, c, _)| c)
    }

    fn stemmer(self) -> Algorithm {
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
const NEGATIONS: &[&str] = &[
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

fn is_negation(word: &str, language: Language) -> bool {
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

/// The tokenizer settings stored with a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenizerConfig {
    /// Segmentation of Chinese/Japanese runs.
    pub cjk: Cjk,
    /// Stopword list and stemmer language.
    pub language: Language,
    /// Remove the language's stopwords (negations kept).
    pub stopwords: bool,
    /// Apply the Snowball stemmer.
    pub stem: bool,
}

/// A ready tokenizer: the stored [`TokenizerConfig`] plus its stopword set and stemmer.
/// Serialises as its config only.
pub struct Tokenizer {
    config: TokenizerConfig,
    stop: FxHashSet<&'static str>,
    stemmer: Option<Stemmer>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.config.fmt(f)
    }
}

impl Tokenizer {
    /// Builds the tokenizer. Every supported language has an NLTK stopword list, so this
    /// cannot fail for a parsed [`Language`].
    pub fn new(config: TokenizerConfig) -> Tokenizer {
        let mut stop = FxHashSet::default();
        if config.stopwords {
            let words = stop_words::lookup(config.language.code()).unwrap_or(&[]);
            stop.extend(words.iter().copied().filter(|w| !is_negation(w, config.language)));
        }
        let stemmer = config.stem.then(|| Stemmer::create(config.language.stemmer()));
        Tokenizer { config, stop, stemmer }
    }

    /// The settings.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Tokenizes `text` into `out` (cleared first).
    pub fn tokenize(&self, text: &str, out: &mut Tokens) {
        out.clear();
        normalize(text, &mut out.norm);
        let norm = std::mem::take(&mut out.norm);
        segment(&norm, self.config.cjk, |tok, cjk| self.push(tok, cjk, out));
        out.norm = norm;
    }

    fn push(&self, tok: &str, cjk: bool, out: &mut Tokens) {
        if !self.stop.is_empty() && self.stop.contains(tok) {
            return;
        }
        match &self.stemmer {
            Some(s) if !cjk => out.push(&s.stem(tok)),
            _ => out.push(tok),
        }
    }
}

impl Serialize for Tokenizer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tokenizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let config = TokenizerConfig::deserialize(d)?;
        if config.cjk == Cjk::Words && !cfg!(feature = "zh") {
            return Err(serde::de::Error::custom(
                "this model segments Chinese with jieba, which this build lacks (feature 'zh')",
            ));
        }
        Ok(Tokenizer::new(config))
    }
}

/// The tokens of one text: a reusable buffer (keep one per thread and call
/// [`Tokenizer::tokenize`] with it again and again).
#[derive(Debug, Default)]
pub struct Tokens {
    norm: String,
    /// The tokens separated by single spaces.
    joined: String,
    /// Byte range of each token in `joined`.
    spans: Vec<(u32, u32)>,
}

impl Tokens {
    fn clear(&mut self) {
        self.norm.clear();
        self.joined.clear();
        self.spans.clear();
    }

    fn push(&mut self, tok: &str) {
        if !self.joined.is_empty() {
            self.joined.push(' ');
        }
        let start = self.joined.len() as u32;
        self.joined.push_str(tok);
        self.spans.push((start, self.joined.len() as u32));
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when the text had no tokens.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`-th token.
    pub fn get(&self, i: usize) -> &str {
        let (a, b) = self.spans[i];
        &self.joined[a as usize..b as usize]
    }

    /// Calls `f` with every n-gram for `n` in `lo..=hi`, in text order per `n`; an n-gram is its
    /// tokens joined by one space.
    pub fn for_each_ngram(&self, lo: usize, hi: usize, mut f: impl FnMut(&str)) {
        let len = self.spans.len();
        for n in lo..=hi {
            if n > len {
                break;
            }
            for i in 0..=len - n {
                let a = self.spans[i].0 as usize;
                let b = self.spans[i + n - 1].1 as usize;
                f(&self.joined[a..b]);
            }
        }
    }
}

/// NFKC + lower case (+ `’` → `'`) into `out`.
fn normalize(text: &str, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
        return;
    }
    out.reserve(text.len());
    for c in text.nfkc() {
        if c == '\u{2019}' {
            out.push('\'');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
}

/// Chinese and Japanese ideographs and kana: scripts written without spaces between words.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x31F0..=0x31FF      // Katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
        | 0x20000..=0x3FFFF) // Extensions B–H, compatibility supplement
}

/// Splits normalised text into raw tokens; `emit(token, is_cjk)`.
fn segment<'a>(text: &'a str, mode: Cjk, mut emit: impl FnMut(&'a str, bool)) {
    if text.is_ascii() {
        text.unicode_words().for_each(|w| emit(w, false));
        return;
    }
    let mut start = 0;
    let mut in_cjk = false;
    for (i, c) in text.char_indices() {
        let cjk = is_cjk(c);
        if cjk != in_cjk {
            segment_run(&text[start..i], in_cjk, mode, &mut emit);
            start = i;
            in_cjk = cjk;
        }
    }
    segment_run(&text[start..], in_cjk, mode, &mut emit);
}

fn segment_run<'a>(run: &'a str, cjk: bool, mode: Cjk, emit: &mut impl FnMut(&'a str, bool)) {
    if run.is_empty() {
        return;
    }
    if !cjk {
        run.unicode_words().for_each(|w| emit(w, false));
    } else if mode == Cjk::Words {
        segment_cjk(run, emit);
    } else {
        char_bigrams(run, |t| emit(t, true));
    }
}

#[cfg(feature = "zh")]
static JIEBA: std::sync::LazyLock<jieba_rs::Jieba> = std::sync::LazyLock::new(jieba_rs::Jieba::new);

/// Cuts a run of CJK characters into words with jieba (HMM on for unknown words, as jieba's
/// default).
#[cfg(feature = "zh")]
fn segment_cjk<'a>(run: &'a str, emit: &mut impl FnMut(&'a str, bool)) {
    for t in JIEBA.cut(run, true) {
        emit(t.word, true);
    }
}

/// Without jieba, [`Cjk::Words`] cannot be configured (see [`Cjk::parse`]); bigrams stand in.
#[cfg(not(feature = "zh"))]
fn segment_cjk<'a>(run: &'a str, emit: &mut impl FnMut(&'a str, bool)) {
    char_bigrams(run, |t| emit(t, true));
}

/// Overlapping character bigrams; a one-character text gives itself.
fn char_bigrams<'a>(run: &'a str, mut emit: impl FnMut(&'a str)) {
    let idx: Vec<usize> = run.char_indices().map(|(i, _)| i).chain([run.len()]).collect();
    if idx.len() == 2 {
        emit(run);
        return;
    }
    for w in idx.windows(3) {
        emit(&run[w[0]..w[2]]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok(text: &str, language: Language, stopwords: bool, stem: bool) -> Vec<String> {
        let t = Tokenizer::new(TokenizerConfig { cjk: Cjk::DEFAULT, language, stopwords, stem });
        let mut out = Tokens::default();
        t.tokenize(text, &mut out);
        (0..out.len()).map(|i| out.get(i).to_string()).collect()
    }

    #[test]
    fn normalises_and_segments_words() {
        assert_eq!(
            tok("The runners didn’t run 10.5km — naïve ＣＡＦÉ-goers!", Language::English, false, false),
            ["the", "runners", "didn't", "run", "10.5km", "naïve", "café", "goers"]
        );
    }

    #[test]
    fn stopwords_keep_negations() {
        assert_eq!(
            tok("This is not what I wanted, don't you think", Language::English, true, false),
            ["not", "wanted", "don't", "think"]
        );
    }

    #[test]
    fn stems_per_language() {
        assert_eq!(
            tok("Runners running quickly", Language::English, false, true),
            ["runner", "run", "quick"]
        );
        assert_eq!(
            tok("Les chanteuses chantaient", Language::French, false, true),
            ["le", "chanteux", "chant"]
        );
    }

    #[test]
    fn languages_parse_by_code_and_name() {
        assert_eq!(Language::parse("DE").unwrap(), Language::German);
        assert_eq!(Language::parse("german").unwrap(), Language::German);
        assert_eq!(Language::parse("zh").unwrap(), Language::Chinese);
        let e = Language::parse("xx").unwrap_err().to_string();
        assert!(e.starts_with("option 'language' must be one of 'ar', 'da', "), "{e}");
        assert!(e.ends_with("'zh' (or the English name), got 'xx'"), "{e}");
    }

    #[cfg(feature = "zh")]
    #[test]
    fn chinese_words_with_jieba() {
        assert_eq!(
            tok("我们在北京大学学习机器学习, OK!", Language::Chinese, false, false),
            ["我们", "在", "北京大学", "学习", "机器", "学习", "ok"]
        );
        // The NLTK Chinese list drops 我们 and 在, but the negation 不 stays.
        assert_eq!(tok("我们不喜欢", Language::Chinese, true, false), ["不", "喜欢"]);
    }

    #[test]
    fn cjk_bigrams_mode() {
        let t = Tokenizer::new(TokenizerConfig {
            cjk: Cjk::Bigrams,
            language: Language::Chinese,
            stopwords: false,
            stem: false,
        });
        let mut out = Tokens::default();
        t.tokenize("北京大学 ok 好", &mut out);
        let v: Vec<&str> = (0..out.len()).map(|i| out.get(i)).collect();
        assert_eq!(v, ["北京", "京大", "大学", "ok", "好"]);
        assert_eq!(
            Cjk::parse("x").unwrap_err().to_string(),
            "option 'cjk' must be one of 'words', 'bigrams', got 'x'"
        );
    }

    #[test]
    fn character_bigrams_fallback() {
        let mut v = Vec::new();
        char_bigrams("北京大学", |t| v.push(t));
        assert_eq!(v, ["北京", "京大", "大学"]);
        v.clear();
        char_bigrams("好", |t| v.push(t));
        assert_eq!(v, ["好"]);
    }

    #[test]
    fn ngrams_are_slices() {
        let t = Tokenizer::new(TokenizerConfig {
            cjk: Cjk::DEFAULT,
            language: Language::English,
            stopwords: false,
            stem: false,
        });
        let mut out = Tokens::default();
        t.tokenize("a b c", &mut out);
        let mut v = Vec::new();
        out.for_each_ngram(1, 2, |g| v.push(g.to_string()));
        assert_eq!(v, ["a", "b", "c", "a b", "b c"]);
        v.clear();
        out.for_each_ngram(3, 5, |g| v.push(g.to_string()));
        assert_eq!(v, ["a b c"]);
    }

    #[test]
    fn empty_text_has_no_tokens() {
        assert!(tok("", Language::English, true, true).is_empty());
        assert!(tok(" ... !!", Language::English, true, true).is_empty());
    }
}
