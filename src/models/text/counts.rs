//! The counts a text fit starts from: its training texts counted, or, in the refit on every row
//! that follows a measured fit (`setup::train`), the measured fit's counts of its training texts
//! with the held-out texts counted on in them ([`pipeline::count_onto`]). Counting by class has
//! no order (the counts are integers), so that is what counting every text gives, and the same
//! model, in the time of counting a fifth of the texts (`test_size` 0.2) instead of all of them
//! again. The measured fit's finish leaves its counts as they are
//! ([`VocabularyBuilder::finish_by_class_in`] keeping them: no copy), and they are held beside the
//! measured model until the refit.
//!
//! Below [`KEPT_BELOW`] bytes of text every n-gram is counted. Above it both fits make the first
//! pass over the n-grams seen twice ([`pipeline::SEEN_TWICE_FROM`]), and the measured fit makes
//! it for both: it marks its texts, then the held-out ones on in them, counts its texts with
//! that filter of every text, the refit's (the same measured model: the n-grams it lets through
//! besides are counted exactly and dropped by `min_df`), and leaves those counts, with the
//! filter, for the refit to count the held-out texts on in ([`FirstPass::ForTheRefit`]). At a
//! million generated texts that spares the refit counting four fifths of them again. Where the
//! counts cannot be left (counting in rows, for TF-IDF, or a first pass not counted with), the
//! measured fit leaves its first pass ([`Marked`]), which the refit extends with a pass over the
//! held-out texts alone, so every text is marked once.
//!
//! Where counts are left and the text column is lent to the training (`ml_train`'s, see
//! [`Setup::lent`](crate::models::setup::Setup::lent), a [`TextColumn::Lent`]), the measured fit
//! gives its training texts back once counted: the refit reads the held-out texts alone. Those
//! counts must then be taken ([`Left::texts_given_back`]): a refit that could not would count
//! the texts given back as empty, and is an internal error instead. From the first pass on
//! ([`FirstPass::ForTheRefit`] counting by class) they go back as they are counted: before it
//! counts, the fit reads the column once, taking its training texts in the order it counts them
//! into chunks each given back once counted ([`ClassTexts`]) and keeping the held-out texts and
//! the loss sample in the column, the pages of the texts read going back as it goes. They cannot
//! be counted again: where no word then turns out to be in two texts (the automatic `min_df` is
//! 1, and every n-gram would be counted again), that is a data error.

use super::class_texts::{self, ClassTexts};
use super::pipeline::{self, Counting};
use super::tokenize::{Tokenizer, TokenizerConfig};
use super::vectorize::{self, After, SeenTwice, VocabularyBuilder};
use super::{AUTO_MIN_DF, TextSettings};
use crate::models::columns::Texts;
use crate::models::control::Control;
use crate::models::data::{Column, ColumnData};
use crate::{Error, Result};
use std::sync::Arc;

#[cfg(test)]
thread_local! {
    /// Fits on this thread that counted from a measured fit's counts (tests).
    pub(super) static REUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Fits on this thread that counted with a measured fit's first pass (tests).
    pub(super) static MARKS_REUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Fits on this thread that gave the training texts back as they counted them (tests).
    pub(super) static GIVEN_BACK_AS_COUNTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What a measured fit leaves for the refit on every row ([`Reuse::Leave`]).
pub(super) enum Left {
    /// Its counts (from [`KEPT_BELOW`] bytes of text on, of the n-grams seen twice in every
    /// text).
    Counts(Box<Counted>),
    /// Its first pass over its training texts, where it made one and left no counts.
    Marks(Marked),
}

/// What [`count`] says a measured fit is to leave for the refit: its counts once finished
/// ([`ToLeave::with`]), or its first pass.
pub(super) enum ToLeave {
    /// The counts, finished as they are kept ([`VocabularyBuilder::finish_by_class_in`]).
    Counts(Box<CountsOf>),
    /// The first pass.
    Marks(Marked),
}

/// What the counts left for the refit depend on beyond the builder ([`Counted`]).
pub(super) struct CountsOf {
    tokenizer: TokenizerConfig,
    ngrams: (usize, usize),
    /// The bytes of every text, those counted and those held out (the refit's, whose column
    /// may hold the held-out texts alone by then).
    bytes: usize,
    /// The rows held out (not counted), with their classes.
    held_out: Vec<usize>,
    held_out_y: Vec<u32>,
}

impl ToLeave {
    /// Whether these are counts, to be finished as they are kept
    /// ([`VocabularyBuilder::finish_by_class_in`]) and given to [`ToLeave::with`].
    pub(super) fn counts(&self) -> bool {
        matches!(self, ToLeave::Counts(_))
    }

    /// What is left: the first pass, or `kept`, the counts finished and kept. No counts,
    /// nothing: the refit then counts every text.
    pub(super) fn with(self, kept: Option<VocabularyBuilder>) -> Option<Left> {
        match (self, kept) {
            (ToLeave::Marks(marked), _) => Some(Left::Marks(marked)),
            (ToLeave::Counts(of), Some(builder)) => {
                Some(Left::Counts(Box::new(Counted { builder, of: *of, given_back: false })))
            }
            (ToLeave::Counts(_), None) => None,
        }
    }
}

/// A measured fit's counts of its training texts, left for the refit on every row
/// ([`Setup::leave_for_refit`](crate::models::setup::Setup::leave_for_refit)), with what they
/// depend on beyond what the builder knows (its texts, its classes): the refit builds on them
/// only if its own counting would be the same.
pub(super) struct Counted {
    builder: VocabularyBuilder,
    of: CountsOf,
    /// The training texts were given back once counted ([`Left::texts_given_back`]): the
    /// refit must count on in these counts.
    given_back: bool,
}

/// The first pass over the n-grams seen twice ([`pipeline::mark_seen_twice`]) that a measured
/// fit made over its training texts, with its marks' `once` (of every part, joined), left for
/// the refit on every row, which marks the texts held out on in them ([`SeenTwice::resume`]).
/// That is a filter of every text: an n-gram seen twice is always in it, one seen once only by
/// chance (counted exactly, and dropped by `min_df`), so the model is the one counting every
/// n-gram makes. Its filters have one bit per byte of every text, as the refit's own would
/// (the measured fit's filter has that much room for fewer texts: fewer n-grams of a single
/// text let through, and its estimate of the distinct n-grams made from those bits). With
/// what it depends on beyond the texts: the refit takes it only if its own pass would mark the
/// same n-grams.
pub(super) struct Marked {
    seen_twice: Arc<SeenTwice>,
    once: Vec<u64>,
    tokenizer: TokenizerConfig,
    hi: usize,
    /// The rows held out (not marked), in order.
    held_out: Vec<usize>,
    /// The rows of the refit, `0..rows` in order: those marked and those held out.
    rows: usize,
}

impl Left {
    /// Notes that the texts these counts are of were given back once counted (the refit's
    /// column holds the held-out texts alone): a refit that cannot count on in them is then an
    /// error, where it would count every text.
    pub(super) fn texts_given_back(&mut self) {
        if let Left::Counts(counted) = self {
            counted.given_back = true;
        }
    }
}

/// How a fit counts its training texts.
pub(super) enum Reuse<'a> {
    /// Counts them.
    No,
    /// Counts them and leaves the counts for the refit on every row, which adds the
    /// rows `held_out` of classes `y` (when that refit's counting will be the same: see
    /// [`reusable`]).
    Leave { held_out: &'a [usize], y: Vec<u32> },
    /// The refit on every row: from the measured fit's counts, or with its first pass, when
    /// they fit; else counts them.
    From(Left),
}

/// The text column a fit counts: shared, or lent to it (`ml_train`'s, see
/// [`Setup::lent`](crate::models::setup::Setup::lent)) with the rows of it that are read after
/// the counting (`keep`: the held-out texts and the training loss's sample, sorted, each once),
/// whose other texts the fit may give back as it counts them ([`TextColumn::give_back`]).
pub(super) enum TextColumn<'a> {
    /// Read only.
    Shared(&'a Column),
    /// Lent: its training texts may be given back.
    Lent { column: &'a mut Column, keep: &'a [usize], given_back: bool },
}

impl TextColumn<'_> {
    /// The column (its texts given back read as NULL).
    pub(super) fn column(&self) -> &Column {
        match self {
            TextColumn::Shared(column) => column,
            TextColumn::Lent { column, .. } => column,
        }
    }

    /// Keeps only the texts of `keep` in a lent column of texts not given back yet (the others
    /// then read as NULL; [`TextColumn::read_keeping`]); else does nothing.
    pub(super) fn keep_only(&mut self) -> Result<()> {
        if !self.lends_texts() {
            return Ok(());
        }
        self.read_keeping(|_, _| Ok(()))
    }

    /// Reads the lent column once, in row order, showing each row to `each`, and keeps in it
    /// the texts of `keep` alone (the others then read as NULL): the pages of the texts read go
    /// back as it goes ([`Texts::read_once_keeping`]). The texts are then given back; on an
    /// error, every row reads as NULL (the training stops there).
    fn read_keeping(&mut self, each: impl FnMut(usize, Option<&str>) -> Result<()>) -> Result<()> {
        let TextColumn::Lent { column, keep, given_back: given_back @ false } = self else {
            return Err(Error::Internal("the texts of a shared column given back".into()));
        };
        let ColumnData::Text(texts) = &mut column.data else {
            return Err(Error::Internal("a column of other values given back as texts".into()));
        };
        let what = "the texts kept once the others are counted";
        let read = std::mem::replace(texts, Texts::all_null(texts.len(), what)?);
        *given_back = true;
        *texts = read.read_once_keeping(keep, what, each)?;
        Ok(())
    }

    /// Whether the training texts may be given back as they are counted: a lent column of
    /// texts, not given back yet.
    fn lends_texts(&self) -> bool {
        matches!(self, TextColumn::Lent { column, given_back: false, .. } if matches!(column.data, ColumnData::Text(_)))
    }

    /// Whether its training texts were given back ([`TextColumn::give_back`]).
    pub(super) fn given_back(&self) -> bool {
        matches!(self, TextColumn::Lent { given_back: true, .. })
    }

    /// Takes `rows` (the training rows, `bytes` of text) in the `order` they are counted in (by
    /// class) into chunks given back as they are counted ([`ClassTexts`]), and keeps in the
    /// column the texts of `keep` alone ([`TextColumn::read_keeping`]): the texts as read go
    /// back as they are taken.
    fn give_back(&mut self, (rows, bytes): (&[usize], usize), order: &[usize]) -> Result<ClassTexts> {
        let ColumnData::Text(texts) = &self.column().data else {
            return Err(Error::Internal("a column of other values given back as texts".into()));
        };
        let mut taking = ClassTexts::taking(texts, (rows, order), bytes, class_texts::chunk_bytes())?;
        self.read_keeping(|row, text| taking.put(row, text))?;
        #[cfg(test)]
        GIVEN_BACK_AS_COUNTED.with(|n| n.set(n.get() + 1));
        taking.finish()
    }
}

/// Bytes of text (of every row) from which the counts of every n-gram are not left for the
/// refit, so that the counts held beside the measured model are of a builder that counted less
/// (at IMDB's 33 MB of reviews they take 52 MB). It is also where the first pass over the
/// n-grams seen twice starts ([`pipeline::SEEN_TWICE_FROM`]): from there on, the counts left are
/// of those only ([`FirstPass::ForTheRefit`]).
const KEPT_BELOW: usize = pipeline::SEEN_TWICE_FROM;

/// Whether a fit whose refit counts `bytes` of text may leave or take counts of every n-gram:
/// counted by class (rows hold float sums, whose bits depend on the order), of less than
/// [`KEPT_BELOW`] bytes and less than `seen_twice_from` (where the first pass may start).
fn reusable(counting: Counting<'_>, bytes: usize, seen_twice_from: usize) -> bool {
    matches!(counting, Counting::ByClass { .. }) && bytes < seen_twice_from.min(KEPT_BELOW)
}

/// Counts `rows` of `text` (of classes `counting` says) into a builder, as `reuse` says, and
/// sets `settings.min_df` when it is automatic. Returns the builder and what to leave for the
/// refit ([`Reuse::Leave`]): the counts where the refit can count on in them, else the first
/// pass over every row where one was made.
#[allow(clippy::too_many_arguments)]
pub(super) fn count(
    tokenizer: &Tokenizer,
    text: &mut TextColumn<'_>,
    rows: &[usize],
    counting: Counting<'_>,
    settings: &mut TextSettings,
    seen_twice_from: usize,
    reuse: Reuse<'_>,
    control: &Control<'_>,
) -> Result<(VocabularyBuilder, Option<ToLeave>)> {
    let (lo, hi) = (settings.ngrams.0 as usize, settings.ngrams.1 as usize);
    let shape = match counting {
        Counting::ByClass { k, presence, .. } => Some((k, presence)),
        Counting::Rows => None,
    };
    // The bytes of the texts, read once for all that asks (the reuse's checks, the first pass).
    let bytes = pipeline::text_bytes_of(text.column(), rows);
    let (carried, leave) = match reuse {
        Reuse::No => (None, None),
        Reuse::Leave { held_out, y } => (None, Some((held_out, y))),
        Reuse::From(left) => (Some(left), None),
    };
    let given_back = matches!(&carried, Some(Left::Counts(c)) if c.given_back);
    let (carried, marked) = match carried {
        Some(Left::Counts(c)) => (Some(c), None),
        Some(Left::Marks(m)) => (None, Some(m)),
        None => (None, None),
    };
    // The refit's counting is the measured fit's (same tokenizer, n-grams and classes, every
    // text counted but the held-out ones), with no first pass.
    // Counts of the n-grams seen twice were counted with the filter of every text, the one this
    // refit's own first pass would make (see `FirstPass::ForTheRefit`).
    let carried = carried.filter(|c| {
        c.of.tokenizer == *tokenizer.config()
            && c.of.ngrams == (lo, hi)
            && c.builder.by_class_shape() == shape
            && c.builder.texts() + c.of.held_out.len() == rows.len()
            && if c.builder.distinct_estimated() {
                shape.is_some() && c.of.bytes >= seen_twice_from
            } else {
                reusable(counting, c.of.bytes, seen_twice_from)
            }
    });
    if given_back && (carried.is_none() || shape.is_none()) {
        return Err(Error::Internal(
            "the training texts were given back, and the refit cannot count on their counts".into(),
        ));
    }
    // The measured fit's first pass is the refit's start if it was made as this one's would be.
    let marked =
        marked.filter(|m| m.tokenizer == *tokenizer.config() && m.hi == hi && every_row(rows, m.rows));
    // Counts of every n-gram are left only if the refit (of the held-out texts too) will take
    // them; else, from the first pass on, `every_text` leaves the counts of the n-grams seen
    // twice or the first pass (the measured fit's model and its chosen `min_df` its own).
    let (leave, for_refit) = match leave {
        Some((held_out, y)) => {
            let every = bytes + pipeline::text_bytes_of(text.column(), held_out);
            if reusable(counting, every, seen_twice_from) {
                (Some((held_out, y, every)), None)
            } else {
                (None, Some(ForRefit { held_out, y, every }))
            }
        }
        None => (None, None),
    };
    // Unless they are left for the refit to count on, these counts are finished at this fit's
    // `min_df` (`every_text` says where it leaves them).
    let after = match leave {
        Some(_) => After::MoreTexts,
        None => After::Finish { min_df: (settings.min_df != AUTO_MIN_DF).then_some(settings.min_df) },
    };
    let (builder, pass) = match (carried, shape) {
        (Some(counted), Some((k, presence))) => {
            let Counted { mut builder, of: CountsOf { held_out, held_out_y, .. }, .. } = *counted;
            #[cfg(test)]
            REUSED.with(|n| n.set(n.get() + 1));
            // (Counted on, the pairs of every text are estimated by its filter.)
            builder.estimate_pairs_as(None);
            let added = Counting::ByClass { y: &held_out_y, k, presence };
            let mut builder = pipeline::count_onto(
                builder,
                tokenizer,
                text.column(),
                &held_out,
                (lo, hi),
                added,
                after,
                control,
            )?;
            if settings.min_df == AUTO_MIN_DF && builder.distinct_estimated() && builder.auto_min_df() < 2 {
                // As `every_text` does: no term in two texts, every n-gram counted. (The measured
                // fit, which chose 2, found a term in two of its texts.)
                if given_back {
                    return Err(Error::Internal(
                        "the training texts were given back, and must be counted again".into(),
                    ));
                }
                drop(builder);
                builder = pipeline::count_terms(
                    tokenizer,
                    text.column(),
                    rows,
                    (lo, hi),
                    counting,
                    None,
                    after,
                    control,
                )?;
            }
            (builder, Pass::None)
        }
        _ => {
            let first_pass = match (marked, for_refit) {
                (Some(m), _) => FirstPass::Extended(m),
                (None, Some(refit)) => FirstPass::ForTheRefit(refit),
                (None, None) => FirstPass::OfTheseRows,
            };
            every_text(
                tokenizer,
                text,
                (rows, bytes),
                counting,
                settings,
                (seen_twice_from, first_pass, after),
                control,
            )?
        }
    };
    if settings.min_df == AUTO_MIN_DF {
        settings.min_df = builder.auto_min_df();
    }
    let counts_of = |held_out: &[usize], held_out_y, bytes| {
        Some(ToLeave::Counts(Box::new(CountsOf {
            tokenizer: tokenizer.config().clone(),
            ngrams: (lo, hi),
            bytes,
            held_out: held_out.to_vec(),
            held_out_y,
        })))
    };
    let left = match (leave, pass) {
        (Some((held_out, held_out_y, every)), _) => counts_of(held_out, held_out_y, every),
        (None, Pass::Counts(ForRefit { held_out, y, every })) => counts_of(held_out, y, every),
        (None, Pass::Marks((seen_twice, once), ForRefit { held_out, .. })) => Some(ToLeave::Marks(Marked {
            seen_twice,
            once,
            tokenizer: tokenizer.config().clone(),
            hi,
            held_out: held_out.to_vec(),
            rows: rows.len() + held_out.len(),
        })),
        (None, Pass::None) => None,
    };
    Ok((builder, left))
}

/// Whether `rows` are every row, `0..n` in order (the refit's).
fn every_row(rows: &[usize], n: usize) -> bool {
    rows.len() == n && rows.iter().enumerate().all(|(i, &r)| i == r)
}

/// A first pass kept to be extended: the filter and its marks' `once`.
type KeptPass = (Arc<SeenTwice>, Vec<u64>);

/// The refit on every row that follows a measured fit, as the measured fit's [`every_text`]
/// prepares for it: the rows it holds out, their classes, and the bytes of every text.
struct ForRefit<'a> {
    held_out: &'a [usize],
    y: Vec<u32>,
    every: usize,
}

/// Where [`every_text`]'s first pass comes from, when it makes one.
enum FirstPass<'a> {
    /// Made over the rows counted.
    OfTheseRows,
    /// A measured fit's, made over the rows counted with its filters sized for every text (the
    /// refit's). Counting by class where the n-grams seen twice are counted, extended with the
    /// held-out texts first: the texts are counted with the filter of every text (the refit's,
    /// which lets more n-grams through: those the held-out texts repeat, counted exactly, and
    /// dropped by `min_df`, so the measured model is the same) and the counts left for the
    /// refit to count the held-out texts on in them ([`Pass::Counts`]). Otherwise, its `once`
    /// is left for the refit to extend ([`Pass::Marks`]).
    ForTheRefit(ForRefit<'a>),
    /// A measured fit's over its training texts, extended with the texts it held out (these
    /// rows are every row).
    Extended(Marked),
}

/// What [`every_text`] leaves for the refit.
enum Pass<'a> {
    None,
    /// Its first pass ([`FirstPass::ForTheRefit`]).
    Marks(KeptPass, ForRefit<'a>),
    /// The counts, counted with the filter of every text ([`FirstPass::ForTheRefit`]).
    Counts(ForRefit<'a>),
}

/// Counts every text of `rows` (`bytes` of text): with a first pass that marks the n-grams seen
/// twice, on a large corpus counted with word pairs whose `min_df` is or may be 2 or more (the
/// n-grams of a single text are then not counted, see [`pipeline::SEEN_TWICE_FROM`]). The
/// chosen `min_df` is 2 only above [`vectorize::LARGE_VOCABULARY`] distinct terms: the first
/// pass's lower bound of the distinct n-grams says so before counting, or every n-gram is
/// counted. `after` says what follows the counting (see [`After`]).
fn every_text<'a>(
    tokenizer: &Tokenizer,
    text: &mut TextColumn<'_>,
    (rows, bytes): (&[usize], usize),
    counting: Counting<'_>,
    settings: &TextSettings,
    (seen_twice_from, first_pass, after): (usize, FirstPass<'a>, After),
    control: &Control<'_>,
) -> Result<(VocabularyBuilder, Pass<'a>)> {
    let (lo, hi) = (settings.ngrams.0 as usize, settings.ngrams.1 as usize);
    let auto = settings.min_df == AUTO_MIN_DF;
    let eligible = VocabularyBuilder::counts_pairs(lo, hi) && (auto || settings.min_df >= 2);
    // Whether the first pass, `at_least` distinct n-grams or more, is counted with: when
    // `min_df` is 2 or more, or will be (see above).
    let used = |at_least: usize| !auto || at_least > vectorize::LARGE_VOCABULARY;
    // The filter counted with, what is left for the refit, and the distinct word pairs this
    // fit's texts are estimated to have where its filter is of more texts.
    let (seen_twice, mut pass, own_pairs) = match first_pass {
        _ if !eligible => (None, Pass::None, None),
        FirstPass::Extended(Marked { seen_twice, once, held_out, .. }) => {
            #[cfg(test)]
            MARKS_REUSED.with(|n| n.set(n.get() + 1));
            // (The measured fit's builders, which held the filter too, are gone.)
            let seen = match Arc::try_unwrap(seen_twice) {
                Ok(seen) => seen,
                Err(shared) => SeenTwice::clone_of(&shared)?,
            };
            let marks =
                pipeline::mark_on(seen.resume(once), tokenizer, text.column(), &held_out, hi, control)?;
            let seen = marks.split().0;
            (used(seen.distinct_at_least()).then(|| Arc::new(seen)), Pass::None, None)
        }
        FirstPass::OfTheseRows if bytes >= seen_twice_from => {
            // One bit per byte of text.
            let marks = pipeline::mark_seen_twice(tokenizer, text.column(), rows, bytes / 64, hi, control)?;
            let seen = marks.split().0;
            (used(seen.distinct_at_least()).then(|| Arc::new(seen)), Pass::None, None)
        }
        FirstPass::ForTheRefit(refit) if bytes >= seen_twice_from => {
            // One bit per byte of the refit's texts, so that its filter is as full as its own
            // would be (this fit's own has more room: its estimates come from more bits).
            let marks =
                pipeline::mark_seen_twice(tokenizer, text.column(), rows, refit.every / 64, hi, control)?;
            let (seen, once) = marks.split();
            if !used(seen.distinct_at_least()) {
                (None, Pass::Marks((Arc::new(seen), once), refit), None)
            } else if matches!(counting, Counting::ByClass { .. }) {
                // (The lower bound only grows with more texts: the refit counts with it too.)
                let own = seen.distinct_estimate();
                let marks = pipeline::mark_on(
                    seen.resume(once),
                    tokenizer,
                    text.column(),
                    refit.held_out,
                    hi,
                    control,
                )?;
                (Some(Arc::new(marks.split().0)), Pass::Counts(refit), Some(own))
            } else {
                let seen = Arc::new(seen);
                (Some(Arc::clone(&seen)), Pass::Marks((seen, once), refit), None)
            }
        }
        _ => (None, Pass::None, None),
    };
    // Counts left for the refit keep every term.
    let counted_after = if matches!(pass, Pass::Counts(_)) { After::MoreTexts } else { after };
    let mut builder = match counting {
        // Counted for the refit, the training texts of a lent column go back as they are counted.
        Counting::ByClass { y, k, .. } if matches!(pass, Pass::Counts(_)) && text.lends_texts() => {
            let copied = text.give_back((rows, bytes), &pipeline::class_order(y, k)?)?;
            let seen = seen_twice.as_ref();
            pipeline::count_terms(tokenizer, &copied, rows, (lo, hi), counting, seen, counted_after, control)?
        }
        _ => pipeline::count_terms(
            tokenizer,
            text.column(),
            rows,
            (lo, hi),
            counting,
            seen_twice.as_ref(),
            counted_after,
            control,
        )?,
    };
    builder.estimate_pairs_as(own_pairs);
    if auto && seen_twice.is_some() && builder.auto_min_df() < 2 {
        // No term in two texts (so no word either): `min_df` 1 keeps every term, which
        // were not all counted. (Counts of every n-gram are not what the refit would count on.)
        if text.given_back() {
            // (Those texts are gone: what every n-gram of them would make is no model.)
            return Err(Error::data(format!(
                "no word occurs in two of the {} training texts of column '{}' ({}): nothing recurs to learn from",
                rows.len(),
                crate::error::clip(&text.column().name),
                crate::models::memory::show_bytes(bytes as f64)
            )));
        }
        drop(builder);
        builder =
            pipeline::count_terms(tokenizer, text.column(), rows, (lo, hi), counting, None, after, control)?;
        if matches!(pass, Pass::Counts(_)) {
            pass = Pass::None;
        }
    }
    Ok((builder, pass))
}
