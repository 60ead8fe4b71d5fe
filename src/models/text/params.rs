//! The text kind's options, declared once ([`OPTIONS`]), and their reader.

use super::TextSettings;
use super::naive_bayes::{Algorithm, Priors};
use super::tokenize::{Cjk, Language, TokenizerConfig};
use super::vectorize::Weighting;
use super::{AUTO_MIN_DF, MAX_NGRAM};
use crate::models::option_spec::{Default, Spec, Type};
use crate::models::options::{Options, Range, show_number};
use crate::{Error, Result};

/// Smallest `alpha` accepted: below it the weights of counts over about 10^8 overflow (and a
/// training whose weights still turn out infinite is refused after the fit).
pub const MIN_ALPHA: f64 = 1e-300;

const TEXT: Spec = Spec::new(
    "text",
    Type::Text,
    Default::Derived("the one column besides the target, else the one text column"),
    "the text column",
);
const LANGUAGE: Spec = Spec::new(
    "language",
    Type::Text,
    Default::Derived("`'en'`"),
    "an ISO 639-1 code or English name of a Snowball language, `'zh'`, or `'auto'`: the dominant \
     language of the training texts (whatlang on an evenly spaced 64 KB sample), stored with the model \
     and reported as `language_detected`; a language without stopwords/stemmer here, or a guess whatlang \
     calls unreliable, is an error only when `stopwords` or `stem` is on (otherwise the English rules are \
     used)",
);
const CJK: Spec = Spec::new(
    "cjk",
    Type::Choice(&["words", "bigrams"]),
    Default::Derived("`'words'` with jieba (feature `zh`), else `'bigrams'`"),
    "Chinese/Japanese runs as jieba's words or as bigrams of characters",
);
const STOPWORDS: Spec = Spec::new(
    "stopwords",
    Type::Bool,
    Default::Bool(false),
    "remove NLTK's stopwords of the language (negations kept)",
);
const STEM: Spec = Spec::new("stem", Type::Bool, Default::Bool(false), "Snowball stemming");
const NGRAMS: Spec = Spec::new(
    "ngrams",
    Type::Ints,
    Default::Derived("`[1, 2]`"),
    "`[min, max]` n-gram lengths (a single `n` means `[1, n]`), at most 5",
);
const MIN_DF: Spec = Spec::new(
    "min_df",
    Type::Int { min: 1, max: u32::MAX as i64 },
    Default::Derived(
        "`1`, or `2` when the training texts have more than 1,000,000 distinct terms (stored and reported)",
    ),
    "keep terms found in at least this many training texts (long documents: most of a million terms are \
     n-grams of a single text)",
);
const MAX_FEATURES: Spec = Spec::new(
    "max_features",
    Type::Int { min: 1, max: u32::MAX as i64 },
    Default::Derived("unlimited"),
    "keep only the most frequent terms",
);
const WEIGHTING: Spec = Spec::new(
    "weighting",
    Type::Choice(&["count", "binary", "tfidf"]),
    Default::Choice("count"),
    "term weights: counts, presence, or TF-IDF (sublinear, L2-normalised)",
);
const ALGORITHM: Spec = Spec::new(
    "algorithm",
    Type::Choice(&["multinomial", "complement", "bernoulli"]),
    Default::Choice("multinomial"),
    "the Naive Bayes variant (Bernoulli always uses term presence)",
);
const ALPHA: Spec = Spec::new(
    "alpha",
    Type::Number(Range::POSITIVE),
    Default::Number(0.1),
    "additive smoothing, at least 1e-300",
);
const PRIORS: Spec = Spec::new(
    "priors",
    Type::Choice(&["learned", "uniform"]),
    Default::Choice("learned"),
    "class priors: the class frequencies, or uniform",
);

/// The text kind's options (besides [`crate::models::options::COMMON`]).
pub const OPTIONS: &[Spec] = &[
    TEXT,
    LANGUAGE,
    CJK,
    STOPWORDS,
    STEM,
    NGRAMS,
    MIN_DF,
    MAX_FEATURES,
    WEIGHTING,
    ALGORITHM,
    ALPHA,
    PRIORS,
];

/// Validated options of a text model.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The `text` option: the text column, if named.
    pub text: Option<String>,
    /// Tokenizer settings (English until detected, with `auto_language`).
    pub tokenizer: TokenizerConfig,
    /// Vectorizer and model settings.
    pub settings: TextSettings,
    /// `language: 'auto'`: decide the language from the training texts.
    pub auto_language: bool,
}

impl Params {
    /// Reads the text kind's options.
    pub fn read(opts: &mut Options) -> Result<Params> {
        let text = opts.text(&TEXT)?;
        let d = TokenizerConfig::default();
        let (language, auto_language) = match opts.text(&LANGUAGE)? {
            Some(s) if s.trim().eq_ignore_ascii_case("auto") => (d.language, true),
            Some(s) => (Language::parse(&s)?, false),
            None => (d.language, false),
        };
        let cjk = match opts.text(&CJK)? {
            Some(s) => Cjk::parse(&s)?,
            None => d.cjk,
        };
        let stopwords = opts.bool(&STOPWORDS)?;
        let stem = opts.bool(&STEM)?;
        let ngrams = match opts.ints(&NGRAMS)? {
            None => (1, 2),
            Some(v) => ngram_range(&v)?,
        };
        // Absent: decided by the training from the texts' vocabulary.
        let min_df = if opts.has(&MIN_DF)? { opts.int_or(&MIN_DF, 1)? as u32 } else { AUTO_MIN_DF };
        let max_features =
            if opts.has(&MAX_FEATURES)? { Some(opts.int_or(&MAX_FEATURES, 1)? as u32) } else { None };
        let weighting = match opts.choice(&WEIGHTING)? {
            "binary" => Weighting::Binary,
            "tfidf" => Weighting::TfIdf,
            _ => Weighting::Count,
        };
        let algorithm = match opts.choice(&ALGORITHM)? {
            "complement" => Algorithm::Complement,
            "bernoulli" => Algorithm::Bernoulli,
            _ => Algorithm::Multinomial,
        };
        let alpha = opts.number(&ALPHA)?;
        if alpha < MIN_ALPHA {
            // ln(1 + N/α) overflows for any count N ≥ 1 well before α reaches the smallest
            // doubles: such a model could only answer NaN.
            return Err(Error::option(
                "alpha",
                format!(
                    "must be at least {} (smaller values overflow the model's weights), got {}",
                    show_number(MIN_ALPHA),
                    show_number(alpha)
                ),
            ));
        }
        let priors = match opts.choice(&PRIORS)? {
            "uniform" => Priors::Uniform,
            _ => Priors::Learned,
        };
        Ok(Params {
            text,
            tokenizer: TokenizerConfig { cjk, language, stopwords, stem },
            settings: TextSettings { ngrams, min_df, max_features, weighting, algorithm, alpha, priors },
            auto_language,
        })
    }
}

fn ngram_range(v: &[i64]) -> Result<(u8, u8)> {
    let (lo, hi) = match *v {
        [n] => (1, n),
        [lo, hi] => (lo, hi),
        _ => (0, 0),
    };
    if 1 <= lo && lo <= hi && hi <= MAX_NGRAM as i64 {
        return Ok((lo as u8, hi as u8));
    }
    let shown = v.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    Err(Error::option(
        "ngrams",
        format!(
            "must be [min, max] with 1 <= min <= max <= {MAX_NGRAM} (or one number n for [1, n]), got [{shown}]"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_option_is_read() {
        let mut o = Options::default();
        Params::read(&mut o).unwrap();
        let mut read = o.read_keys().to_vec();
        read.sort_unstable();
        let mut declared: Vec<&str> = OPTIONS.iter().map(|s| s.key).collect();
        declared.sort_unstable();
        assert_eq!(read, declared);
    }
}
