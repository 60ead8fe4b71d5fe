//! From raw text to tokens: word segmentation, stopwords and stemming of Unicode-normalised text.
//!
//! The pipeline, in order:
//!
//! 1. **Normalise**: NFKC, then lower-case; the typographic apostrophe U+2019 becomes `'` so
//!    `don’t` and `don't` are one token. This step lives in the crate-private module
//!    `models::text::normalize` (`src/models/text/normalize.rs`), with its fast paths.
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
//! Prediction needs only each token's [`token_hash`] ([`Tokenizer::tokenize_hashes`]: no token
//! text is written, and runs of Chinese ideographs are hashed straight from the input).

use super::hashing::token_hash_6;
pub use super::hashing::{combine, term_hash, token_hash};
use super::language::is_negation;
pub use super::language::{Cjk, Language};
use super::normalize::{CLASS_SEP, NORM_TABLE, normalize};
use super::segment::*;
use rust_stemmers::Stemmer;
use rustc_hash::FxHashSet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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

impl Default for TokenizerConfig {
    /// The `text` kind's defaults: jieba words for Chinese runs (bigrams without the `zh`
    /// feature), English, no stopword removal, no stemming.
    fn default() -> Self {
        TokenizerConfig { cjk: Cjk::DEFAULT, language: Language::English, stopwords: false, stem: false }
    }
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

    /// Why this build cannot use this tokenizer, if it cannot.
    pub fn unsupported(&self) -> Option<&'static str> {
        missing_feature(self.config.cjk, cfg!(feature = "zh"))
    }

    /// The settings.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// Tokenizes `text` into `out` (cleared first).
    pub fn tokenize(&self, text: &str, out: &mut Tokens) {
        out.clear(false);
        if text.is_ascii() {
            // NFKC is the identity on ASCII: segment the raw bytes, lower-case each word.
            let plain = self.stop.is_empty() && self.stemmer.is_none();
            if plain {
                // Lower-cased once, whole (`ascii_words` ignores case), each word then copied.
                let mut buf = std::mem::take(&mut out.norm);
                let lower = normalize(text, &mut buf);
                // (A hint: the joined words take at most the text's bytes.)
                let _ = out.joined.try_reserve(lower.len());
                ascii_words(lower, |w| out.push_word_in(lower, w));
                out.norm = buf;
                return;
            }
            ascii_words(text, |w| {
                let mut lower = std::mem::take(&mut out.norm);
                lower.clear();
                lower.push_str(w);
                lower.make_ascii_lowercase();
                self.push(&lower, false, out);
                out.norm = lower;
            });
            return;
        }
        self.normalize_and_segment(text, out);
    }

    /// Tokenizes `text` into `out` (cleared first) keeping only each token's [`token_hash`]:
    /// [`Tokens::hashes`] and [`Tokens::ngram_hashes_into`] then give exactly what they give
    /// after [`Tokenizer::tokenize`], in the same order, but no token is copied (there is no
    /// [`Tokens::text`]). For prediction, which looks the vocabulary up by hash.
    pub fn tokenize_hashes(&self, text: &str, out: &mut Tokens) {
        out.clear(true);
        if self.config.cjk == Cjk::Bigrams && !text.is_ascii() {
            return self.hash_bigrams(text, out);
        }
        // On ASCII text this lower-cases the text once (or not at all) rather than word by word
        // as `tokenize` does: the same words, since `ascii_words` ignores case.
        if text.is_ascii() && self.stop.is_empty() && self.stemmer.is_none() {
            // Nothing to drop or change: each word's hash goes straight in (a word of
            // `ascii_words` never starts with a space, nor is it empty).
            let mut buf = std::mem::take(&mut out.norm);
            let lower = normalize(text, &mut buf);
            let hashes = &mut out.hashes;
            ascii_words(lower, |w| hashes.push(token_hash(w.as_bytes())));
            out.norm = buf;
            return;
        }
        self.normalize_and_segment(text, out);
    }

    /// [`Tokenizer::tokenize_hashes`] in [`Cjk::Bigrams`] mode, in one pass over `text` that
    /// normalises, segments and hashes together (Chinese text is mostly ideographs, and the
    /// general path spends its time on them one character at a time).
    ///
    /// The text is cut into **ideograph runs** (maximal runs of [`is_simple_ideograph`]s: CJK,
    /// their own normal form, a normalisation boundary before and after each) and **pieces**
    /// (what lies between). A run's bigrams are hashed as the run is scanned, straight from
    /// `text` (6 bytes stepping 3: no copy, no decoding), in the loop that finds its end, so
    /// that the one unpredictable branch per run is its end. A piece of [`CLASS_SEP`]
    /// characters only (`，`, `。`, spaces... between ideographs) just ends the CJK run; any
    /// other piece is normalised and segmented on its own ([`Tokenizer::hash_piece`]).
    /// [`CjkRun`] carries the CJK run of the normal text across runs and pieces (kana or a
    /// 4-byte ideograph in a piece continue it).
    ///
    /// This is exact: every cut has a normalisation boundary (see [`normalize`]) before it and
    /// after it, so the normal form of the text is the concatenation of those of the runs and
    /// pieces; and a piece holds every non-CJK run of the normal text it overlaps (runs are
    /// CJK), so its words are the text's words.
    fn hash_bigrams(&self, text: &str, out: &mut Tokens) {
        let bytes = text.as_bytes();
        let table = &*NORM_TABLE;
        // Enough for Chinese text (fewer tokens than 3-byte characters); more is pushed anyway.
        out.hashes.reserve(bytes.len() / 3 + 1);
        let mut norm = std::mem::take(&mut out.norm);
        let mut cjk = CjkRun::default();
        let mut i = 0;
        while i < bytes.len() {
            if is_simple_ideograph(bytes, i) {
                i = self.hash_ideographs(bytes, i, &mut cjk, out);
                if i == bytes.len() {
                    break;
                }
            }
            let piece = i;
            let mut sep = true;
            while i == piece || i < bytes.len() && !is_simple_ideograph(bytes, i) {
                let (class, len) = table.char_class(text, i);
                sep &= class == CLASS_SEP;
                i += len;
            }
            if sep {
                cjk.end(self, out);
            } else {
                self.hash_piece(&text[piece..i], &mut cjk, &mut norm, out);
            }
        }
        cjk.end(self, out);
        out.norm = norm;
    }

    /// Hashes the tokens of the run of [`is_simple_ideograph`]s (3 bytes each) that starts at
    /// `bytes[start]`: the bigram joining it to the CJK run before it, if any, then its own
    /// bigrams, each hashed from the 6 bytes of `bytes` where it lies. Returns the run's end.
    #[inline]
    fn hash_ideographs(&self, bytes: &[u8], start: usize, cjk: &mut CjkRun, out: &mut Tokens) -> usize {
        cjk.push(&bytes[start..start + 3], self, out);
        // Two loops rather than a test per bigram.
        let last = if self.stop.is_empty() {
            let hashes = &mut out.hashes;
            ideograph_pairs(bytes, start, |pair| hashes.push(token_hash_6(pair)))
        } else {
            ideograph_pairs(bytes, start, |pair| self.push_cjk_hash(pair, out))
        };
        if last > start {
            cjk.set_last(&bytes[last..last + 3]);
        }
        last + 3
    }

    /// Normalises and segments a piece of [`Tokenizer::hash_bigrams`], hashing its tokens: its
    /// CJK characters continue `cjk`, its non-CJK runs give their words (stopwords, stemming).
    fn hash_piece(&self, piece: &str, cjk: &mut CjkRun, norm: &mut String, out: &mut Tokens) {
        let text = normalize(piece, norm);
        let bytes = text.as_bytes();
        // The start of the current non-CJK run.
        let mut word_start = None;
        let mut i = 0;
        while i < bytes.len() {
            let (is_cjk, len) = cjk_at(bytes, i);
            if is_cjk {
                if let Some(a) = word_start.take() {
                    words(&text[a..i], |w| self.push(w, false, out));
                }
                cjk.push(&bytes[i..i + len], self, out);
            } else if word_start.is_none() {
                cjk.end(self, out);
                word_start = Some(i);
            }
            i += len;
        }
        if let Some(a) = word_start {
            words(&text[a..], |w| self.push(w, false, out));
        }
    }

    /// Pushes the hash of a CJK token (never stemmed) unless it is a stopword.
    #[inline]
    fn push_cjk_hash(&self, tok: &[u8], out: &mut Tokens) {
        if !self.stop.is_empty() && std::str::from_utf8(tok).is_ok_and(|t| self.stop.contains(t)) {
            return;
        }
        out.hashes.push(token_hash(tok));
    }

    /// The general path: normalise into `out`'s scratch buffer (or not at all), segment, push.
    fn normalize_and_segment(&self, text: &str, out: &mut Tokens) {
        let mut buf = std::mem::take(&mut out.norm);
        let norm = normalize(text, &mut buf);
        segment(norm, self.config.cjk, |tok, cjk| self.push(tok, cjk, out));
        out.norm = buf;
    }

    fn push(&self, tok: &str, cjk: bool, out: &mut Tokens) {
        // UAX #29 (WB4) keeps a space in the word when an Extend or Format character follows
        // it (" \u{73F}", a space then a Syriac mark); an n-gram's hash treats spaces as
        // token boundaries, so a token must not hold one.
        let tok = tok.trim_start_matches(' ');
        if !self.stop.is_empty() && self.stop.contains(tok) {
            return;
        }
        match &self.stemmer {
            Some(s) if !cjk => out.push(&s.stem(tok)),
            _ => out.push(tok),
        }
    }
}

/// Why a build with (`has_zh`) or without jieba cannot segment as `cjk` says, if it cannot.
fn missing_feature(cjk: Cjk, has_zh: bool) -> Option<&'static str> {
    (cjk == Cjk::Words && !has_zh)
        .then_some("it segments Chinese with jieba, which this build lacks (cargo feature 'zh')")
}

impl Serialize for Tokenizer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.config.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tokenizer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // A configuration this build cannot honour (jieba's words without the `zh` feature)
        // still decodes, and is refused after decoding by [`Tokenizer::unsupported`] with its
        // own message (postcard drops a deserializer's message).
        Ok(Tokenizer::new(TokenizerConfig::deserialize(d)?))
    }
}

/// The tokens of one text: a reusable buffer (keep one per thread and call
/// [`Tokenizer::tokenize`] or [`Tokenizer::tokenize_hashes`] with it again and again).
#[derive(Debug, Default)]
pub struct Tokens {
    /// Filled by [`Tokenizer::tokenize_hashes`]: `hashes` only, `joined` and `spans` empty.
    hashes_only: bool,
    /// Scratch: the normalised text.
    norm: String,
    /// The tokens separated by single spaces.
    joined: String,
    /// Byte range of each token in `joined`.
    spans: Vec<(u32, u32)>,
    /// [`token_hash`] of each token.
    hashes: Vec<u64>,
}

impl Tokens {
    fn clear(&mut self, hashes_only: bool) {
        self.hashes_only = hashes_only;
        self.norm.clear();
        self.joined.clear();
        self.spans.clear();
        self.hashes.clear();
    }

    fn push(&mut self, tok: &str) {
        // An empty token (a stemmer could return one) carries nothing and would make an
        // n-gram with a doubled space.
        if tok.is_empty() {
            return;
        }
        self.hashes.push(token_hash(tok.as_bytes()));
        if self.hashes_only {
            return;
        }
        if !self.joined.is_empty() {
            self.joined.push(' ');
        }
        let start = self.joined.len() as u32;
        self.joined.push_str(tok);
        self.spans.push((start, self.joined.len() as u32));
    }

    /// Pushes `word`, a slice of `src`, non-empty, without spaces and in its final form. A
    /// word of at most 16 bytes followed by enough of `src` is copied as the 16 bytes from it
    /// (a move of known size, where copying the word's length calls `memcpy`: 8% of IMDB's
    /// counting), then cut to its length.
    #[inline]
    fn push_word_in(&mut self, src: &str, word: &str) {
        if !self.joined.is_empty() {
            self.joined.push(' ');
        }
        let start = self.joined.len();
        // Where `word` starts in `src` (past its end, or wrapped, when it is not in it).
        let off = (word.as_ptr() as usize).wrapping_sub(src.as_ptr() as usize);
        let chunk = src.as_bytes().get(off..).and_then(|rest| rest.first_chunk::<16>());
        match chunk.filter(|_| word.len() <= 16) {
            Some(chunk) => {
                // SAFETY: `chunk` exists, so `word` starts in `src` at `off` with 16 bytes of
                // `src` from there, and (at most 16 bytes) lies wholly in it: the first
                // `word.len()` bytes of `chunk` are `word`'s own memory. Cut back to them, the
                // string is `word` appended, valid UTF-8 when the vector is given back
                // (nothing between can panic).
                let bytes = unsafe { self.joined.as_mut_vec() };
                bytes.extend_from_slice(chunk);
                bytes.truncate(start + word.len());
                debug_assert_eq!(&bytes[start..], word.as_bytes());
            }
            None => self.joined.push_str(word),
        }
        self.spans.push((start as u32, self.joined.len() as u32));
        self.hashes.push(token_hash(word.as_bytes()));
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// True when the text had no tokens.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The [`token_hash`] of each token, in text order.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// The `i`-th token.
    ///
    /// # Panics
    ///
    /// After [`Tokenizer::tokenize_hashes`], which keeps no token text.
    pub fn get(&self, i: usize) -> &str {
        self.assert_has_text();
        let (a, b) = self.spans[i];
        &self.joined[a as usize..b as usize]
    }

    /// Calls `f` with every n-gram for `n` in `lo..=hi`, in text order per `n`; an n-gram is its
    /// tokens joined by one space.
    ///
    /// # Panics
    ///
    /// After [`Tokenizer::tokenize_hashes`], as do the other n-gram methods but
    /// [`Tokens::ngram_hashes_into`].
    pub fn for_each_ngram(&self, lo: usize, hi: usize, mut f: impl FnMut(&str)) {
        self.for_each_ngram_hashed(lo, hi, |g, _| f(g));
    }

    /// As [`Tokens::for_each_ngram`], with the n-gram's [`term_hash`] (combined from the
    /// tokens' hashes, so no n-gram is hashed byte by byte).
    #[inline]
    pub fn for_each_ngram_hashed(&self, lo: usize, hi: usize, mut f: impl FnMut(&str, u64)) {
        self.for_each_gram(lo, hi, |g| f(&self.joined[g.start as usize..g.end as usize], g.hash));
    }

    /// The tokens joined by single spaces: every n-gram is a slice of it (see [`Gram`]). Empty
    /// after [`Tokenizer::tokenize_hashes`].
    pub fn text(&self) -> &str {
        &self.joined
    }

    /// Appends every n-gram of [`Tokens::for_each_ngram_hashed`], in its order, to `out`.
    pub fn ngrams_into(&self, lo: usize, hi: usize, out: &mut Vec<Gram>) {
        self.for_each_gram(lo, hi, |g| out.push(g));
    }

    /// Appends the `hash` of every n-gram of [`Tokens::ngrams_into`], in its order, to `out`;
    /// the one n-gram method that works after [`Tokenizer::tokenize_hashes`].
    pub fn ngram_hashes_into(&self, lo: usize, hi: usize, out: &mut Vec<u64>) {
        self.for_each_gram_index(lo, hi, |_, _, hash| out.push(hash));
    }

    #[inline]
    fn for_each_gram(&self, lo: usize, hi: usize, mut f: impl FnMut(Gram)) {
        self.assert_has_text();
        self.for_each_gram_index(lo, hi, |first, last, hash| {
            f(Gram { hash, start: self.spans[first].0, end: self.spans[last].1 })
        });
    }

    /// Calls `f(first, last, hash)` for every n-gram (its first and last token's index and its
    /// [`term_hash`]): unigrams when `lo` is 1, then each `n` in `max(lo, 2)..=hi` in text order.
    #[inline]
    fn for_each_gram_index(&self, lo: usize, hi: usize, mut f: impl FnMut(usize, usize, u64)) {
        let len = self.hashes.len();
        if lo == 1 {
            for (i, &hash) in self.hashes.iter().enumerate() {
                f(i, i, hash);
            }
        }
        for n in lo.max(2)..=hi {
            if n > len {
                break;
            }
            for i in 0..=len - n {
                let mut hash = self.hashes[i];
                for &t in &self.hashes[i + 1..i + n] {
                    hash = combine(hash, t);
                }
                f(i, i + n - 1, hash);
            }
        }
    }

    /// The token texts are needed: fail clearly rather than index missing spans.
    #[inline]
    fn assert_has_text(&self) {
        assert!(!self.hashes_only, "Tokens filled by tokenize_hashes have hashes only");
    }
}

/// An n-gram of a [`Tokens`]: its [`term_hash`] and its byte range in [`Tokens::text`].
#[derive(Clone, Copy, Debug)]
pub struct Gram {
    /// The [`term_hash`] of the n-gram.
    pub hash: u64,
    /// Start in [`Tokens::text`].
    pub start: u32,
    /// End in [`Tokens::text`].
    pub end: u32,
}

/// The CJK run of the normal text being read by [`Tokenizer::hash_bigrams`]: its last
/// character (`last[..len]`; `len` 0 outside a CJK run) and whether it has more than one
/// character (then its bigrams are out, else the character alone is its token when it ends).
#[derive(Default)]
struct CjkRun {
    last: [u8; 4],
    len: usize,
    multi: bool,
}

impl CjkRun {
    /// The next CJK character `c` (3 or 4 bytes): hashes the bigram it ends, if any.
    #[inline]
    fn push(&mut self, c: &[u8], t: &Tokenizer, out: &mut Tokens) {
        if self.len > 0 {
            let mut pair = [0; 8];
            pair[..self.len].copy_from_slice(&self.last[..self.len]);
            pair[self.len..self.len + c.len()].copy_from_slice(c);
            t.push_cjk_hash(&pair[..self.len + c.len()], out);
            self.multi = true;
        }
        self.last[..c.len()].copy_from_slice(c);
        self.len = c.len();
    }

    /// Records `c` as the last character of a run whose bigrams are out.
    #[inline]
    fn set_last(&mut self, c: &[u8]) {
        self.last[..c.len()].copy_from_slice(c);
        self.len = c.len();
        self.multi = true;
    }

    /// A non-CJK character or the end: a run of one character gives that character.
    #[inline]
    fn end(&mut self, t: &Tokenizer, out: &mut Tokens) {
        if self.len > 0 && !self.multi {
            t.push_cjk_hash(&self.last[..self.len], out);
        }
        self.len = 0;
        self.multi = false;
    }
}

#[cfg(test)]
pub(super) mod tests {
    #[test]
    fn jieba_words_need_the_zh_feature() {
        assert_eq!(super::missing_feature(Cjk::Bigrams, false), None);
        assert_eq!(super::missing_feature(Cjk::Words, true), None);
        assert!(super::missing_feature(Cjk::Words, false).unwrap().contains("feature 'zh'"));
    }

    use super::super::language::LANGUAGES;
    use super::super::normalize::{CLASS_NO_BOUNDARY, has_boundary_before, normalize_slow};
    use super::*;
    use unicode_segmentation::UnicodeSegmentation;

    fn tok(text: &str, language: Language, stopwords: bool, stem: bool) -> Vec<String> {
        let t = Tokenizer::new(TokenizerConfig { language, stopwords, stem, ..TokenizerConfig::default() });
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
    fn empty_tokens_are_dropped() {
        let mut t = Tokens::default();
        t.push("a");
        t.push("");
        t.push("b");
        assert_eq!((t.len(), t.get(1)), (2, "b"));
        let mut grams = Vec::new();
        t.for_each_ngram(2, 2, |g| grams.push(g.to_string()));
        assert_eq!(grams, ["a b"]);
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
        assert!(e.ends_with("'zh' (or the English name), or 'auto', got 'xx'"), "{e}");
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
            ..TokenizerConfig::default()
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

    /// Words copied as 16-byte moves (short, with 16 bytes of text after them) or as they are
    /// (longer, or near the end of the text; in lower case or not) make the same tokens: the
    /// joined text, each token, and its hash.
    #[test]
    fn words_are_copied_whole_however_long_and_wherever() {
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut out = Tokens::default();
        let word = |n: usize| {
            "abcdefghijklmnopqrstuvwxyz0123456789".chars().cycle().skip(n).take(n).collect::<String>()
        };
        for upper in [false, true] {
            for last in 1..=24 {
                let words: Vec<String> = (1..=24).chain([last]).map(word).collect();
                let text = words.join(", ");
                let text = if upper { text.to_uppercase() } else { text };
                t.tokenize(&text, &mut out);
                assert_eq!(out.text(), words.join(" "), "last {last}, upper {upper}");
                for (i, w) in words.iter().enumerate() {
                    assert_eq!((out.get(i), out.hashes()[i]), (w.as_str(), token_hash(w.as_bytes())));
                }
            }
        }
    }

    #[test]
    fn ngrams_are_slices() {
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut out = Tokens::default();
        t.tokenize("a b c", &mut out);
        let mut v = Vec::new();
        out.for_each_ngram(1, 2, |g| v.push(g.to_string()));
        assert_eq!(v, ["a", "b", "c", "a b", "b c"]);
        v.clear();
        out.for_each_ngram(3, 5, |g| v.push(g.to_string()));
        assert_eq!(v, ["a b c"]);
    }

    /// The ASCII fast path gives exactly `unicode_words`' words: on random strings over the
    /// characters the UAX #29 rules treat specially, and on hand-picked cases.
    #[test]
    fn ascii_words_match_uax29() {
        fn check(s: &str) {
            let mut fast = Vec::new();
            ascii_words(s, |w| fast.push(w));
            let slow: Vec<&str> = s.unicode_words().collect();
            assert_eq!(fast, slow, "text {s:?}");
        }
        for s in [
            "",
            "a",
            "_",
            "__",
            "_a_",
            "a_1",
            "10.5km",
            "1,000.50",
            "1;2",
            "1:2",
            "a:b",
            "a;b",
            "a.b.c",
            "a..b",
            "a.1",
            "1.a",
            "don't",
            "'tis",
            "rock'n'roll",
            "1'000",
            "e-mail",
            "x@y.com",
            "http://t.co/x?y=1&z",
            "a.",
            ".a",
            "a'",
            "'a'",
            "1.",
            "1.2.",
            "_._",
            "a_.b",
            "a._b",
            "1_.2",
            "a\r\nb",
            "a\tb  c",
            "\"q\" a\"b",
            "U.S.A.",
            "3:30pm",
            "9.30am",
            "a1:b2",
            "2nd.",
            "It's 5'9\"",
        ] {
            check(s);
        }
        let alphabet = b"aZ09._:',;_ -\"!@#\n\t/&?x";
        let mut next = crate::models::text::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut s = String::new();
        for _ in 0..50_000 {
            s.clear();
            let len = next() % 14;
            for _ in 0..len {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize] as char);
            }
            check(&s);
        }
    }

    /// Cutting at ASCII whitespace gives `unicode_words`' words, also around combining marks,
    /// joiners, regional indicators and non-ASCII letters.
    #[test]
    fn chunked_words_match_uax29() {
        let alphabet: Vec<char> =
            "aZ1.':, \t\n\ré\u{301}\u{93F}\u{200D}\u{1F1EB}\u{1F600}£\u{A0}\u{2019}_“”、。「\u{3005}\u{3007}\u{B7}"
                .chars()
                .collect();
        random_strings(&alphabet, 0x2545_f491_4f6c_dd1d, 50_000, 12, |s| {
            let mut fast = Vec::new();
            words(s, |w| fast.push(w));
            let slow: Vec<&str> = s.unicode_words().collect();
            assert_eq!(fast, slow, "text {s:?}");
        });
    }

    /// Long texts, mostly ASCII with a non-ASCII character now and then (as reviews are): the
    /// ASCII stretches between the pieces around them, segmented whole, give `unicode_words`'
    /// words too.
    #[test]
    fn long_mixed_words_match_uax29() {
        let mut alphabet: Vec<char> = "aZ1.':, \t\n_-".chars().collect();
        alphabet.extend(std::iter::repeat_n(' ', 6));
        alphabet.extend(std::iter::repeat_n('e', 20));
        alphabet.extend("é\u{301}\u{2019}£\u{A0}“".chars());
        random_strings(&alphabet, 0x1234_5678_9abc_def1, 20_000, 300, |s| {
            let mut fast = Vec::new();
            words(s, |w| fast.push(w));
            let slow: Vec<&str> = s.unicode_words().collect();
            assert_eq!(fast, slow, "text {s:?}");
        });
    }

    /// Calls `f` with `n` strings of fewer than `max_len` characters drawn from `alphabet` by a
    /// seeded xorshift generator.
    pub(in crate::models::text) fn random_strings(
        alphabet: &[char],
        seed: u64,
        n: usize,
        max_len: u64,
        mut f: impl FnMut(&str),
    ) {
        let mut next = crate::models::text::xorshift(seed);
        let mut s = String::new();
        for _ in 0..n {
            s.clear();
            for _ in 0..next() % max_len {
                s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
            }
            f(&s);
        }
    }

    /// Every character [`no_word`] accepts gives no word on its own and between letters.
    #[test]
    fn no_word_characters_have_no_words() {
        for c in (0..0x3040).filter_map(char::from_u32).filter(|&c| no_word(c)) {
            for s in [format!("{c}"), format!("{c}{c}"), format!("{c}\u{3002}")] {
                assert_eq!(s.unicode_words().count(), 0, "{c:?}");
            }
            let mut fast = Vec::new();
            let s = format!("a {c} 中\u{3002}b");
            words(&s, |w| fast.push(w));
            assert_eq!(fast, s.unicode_words().collect::<Vec<_>>(), "{s:?}");
        }
    }

    /// The hash of a term from its string equals the one combined from its tokens.
    #[test]
    fn ngram_hashes_match_term_hashes() {
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut out = Tokens::default();
        t.tokenize("Naïve runners didn't run 10.5km in the rain", &mut out);
        let mut n = 0;
        out.for_each_ngram_hashed(1, 3, |g, h| {
            assert_eq!(h, term_hash(g), "{g}");
            n += 1;
        });
        assert_eq!(n, 8 + 7 + 6);
        assert_ne!(term_hash("a b"), term_hash("b a"));
        assert_ne!(term_hash("ab"), term_hash("a b"));
    }

    /// Characters of every class the tokenizer treats apart: ASCII (upper case, digits,
    /// punctuation), Latin-1, CJK ideographs (including Chinese stopwords and negations),
    /// kana, full-width and half-width forms, supplementary-plane ideographs, combining marks.
    const MIXED: &str = concat!(
        "aAeEsSiI1 ,.'\t_-",
        "éÉßÅñ\u{A0}\u{2019}",
        "中文好你的了不是我们在",
        "かカがｶﾞ\u{3099}",
        "，。！（）ＡＢｃ１\u{3000}",
        "\u{20000}\u{2A6D6}\u{F900}㍻",
        "\u{301}\u{316}"
    );

    /// Every tokenizer configuration: both `cjk` modes (words only with jieba), every language,
    /// stopwords and stemming on and off.
    fn every_config() -> impl Iterator<Item = TokenizerConfig> {
        let modes = if cfg!(feature = "zh") { vec![Cjk::Words, Cjk::Bigrams] } else { vec![Cjk::Bigrams] };
        modes.into_iter().flat_map(|cjk| {
            LANGUAGES.iter().flat_map(move |&(language, _, _)| {
                [(false, false), (true, false), (false, true), (true, true)]
                    .map(|(stopwords, stem)| TokenizerConfig { cjk, language, stopwords, stem })
            })
        })
    }

    /// `tokenize_hashes` gives exactly `tokenize`'s token and n-gram hashes, in order, for
    /// every configuration, on hand-written sentences and random mixed strings; and `tokenize`'s
    /// hashes are those of its tokens.
    #[test]
    fn hash_only_tokenizing_matches_tokenize() {
        let sentences = [
            "The runners didn’t run 10.5km — naïve ＣＡＦÉ-goers! This is NOT what I wanted.",
            "Les chanteuses chantaient, et nous ne savions pas pourquoi.",
            "我们在北京大学学习机器学习，OK！房间很干净，服务不错，但是早餐没有什么选择。",
            "酒店位置很好，交通方便。不过隔音差，晚上很吵…（下次不会再住了）",
            "東京の ホテルは とても きれいでした。ｶﾀｶﾅ も ＯＫ です。𠀀𪛖",
            "Running QUICKLY runners ran; Die Kinder spielten nicht im Garten.",
            "",
            "   ",
        ];
        let chars: Vec<char> = MIXED.chars().collect();
        let (mut full, mut hashed) = (Tokens::default(), Tokens::default());
        let (mut grams, mut gram_hashes) = (Vec::new(), Vec::new());
        let mut check = |t: &Tokenizer, s: &str| {
            t.tokenize(s, &mut full);
            t.tokenize_hashes(s, &mut hashed);
            assert_eq!(hashed.hashes(), full.hashes(), "{:?} {s:?}", t.config());
            assert_eq!(hashed.len(), full.len());
            for (i, &h) in full.hashes().iter().enumerate() {
                assert_eq!(h, token_hash(full.get(i).as_bytes()), "{s:?}");
            }
            grams.clear();
            full.ngrams_into(1, 3, &mut grams);
            gram_hashes.clear();
            hashed.ngram_hashes_into(1, 3, &mut gram_hashes);
            assert!(gram_hashes.iter().eq(grams.iter().map(|g| &g.hash)), "{s:?}");
            assert!(hashed.text().is_empty());
        };
        for (k, config) in every_config().enumerate() {
            let t = Tokenizer::new(config);
            for s in sentences {
                check(&t, s);
            }
            random_strings(&chars, 0x1234_5678_9abc_def1 ^ k as u64, 1_500, 16, |s| check(&t, s));
        }
    }

    /// The byte-decoded [`cjk_at`] gives [`is_cjk`] and the UTF-8 length of every character.
    #[test]
    fn cjk_at_matches_is_cjk() {
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            assert_eq!(cjk_at(s.as_bytes(), 0), (is_cjk(c as u32), c.len_utf8()), "{c:?}");
        }
    }

    /// The segmentation before the fused pass: runs found by `char_indices`, each cut by
    /// `words`, jieba or [`char_bigrams`] when it ends.
    fn segment_reference(text: &str, mode: Cjk) -> Vec<(&str, bool)> {
        fn run<'a>(run: &'a str, cjk: bool, mode: Cjk, out: &mut Vec<(&'a str, bool)>) {
            if run.is_empty() {
            } else if !cjk {
                words(run, |w| out.push((w, false)));
            } else if mode == Cjk::Words {
                segment_cjk(run, &mut |t, c| out.push((t, c)));
            } else {
                char_bigrams(run, |t| out.push((t, true)));
            }
        }
        let mut out = Vec::new();
        let (mut start, mut in_cjk) = (0, false);
        for (i, c) in text.char_indices() {
            if is_cjk(c as u32) != in_cjk {
                run(&text[start..i], in_cjk, mode, &mut out);
                (start, in_cjk) = (i, !in_cjk);
            }
        }
        run(&text[start..], in_cjk, mode, &mut out);
        out
    }

    /// The fused byte-based [`segment`] emits exactly the reference's tokens, in its order.
    #[test]
    fn fused_segmentation_matches_the_reference() {
        let chars: Vec<char> = MIXED.chars().collect();
        for mode in [Cjk::Bigrams, Cjk::DEFAULT] {
            let check = |s: &str| {
                let mut fast = Vec::new();
                segment(s, mode, |t, c| fast.push((t, c)));
                assert_eq!(fast, segment_reference(s, mode), "{mode:?} {s:?}");
            };
            for s in ["北京大学 ok 好", "好", "a好b", "好𠀀", "𠀀", "かな漢字カナ", "中，文。"]
            {
                check(s);
            }
            random_strings(&chars, 0x2545_f491_4f6c_dd1d, 100_000, 14, check);
        }
    }

    /// The one-pass bigram hashing of [`Tokenizer::hash_bigrams`] gives exactly the hashes of
    /// [`Tokenizer::tokenize`]'s tokens, on random strings that are mostly ideographs (some
    /// forming Chinese stopwords, and the edges of the ranges [`is_simple_ideograph`] tells by
    /// byte) mixed with punctuation, ASCII, full-width forms, kana and marks that compose with
    /// what precedes them, 4-byte and compatibility ideographs, and characters whose normal
    /// form is several characters (`㍻` is `平成`, `…` is `...`, `㌀` is kana).
    #[test]
    fn hash_bigrams_matches_tokenize() {
        let ideographs = "一下上面我们的了你他不好中文\u{3400}\u{4DBF}\u{4E00}\u{9FFF}\u{3FFF}\u{4000}";
        let others = concat!(
            "，。！？、（）“”…～ＡＢｃ１\u{3000}",
            " aZ1.,'_\n",
            "かカｶﾞ\u{3099}\u{301}",
            "\u{20000}\u{2A6D6}\u{F900}㍻㌀\u{33FF}",
            "\u{4DC0}\u{A000}\u{33FF}한é"
        );
        let mut chars: Vec<char> = others.chars().collect();
        for _ in 0..4 {
            chars.extend(ideographs.chars());
        }
        let (mut full, mut hashed) = (Tokens::default(), Tokens::default());
        for (k, (language, stopwords, stem)) in [Language::Chinese, Language::English]
            .into_iter()
            .flat_map(|l| [(l, false, false), (l, true, false), (l, false, true), (l, true, true)])
            .enumerate()
        {
            let t = Tokenizer::new(TokenizerConfig { cjk: Cjk::Bigrams, language, stopwords, stem });
            let mut check = |s: &str| {
                t.tokenize(s, &mut full);
                t.tokenize_hashes(s, &mut hashed);
                assert_eq!(hashed.hashes(), full.hashes(), "{:?} {s:?}", t.config());
            };
            for s in
                ["中文，好", "好", "中", "中文\u{301}", "中\u{301}文", "中𠀀文", "中㍻文", "ｶﾞ中", "1，2中"]
            {
                check(s);
            }
            random_strings(&chars, 0x9e37_79b9_7f4a_7c15 ^ k as u64, 60_000, 40, check);
        }
    }

    /// [`token_hash_6`] is [`token_hash`].
    #[test]
    fn token_hash_6_is_token_hash() {
        let mut next = crate::models::text::xorshift(0x2545_f491_4f6c_dd1d);
        for _ in 0..100_000 {
            let b: [u8; 6] = next().to_le_bytes()[..6].try_into().unwrap();
            assert_eq!(token_hash_6(&b), token_hash(&b));
        }
    }

    /// [`is_simple_ideograph`] holds for exactly the ideographs of U+3400..=U+4DBF and
    /// U+4E00..=U+9FFF, which are CJK, their own normal form, with a boundary before them and
    /// after them (no canonical decomposition of two or more characters starts with one, so
    /// none is the first of a composition), and [`simple_ideograph_lead`] tells them by their
    /// first two bytes; and the classes of the table agree with their definitions.
    #[test]
    fn simple_ideographs_and_char_classes() {
        for b0 in 0..=255u8 {
            for b1 in 0..=255u8 {
                let expected = match b0 {
                    0xE5..=0xE9 => true,
                    0xE4 => b1 != 0xB7,
                    0xE3 => b1 >= 0x90,
                    _ => false,
                };
                if !matches!(b0, 0xE3 | 0xE4) || (0x80..0xC0).contains(&b1) {
                    assert_eq!(simple_ideograph_lead(b0, b1), expected, "{b0:#x} {b1:#x}");
                }
            }
        }
        let table = &*NORM_TABLE;
        let mut buf = [0u8; 4];
        let mut slow = String::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let mut decomposition = Vec::new();
            unicode_normalization::char::decompose_canonical(c, |d| decomposition.push(d));
            if decomposition.len() > 1 {
                let first = decomposition[0].encode_utf8(&mut buf);
                assert!(!is_simple_ideograph(first.as_bytes(), 0), "{c:?} {decomposition:?}");
            }
            let s = c.encode_utf8(&mut buf);
            let simple = matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF);
            assert_eq!(is_simple_ideograph(s.as_bytes(), 0), simple, "{c:?}");
            slow.clear();
            normalize_slow(s, &mut slow);
            if simple {
                assert!(is_cjk(c as u32) && slow == *s && has_boundary_before(c), "{c:?}");
            }
            let (class, len) = table.char_class(s, 0);
            assert_eq!(len, c.len_utf8());
            let sep = !slow.is_empty() && slow.chars().all(no_word);
            match class {
                CLASS_NO_BOUNDARY => assert!(!c.is_ascii(), "{c:?}"),
                CLASS_SEP => assert!(sep && has_boundary_before(c), "{c:?}"),
                _ => assert!(!sep && has_boundary_before(c), "{c:?}"),
            }
        }
    }

    #[test]
    fn empty_text_has_no_tokens() {
        assert!(tok("", Language::English, true, true).is_empty());
        assert!(tok(" ... !!", Language::English, true, true).is_empty());
    }
}
