//! The `text` kind: a Naive Bayes classifier from a text column to a label column.
//!
//! Pipeline (each step an option of `ml_train`, defaults chosen by measurement on SMS spam,
//! Banking77 and ChnSentiCorp, see `examples/text_accuracy.rs`):
//!
//! Declared in [`OPTIONS`] (see [`params`]):
//!
#![doc = include_str!("../../../sql/options/text.md")]
//!
//! See [`tokenize`] for segmentation (and the private `normalize` module for Unicode
//! normalisation), [`vectorize`] for the vocabulary and weighting, [`naive_bayes`] for the
//! models. Bernoulli NB always uses term presence, so `weighting` does not change a Bernoulli
//! model. With count or binary weighting (whatever the number of classes) the training counts
//! each term by class and keeps no rows ([`vectorize::TermClassSums`]): the same model, but the
//! training loss is then measured on at most 2,048 training texts scored again (all of them when
//! fewer: the same mean up to rounding; of long texts about 1 MiB of them, at least 256). With
//! rows (TF-IDF), it is measured on at most 65,536 of them.
//!
//! **Fallbacks.** Tokens not in the vocabulary are ignored (known terms are found by their 64-bit
//! hash, see [`vectorize::Vocabulary::find_hashed`]). A NULL or empty text, or one with
//! no known token, gets the answer of the class priors alone (for Bernoulli NB: the priors
//! combined with "every term absent"). Numbers given as the text are read as their decimal
//! text, as SQLite would convert them; a blob is an error.

mod ascii_words;
mod class_texts;
mod counts;
pub mod detect;
mod hashing;
mod language;
pub mod naive_bayes;
mod normalize;
pub mod params;
mod pipeline;
mod scratch;
mod segment;
pub mod tokenize;
pub mod vectorize;

use super::control::Control;
use super::data::{Column, Dataset, Input, Met, Value, class_ids};
use super::finite;
use super::metrics;
use super::options::{Common, Options, show_number};
use super::setup::{Setup, Target};
use super::{EpochLog, Estimator, Predictions, Trained};
use crate::{Error, Result};
use naive_bayes::{Algorithm, HashedWeights, NaiveBayes, Priors, softmax};
pub use params::{MIN_ALPHA, OPTIONS, Params};
use pipeline::{Counting, cell_text};
use scratch::{Scratch, with_scratch};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokenize::Tokenizer;
use vectorize::{TermOrder, Vocabulary, Weighting, push_row};

/// Longest n-gram the `ngrams` option accepts.
pub const MAX_NGRAM: usize = 5;

/// [`TextSettings::min_df`] without the option: decided from the training texts
/// ([`vectorize::VocabularyBuilder::auto_min_df`]).
pub const AUTO_MIN_DF: u32 = 0;

/// The vectorizer and model settings of a text model (the tokenizer's live in
/// [`TokenizerConfig`](tokenize::TokenizerConfig)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextSettings {
    /// Shortest and longest n-gram.
    pub ngrams: (u8, u8),
    /// Minimum document frequency of a term; [`AUTO_MIN_DF`] (0) until the training decides it
    /// (a stored model always holds the value used).
    pub min_df: u32,
    /// Vocabulary cap (most frequent terms), if any.
    pub max_features: Option<u32>,
    /// Term weighting.
    pub weighting: Weighting,
    /// Naive Bayes variant.
    pub algorithm: Algorithm,
    /// Additive smoothing.
    pub alpha: f64,
    /// Class priors.
    pub priors: Priors,
}

/// The memory [`TextModel::hashed_weights`] may always take (a small model's table is small
/// however many bytes a term's slot takes beside the model's own).
const HASHED_WEIGHTS_FLOOR: usize = 16 << 20;

/// Training texts over which the training loss of a fit without rows is measured (evenly
/// spaced), at most; of long texts fewer ([`LOSS_SAMPLE_BYTES`]).
const LOSS_SAMPLE: usize = 2048;

/// Bytes of text the training loss of a fit without rows scores, about (the sample is then
/// [`LOSS_SAMPLE`] texts or fewer, at least [`LOSS_SAMPLE_LONG`]): scoring texts again costs
/// their tokenizing and lookups, and 2,048 long reviews (4 MB of the IMDB star ratings) took
/// 20–30 ms of a 0.35 s training.
const LOSS_SAMPLE_BYTES: usize = 1 << 20;

/// The fewest texts the training loss scores when there are that many (however long they are).
const LOSS_SAMPLE_LONG: usize = 256;

/// The number of texts the training loss scores, of `n` training texts whose
/// [`evenly_spaced`] [`LOSS_SAMPLE`] take `bytes` of text: that sample, or as many as take about
/// [`LOSS_SAMPLE_BYTES`] at the same length (at least [`LOSS_SAMPLE_LONG`]).
fn loss_sample_size(n: usize, bytes: usize) -> usize {
    let take = n.min(LOSS_SAMPLE);
    if bytes <= LOSS_SAMPLE_BYTES {
        return take;
    }
    let fit = (take as u128 * LOSS_SAMPLE_BYTES as u128 / bytes as u128) as usize;
    fit.max(LOSS_SAMPLE_LONG).min(take)
}

/// Training rows over which the training loss of a fit with rows is measured (evenly spaced):
/// every row of a smaller set. Scoring a row costs a term's weights per class: over a million
/// texts of 77 classes, every row took 2 s, as long as counting them.
const LOSS_SAMPLE_ROWS: usize = 1 << 16;

/// Bytes of predicted probabilities the held-out texts are scored in at a time, for the
/// metrics of a fit (at 77 classes, 27k texts a batch).
const EVALUATED_BYTES: usize = 16 << 20;

/// The rows of a fit with rows that its training loss scores (at most [`LOSS_SAMPLE_ROWS`]),
/// and their positions among the training rows: the fit keeps only these once its class sums
/// are made.
type LossRows = (vectorize::SparseRows, Vec<usize>);

/// `take` positions evenly spaced over `0..n`, or all of them when there are no more.
fn evenly_spaced(n: usize, take: usize) -> Vec<usize> {
    let take = n.min(take);
    (0..take).map(|i| i * n / take).collect()
}

/// The positions among `rows` (training rows of `text`) of the texts the training loss of a fit
/// counted by class scores ([`TextModel::sampled_log_loss`]): every one up to [`LOSS_SAMPLE`]
/// (and about [`LOSS_SAMPLE_BYTES`] of text), else that many evenly spaced.
fn loss_sample(text: &Column, rows: &[usize]) -> Vec<usize> {
    let picks = evenly_spaced(rows.len(), LOSS_SAMPLE);
    let sample: Vec<usize> = picks.iter().map(|&i| rows[i]).collect();
    let take = loss_sample_size(rows.len(), pipeline::text_bytes_of(text, &sample));
    if take < picks.len() { evenly_spaced(rows.len(), take) } else { picks }
}

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// The bytes of text from which a fit through `Estimator::fit` makes its first pass on this
    /// thread ([`first_pass_at_every_size`]).
    static SEEN_TWICE_FROM: std::cell::Cell<usize> = const { std::cell::Cell::new(pipeline::SEEN_TWICE_FROM) };
}

/// From `on`, the text model's trainings on this thread make their first pass over the n-grams
/// seen twice at every size (not from [`pipeline::SEEN_TWICE_FROM`] bytes of text), and copy the
/// texts they give back as they count them into chunks of 2,000 bytes (not
/// [`class_texts::CHUNK`]): tests and fuzzing reach those paths with a few texts. Off, as
/// they are.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn first_pass_at_every_size(on: bool) {
    let (from, chunk) = if on { (0, 2_000) } else { (pipeline::SEEN_TWICE_FROM, class_texts::CHUNK) };
    SEEN_TWICE_FROM.with(|s| s.set(from));
    class_texts::CHUNK_FOR_TESTS.with(|c| c.set(chunk));
}

/// Fits on this thread that gave their training texts back as they counted them (tests).
#[cfg(test)]
pub(crate) fn given_back_as_counted() -> usize {
    counts::GIVEN_BACK_AS_COUNTED.with(std::cell::Cell::get)
}

/// Whether texts of `k` classes are counted by class with `settings` (else in rows): without
/// TF-IDF, whose weights need every term's document frequency first, each term is counted per
/// class as the texts are read (a row of counts for a term of two classes or more with few
/// classes, a list of runs with many).
fn counts_by_class(settings: &TextSettings, k: usize) -> bool {
    settings.weighting != Weighting::TfIdf && k <= vectorize::MAX_CLASSES
}

/// A fit's model ([`TextModel::fit`]) and what it made beside it.
struct Fitted {
    model: TextModel,
    /// The rows its training loss scores, when it kept rows.
    loss_rows: Option<LossRows>,
    /// The distinct terms counted, and whether that number is estimated.
    distinct: (usize, bool),
    /// What is left for the refit on every row ([`counts::Reuse::Leave`]).
    left: Option<counts::Left>,
}

/// A fit's counts of its training texts ([`TextModel::count_texts`]), to be finished
/// ([`TextModel::finish_fit`]).
struct Tally {
    builder: vectorize::VocabularyBuilder,
    to_leave: Option<counts::ToLeave>,
    settings: TextSettings,
    /// The distinct terms counted, and whether that number is estimated.
    distinct: (usize, bool),
    /// Counted by class (else in rows).
    by_class: bool,
}

impl Tally {
    /// Whether the counts are left for the refit on every row, which then counts only the
    /// held-out texts.
    fn leaves_counts(&self) -> bool {
        self.to_leave.as_ref().is_some_and(counts::ToLeave::counts)
    }
}

/// A trained Naive Bayes text classifier.
#[derive(Debug, Serialize, Deserialize)]
pub struct TextModel {
    text_column: String,
    target_column: String,
    classes: Vec<Value>,
    tokenizer: Tokenizer,
    settings: TextSettings,
    vocab: Vocabulary,
    /// Inverse document frequencies (TF-IDF weighting only, else empty).
    idf: Vec<f32>,
    nb: NaiveBayes,
    /// The weights by term hash, made at the second prediction that can use them (see
    /// [`TextModel::hashed_weights`]); not stored.
    #[serde(skip)]
    hashed: OnceLock<Option<HashedWeights>>,
    /// A text was scored: the next scoring may make [`TextModel::hashed`].
    #[serde(skip)]
    scored: AtomicBool,
}

fn text_arg<'a>(args: &[Input<'a>]) -> Result<Cow<'a, str>> {
    match args {
        [v] => cell_text(*v),
        _ => Err(Error::argument(format!("a text model takes 1 argument (the text), got {}", args.len()))),
    }
}

/// Picks the text column: the option, else the one column besides the target, else the one
/// text column besides the target.
fn text_column<'d>(data: &'d Dataset, target: &Column, option: Option<&str>) -> Result<&'d Column> {
    if let Some(name) = option {
        let col = data.column(name, "option 'text'")?;
        if col.name == target.name {
            return Err(Error::option(
                "text",
                format!("must name a column other than the target, got '{name}'"),
            ));
        }
        return Ok(col);
    }
    let others: Vec<Met> = data.met().into_iter().filter(|&m| data.met_name(m) != target.name).collect();
    // With several other columns (an id, a date, an attachment set aside...), the one text
    // column is the text. (A column set aside that may be of text, say with one value not
    // UTF-8, is a candidate too: another is not chosen over it.)
    let texts: Vec<&Column> = others
        .iter()
        .filter_map(|&m| data.met_column(m).ok())
        .filter(|c| matches!(c.data, crate::models::ColumnData::Text(_)))
        .collect();
    let maybe_text = others.iter().any(|m| matches!(m, Met::Aside(u) if u.maybe_text));
    if others.len() > 1 && texts.len() == 1 && !maybe_text {
        return Ok(texts[0]);
    }
    match others.as_slice() {
        // (Set aside: its error.)
        [one] => data.met_column(*one),
        [] => Err(Error::data(format!(
            "the source has no column besides the target '{}' (a text model needs a text column)",
            target.name
        ))),
        many => Err(Error::data(format!(
            "the source has several columns besides the target '{}' ({}); choose the text column with the option 'text'",
            target.name,
            many.iter().map(|&m| format!("'{}'", data.met_name(m))).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl TextModel {
    /// Fills `s.ids` with the vocabulary ids of the known terms of `text`, one per occurrence
    /// in n-gram order (prefetching the model's weights of each).
    fn known_terms(&self, text: &str, s: &mut Scratch) {
        let (lo, hi) = (self.settings.ngrams.0 as usize, self.settings.ngrams.1 as usize);
        s.ids.clear();
        let (nb, ids) = (&self.nb, &mut s.ids);
        if self.vocab.hashes_are_unique() {
            // Terms are known by hash: no token text is needed.
            self.tokenizer.tokenize_hashes(text, &mut s.tokens);
            s.hashes.clear();
            s.tokens.ngram_hashes_into(lo, hi, &mut s.hashes);
            self.vocab.find_hashed(&s.hashes, ids);
        } else {
            self.tokenizer.tokenize(text, &mut s.tokens);
            s.tokens.for_each_ngram_hashed(lo, hi, |g, h| ids.extend(self.vocab.find(g, h)));
        }
        for &id in ids.iter() {
            nb.prefetch_offsets(id);
        }
        for &id in ids.iter() {
            nb.prefetch_weights(id);
        }
    }

    /// Fills `s.features`/`s.values` with the weighted known terms of `text`.
    fn vectorize(&self, text: &str, s: &mut Scratch) {
        self.known_terms(text, s);
        s.features.clear();
        s.values.clear();
        push_row(&mut s.ids, self.settings.weighting, &self.idf, &mut s.features, &mut s.values);
    }

    /// Class scores (unnormalised log-probabilities) of `text` into `s.scores`.
    fn score(&self, text: &str, s: &mut Scratch) {
        self.score_as(text, s, true);
    }

    /// [`TextModel::score`], by the weights by hash only where `hashed` (else by id: the same
    /// sums, without making the table).
    fn score_as(&self, text: &str, s: &mut Scratch, hashed: bool) {
        s.scores.resize(self.classes.len(), 0.0);
        if self.settings.weighting == Weighting::Count && self.nb.algorithm() != Algorithm::Bernoulli {
            // Counts are additive: accumulate each occurrence in text order, with no sort or
            // merge.
            // The table pays from the second text on: a model loaded for one prediction (the
            // model cache off) scores by id.
            let hashed = if hashed && self.scored.swap(true, Ordering::Relaxed) {
                self.hashed_weights()
            } else {
                None
            };
            match hashed {
                Some(weights) => self.score_hashed(weights, text, s),
                None => self.score_by_id(text, s),
            }
            return;
        }
        self.vectorize(text, s);
        self.nb.scores(&s.features, &s.values, &mut s.scores);
    }

    /// [`TextModel::score`] of count-weighted multinomial or complement NB, by vocabulary id.
    fn score_by_id(&self, text: &str, s: &mut Scratch) {
        self.known_terms(text, s);
        let (nb, out) = (&self.nb, &mut s.scores);
        let mut acc = nb.start(out);
        for &id in &s.ids {
            nb.add(&mut acc, id, 1.0, out);
        }
        nb.finish(acc, out);
    }

    /// [`TextModel::score_by_id`] with the weights by hash: the same sums.
    fn score_hashed(&self, weights: &HashedWeights, text: &str, s: &mut Scratch) {
        let (lo, hi) = (self.settings.ngrams.0 as usize, self.settings.ngrams.1 as usize);
        self.tokenizer.tokenize_hashes(text, &mut s.tokens);
        s.hashes.clear();
        s.tokens.ngram_hashes_into(lo, hi, &mut s.hashes);
        weights.scores(&s.hashes, &mut s.scores);
    }

    /// The weights by term hash ([`HashedWeights`]: one cache miss per n-gram instead of three
    /// to five), made once per loaded model, where they apply: count weighting, multinomial or
    /// complement NB, at most 14 classes (13 for complement), terms known by their hash alone,
    /// and a table of at most twice the memory the vocabulary and the weights already take, or
    /// 16 MiB (16 bytes a slot for two classes, 64 for eight, two to four slots a term; a
    /// 353k-term 8-class model: 64 MB). `None` (scoring by id, the same sums) otherwise, or when its
    /// memory is refused.
    fn hashed_weights(&self) -> Option<&HashedWeights> {
        self.hashed
            .get_or_init(|| {
                let usable = self.settings.weighting == Weighting::Count && self.vocab.hashes_are_unique();
                usable
                    .then(|| {
                        let own = self.vocab.memory_bytes() + self.nb.memory_bytes();
                        let max_bytes = (2 * own).max(HASHED_WEIGHTS_FLOOR);
                        HashedWeights::build(&self.nb, self.vocab.len(), self.vocab.hashed_ids(), max_bytes)
                    })
                    .flatten()
            })
            .as_ref()
    }

    /// Class probabilities of `text`, in class order.
    pub fn proba(&self, text: &str) -> Vec<f64> {
        with_scratch(|s| {
            self.score(text, s);
            softmax(&mut s.scores);
            s.scores.clone()
        })
    }

    /// The index of the predicted class of `text`.
    pub fn predict_index(&self, text: &str) -> usize {
        with_scratch(|s| {
            self.score(text, s);
            metrics::argmax(&s.scores)
        })
    }

    /// The class labels, in class order (SQLite sort order of the training labels).
    pub fn classes(&self) -> &[Value] {
        &self.classes
    }

    /// Number of terms in the vocabulary.
    pub fn vocabulary_size(&self) -> usize {
        self.vocab.len()
    }

    /// Number of rows [`TextModel::top_tokens`] returns for `k`.
    pub fn top_tokens_len(&self, k: usize) -> usize {
        k.min(self.vocab.len()).saturating_mul(self.classes.len())
    }

    /// The name of the text column at training.
    pub fn text_column(&self) -> &str {
        &self.text_column
    }

    /// The label column it was trained on.
    pub fn target_column(&self) -> &str {
        &self.target_column
    }

    /// Per class (in class order), the `k` most informative terms: those whose weight for the
    /// class most exceeds their best weight for any other class, as
    /// `(label, term, log-ratio)`, largest first (ties: alphabetical). For multinomial NB the
    /// log-ratio is `ln P(t|class) − max over other classes ln P(t|other)`, what NLTK's
    /// `show_most_informative_features` prints as a ratio.
    pub fn top_tokens(&self, k: usize) -> Vec<(Value, String, f64)> {
        let n_classes = self.classes.len();
        let n_terms = self.vocab.len();
        // `k` is an argument: no more than the vocabulary can answer.
        let k = k.min(n_terms);
        // Per term: the best and second-best class weight and the best class.
        let mut row = vec![0f64; n_classes];
        let mut best = Vec::with_capacity(n_terms);
        for f in 0..n_terms as u32 {
            self.nb.row_into(f, &mut row);
            let (mut b1, mut b2, mut arg) = (f64::NEG_INFINITY, f64::NEG_INFINITY, usize::MAX);
            for (c, &w) in row.iter().enumerate() {
                if w > b1 {
                    (b2, b1, arg) = (b1, w, c);
                } else if w > b2 {
                    b2 = w;
                }
            }
            best.push((b1, b2, arg));
        }
        let mut out = Vec::with_capacity(k * n_classes);
        let mut ranked: Vec<(f64, u32)> = Vec::with_capacity(n_terms);
        for c in 0..n_classes {
            ranked.clear();
            for (f, &(b1, b2, arg)) in best.iter().enumerate() {
                let w = self.nb.weight(f as u32, c);
                let other = if arg == c { b2 } else { b1 };
                ranked.push((w - other, f as u32));
            }
            let take = k.min(ranked.len());
            if take == 0 {
                continue;
            }
            let cmp = |a: &(f64, u32), b: &(f64, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
            ranked.select_nth_unstable_by(take - 1, cmp);
            ranked[..take].sort_unstable_by(cmp);
            for &(d, f) in &ranked[..take] {
                out.push((self.classes[c].clone(), self.vocab.term(f).to_string(), d));
            }
        }
        out
    }

    /// Fits a model of `rows` of `text`, of classes `y` (indexes into `classes`). From
    /// `seen_twice_from` bytes of training text on, counting may leave out the n-grams of a
    /// single text ([`pipeline::SEEN_TWICE_FROM`] in training); `reuse` says whether the counts
    /// come from a measured fit's, or are left for the refit that follows ([`counts::count`]).
    /// Where `loss` (not in the refit, whose training log is not reported), a fit in rows keeps
    /// the rows its training loss scores. Unless `served` (a measured fit whose refit is the
    /// served model: its model is scored and dropped), counts by class of multinomial or
    /// complement NB are finished into an unsorted vocabulary ([`TermOrder::Any`]: the same
    /// scores). Returns the model and what the fit made beside it ([`Fitted`]). (Training
    /// counts ([`TextModel::count_texts`]) and finishes ([`TextModel::finish_fit`]) apart, to
    /// give the training texts back between; the tests fit in one.)
    #[cfg(test)]
    #[allow(clippy::too_many_arguments)]
    fn fit(
        text: &Column,
        (rows, y): (&[usize], &[u32]),
        classes: Vec<Value>,
        tokenizer: Tokenizer,
        settings: TextSettings,
        seen_twice_from: usize,
        reuse: counts::Reuse<'_>,
        (loss, served): (bool, bool),
        control: &Control<'_>,
    ) -> Result<Fitted> {
        let counting = (&tokenizer, settings);
        let column = &mut counts::TextColumn::Shared(text);
        let tally =
            Self::count_texts(column, (rows, y, classes.len()), counting, (seen_twice_from, reuse), control)?;
        Self::finish_fit(tally, &text.name, (rows.len(), y), classes, tokenizer, (loss, served), control)
    }

    /// The counting of [`TextModel::fit`]: `rows` of `text`, of classes `y` (of `k`).
    fn count_texts(
        text: &mut counts::TextColumn<'_>,
        (rows, y, k): (&[usize], &[u32], usize),
        (tokenizer, mut settings): (&Tokenizer, TextSettings),
        (seen_twice_from, reuse): (usize, counts::Reuse<'_>),
        control: &Control<'_>,
    ) -> Result<Tally> {
        // Without TF-IDF (whose weights need every term's document frequency first), each term
        // is counted per class as the texts are read: no rows (a row of counts for a term of
        // two classes or more with few classes, a list of runs with many).
        let by_class = counts_by_class(&settings, k);
        let presence = settings.weighting == Weighting::Binary || settings.algorithm == Algorithm::Bernoulli;
        let counting = if by_class { Counting::ByClass { y, k, presence } } else { Counting::Rows };
        let (builder, to_leave) =
            counts::count(tokenizer, text, rows, counting, &mut settings, seen_twice_from, reuse, control)?;
        let distinct = (builder.distinct_terms(), builder.distinct_estimated());
        Ok(Tally { builder, to_leave, settings, distinct, by_class })
    }

    /// The rest of [`TextModel::fit`] once the texts are counted (`tally`): `rows` of the
    /// text column `text`, of classes `y`; the texts are not read.
    fn finish_fit(
        tally: Tally,
        text: &str,
        (rows, y): (usize, &[u32]),
        classes: Vec<Value>,
        tokenizer: Tokenizer,
        (loss, served): (bool, bool),
        control: &Control<'_>,
    ) -> Result<Fitted> {
        let k = classes.len();
        // Counts left for the refit are finished as they are, to count on (no copy).
        let keep = tally.leaves_counts();
        let Tally { mut builder, to_leave, settings, distinct: (distinct, estimated), by_class } = tally;
        let (min_df, max_features) = (settings.min_df as usize, settings.max_features.map(|m| m as usize));
        let no_terms = || {
            Error::data(if distinct == 0 {
                format!("the text column '{text}' has no words in the training rows")
            } else {
                format!(
                    "no term occurs in at least {} training texts (lower the option 'min_df')",
                    settings.min_df
                )
            })
        };
        let (vocab, nb, idf, sparse, left) = if by_class {
            let (algorithm, alpha, priors) = (settings.algorithm, settings.alpha, settings.priors);
            // Fitted on a second core while the vocabulary is spelled out (an empty vocabulary
            // is the error, whatever its fit gave).
            let order =
                if served || algorithm == Algorithm::Bernoulli { TermOrder::Sorted } else { TermOrder::Any };
            let (vocab, nb) =
                builder.finish_by_class_in(keep, min_df, max_features, order, control, |sums| {
                    Ok(NaiveBayes::from_class_sums(sums, y, k, algorithm, alpha, priors))
                })?;
            let left = to_leave.and_then(|leave| leave.with(keep.then_some(builder)));
            if vocab.is_empty() {
                return Err(no_terms());
            }
            (vocab, nb?, Vec::new(), None, left)
        } else {
            let (vocab, sparse, idf) = builder.finish(min_df, max_features, settings.weighting, control)?;
            if vocab.is_empty() {
                return Err(no_terms());
            }
            // The rows are let go once the class sums are made, but for those the training loss
            // scores (at most `LOSS_SAMPLE_ROWS`; none without a loss).
            let picks = if loss { evenly_spaced(rows, LOSS_SAMPLE_ROWS) } else { Vec::new() };
            let fitting = (settings.algorithm, settings.alpha, settings.priors);
            let (nb, scored) = NaiveBayes::fit_then(sparse, (y, k), vocab.len(), fitting, control, |all| {
                all.into_picked(&picks)
            })?;
            // (Counts are left only where they are counted by class.)
            let left = to_leave.and_then(|leave| leave.with(None));
            (vocab, nb, idf, Some((scored, picks)), left)
        };
        if !nb.all_finite() {
            let hint = format!("raise the option 'alpha', now {}", show_number(settings.alpha));
            let what = format!("some {} naive Bayes weights are not finite", settings.algorithm.name());
            return Err(finite::diverged(None, &what, &hint));
        }
        control.look()?;
        let model = TextModel {
            text_column: text.to_string(),
            target_column: String::new(),
            classes,
            tokenizer,
            settings,
            vocab,
            idf,
            nb,
            hashed: OnceLock::new(),
            scored: AtomicBool::new(false),
        };
        Ok(Fitted { model, loss_rows: sparse, distinct: (distinct, estimated), left })
    }

    /// See [`crate::models::Model::unsupported`].
    pub(crate) fn unsupported(&self) -> Option<&'static str> {
        self.tokenizer.unsupported()
    }

    /// See [`crate::models::Model::check`].
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let (k, v) = (self.classes.len(), self.vocab.len());
        if k < 2 || self.nb.n_classes() != k {
            return Err(format!("text model with {k} labels and {} classes of weights", self.nb.n_classes()));
        }
        if self.nb.n_features() != v {
            return Err(format!("text model with {v} terms and weights for {}", self.nb.n_features()));
        }
        let tfidf = self.settings.weighting == Weighting::TfIdf;
        if self.idf.len() != if tfidf { v } else { 0 } {
            return Err(format!(
                "text model with {v} terms and {} inverse document frequencies",
                self.idf.len()
            ));
        }
        let (lo, hi) = self.settings.ngrams;
        if !(1 <= lo && lo <= hi && usize::from(hi) <= MAX_NGRAM) {
            return Err(format!("text model with n-grams [{lo}, {hi}]"));
        }
        Ok(())
    }

    /// The options that made this model, as JSON (for the training report).
    pub fn options_json(&self) -> Json {
        let s = &self.settings;
        let t = self.tokenizer.config();
        json!({
            "text": self.text_column,
            "language": t.language.code(),
            "cjk": t.cjk.name(),
            "stopwords": t.stopwords,
            "stem": t.stem,
            "ngrams": [s.ngrams.0, s.ngrams.1],
            "min_df": s.min_df,
            "max_features": s.max_features,
            "weighting": s.weighting.name(),
            "algorithm": s.algorithm.name(),
            "alpha": s.alpha,
            "priors": s.priors.name(),
        })
    }

    /// Mean log-loss of the training texts for a fit that kept no rows, over those at `picks`
    /// of `rows` (of classes `y`; [`loss_sample`]: all of them, or an estimate, reported as
    /// such); returns it and the texts scored.
    fn sampled_log_loss(
        &self,
        text: &Column,
        (rows, y): (&[usize], &[u32]),
        picks: &[usize],
        control: &Control<'_>,
    ) -> Result<(f64, usize)> {
        let sample: Vec<usize> = picks.iter().map(|&i| rows[i]).collect();
        let k = self.classes.len();
        let proba = pipeline::map_scores(text, &sample, k, control, |t, s| {
            self.score_as(t, s, false);
            softmax(&mut s.scores);
        })?;
        let total: f64 = picks
            .iter()
            .zip(proba.chunks_exact(k))
            .map(|(&i, p)| metrics::log_loss_of(p[y[i] as usize]))
            .sum();
        Ok((total / picks.len().max(1) as f64, picks.len()))
    }

    /// The metrics of `rows` of `text` (of classes `y`), scored in batches of about `bytes` of
    /// probabilities (at least [`pipeline::MIN_ROWS`] texts, which two threads share), each
    /// added to the metrics in row order: the same sums, so the same metrics, as every row at
    /// once. At 200k held-out texts of 77 classes, every row at once took 123 MB, and twice that
    /// while the threads' halves were joined: the peak of training. By the weights by hash
    /// where `hashed` (as [`TextModel::score_as`]).
    fn metrics_in_batches(
        &self,
        text: &Column,
        (rows, y): (&[usize], &[u32]),
        bytes: usize,
        hashed: bool,
        control: &Control<'_>,
    ) -> Result<Json> {
        if rows.len() != y.len() {
            return Err(Error::Internal(format!("{} classes for {} held-out texts", y.len(), rows.len())));
        }
        let row_bytes = 8 * self.classes.len();
        let batches = metrics::BatchSize { bytes, row_bytes, min_rows: pipeline::MIN_ROWS };
        metrics::classification_in_batches(&self.classes, y, batches, |batch| {
            self.proba_rows_as(text, &rows[batch], hashed, control)
        })
    }

    /// Probabilities of the given rows, row-major, for the metrics.
    fn proba_rows(&self, text: &Column, rows: &[usize], control: &Control<'_>) -> Result<Vec<f64>> {
        self.proba_rows_as(text, rows, true, control)
    }

    /// [`TextModel::proba_rows`], by the weights by hash only where `hashed` (as
    /// [`TextModel::score_as`]).
    fn proba_rows_as(
        &self,
        text: &Column,
        rows: &[usize],
        hashed: bool,
        control: &Control<'_>,
    ) -> Result<Vec<f64>> {
        pipeline::map_scores(text, rows, self.classes.len(), control, |t, s| {
            self.score_as(t, s, hashed);
            softmax(&mut s.scores);
        })
    }
}

/// Mean negative log-likelihood of already vectorized training rows, of classes `y` (the
/// halves on two threads); returns it and the rows scored.
fn log_loss(
    nb: &NaiveBayes,
    rows: &vectorize::SparseRows,
    y: &[u32],
    control: &Control<'_>,
) -> Result<(f64, usize)> {
    // −ln p_c = ln Σ exp(s − max) − (s_c − max), with p_c clamped to [1e-15, 1] as the
    // metrics do: one exp per class and one ln per row, no normalised probabilities.
    let cap = -(1e-15f64).ln();
    let k = nb.n_classes();
    let (a, b) = pipeline::in_halves(y.len(), control, |range, tick| -> Result<f64> {
        let mut scores = vec![0.0; k];
        let mut total = 0.0;
        for i in range {
            let (f, v) = rows.row(i);
            nb.scores(f, v, &mut scores);
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = scores.iter().map(|s| (s - max).exp()).sum();
            total += (sum.ln() - (scores[y[i] as usize] - max)).clamp(0.0, cap);
            tick((f.len() + 4 * k) as u64)?;
        }
        Ok(total)
    })?;
    Ok(((a? + b?) / y.len().max(1) as f64, y.len()))
}

impl Estimator for TextModel {
    const KIND: &'static str = "text";

    type Params = Params;

    fn read_params(opts: &mut Options, _: &Common) -> Result<Params> {
        Params::read(opts)
    }

    fn target(_: &Params) -> Target {
        Target::Labels("a text model needs a target column (the labels)")
    }

    /// With the option `text`: that column and the target (without it, the text column is
    /// found by the columns' types, known once read).
    fn columns_read(params: &Params, target: Option<&str>, names: &[String]) -> Option<Vec<usize>> {
        let text = super::position_of(names, params.text.as_deref()?)?;
        let target = super::position_of(names, target?)?;
        (text != target).then(|| super::sorted_once(vec![text, target]))
    }

    /// The text column: its training texts are given back once counted, where the refit counts
    /// only the held-out texts on their counts.
    fn lent_column(params: &Params, data: &Dataset, target: Option<&str>) -> Option<usize> {
        let target = data.column(target?, "target column").ok()?;
        let text = text_column(data, target, params.text.as_deref()).ok()?;
        data.columns.iter().position(|c| std::ptr::eq(c, text))
    }

    fn fit(setup: &Setup<'_>, params: &Params) -> Result<Trained<Self>> {
        let start = Instant::now();
        let (data, common) = (setup.data, setup.common);
        let (mut tok_config, settings, auto_language) =
            (params.tokenizer.clone(), params.settings.clone(), params.auto_language);
        let target_col = setup.target()?;
        // The text column, or the one lent to this training: its training texts are then given
        // back once counted where the refit counts only the held-out ones on their counts.
        let mut lent = setup.lent();
        let text_col = match lent.as_deref() {
            Some(column) => column,
            None => text_column(data, target_col, params.text.as_deref())?,
        };
        let labels = setup.labels()?;
        let (train, test) = (&setup.train()?, &setup.test);
        let y_train = setup.classes_of(train)?;
        let detected = if auto_language {
            let texts: Vec<&str> = train
                .iter()
                .filter_map(|&r| match text_col.get(r) {
                    Input::Text(t) => Some(t),
                    _ => None,
                })
                .collect();
            let d = detect::corpus_language(&texts, tok_config.stopwords || tok_config.stem)?;
            tok_config.language = d.language;
            Some(d)
        } else {
            None
        };

        let control = &common.control;
        // A measured fit leaves its counts for the refit on every row, which counts only the
        // held-out texts on top, or on a large corpus its first pass (see `counts`).
        let reuse = match setup.take_left::<counts::Left>() {
            Some(left) => counts::Reuse::From(*left),
            None if setup.refit_follows() => {
                counts::Reuse::Leave { held_out: test, y: setup.classes_of(test)? }
            }
            None => counts::Reuse::No,
        };
        // The refit's training log is not reported (the measured fit's is): its loss, a second
        // scoring of up to `LOSS_SAMPLE` texts (or `LOSS_SAMPLE_ROWS` rows kept), is not
        // measured.
        let measure_loss = !setup.is_refit();
        let tokenizer = Tokenizer::new(tok_config);
        let k = labels.classes.len();
        #[cfg(not(any(test, feature = "fuzzing")))]
        let seen_twice_from = pipeline::SEEN_TWICE_FROM;
        #[cfg(any(test, feature = "fuzzing"))]
        let seen_twice_from = SEEN_TWICE_FROM.with(std::cell::Cell::get);
        // Counted by class, the training loss scores a sample of the training texts: picked now,
        // before they may be given back.
        let loss_sample =
            (measure_loss && counts_by_class(&settings, k)).then(|| loss_sample(text_col, train));
        let text_name = text_col.name.clone();
        // Where the text column is lent, the texts read after the counting: the held-out ones
        // and the training loss's sample. (Not where the language is detected: the refit detects
        // it again, from every text.)
        let mut keep: Vec<usize> =
            test.iter().copied().chain(loss_sample.iter().flatten().map(|&i| train[i])).collect();
        keep.sort_unstable();
        keep.dedup();
        let mut column = match lent.as_deref_mut() {
            Some(column) if !auto_language => {
                counts::TextColumn::Lent { column, keep: &keep, given_back: false }
            }
            Some(column) => counts::TextColumn::Shared(column),
            None => counts::TextColumn::Shared(text_column(data, target_col, params.text.as_deref())?),
        };
        let texts = (&train[..], &y_train[..], k);
        let tally = TextModel::count_texts(
            &mut column,
            texts,
            (&tokenizer, settings),
            (seen_twice_from, reuse),
            control,
        )?;
        // Given back as they were counted, or now that they are.
        if tally.leaves_counts() {
            column.keep_only()?;
        }
        let given_back = column.given_back();
        let text_col = match lent.as_deref() {
            Some(column) => column,
            None => text_column(data, target_col, params.text.as_deref())?,
        };
        let fitting = (measure_loss, !setup.refit_follows());
        let Fitted { mut model, loss_rows: sparse, distinct: (distinct, estimated), left } =
            TextModel::finish_fit(
                tally,
                &text_name,
                (train.len(), &y_train),
                labels.classes.clone(),
                tokenizer,
                fitting,
                control,
            )?;
        if let Some(mut left) = left {
            if given_back {
                left.texts_given_back();
            }
            setup.leave_for_refit(left);
        }
        model.target_column = target_col.name.clone();
        let fit_s = start.elapsed().as_secs_f64();
        let train_loss = match sparse {
            _ if !measure_loss => None,
            Some((rows, picks)) => {
                let y: Vec<u32> = picks.iter().map(|&i| y_train[i]).collect();
                Some(log_loss(&model.nb, &rows, &y, control)?)
            }
            None => {
                let picks = loss_sample.ok_or_else(|| Error::Internal("no training loss sample".into()))?;
                Some(model.sampled_log_loss(text_col, (train, &y_train), &picks, control)?)
            }
        };

        let (metrics, val_loss, accuracy) = if test.is_empty() {
            (Json::Null, None, None)
        } else {
            let y_test = setup.classes_of(test)?;
            // Scored by id: the table by hash would be made for this one pass and dropped with
            // the model (made again where it serves, after loading), and making it takes longer
            // than it saves here (by turns, IMDB's 5,000 held-out reviews: 47-62 ms with it,
            // 34-53 ms without; the star ratings': 58-63 ms and 28-36 ms). At a large
            // vocabulary it would also be the peak of training (134 MB at 800k generated texts).
            let m = model.metrics_in_batches(text_col, (test, &y_test), EVALUATED_BYTES, false, control)?;
            let (ll, acc) = (m["log_loss"].as_f64(), m["accuracy"].as_f64());
            (m, ll, acc)
        };
        let seconds = start.elapsed().as_secs_f64();
        let mut details = Map::new();
        details.insert("vocabulary_size".into(), json!(model.vocab.len()));
        details.insert("distinct_terms".into(), json!(distinct));
        if estimated {
            // Counted without the n-grams of a single text: their number is estimated.
            details.insert("distinct_terms_estimated".into(), json!(true));
        }
        if let Some((_, loss_texts)) = train_loss {
            // The training loss is the mean over these training texts (all, or evenly spaced).
            details.insert("train_loss_texts".into(), json!(loss_texts));
        }
        details.insert("classes".into(), json!(model.classes.iter().map(Value::to_json).collect::<Vec<_>>()));
        details.insert("options".into(), model.options_json());
        if let Some(d) = detected {
            details.insert("language_detected".into(), d.report());
        }
        details.insert("timings".into(), json!({"fit_s": fit_s, "evaluate_s": seconds - fit_s}));
        let log = train_loss
            .map(|(loss, _)| EpochLog { epoch: 1, loss, val_loss, metric: accuracy, seconds })
            .into_iter()
            .collect();
        Ok(Trained {
            model,
            metrics,
            details,
            log,
            train_rows: train.len(),
            test_rows: test.len(),
            held_out: Vec::new(),
            served_rows: train.len(),
            refit_epochs: None,
        })
    }

    fn algorithm(&self) -> String {
        format!("{}_nb", self.settings.algorithm.name())
    }

    /// The label of the most probable class; NULL or empty text gets the prior's answer.
    fn predict(&self, args: &[Input<'_>]) -> Result<Value> {
        let text = text_arg(args)?;
        Ok(self.classes[self.predict_index(&text)].clone())
    }

    fn predict_proba(&self, args: &[Input<'_>]) -> Result<Vec<(Value, f64)>> {
        let text = text_arg(args)?;
        Ok(self.classes.iter().cloned().zip(self.proba(&text)).collect())
    }

    /// A JSON array, largest contribution first, of
    /// `{"kind": "token", "token": term, "weight": feature value, "contribution": x}` per known
    /// term of the text, where `x = weight · (W[term][predicted] − W[term][runner-up])` (for
    /// multinomial NB: the log-probability difference `ln P(t|predicted) − ln P(t|runner-up)`
    /// times the term's count), plus one `{"kind": "prior", "token": null, "contribution": x}`
    /// with the difference of the class priors (for Bernoulli NB also of the "all terms absent"
    /// baseline). The contributions add up to the log-odds of predicted vs runner-up.
    fn explain(&self, args: &[Input<'_>]) -> Result<Json> {
        let text = text_arg(args)?;
        Ok(with_scratch(|s| {
            self.vectorize(&text, s);
            s.scores.resize(self.classes.len(), 0.0);
            self.nb.scores(&s.features, &s.values, &mut s.scores);
            let mut order: Vec<usize> = (0..s.scores.len()).collect();
            order.sort_by(|&a, &b| s.scores[b].total_cmp(&s.scores[a]).then(a.cmp(&b)));
            let (best, second) = (order[0], order[1]);
            let bernoulli = self.nb.algorithm() == Algorithm::Bernoulli;
            let mut entries: Vec<(f64, Json)> = s
                .features
                .iter()
                .zip(&s.values)
                .map(|(&f, &v)| {
                    let x = if bernoulli { 1.0 } else { v as f64 };
                    let c = x * (self.nb.weight(f, best) - self.nb.weight(f, second));
                    (c, json!({"kind": "token", "token": self.vocab.term(f), "weight": x, "contribution": c}))
                })
                .collect();
            let prior = self.nb.bias()[best] - self.nb.bias()[second];
            entries.push((prior, json!({"kind": "prior", "token": null, "contribution": prior})));
            entries.sort_by(|a, b| b.0.total_cmp(&a.0));
            Json::Array(entries.into_iter().map(|(_, j)| j).collect())
        }))
    }

    fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
        let text = data.column(&self.text_column, "text column")?;
        let rows: Vec<usize> = (0..data.n_rows).collect();
        Ok(Predictions::of_classes(&self.classes, self.proba_rows(text, &rows, control)?))
    }

    fn evaluate(&self, data: &Dataset) -> Result<Json> {
        // (`activate: 'if_better'` scores the active version on a training's held-out rows.)
        let text = data.column(&self.text_column, "text column")?;
        let rows: Vec<usize> = (0..data.n_rows).collect();
        let y = self.classes_of(data, 0)?;
        self.metrics_in_batches(text, (&rows, &y), EVALUATED_BYTES, true, &Control::new())
    }

    fn labelled_proba(&self, data: &Dataset, first: usize) -> Result<Option<(Vec<u32>, Vec<f64>)>> {
        self.labelled(data, first).map(Some)
    }
}

impl TextModel {
    /// The class ids of the target column and the predicted probabilities of `data`'s rows,
    /// the first of which is row `first` + 1 of the source.
    fn labelled(&self, data: &Dataset, first: usize) -> Result<(Vec<u32>, Vec<f64>)> {
        let text = data.column(&self.text_column, "text column")?;
        let y = self.classes_of(data, first)?;
        let rows: Vec<usize> = (0..data.n_rows).collect();
        let proba = self.proba_rows(text, &rows, &Control::new())?;
        Ok((y, proba))
    }

    /// The class ids of the target column of `data`'s rows, the first of which is row
    /// `first` + 1 of the source ([`class_ids`]).
    fn classes_of(&self, data: &Dataset, first: usize) -> Result<Vec<u32>> {
        class_ids(data.column(&self.target_column, "target column")?, &self.classes, first)
    }
}

/// Fuzzing: the word segmentation of [`tokenize`] gives `unicode_words`' words for `text`, and
/// on ASCII text the block scanner gives the byte-at-a-time scanner's.
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub fn check_words(text: &str) {
    use unicode_segmentation::UnicodeSegmentation;
    let mut fast = Vec::new();
    segment::words(text, |w| fast.push(w));
    assert_eq!(fast, text.unicode_words().collect::<Vec<_>>(), "words of {text:?}");
    if text.is_ascii() {
        let (mut blocks, mut bytes) = (Vec::new(), Vec::new());
        ascii_words::ascii_words(text, |w| blocks.push(w));
        ascii_words::words_scalar(text, |w| bytes.push(w));
        assert_eq!(blocks, bytes, "ASCII words of {text:?}");
    }
}

/// A seeded xorshift64 stream: the reproducible random inputs of the text module's tests.
#[cfg(test)]
pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

/// Tests' texts: `n` texts of words `w0`, `w1`..., each of a random length in `words`, word
/// `word(r)` for a random `r` (`r % vocabulary`: uniform), from `seed`.
#[cfg(test)]
pub(crate) fn random_texts(
    seed: u64,
    n: usize,
    words: std::ops::Range<u64>,
    word: impl Fn(u64) -> u64,
) -> Vec<String> {
    let mut next = xorshift(seed);
    (0..n)
        .map(|_| {
            let len = words.start + next() % (words.end - words.start);
            (0..len).map(|_| format!("w{}", word(next()))).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

#[cfg(test)]
mod tests;
