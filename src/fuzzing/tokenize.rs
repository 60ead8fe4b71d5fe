//! Target `tokenize`: the two tokenizer paths agree, n-gram hashes match their text, the
//! lines counted as words and pairs give what counting by bytes gives (and TF-IDF rows what
//! prediction makes of each line), and the fast word segmentation gives UAX #29's words.

use crate::models;
use crate::models::control::Control;
use crate::models::text::tokenize::{Cjk, Language, Tokenizer, TokenizerConfig, Tokens, term_hash};
use crate::models::text::vectorize::{
    Marks, SeenTwice, SparseRows, TermClassSums, VocabularyBuilder, Weighting, push_row,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

const LANGUAGES: [Language; 19] = [
    Language::Arabic,
    Language::Danish,
    Language::Dutch,
    Language::English,
    Language::Finnish,
    Language::French,
    Language::German,
    Language::Greek,
    Language::Hungarian,
    Language::Italian,
    Language::Norwegian,
    Language::Portuguese,
    Language::Romanian,
    Language::Russian,
    Language::Spanish,
    Language::Swedish,
    Language::Tamil,
    Language::Turkish,
    Language::Chinese,
];

/// The tokenizer configuration of the first byte (`cjk`, `stopwords`, `stem`, and the
/// language among all 19 from the upper bits), with the n-gram range of the second.
pub fn tokenizer_config(b0: u8, b1: u8) -> (TokenizerConfig, usize, usize) {
    let cjk = if b0 & 1 == 0 { Cjk::Bigrams } else { Cjk::DEFAULT };
    let language = LANGUAGES[(b0 >> 3) as usize % LANGUAGES.len()];
    let config = TokenizerConfig { cjk, language, stopwords: b0 & 2 != 0, stem: b0 & 4 != 0 };
    let max = models::text::MAX_NGRAM;
    let lo = 1 + (b1 as usize % max);
    let hi = lo + (b1 as usize / 8) % (max - lo + 1);
    (config, lo, hi)
}

fn with_tokenizer<T>(config: TokenizerConfig, f: impl FnOnce(&Tokenizer) -> T) -> T {
    type Cache = Mutex<HashMap<(bool, usize, bool, bool), &'static Tokenizer>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (config.cjk == Cjk::Bigrams, config.language as usize, config.stopwords, config.stem);
    let cache = CACHE.get_or_init(Cache::default);
    let tokenizer = {
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(key).or_insert_with(|| Box::leak(Box::new(Tokenizer::new(config))))
    };
    f(tokenizer)
}

/// Target `tokenize`: two configuration bytes (see [`tokenizer_config`]), then the text
/// (invalid UTF-8 replaced, as it could not reach the tokenizer from SQL). Checks that both
/// tokenizer paths agree, that n-gram hashes match their text, and that counting the lines as
/// words and pairs gives the vocabulary and rows of counting them by bytes.
pub fn tokenize(data: &[u8]) {
    let [b0, b1, rest @ ..] = data else { return };
    let (config, lo, hi) = tokenizer_config(*b0, *b1);
    let text = String::from_utf8_lossy(rest);
    with_tokenizer(config.clone(), |tok| {
        let (mut full, mut hashed) = (Tokens::default(), Tokens::default());
        tok.tokenize(&text, &mut full);
        tok.tokenize_hashes(&text, &mut hashed);
        assert_eq!(
            full.hashes(),
            hashed.hashes(),
            "tokenize and tokenize_hashes disagree on {text:?} ({config:?})"
        );
        for i in 0..full.len() {
            let t = full.get(i);
            assert!(!t.is_empty() && !t.contains(' '), "token {t:?} of {text:?} ({config:?})");
        }
        let mut grams = Vec::new();
        full.ngrams_into(lo, hi, &mut grams);
        let mut hashes = Vec::new();
        hashed.ngram_hashes_into(lo, hi, &mut hashes);
        assert_eq!(grams.iter().map(|g| g.hash).collect::<Vec<_>>(), hashes, "n-gram hashes of {text:?}");
        for g in &grams {
            let gram = &full.text()[g.start as usize..g.end as usize];
            assert_eq!(term_hash(gram), g.hash, "n-gram {gram:?} of {text:?} ({config:?})");
        }
        counting_agrees(tok, &text, lo, hi);
    });
    models::text::check_words(&text);
}

/// The lines of `text` as training texts: counted as words and pairs (the default) or by their
/// bytes, in one builder or in two appended, with `min_df` 2 also without the n-grams seen
/// once (filters of 4 and 4,096 words), they give the same vocabulary and rows; their TF-IDF
/// rows (weighted where the counts were) are what prediction makes of each line.
fn counting_agrees(tok: &Tokenizer, text: &str, lo: usize, hi: usize) {
    let docs: Vec<&str> = text.split('\n').collect();
    let min_df = 1 + text.len() % 2;
    let filtered = min_df >= 2 && VocabularyBuilder::counts_pairs(lo, hi);
    let build = |by_bytes: bool, split: usize, filter: usize, weighting: Weighting| {
        let mut toks = Tokens::default();
        let (mut first, mut second) = (VocabularyBuilder::default(), VocabularyBuilder::default());
        if by_bytes {
            first.count_by_bytes();
            second.count_by_bytes();
        }
        if filter > 0 {
            let seen = Arc::new(seen_twice(tok, &docs, split, hi, filter));
            first.only_seen_twice(Arc::clone(&seen));
            second.only_seen_twice(seen);
        }
        for (i, d) in docs.iter().enumerate() {
            tok.tokenize(d, &mut toks);
            let builder = if i < split { &mut first } else { &mut second };
            builder.try_add(&toks, lo, hi).expect("a fuzz input's terms fit");
        }
        first.try_append(second, &crate::models::control::Control::new()).expect("appending in memory");
        first.finish(min_df, None, weighting, &Control::new()).expect("finishing in memory")
    };
    let count = |by_bytes: bool, split: usize, filter: usize| {
        let (vocab, rows, _) = build(by_bytes, split, filter, Weighting::Count);
        ((0..vocab.len() as u32).map(|i| vocab.term(i).to_string()).collect::<Vec<_>>(), rows)
    };
    let bytes = count(true, docs.len(), 0);
    assert_eq!(count(false, docs.len(), 0), bytes, "pairs against bytes, {lo}..={hi}, {text:?}");
    assert_eq!(count(false, docs.len() / 2, 0), bytes, "pairs in two halves, {lo}..={hi}, {text:?}");
    if filtered {
        for filter in [4, 4096] {
            for split in [docs.len(), docs.len() / 2] {
                let case = format!("filter {filter}, split {split}, {lo}..={hi}, {text:?}");
                assert_eq!(count(false, split, filter), bytes, "rows of the n-grams seen twice, {case}");
            }
        }
    }
    for filter in if filtered { &[0, 4][..] } else { &[0][..] } {
        let (vocab, rows, idf) = build(false, docs.len() / 2, *filter, Weighting::TfIdf);
        let mut toks = Tokens::default();
        for (d, line) in docs.iter().enumerate() {
            tok.tokenize(line, &mut toks);
            let (mut ids, mut f, mut x) = (Vec::new(), Vec::new(), Vec::new());
            toks.for_each_ngram(lo, hi, |g| ids.extend(vocab.id(g)));
            push_row(&mut ids, Weighting::TfIdf, &idf, &mut f, &mut x);
            assert_eq!(
                rows.row(d),
                (&f[..], &x[..]),
                "TF-IDF row {d}, filter {filter}, {lo}..={hi}, {text:?}"
            );
        }
    }
    class_counting_agrees(tok, &docs, (lo, hi), min_df, &bytes);
}

/// Counted by class (a line's class is its number mod 3), of occurrences or of texts, in one
/// builder or in two appended, the lines give the same vocabulary as their rows (`want`) and
/// those rows' sums by class.
fn class_counting_agrees(
    tok: &Tokenizer,
    docs: &[&str],
    (lo, hi): (usize, usize),
    min_df: usize,
    want: &(Vec<String>, SparseRows),
) {
    const K: usize = 3;
    let (terms, rows) = want;
    for presence in [false, true] {
        let mut per_term = vec![[0f64; K]; terms.len()];
        for d in 0..rows.rows() {
            let (fs, vs) = rows.row(d);
            for (&f, &v) in fs.iter().zip(vs) {
                per_term[f as usize][d % K] += if presence { 1.0 } else { v as f64 };
            }
        }
        let mut sums = TermClassSums { offsets: vec![0], totals: vec![0.0; K], ..TermClassSums::default() };
        for counts in &per_term {
            for (c, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0.0) {
                sums.classes.push(c as u32);
                assert_eq!(f64::from(n as u32), n, "a count");
                sums.sums.push(n as u32);
                sums.totals[c] += n;
            }
            sums.offsets.push(sums.classes.len() as u32);
        }
        // With min_df 2 and word pairs, also counted without the n-grams seen once, marked
        // in filters of 4 words (most n-grams then pass by chance and are counted exactly) or
        // of 4,096.
        let pairs = VocabularyBuilder::counts_pairs(lo, hi);
        let filters: &[usize] = if min_df >= 2 && pairs { &[0, 4, 4096] } else { &[0] };
        for (split, &filter) in
            [docs.len(), docs.len() / 2].into_iter().flat_map(|s| filters.iter().map(move |f| (s, f)))
        {
            let mut toks = Tokens::default();
            let builder = || VocabularyBuilder::by_class(K, presence).unwrap();
            let (mut first, mut second) = (builder(), builder());
            if filter > 0 {
                let seen = Arc::new(seen_twice(tok, docs, split, hi, filter));
                first.only_seen_twice(Arc::clone(&seen));
                second.only_seen_twice(seen);
            }
            for (i, d) in docs.iter().enumerate() {
                tok.tokenize(d, &mut toks);
                let builder = if i < split { &mut first } else { &mut second };
                builder.try_add_in_class(&toks, lo, hi, (i % K) as u32).expect("a fuzz input's terms fit");
            }
            first.try_append(second, &crate::models::control::Control::new()).expect("appending in memory");
            let (vocab, got) =
                first.finish_by_class(min_df, None, &Control::new()).expect("finishing in memory");
            let got_terms: Vec<String> = (0..vocab.len() as u32).map(|i| vocab.term(i).to_string()).collect();
            let case = format!("presence {presence}, split {split}, filter {filter}, {lo}..={hi}, {docs:?}");
            assert_eq!(&got_terms, terms, "terms by class, {case}");
            assert_eq!(got, sums, "class sums, {case}");
        }
    }
}

/// The n-grams of two to `hi` words of `docs` marked in filters of `words` words: the lines
/// before `split` in one part, the others in another, joined.
fn seen_twice(tok: &Tokenizer, docs: &[&str], split: usize, hi: usize, words: usize) -> SeenTwice {
    let mut scratch = (Tokens::default(), Vec::new());
    let mut parts = [Marks::new(words).unwrap(), Marks::new(words).unwrap()];
    for (i, d) in docs.iter().enumerate() {
        parts[usize::from(i >= split)].mark(tok, d, hi, &mut scratch);
    }
    let [a, b] = parts;
    SeenTwice::join(a, b)
}
