//! Both cores for training and evaluation over many texts.
//!
//! Training is tokenize-then-count. When the machine has a second CPU and there are at least
//! [`MIN_ROWS`] texts, each half of the texts is tokenized and counted on its own thread into
//! its own vocabulary builder, and the second builder is then appended to the first
//! ([`count_terms`]); scoring the held-out texts runs each half on its own thread
//! ([`map_scores`]). Either way the result is what one thread would give (the same terms,
//! counts, rows and scores, in row order), so the model's bytes do not depend on the thread
//! count. The helper lives only for the duration of the call (a scoped thread, joined before
//! returning) and never touches SQLite: the texts were read before.
//!
//! Interruption: the calling thread ticks the training's [`Control`]; when its check fails, the
//! calling thread stops, and the helper stops at its next text (it sees the control's stop
//! flag). While the helper finishes, the calling thread keeps running the check.

use super::class_texts::{ClassTexts, Reader};
use super::scratch::{Scratch, with_scratch};
use super::tokenize::{Tokenizer, Tokens};
use super::vectorize::{After, Marks, SeenTwice, VocabularyBuilder};
use crate::models::control::Control;
use crate::models::data::Column;
use crate::models::data::Input;
use crate::models::memory::{self, Budget};
use crate::{Error, Result};
use std::borrow::Cow;
use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many texts, one thread does everything (a thread costs tens of microseconds, and
/// appending a builder costs a lookup per distinct term of the second half).
pub(super) const MIN_ROWS: usize = 2048;

/// Texts of at least this many bytes (a half's, with two threads) reserve their tables ahead.
const RESERVE_AHEAD_FROM: usize = 1 << 22;

/// From this many bytes of training text on, counting with word pairs (by class or in rows)
/// and a `min_df` of 2 or more first marks the n-grams that occur twice ([`mark_seen_twice`]),
/// and counts only those: on a large corpus most distinct n-grams occur once, and their
/// records (and, in rows, their entries) were most of the memory of training (a million
/// generated texts: 9.6M distinct terms, 2.4M kept). Below it the first pass would cost more
/// time than the memory it saves is worth.
pub(super) const SEEN_TWICE_FROM: usize = 64 << 20;

/// The bytes of a text cell as [`cell_text`] reads it (0 for NULL; numbers are short).
fn text_bytes(v: Input<'_>) -> usize {
    match v {
        Input::Text(t) => t.len(),
        _ => 0,
    }
}

/// Whether a second thread is worth it for `rows` texts.
fn parallel(rows: usize) -> bool {
    rows >= MIN_ROWS && Control::second_cpu()
}

/// Progress lines of a job over `total` texts done on two threads ([`in_halves_with`], or the
/// shared [`Claims`]): they count the texts both threads have done; with two threads the last
/// line is left to the caller's next step (the other thread may not be done).
/// (It holds no [`Control`], which stays on the calling thread, so that the threads can share it.)
struct HalvesProgress {
    /// What is being done, as in "counting the terms" (of text i/n).
    what: &'static str,
    total: usize,
    started: std::time::Instant,
    /// Texts done by either thread.
    done: AtomicUsize,
    /// The job runs on two threads.
    two: bool,
}

impl HalvesProgress {
    fn new(what: &'static str, total: usize) -> Self {
        let two = parallel(total);
        HalvesProgress { what, total, started: std::time::Instant::now(), done: AtomicUsize::new(0), two }
    }

    /// One more text done, by either thread.
    fn text_done(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// The texts done so far (at most `total`).
    fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed).min(self.total)
    }

    /// The calling thread's tick: a progress line now and then, then `control`'s tick.
    fn tick(&self, control: &Control<'_>, work: u64) -> Result<()> {
        let (total, what, done) = (self.total, self.what, self.done());
        if done < total || !self.two {
            control.progress(done, total, self.started, || format!("{what} of text {done}/{total}"));
        }
        control.tick(work)
    }
}

/// The bytes of text of `rows` of `text`.
pub(super) fn text_bytes_of(text: &Column, rows: &[usize]) -> usize {
    rows.iter().map(|&r| text_bytes(text.get(r))).sum()
}

/// Marks every n-gram of two to `hi` words of `rows` of `text` in filters of `words` 64-bit
/// words (a fit's first pass: one bit per byte of its texts): each half of the rows into its
/// own [`Marks`] on its own core (when [`count_terms`] would use two), then joined
/// ([`Marks::split`] gives the [`SeenTwice`]).
pub(super) fn mark_seen_twice(
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    words: usize,
    hi: usize,
    control: &Control<'_>,
) -> Result<Marks> {
    let progress = HalvesProgress::new("marking the word pairs", rows.len());
    let mark = |range: Range<usize>, tick: &dyn Fn(u64) -> Result<()>| -> Result<Marks> {
        let mut marks = Marks::new(words)?;
        let mut scratch = (Tokens::default(), Vec::new());
        for &r in &rows[range] {
            let marked = marks.mark(tokenizer, &cell_text(text.get(r))?, hi, &mut scratch);
            progress.text_done();
            tick(16 + 4 * marked as u64)?;
        }
        Ok(marks)
    };
    let (a, b) = in_halves_with(rows.len(), control, &|work| progress.tick(control, work), mark)?;
    Ok(Marks::join(a?, b?))
}

/// Marks on in `marks` (a fit's first pass, resumed: [`SeenTwice::resume`]) the n-grams of two to
/// `hi` words of `rows` of `text`, on this thread (no other marks of the filter's size are
/// taken).
pub(super) fn mark_on(
    mut marks: Marks,
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    hi: usize,
    control: &Control<'_>,
) -> Result<Marks> {
    let progress = HalvesProgress::new("marking the word pairs", rows.len());
    let mut scratch = (Tokens::default(), Vec::new());
    for &r in rows {
        let marked = marks.mark(tokenizer, &cell_text(text.get(r))?, hi, &mut scratch);
        progress.text_done();
        progress.tick(control, 16 + 4 * marked as u64)?;
    }
    Ok(marks)
}

/// How [`count_terms`] counts: keeping the documents' rows, or each term's counts per class
/// ([`VocabularyBuilder::by_class`]; `y` the class of each of the rows, in their order).
#[derive(Clone, Copy)]
pub(super) enum Counting<'a> {
    /// The documents' rows.
    Rows,
    /// Counts per class: `k` classes, of occurrences or (`presence`) of texts.
    ByClass { y: &'a [u32], k: usize, presence: bool },
}

/// Texts a thread takes at a time when the two threads counting by class share the texts as
/// they go ([`Claims`]): about a millisecond of work on long texts.
const CLAIM: usize = 64;

/// The texts (positions in an order) not yet taken by the two threads counting by class: the
/// first takes them from the front, the second from the back, [`CLAIM`] at a time, until they
/// meet. A core that runs slower (a busy neighbour on a shared machine: measured up to a third
/// slower than the other for seconds at a time) then counts fewer texts instead of holding the
/// other up. Counting by class has no order, so where they meet does not change the counts.
struct Claims(std::sync::Mutex<Range<usize>>);

/// Microseconds the thread taking texts from the front waits before each take (tests: a slow
/// core).
#[cfg(test)]
static FRONT_PAUSE_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Claims {
    fn lock(&self) -> std::sync::MutexGuard<'_, Range<usize>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Leaves no texts to take.
    fn close(&self) {
        let mut left = self.lock();
        left.end = left.start;
    }

    /// The next texts of the front (`first`) or of the back, in their order; None once all
    /// are taken.
    fn take(&self, first: bool) -> Option<Range<usize>> {
        #[cfg(test)]
        if first {
            let pause = FRONT_PAUSE_US.load(Ordering::Relaxed);
            std::thread::sleep(std::time::Duration::from_micros(pause));
        }
        let mut left = self.lock();
        if left.is_empty() {
            return None;
        }
        let n = CLAIM.min(left.len());
        Some(if first {
            left.start += n;
            left.start - n..left.start
        } else {
            left.end -= n;
            left.end..left.end + n
        })
    }
}

/// Counts the n-grams (`lo..=hi`) of `rows` of `text` into a [`VocabularyBuilder`], as one
/// builder would counting them in row order. From [`MIN_ROWS`] texts on, with a second CPU, the
/// texts are tokenized and counted on two threads (each its own builder, the second on a helper
/// thread), then the second's counts are appended to the first's
/// ([`VocabularyBuilder::try_append_then`]): the same terms, counts and rows, so the model's bytes do
/// not depend on the thread count. In rows, each thread counts a half of the rows (the rows
/// stay in order); by class, the threads share the texts as they go ([`Claims`]). Progress lines
/// count the texts of both.
///
/// `after` says what follows the counting ([`After`]: when it is finished at a `min_df` of 2
/// or more, the append of the two threads' counts leaves out what can never be kept).
///
/// The texts are `rows` of a column, or, by class, the training texts copied class by class
/// into a [`ClassTexts`] (of `rows`: their chunks in the order [`class_order`] gives), which
/// are counted as those rows of the column they were copied from would be, each chunk given
/// back once its texts are counted.
#[allow(clippy::too_many_arguments)]
pub(super) fn count_terms<'t>(
    tokenizer: &Tokenizer,
    text: impl Into<Source<'t>>,
    rows: &[usize],
    ngrams: (usize, usize),
    counting: Counting<'_>,
    seen_twice: Option<&Arc<SeenTwice>>,
    after: After,
    control: &Control<'_>,
) -> Result<VocabularyBuilder> {
    count_from(None, tokenizer, text.into(), rows, ngrams, counting, seen_twice, after, control)
}

/// Where [`count_terms`] reads the texts.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// The rows of a column.
    Rows(&'a Column),
    /// The texts copied class by class, in [`class_order`] (counting by class only).
    ClassOrdered(&'a ClassTexts),
}

impl<'a> From<&'a Column> for Source<'a> {
    fn from(column: &'a Column) -> Self {
        Source::Rows(column)
    }
}

impl<'a> From<&'a ClassTexts> for Source<'a> {
    fn from(texts: &'a ClassTexts) -> Self {
        Source::ClassOrdered(texts)
    }
}

/// Counts the n-grams (`lo..=hi`) of `rows` of `text` (of classes `counting` says: by class
/// only) on top of what `onto` counted, as [`count_terms`] does (the counts of `onto` and of
/// `rows` appended): the thread that takes texts from the front counts on in `onto` itself, so
/// that only the other's counts are appended to it (the refit's held-out texts on the measured
/// fit's counts: one append of what the helper counted, instead of the two halves appended to
/// each other and the result to `onto`). Where `onto` counted only the n-grams seen twice
/// ([`VocabularyBuilder::only_seen_twice`]), `rows` are counted with the same filter, which
/// must have marked them (a filter of every text, the refit's).
#[allow(clippy::too_many_arguments)]
pub(super) fn count_onto(
    onto: VocabularyBuilder,
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    ngrams: (usize, usize),
    counting: Counting<'_>,
    after: After,
    control: &Control<'_>,
) -> Result<VocabularyBuilder> {
    let shape = match counting {
        Counting::ByClass { k, presence, .. } => Some((k, presence)),
        Counting::Rows => None,
    };
    if shape.is_none() || onto.by_class_shape() != shape {
        return Err(Error::Internal("counts of another shape counted on".into()));
    }
    let seen_twice = onto.seen_twice().cloned();
    let text = Source::Rows(text);
    count_from(Some(onto), tokenizer, text, rows, ngrams, counting, seen_twice.as_ref(), after, control)
}

/// [`count_terms`], the first thread counting on from `start` when there is one.
#[allow(clippy::too_many_arguments)]
fn count_from(
    start: Option<VocabularyBuilder>,
    tokenizer: &Tokenizer,
    text: Source<'_>,
    rows: &[usize],
    (lo, hi): (usize, usize),
    counting: Counting<'_>,
    seen_twice: Option<&Arc<SeenTwice>>,
    after: After,
    control: &Control<'_>,
) -> Result<VocabularyBuilder> {
    if let Counting::ByClass { y, .. } = counting
        && y.len() != rows.len()
    {
        return Err(Error::Internal(format!("{} classes for {} texts", y.len(), rows.len())));
    }
    if let Source::ClassOrdered(texts) = text
        && (!matches!(counting, Counting::ByClass { .. }) || texts.len() != rows.len())
    {
        let n = texts.len();
        return Err(Error::Internal(format!("{n} texts copied by class counted as {} rows", rows.len())));
    }
    // Taken by the thread that counts from the front (the only one, with one thread).
    let start = std::sync::Mutex::new(start);
    let two = parallel(rows.len());
    // Counting by class, the texts go class by class (a stable order: the texts of a class in
    // row order), each thread's a class at a time: a term's counts by class then change class
    // at most once a class in each ([`VocabularyBuilder::by_class`]), whatever the order of
    // the rows. The counts do not depend on the order.
    let order = match counting {
        Counting::ByClass { y, k, .. } => Some(class_order(y, k)?),
        Counting::Rows => None,
    };
    let claims = Claims(std::sync::Mutex::new(0..rows.len()));
    let progress = HalvesProgress::new("counting the terms", rows.len());
    // The bytes of the texts a thread will count (about half of them each, with two), and of
    // those counted so far: once a sixteenth is counted, the builder reserves what the rest
    // will take at the same rate (see `VocabularyBuilder::reserve_ahead`), and sizes its lookup
    // tables for the terms to come, from how the vocabulary grew since a thirty-second
    // (`size_tables_ahead`).
    let shared = order.is_some() && two;
    // The bytes of the text at position `j` of the order.
    let bytes_at = |j: usize| match text {
        Source::Rows(column) => text_bytes(column.get(rows[order.as_ref().map_or(j, |o| o[j])])),
        Source::ClassOrdered(texts) => texts.bytes_of(j),
    };
    let half_bytes = if shared { (0..rows.len()).map(bytes_at).sum::<usize>().div_ceil(2) } else { 0 };
    let count = |range: Range<usize>, tick: &dyn Fn(u64) -> Result<()>| {
        let first = range.start == 0;
        let carried =
            if first { start.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() } else { None };
        // A builder counted on (a measured fit's counts: its tables, which an append dropped,
        // are made again at the first text for what it holds) reserves nothing ahead: the
        // growth of its first texts would be measured against all it counted before.
        let sized = carried.is_some();
        let mut builder = match (carried, counting) {
            (Some(builder), _) => builder,
            (None, Counting::Rows) => VocabularyBuilder::default(),
            (None, Counting::ByClass { k, presence, .. }) => VocabularyBuilder::by_class(k, presence)?,
        };
        if let Some(seen) = seen_twice {
            builder.only_seen_twice(Arc::clone(seen));
        }
        let total = if shared { half_bytes } else { range.clone().map(bytes_at).sum() };
        let mut tokens = Tokens::default();
        let mut reader = Reader::default();
        let (mut seen, mut ahead) = (0usize, sized || total < RESERVE_AHEAD_FROM);
        let mut earlier = None;
        let mut one = |j: usize, builder: &mut VocabularyBuilder| -> Result<()> {
            let i = order.as_ref().map_or(j, |o| o[j]);
            let (v, given_back) = match text {
                Source::Rows(column) => (column.get(rows[i]), None),
                Source::ClassOrdered(texts) => (Input::Text(texts.read(j, &mut reader)?), Some(texts)),
            };
            tokenizer.tokenize(&cell_text(v)?, &mut tokens);
            match counting {
                Counting::Rows => builder.try_add(&tokens, lo, hi)?,
                Counting::ByClass { y, .. } => builder.try_add_in_class(&tokens, lo, hi, y[i])?,
            }
            seen += text_bytes(v);
            if let Some(texts) = given_back {
                texts.counted(j);
            }
            if !ahead && earlier.is_none() && seen.saturating_mul(32) >= total {
                earlier = Some(builder.growth(seen));
            }
            if !ahead && seen.saturating_mul(16) >= total {
                builder.reserve_ahead(total as f64 / seen.max(1) as f64);
                if let Some(earlier) = earlier {
                    builder.size_tables_ahead(earlier, seen, total);
                }
                ahead = true;
            }
            progress.text_done();
            // About the cost of tokenizing and counting, in the units of the other trainers.
            tick(64 + 16 * (tokens.len() * (hi - lo + 1)) as u64)
        };
        if shared {
            while let Some(taken) = claims.take(first) {
                for j in taken {
                    // The other thread takes no more texts after an error here.
                    one(j, &mut builder).inspect_err(|_| claims.close())?;
                }
            }
        } else {
            for j in range {
                one(j, &mut builder)?;
            }
        }
        Ok(builder)
    };
    let progress = |work: u64| progress.tick(control, work);
    if !two {
        return count(0..rows.len(), &progress);
    }
    let (first, second) = in_halves_with(rows.len(), control, &progress, count)?;
    let mut builder = first?;
    builder.try_append_then(second?, after, control)?;
    Ok(builder)
}

/// The positions of `y` (classes below `k`) class by class, each class's in their order: a
/// counting sort (one pass to count, one to place). A class out of range goes last (counting it
/// is an error).
pub(super) fn class_order(y: &[u32], k: usize) -> Result<Vec<usize>> {
    let bucket = |c: u32| (c as usize).min(k);
    let what = "the order of the training texts";
    let mut starts: Vec<usize> = crate::models::memory::zeroed(k.saturating_add(2), what)?;
    for &c in y {
        starts[bucket(c) + 1] += 1;
    }
    for c in 1..starts.len() {
        starts[c] += starts[c - 1];
    }
    let mut order: Vec<usize> = crate::models::memory::zeroed(y.len(), what)?;
    for (i, &c) in y.iter().enumerate() {
        let at = &mut starts[bucket(c)];
        order[*at] = i;
        *at += 1;
    }
    Ok(order)
}

/// `score(text, scratch)` for each of `rows`, in row order, each call's output (`width` values
/// left in `scratch.scores`) appended to the result (allocated fallibly: its size comes from
/// the data); the second half of the rows is scored on a helper thread when [`count_terms`]
/// would use one.
pub(super) fn map_scores(
    text: &Column,
    rows: &[usize],
    width: usize,
    control: &Control<'_>,
    score: impl Fn(&str, &mut Scratch) + Sync,
) -> Result<Vec<f64>> {
    let what = "the predicted probabilities";
    let run = |rows: &[usize], tick: &dyn Fn(u64) -> Result<()>| -> Result<Vec<f64>> {
        let mut out = crate::models::memory::with_capacity(rows.len().saturating_mul(width), what)?;
        with_scratch(|s| {
            for &r in rows {
                let t = cell_text(text.get(r))?;
                score(&t, s);
                out.extend_from_slice(&s.scores[..width]);
                tick((t.len() + width) as u64)?;
            }
            Ok(out)
        })
    };
    let (first, second) = in_halves(rows.len(), control, |range, tick| run(&rows[range], tick))?;
    let mut out = first?;
    let second = second?;
    crate::models::memory::reserve(&mut out, second.len(), what)?;
    out.extend(second);
    Ok(out)
}

/// `f` of the first and of the second half of `0..n`, the second half on a helper thread when
/// `n` is large enough and there is a second CPU (else, or when no thread can be spawned, on
/// this thread after the first). The halves depend on `n` only, so the results do not depend
/// on the thread count.
///
/// `f` gets a tick function to call with the work it did: on the calling thread it ticks
/// `control`, on the helper it fails once the control's stop flag is set. While the helper
/// finishes, the calling thread keeps running the control's check; its error (an
/// interruption) is the result.
pub(super) fn in_halves<T: Send>(
    n: usize,
    control: &Control<'_>,
    f: impl Fn(Range<usize>, &dyn Fn(u64) -> Result<()>) -> T + Sync,
) -> Result<(T, T)> {
    in_halves_with(n, control, &|work| control.tick(work), f)
}

/// [`in_halves`], where the tick of the calling thread is `caller_tick` (which should tick
/// `control`, and may report progress).
pub(super) fn in_halves_with<T: Send>(
    n: usize,
    control: &Control<'_>,
    caller_tick: &dyn Fn(u64) -> Result<()>,
    f: impl Fn(Range<usize>, &dyn Fn(u64) -> Result<()>) -> T + Sync,
) -> Result<(T, T)> {
    let (first, second) = (0..n / 2, n / 2..n);
    let half = |p: usize| if p == 0 { first.clone() } else { second.clone() };
    let what = "the helper thread of the text pipeline";
    let halves = || control.beside(what, parallel(n), caller_tick, |p, tick| f(half(p), tick));
    // A panic of `f` on this thread (the helper's is caught at its join) becomes an error,
    // after the scope joined the helper (which the stop flag ends at its next tick).
    std::panic::catch_unwind(AssertUnwindSafe(halves)).unwrap_or_else(|p| {
        control.stop_flag().store(true, Ordering::Relaxed);
        Err(Error::panicked("the text pipeline", p))
    })
}

/// Texts from which [`cell_text`] checks the memory tokenizing one would take.
const CHECKED_FROM: usize = 1 << 20;

/// Bytes tokenizing a text may take per byte of it, at most (measured: Chinese, segmented by
/// words, 27; English about 10): the working memory of the tokens, their hashes and n-grams.
const TOKENIZING_BYTES_PER_BYTE: f64 = 32.0;

/// Checks, before a text of at least [`CHECKED_FROM`] bytes is tokenized, that the memory
/// tokenizing it may take ([`TOKENIZING_BYTES_PER_BYTE`] a byte) fits `budget` and that the
/// system grants it (an allocation of that size, given back at once): tokenizing allocates as
/// it goes, where a refusal would abort the host process.
pub(super) fn check_text_memory(text: &str, budget: &Budget) -> Result<()> {
    if text.len() < CHECKED_FROM {
        return Ok(());
    }
    let bytes = text.len() as f64 * TOKENIZING_BYTES_PER_BYTE;
    let subject = format!("a text of {}", memory::show_bytes(text.len() as f64));
    budget.check_data(&subject, "tokenizing it", bytes)?;
    let mut probe: Vec<u8> = Vec::new();
    probe
        .try_reserve_exact(bytes as usize)
        .map_err(|_| memory::refused(bytes, &format!("tokenizing {subject}")))?;
    Ok(())
}

/// The text of one cell or argument: NULL is empty, numbers become their decimal text. A long
/// text is checked for the memory tokenizing it takes ([`check_text_memory`], against the
/// process's budget).
pub(super) fn cell_text<'a>(v: Input<'a>) -> Result<Cow<'a, str>> {
    match v {
        Input::Text(s) => {
            if s.len() >= CHECKED_FROM {
                check_text_memory(s, &Budget::for_queries()?)?;
            }
            Ok(Cow::Borrowed(s))
        }
        Input::Null => Ok(Cow::Borrowed("")),
        Input::Integer(i) => Ok(Cow::Owned(i.to_string())),
        Input::Real(r) => Ok(Cow::Owned(r.to_string())),
        Input::Blob(_) => Err(Error::argument("argument 'text' must be text, got blob")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::ColumnData;
    use crate::models::text::tokenize::TokenizerConfig;
    use crate::models::text::vectorize::{SparseRows, TermClassSums, TermOrder, Weighting};

    /// [`count_terms`] of `rows` in rows, with the default tokenizer and more texts to follow.
    fn in_rows(
        col: &Column,
        rows: &[usize],
        ngrams: (usize, usize),
        control: &Control<'_>,
    ) -> Result<VocabularyBuilder> {
        count_terms(&tokenizer(), col, rows, ngrams, Counting::Rows, None, After::MoreTexts, control)
    }

    fn tokenizer() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { stopwords: true, stem: true, ..TokenizerConfig::default() })
    }

    fn texts(n: usize) -> Column {
        let words = ["refund", "card", "blocked", "travelling", "酒店", "很好", "don't", "ＣＡＦÉ", "12.5"];
        let data = (0..n)
            .map(|i| {
                Some(
                    (0..(i % 7 + 1))
                        .map(|k| words[(i * 31 + k * 7 + i / 13) % words.len()])
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
            .collect();
        Column { name: "body".into(), data: ColumnData::texts(data) }
    }

    /// A long text is checked for the memory tokenizing it takes before it is tokenized: above
    /// the budget, an error that says so; a short one is not checked.
    #[test]
    fn a_long_text_is_checked_for_memory() {
        let long = "word ".repeat(CHECKED_FROM / 5 + 1);
        let e = check_text_memory(&long, &Budget::training_mb(16)).unwrap_err().to_string();
        assert_eq!(
            e,
            "a text of 1.0 MiB would need 32.0 MiB for tokenizing it, above the memory budget of 16.0 MiB \
             (raise it with the option 'max_memory_mb' or the environment variable SQLML_MAX_MEMORY_MB)"
        );
        assert!(check_text_memory(&long, &Budget::training_mb(64)).is_ok());
        assert!(check_text_memory(&long[..CHECKED_FROM - 1], &Budget::training_mb(1)).is_ok());
        assert!(cell_text(Input::Text(&long)).is_ok());
    }

    /// The texts of a part are counted class by class, each class's in row order, and a class
    /// out of range comes last.
    #[test]
    fn class_order_is_stable_and_by_class() {
        assert_eq!(class_order(&[2, 0, 1, 0, 2, 1, 0], 3).unwrap(), [1, 3, 6, 2, 5, 0, 4]);
        assert_eq!(class_order(&[1, 7, 0, 1], 2).unwrap(), [2, 0, 3, 1]);
        assert_eq!(class_order(&[], 4).unwrap(), Vec::<usize>::new());
        let y: Vec<u32> = (0..10_000u32).map(|i| i.wrapping_mul(2_654_435_761) % 5).collect();
        let mut want: Vec<usize> = (0..y.len()).collect();
        want.sort_by_key(|&i| y[i]);
        assert_eq!(class_order(&y, 5).unwrap(), want);
    }

    /// The vocabulary (as its terms) and the rows of a builder.
    fn finished(b: VocabularyBuilder) -> (Vec<String>, SparseRows, Vec<f32>) {
        let (v, rows, idf) = b.finish(1, None, Weighting::TfIdf, &Control::new()).unwrap();
        ((0..v.len() as u32).map(|i| v.term(i).to_string()).collect(), rows, idf)
    }

    /// The vocabulary (as its terms) and the class sums of a builder by class, at `min_df`.
    fn class_sums(b: VocabularyBuilder, min_df: usize) -> (Vec<String>, TermClassSums) {
        let (v, sums) = b.finish_by_class(min_df, None, &Control::new()).unwrap();
        ((0..v.len() as u32).map(|i| v.term(i).to_string()).collect(), sums)
    }

    /// One builder over every row, in order, on this thread.
    fn serial(col: &Column, rows: &[usize], lo: usize, hi: usize) -> VocabularyBuilder {
        let (t, mut tokens) = (tokenizer(), Tokens::default());
        let mut b = VocabularyBuilder::default();
        for &r in rows {
            t.tokenize(&cell_text(col.get(r)).unwrap(), &mut tokens);
            b.try_add(&tokens, lo, hi).unwrap();
        }
        b
    }

    /// Counting in halves on two threads gives what one builder gives, NULLs included, with
    /// the rows in any order.
    #[test]
    fn halves_count_as_one_builder() {
        let mut col = texts(MIN_ROWS + 77);
        if let ColumnData::Text(v) = &col.data {
            let nulls = [MIN_ROWS / 2 + 5, 3];
            let values = (0..v.len()).map(|r| v.get(r).filter(|_| !nulls.contains(&r)).map(str::to_string));
            col.data = ColumnData::texts(values.collect());
        }
        let rows: Vec<usize> = (0..col.len()).rev().collect();
        for (lo, hi) in [(1, 1), (1, 2), (2, 3), (1, 3)] {
            let got = in_rows(&col, &rows, (lo, hi), &Control::new()).unwrap();
            assert_eq!(finished(got), finished(serial(&col, &rows, lo, hi)), "{lo} {hi}");
        }
    }

    /// Progress counts the texts of both threads, however unevenly they share them (the
    /// shared claims: a slow core does fewer).
    #[test]
    fn progress_counts_the_texts_of_both_threads() {
        let progress = HalvesProgress::new("counting the terms", 4000);
        std::thread::scope(|s| {
            s.spawn(|| (0..1000).for_each(|_| progress.text_done()));
            s.spawn(|| (0..3000).for_each(|_| progress.text_done()));
        });
        assert_eq!(progress.done(), 4000);
        progress.text_done();
        assert_eq!(progress.done(), 4000);
    }

    /// The two ends take every text once, each end's in order, whoever takes more.
    #[test]
    fn claims_take_every_text_once_from_both_ends() {
        for n in [0, 1, CLAIM - 1, CLAIM, 5 * CLAIM + 3] {
            let claims = Claims(std::sync::Mutex::new(0..n));
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for step in 0.. {
                let (first, got) = if step % 3 == 0 { (true, &mut front) } else { (false, &mut back) };
                match claims.take(first) {
                    Some(taken) => {
                        assert!(!taken.is_empty() && taken.len() <= CLAIM);
                        got.push(taken);
                    }
                    None if claims.take(!first).is_none() => break,
                    None => panic!("one end ran out before the other"),
                }
            }
            // The front's in order from 0, the back's from n down, meeting in between.
            let fronts: Vec<usize> = front.iter().flat_map(Clone::clone).collect();
            let backs: Vec<usize> = back.iter().rev().flat_map(Clone::clone).collect();
            assert_eq!([fronts, backs].concat(), (0..n).collect::<Vec<_>>(), "{n}");
        }
    }

    /// With one core much slower than the other, the fast one counts most texts by class, to
    /// the very counts of an even split (the vocabulary and the class sums).
    #[test]
    fn a_slow_core_counts_fewer_texts_to_the_same_counts() {
        let col = texts(MIN_ROWS + 777);
        let rows: Vec<usize> = (0..col.len()).collect();
        let y: Vec<u32> = rows.iter().map(|&r| (r % 5 % 3) as u32).collect();
        let control = Control::new();
        let counted = |pause: u64| {
            FRONT_PAUSE_US.store(pause, Ordering::Relaxed);
            let counting = Counting::ByClass { y: &y, k: 3, presence: false };
            let b =
                count_terms(&tokenizer(), &col, &rows, (1, 2), counting, None, After::MoreTexts, &control);
            FRONT_PAUSE_US.store(0, Ordering::Relaxed);
            class_sums(b.unwrap(), 1)
        };
        let even = counted(0);
        assert!(!even.0.is_empty());
        assert_eq!(counted(2_000), even);
    }

    /// Counting by class (on one thread, or in halves on two and appended) fits the model the
    /// rows fit, bit for bit, with the same vocabulary: every algorithm with count and binary
    /// weighting, n-grams from words to trigrams, with `min_df` and `max_features`.
    #[test]
    fn counting_by_class_fits_what_the_rows_fit() {
        use crate::models::text::naive_bayes::{Algorithm, NaiveBayes, Priors};
        let col = texts(MIN_ROWS + 77);
        let control = Control::new();
        let terms = |v: &crate::models::text::vectorize::Vocabulary| {
            (0..v.len() as u32).map(|i| v.term(i).to_string()).collect::<Vec<_>>()
        };
        // Few classes (rows of counts) and many (lists of runs).
        for (n, k) in [(300, 3), (col.len(), 3), (300, 20), (col.len(), 20), (col.len(), 77)] {
            let rows: Vec<usize> = (0..n).rev().collect();
            // Unbalanced classes, with the rows' texts spread over them.
            let y: Vec<u32> = rows
                .iter()
                .map(|&r| if k == 3 { (r % 7 % 4).min(2) as u32 } else { ((r * 7 + r / 3) % k) as u32 })
                .collect();
            for (lo, hi) in [(1, 1), (1, 2), (2, 3), (1, 3)] {
                for weighting in [Weighting::Count, Weighting::Binary] {
                    for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
                        for (min_df, max) in [(1, None), (2, Some(20))] {
                            let case = format!(
                                "{n} texts, {k} classes, {lo}-{hi}, {weighting:?} {algorithm:?} {min_df} {max:?}"
                            );
                            let b = in_rows(&col, &rows, (lo, hi), &control);
                            let (vocab, sparse, _) =
                                b.unwrap().finish(min_df, max, weighting, &control).unwrap();
                            let (a, p) = (0.5, Priors::Learned);
                            let want =
                                NaiveBayes::fit(&sparse, &y, k, vocab.len(), algorithm, a, p, &control);
                            let presence =
                                weighting == Weighting::Binary || algorithm == Algorithm::Bernoulli;
                            let counting = Counting::ByClass { y: &y, k, presence };
                            let b = count_terms(
                                &tokenizer(),
                                &col,
                                &rows,
                                (lo, hi),
                                counting,
                                None,
                                After::MoreTexts,
                                &control,
                            );
                            let (by_class, sums) = b.unwrap().finish_by_class(min_df, max, &control).unwrap();
                            let got = NaiveBayes::from_class_sums(sums, &y, k, algorithm, a, p).unwrap();
                            assert_eq!(terms(&by_class), terms(&vocab), "{case}");
                            assert_eq!(format!("{got:?}"), format!("{:?}", want.unwrap()), "{case}");
                        }
                    }
                }
            }
        }
    }

    /// With a vocabulary large enough for the class sums and the Naive Bayes fit to run on a
    /// second core while the vocabulary is spelled out, the model is still the rows' one.
    #[test]
    fn a_large_vocabulary_fits_on_two_cores_what_the_rows_fit() {
        use crate::models::text::naive_bayes::{Algorithm, NaiveBayes, Priors};
        let mut next = crate::models::text::xorshift(0xb1e55);
        let data = (0..3000)
            .map(|_| Some((0..10).map(|_| format!("w{}", next() % 5000)).collect::<Vec<_>>().join(" ")))
            .collect();
        let col = Column { name: "body".into(), data: ColumnData::texts(data) };
        let rows: Vec<usize> = (0..col.len()).collect();
        let (k, control) = (3, Control::new());
        let y: Vec<u32> = rows.iter().map(|&r| (r % 5 % k) as u32).collect();
        let (a, p) = (0.5, Priors::Learned);
        for algorithm in [Algorithm::Multinomial, Algorithm::Complement] {
            let b = in_rows(&col, &rows, (1, 2), &control).unwrap();
            let (vocab, sparse, _) = b.finish(1, None, Weighting::Count, &control).unwrap();
            let want = NaiveBayes::fit(&sparse, &y, k, vocab.len(), algorithm, a, p, &control).unwrap();
            let counting = Counting::ByClass { y: &y, k, presence: false };
            let b =
                count_terms(&tokenizer(), &col, &rows, (1, 2), counting, None, After::MoreTexts, &control)
                    .unwrap();
            let (by_class, got) = b
                .finish_by_class_then(1, None, &control, |sums| {
                    NaiveBayes::from_class_sums(sums, &y, k, algorithm, a, p)
                })
                .unwrap();
            // More than the 16,384 terms from which the second core is used.
            assert!(vocab.len() > 20_000, "{}", vocab.len());
            assert!((0..vocab.len() as u32).all(|i| vocab.term(i) == by_class.term(i)));
            assert_eq!(by_class.len(), vocab.len());
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{algorithm:?}");
        }
    }

    /// A text of a class is refused by a builder of rows, and a class out of range by one that
    /// counts by class; so are a builder of rows appended to one by class, its class sums, and
    /// the rows of a builder by class.
    #[test]
    fn counting_by_class_refuses_what_does_not_fit() {
        let (t, mut tokens) = (tokenizer(), Tokens::default());
        t.tokenize("refund my card", &mut tokens);
        let mut rows = VocabularyBuilder::default();
        assert!(matches!(rows.try_add_in_class(&tokens, 1, 2, 0), Err(Error::Internal(_))));
        let mut by_class = VocabularyBuilder::by_class(2, false).unwrap();
        assert!(matches!(by_class.try_add_in_class(&tokens, 1, 2, 2), Err(Error::Internal(_))));
        by_class.try_add_in_class(&tokens, 1, 2, 1).unwrap();
        for k in [0, crate::models::text::vectorize::MAX_CLASSES + 1] {
            assert!(matches!(VocabularyBuilder::by_class(k, false), Err(Error::Internal(_))), "{k}");
        }
        assert!(
            matches!(by_class.try_add(&tokens, 1, 2), Err(Error::Internal(_))),
            "a text without its class"
        );
        rows.try_add(&tokens, 1, 2).unwrap();
        let control = Control::new();
        let mut presence = VocabularyBuilder::by_class(2, true).unwrap();
        presence.try_add_in_class(&tokens, 1, 2, 0).unwrap();
        let mut occurrences = VocabularyBuilder::by_class(2, false).unwrap();
        occurrences.try_add_in_class(&tokens, 1, 2, 1).unwrap();
        assert!(
            matches!(presence.try_append(occurrences, &control), Err(Error::Internal(_))),
            "presence and counts"
        );
        let mut empty_rows = VocabularyBuilder::by_class(2, true).unwrap();
        assert!(matches!(
            empty_rows.try_append(VocabularyBuilder::default(), &control),
            Err(Error::Internal(_))
        ));
        let mut other = VocabularyBuilder::by_class(2, false).unwrap();
        other.try_add_in_class(&tokens, 1, 2, 0).unwrap();
        assert!(matches!(other.try_append(rows, &control), Err(Error::Internal(_))));
        let rows = serial(&texts(10), &(0..10).collect::<Vec<_>>(), 1, 2);
        assert!(matches!(rows.finish_by_class(1, None, &Control::new()), Err(Error::Internal(_))));
        // The rows of a builder by class (it keeps none) are refused too, not an index panic.
        assert!(matches!(
            by_class.finish(1, None, crate::models::text::vectorize::Weighting::Count, &Control::new()),
            Err(Error::Internal(_))
        ));
        let col = texts(10);
        let r = count_terms(
            &t,
            &col,
            &[0, 1, 2],
            (1, 2),
            Counting::ByClass { y: &[0, 1], k: 2, presence: false },
            None,
            After::MoreTexts,
            &Control::new(),
        );
        assert!(matches!(r, Err(Error::Internal(_))));
    }

    /// With many classes (lists of runs), counting in parts appended in any order, with more
    /// texts counted after an append, and classes in any order (a term's runs of one class
    /// then come from both sides), gives the class sums of one builder counting every text.
    #[test]
    fn many_classes_counted_in_parts_sum_as_one() {
        let col = texts(600);
        let (t, mut tokens) = (tokenizer(), Tokens::default());
        let control = Control::new();
        let k = 40u32;
        // Classes that change from text to text (row order), and class by class (sorted).
        let y: Vec<u32> = (0..600u32).map(|r| (r * 13 + r / 7) % k).collect();
        let mut sorted: Vec<usize> = (0..600).collect();
        sorted.sort_by_key(|&r| y[r]);
        let mut count = |b: &mut VocabularyBuilder, rows: &[usize]| {
            for &r in rows {
                t.tokenize(&cell_text(col.get(r)).unwrap(), &mut tokens);
                b.try_add_in_class(&tokens, 1, 3, y[r]).unwrap();
            }
        };
        let sums = |b| class_sums(b, 1);
        for presence in [false, true] {
            let fresh = || VocabularyBuilder::by_class(k as usize, presence).unwrap();
            for order in [(0..600).collect::<Vec<_>>(), sorted.clone()] {
                let mut whole = fresh();
                count(&mut whole, &order);
                let want = sums(whole);
                assert!(want.1.classes.len() > want.1.offsets.len() * 2, "terms of many classes");
                let mut a = fresh();
                count(&mut a, &order[..150]);
                let mut b = fresh();
                count(&mut b, &order[150..330]);
                a.try_append(b, &control).unwrap();
                count(&mut a, &order[330..420]);
                let (mut c, mut d) = (fresh(), fresh());
                count(&mut c, &order[420..500]);
                count(&mut d, &order[500..]);
                c.try_append(d, &control).unwrap();
                a.try_append(c, &control).unwrap();
                assert!(sums(a) == want, "presence {presence}");
                // A copy counts on as the original.
                let mut e = fresh();
                count(&mut e, &order[..300]);
                let mut copy = e.try_clone().unwrap();
                drop(e);
                count(&mut copy, &order[300..]);
                assert!(sums(copy) == want, "presence {presence}, a copy");
            }
        }
    }

    /// The refit's counting: a measured fit's counts (appended from two threads, which drops
    /// their tables), finished as they are kept (the same model as a finish that gives them
    /// back), with the held-out texts counted on in them (an empty text first, the classes
    /// coming round again), are the counts of every text, at few classes
    /// (rows of counts) and many (lists of runs), of occurrences and of texts, of word pairs and
    /// of longer n-grams (whose finish writes in the pairs' records), and counted with the
    /// filter of every text's n-grams seen twice. Counts of another shape are refused.
    #[test]
    fn counting_on_in_a_measured_fits_finished_counts_is_counting_every_text() {
        let n = 12_000;
        let words = texts(n);
        // Every eleventh text empty, and the first held-out one (row 1, of class 0): the first
        // text the measured fit's counts count on, whose tables the append dropped.
        let data = (0..n)
            .map(|r| {
                Some(if r % 11 == 0 || r == 1 {
                    String::new()
                } else {
                    cell_text(words.get(r)).unwrap().into()
                })
            })
            .collect();
        let col = Column { name: "body".into(), data: ColumnData::texts(data) };
        let (t, control) = (tokenizer(), Control::new());
        let held: Vec<usize> = (0..n).filter(|r| r % 4 == 1).collect();
        let train: Vec<usize> = (0..n).filter(|r| r % 4 != 1).collect();
        let all: Vec<usize> = (0..n).collect();
        for k in [5u32, 23] {
            let class = |r: &usize| (*r as u32 * 7 + *r as u32 / 3 + 8 * k - 7) % k;
            let (y_train, y_held, y_all): (Vec<u32>, Vec<u32>, Vec<u32>) = (
                train.iter().map(class).collect(),
                held.iter().map(class).collect(),
                all.iter().map(class).collect(),
            );
            for (presence, ngrams) in [(false, (1, 2)), (true, (1, 2)), (false, (1, 3))] {
                let by = |y| Counting::ByClass { y, k: k as usize, presence };
                let case = format!("k {k} presence {presence} n-grams {ngrams:?}");
                let mut measured =
                    count_terms(&t, &col, &train, ngrams, by(&y_train), None, After::MoreTexts, &control)
                        .unwrap();
                // The measured fit's finish leaves its counts as they were (its model the one a
                // finish that gives them back makes), and the refit counts on in them.
                let given_back = class_sums(measured.try_clone().unwrap(), 2);
                let (v, sums) =
                    measured.finish_by_class_in(true, 2, None, TermOrder::Sorted, &control, Ok).unwrap();
                let kept_model = ((0..v.len() as u32).map(|i| v.term(i).to_string()).collect(), sums);
                assert!(kept_model == given_back, "{case}");
                let on =
                    count_onto(measured, &t, &col, &held, ngrams, by(&y_held), After::MoreTexts, &control)
                        .unwrap();
                assert_eq!(on.texts(), n, "{case}");
                let whole = count_terms(&t, &col, &all, ngrams, by(&y_all), None, After::MoreTexts, &control)
                    .unwrap();
                for min_df in [1, 2] {
                    let (a, b) = (
                        class_sums(on.try_clone().unwrap(), min_df),
                        class_sums(whole.try_clone().unwrap(), min_df),
                    );
                    assert!(a == b, "{case} min_df {min_df}");
                }
            }
        }
        // Refused: counts of occurrences counted on as presence, of other classes, or in rows.
        let y: Vec<u32> = (0..held.len() as u32).map(|i| i % 5).collect();
        let counts = || {
            count_terms(
                &t,
                &col,
                &train[..100],
                (1, 2),
                Counting::ByClass { y: &[0; 100], k: 5, presence: false },
                None,
                After::MoreTexts,
                &control,
            )
            .unwrap()
        };
        for counting in [
            Counting::ByClass { y: &y, k: 5, presence: true },
            Counting::ByClass { y: &y, k: 6, presence: false },
            Counting::Rows,
        ] {
            let r = count_onto(counts(), &t, &col, &held, (1, 2), counting, After::MoreTexts, &control);
            assert!(matches!(r, Err(Error::Internal(_))));
        }
        // Counted with the filter of every text (the training texts marked, then the held-out
        // ones on in them), the held-out texts are counted on with it: what counting every
        // text with it gives, and from `min_df` 2 what counting every n-gram gives.
        let class = |r: &usize| (*r % 5) as u32;
        let (y_train, y_held, y_all): (Vec<u32>, Vec<u32>, Vec<u32>) = (
            train.iter().map(class).collect(),
            held.iter().map(class).collect(),
            all.iter().map(class).collect(),
        );
        let by = |y| Counting::ByClass { y, k: 5, presence: false };
        let words = text_bytes_of(&col, &all) / 64;
        let (seen, once) = mark_seen_twice(&t, &col, &train, words, 2, &control).unwrap().split();
        let every = Arc::new(mark_on(seen.resume(once), &t, &col, &held, 2, &control).unwrap().split().0);
        let measured =
            count_terms(&t, &col, &train, (1, 2), by(&y_train), Some(&every), After::MoreTexts, &control)
                .unwrap();
        let on =
            count_onto(measured, &t, &col, &held, (1, 2), by(&y_held), After::MoreTexts, &control).unwrap();
        assert!(on.distinct_estimated());
        let whole = count_terms(&t, &col, &all, (1, 2), by(&y_all), Some(&every), After::MoreTexts, &control)
            .unwrap();
        let exact =
            count_terms(&t, &col, &all, (1, 2), by(&y_all), None, After::MoreTexts, &control).unwrap();
        assert_eq!(on.distinct_terms(), whole.distinct_terms());
        let on = class_sums(on, 2);
        assert!(on == class_sums(whole, 2));
        assert!(on == class_sums(exact, 2));
    }

    /// Appending an empty builder, or to one, changes nothing.
    #[test]
    fn appending_empty_builders() {
        let col = texts(40);
        let rows: Vec<usize> = (0..40).collect();
        let control = Control::new();
        let mut a = serial(&col, &rows, 1, 2);
        a.try_append(VocabularyBuilder::default(), &control).unwrap();
        let mut b = VocabularyBuilder::default();
        b.try_append(serial(&col, &rows, 1, 2), &control).unwrap();
        assert_eq!(finished(a), finished(serial(&col, &rows, 1, 2)));
        assert_eq!(finished(b), finished(serial(&col, &rows, 1, 2)));
    }

    /// A builder appended to drops its hash table; counting more texts after that (with
    /// `try_add` or `add`, or appending again) rebuilds it and gives what one builder gives.
    #[test]
    fn counting_goes_on_after_an_append() {
        let col = texts(90);
        let rows: Vec<usize> = (0..90).collect();
        let control = Control::new();
        let (t, mut tokens) = (tokenizer(), Tokens::default());
        for (fallible, beside) in [(true, false), (false, false), (true, true)] {
            let mut a = serial(&col, &rows[..30], 1, 2);
            // (The pairs looked up on two cores, with a second CPU, however few.)
            a.always_beside = beside;
            a.try_append(serial(&col, &rows[30..50], 1, 2), &control).unwrap();
            for &r in &rows[50..70] {
                t.tokenize(&cell_text(col.get(r)).unwrap(), &mut tokens);
                if fallible {
                    a.try_add(&tokens, 1, 2).unwrap();
                } else {
                    a.add(&tokens, 1, 2);
                }
            }
            a.try_append(serial(&col, &rows[70..80], 1, 2), &control).unwrap();
            a.try_append(serial(&col, &rows[80..], 1, 2), &control).unwrap();
            assert_eq!(
                finished(a),
                finished(serial(&col, &rows, 1, 2)),
                "fallible {fallible}, beside {beside}"
            );
        }
        // Trigrams too (pairs of pairs and words), appended twice.
        let mut b = serial(&col, &rows[..40], 1, 3);
        b.try_append(serial(&col, &rows[40..75], 1, 3), &control).unwrap();
        b.try_append(serial(&col, &rows[75..], 1, 3), &control).unwrap();
        assert_eq!(finished(b), finished(serial(&col, &rows, 1, 3)));
    }

    /// The halves depend on the count only, on either path.
    #[test]
    fn halves_split_at_the_middle() {
        for n in [0, 1, 3, MIN_ROWS - 1, MIN_ROWS, 5001] {
            let (a, b) =
                in_halves(n, &Control::new(), |r, _| (r.clone(), std::thread::current().id())).unwrap();
            assert_eq!((a.0, b.0), (0..n / 2, n / 2..n));
            assert_eq!(a.1, std::thread::current().id(), "the first half runs on the caller");
            if !parallel(n) {
                assert_eq!(b.1, a.1);
            }
        }
    }

    #[test]
    fn scores_are_concatenated_in_row_order() {
        let col = texts(MIN_ROWS + 1);
        let rows: Vec<usize> = (0..col.len()).collect();
        let got = map_scores(&col, &rows, 2, &Control::new(), |t, s| {
            s.scores.clear();
            s.scores.extend([t.len() as f64, t.chars().count() as f64]);
        })
        .unwrap();
        let want: Vec<f64> = rows
            .iter()
            .flat_map(|&r| match col.get(r) {
                crate::models::data::Input::Text(t) => [t.len() as f64, t.chars().count() as f64],
                _ => [0.0, 0.0],
            })
            .collect();
        assert_eq!(got, want);
    }

    /// A panic on either thread (or on the only one) is an internal error, never a panic of
    /// the caller (before: the helper's panic was raised again on the calling thread).
    #[test]
    fn a_panic_in_either_half_is_an_internal_error() {
        for (n, panic_in) in [(4 * MIN_ROWS, 0), (4 * MIN_ROWS, 1), (10, 0), (10, 1)] {
            let got = std::panic::catch_unwind(AssertUnwindSafe(|| {
                in_halves(n, &Control::new(), |range, tick| -> Result<()> {
                    for i in range.clone() {
                        if (range.start > 0) as usize == panic_in {
                            panic!("boom in half {panic_in}");
                        }
                        tick(1)?;
                        let _ = i;
                    }
                    Ok(())
                })
            }));
            let e = got.expect("no panic leaves in_halves").unwrap_err();
            assert!(matches!(e, Error::Internal(_)), "{e}");
            assert!(e.to_string().contains(&format!("panicked: boom in half {panic_in}")), "{e}");
        }
    }

    /// A failing check ends the counting and the halves; the helper thread stops too.
    #[test]
    fn a_failing_check_stops_both_threads() {
        let col = texts(4 * MIN_ROWS);
        let rows: Vec<usize> = (0..col.len()).collect();
        let check = || Err(Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let r = in_rows(&col, &rows, (1, 3), &control);
        assert_eq!(r.err().map(|e| e.to_string()).as_deref(), Some("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let second_rows = AtomicUsize::new(0);
        let r = in_halves(rows.len(), &control, |range, tick| -> Result<()> {
            for i in range {
                if i >= rows.len() / 2 {
                    second_rows.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
                tick(crate::models::control::WORK_PER_LOOK)?;
            }
            Ok(())
        });
        let (first, second) = r.unwrap();
        assert_eq!(first.unwrap_err().to_string(), "interrupted");
        if parallel(rows.len()) {
            assert!(second.is_err(), "the helper saw the stop flag");
            assert!(second_rows.load(Ordering::Relaxed) < rows.len() / 2);
        }
    }

    /// Counted on two threads by class and told that the counting ends at a `min_df` of 2, the
    /// append leaves out the second thread's new pairs of one text: the same vocabulary, class
    /// sums and distinct terms as counts that more texts may follow.
    #[test]
    fn counts_told_they_end_finish_to_the_same_model() {
        let mut next = crate::models::text::xorshift(0xe4d);
        let data: Vec<Option<String>> = (0..4000)
            .map(|_| Some((0..40).map(|_| format!("w{}", next() % 20_000)).collect::<Vec<_>>().join(" ")))
            .collect();
        let col = Column { name: "body".into(), data: ColumnData::texts(data) };
        let rows: Vec<usize> = (0..col.len()).collect();
        let y: Vec<u32> = rows.iter().map(|&r| (r % 3) as u32).collect();
        let control = Control::new();
        let counting = Counting::ByClass { y: &y, k: 3, presence: false };
        let count =
            |after| count_terms(&tokenizer(), &col, &rows, (1, 2), counting, None, after, &control).unwrap();
        let every = count(After::MoreTexts);
        assert_eq!(every.left_out_pairs(), 0);
        let mut last = count(After::Finish { min_df: Some(2) });
        if Control::second_cpu() {
            // The helper may start after the first thread has taken most texts (a busy machine:
            // the tests run side by side), and it appends pairs only of the texts it counted:
            // counted again until it took its share.
            for _ in 0..50 {
                if last.left_out_pairs() > 10_000 {
                    break;
                }
                last = count(After::Finish { min_df: Some(2) });
            }
            assert!(last.left_out_pairs() > 10_000, "{} pairs left out", last.left_out_pairs());
        }
        assert_eq!(last.distinct_terms(), every.distinct_terms());
        let (want_vocab, want) = every.finish_by_class(2, None, &control).unwrap();
        let (got_vocab, got) = last.finish_by_class(2, None, &control).unwrap();
        assert!(want_vocab.len() > 1000, "{}", want_vocab.len());
        assert!((0..want_vocab.len() as u32).all(|i| want_vocab.term(i) == got_vocab.term(i)));
        assert_eq!(got_vocab.len(), want_vocab.len());
        assert_eq!(got, want);
    }
}
