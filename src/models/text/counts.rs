//! The counts a text fit starts from: its training texts counted, or, in the refit on every row
//! that follows a measured fit (`setup::train`), the measured fit's counts of its training texts
//! with the held-out texts counted on in them ([`pipeline::count_onto`]). Counting by class has
//! no order (the counts are integers), so that is what counting every text gives, and the same
//! model, in the time of counting a fifth of the texts (`test_size` 0.2) instead of all of them
//! again. The measured fit's finish leaves its counts as they are
//! ([`VocabularyBuilder::finish_by_class_in`] keeping them: no copy), and they are held beside the
//! measured model until the refit, so only below [`KEPT_BELOW`] bytes of text. Above it, where
//! both fits make the first pass over the n-grams seen twice, the measured fit leaves its own
//! ([`Marked`]), which the refit extends with a pass over the held-out texts alone, so every
//! text is marked once.

use super::pipeline::{self, Counting};
use super::tokenize::{Tokenizer, TokenizerConfig};
use super::vectorize::{self, After, SeenTwice, VocabularyBuilder};
use super::{AUTO_MIN_DF, TextSettings};
use crate::Result;
use crate::models::control::Control;
use crate::models::data::Column;
use std::sync::Arc;

#[cfg(test)]
thread_local! {
    /// Fits on this thread that counted from a measured fit's counts (tests).
    pub(super) static REUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Fits on this thread that counted with a measured fit's first pass (tests).
    pub(super) static MARKS_REUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// What a measured fit leaves for the refit on every row ([`Reuse::Leave`]).
pub(super) enum Left {
    /// Its counts, below [`KEPT_BELOW`] bytes of text.
    Counts(Box<Counted>),
    /// From there on, its first pass over its training texts, where it made one.
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
                Some(Left::Counts(Box::new(Counted { builder, of: *of })))
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

/// Bytes of text (of every row) from which the counts are not left for the refit, so that the
/// counts held beside the measured model are of a builder that counted less (at IMDB's 33 MB of
/// reviews they take 52 MB). It is also where the first pass over the n-grams seen twice starts
/// ([`pipeline::SEEN_TWICE_FROM`]), whose filters depend on every text counted.
const KEPT_BELOW: usize = pipeline::SEEN_TWICE_FROM;

/// Whether a fit whose refit counts `bytes` of text may leave or take counts: counted by class
/// (rows hold float sums, whose bits depend on the order), of less than [`KEPT_BELOW`] bytes and
/// less than `seen_twice_from` (where the first pass may start).
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
    text: &Column,
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
    let bytes = pipeline::text_bytes_of(text, rows);
    let (carried, leave) = match reuse {
        Reuse::No => (None, None),
        Reuse::Leave { held_out, y } => (None, Some((held_out, y))),
        Reuse::From(left) => (Some(left), None),
    };
    let (carried, marked) = match carried {
        Some(Left::Counts(c)) => (Some(c), None),
        Some(Left::Marks(m)) => (None, Some(m)),
        None => (None, None),
    };
    // The refit's counting is the measured fit's (same tokenizer, n-grams and classes, every
    // text counted but the held-out ones), with no first pass.
    let carried = carried.filter(|c| {
        c.of.tokenizer == *tokenizer.config()
            && c.of.ngrams == (lo, hi)
            && c.builder.by_class_shape() == shape
            && c.builder.texts() + c.of.held_out.len() == rows.len()
            && reusable(counting, bytes, seen_twice_from)
    });
    // The measured fit's first pass is the refit's start if it was made as this one's would be.
    let marked =
        marked.filter(|m| m.tokenizer == *tokenizer.config() && m.hi == hi && every_row(rows, m.rows));
    // Counts are left only if the refit (of the held-out texts too) will take them; else, from
    // the first pass on, this fit's first pass (of its own texts: the measured fit's model and
    // its chosen `min_df` are its own).
    let (leave, keep_marks) = match leave {
        Some((held_out, y)) => {
            let every = bytes + pipeline::text_bytes_of(text, held_out);
            if reusable(counting, every, seen_twice_from) {
                (Some((held_out, y)), None)
            } else {
                (None, Some((held_out, every)))
            }
        }
        None => (None, None),
    };
    // Unless they are left for the refit to count on, these counts are finished at this fit's
    // `min_df`.
    let after = match leave {
        Some(_) => After::MoreTexts,
        None => After::Finish { min_df: (settings.min_df != AUTO_MIN_DF).then_some(settings.min_df) },
    };
    let (builder, marks) = match (carried, shape) {
        (Some(counted), Some((k, presence))) => {
            let Counted { builder, of: CountsOf { held_out, held_out_y, .. } } = *counted;
            #[cfg(test)]
            REUSED.with(|n| n.set(n.get() + 1));
            let added = Counting::ByClass { y: &held_out_y, k, presence };
            (
                pipeline::count_onto(builder, tokenizer, text, &held_out, (lo, hi), added, after, control)?,
                None,
            )
        }
        _ => {
            let first_pass = match marked {
                Some(m) => FirstPass::Extended(m),
                None => FirstPass::OfTheseRows { keep: keep_marks.map(|(_, every)| every) },
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
    let left = match (leave, marks) {
        (Some((held_out, held_out_y)), _) => Some(ToLeave::Counts(Box::new(CountsOf {
            tokenizer: tokenizer.config().clone(),
            ngrams: (lo, hi),
            held_out: held_out.to_vec(),
            held_out_y,
        }))),
        (None, Some((seen_twice, once))) => keep_marks.map(|(held_out, _)| {
            ToLeave::Marks(Marked {
                seen_twice,
                once,
                tokenizer: tokenizer.config().clone(),
                hi,
                held_out: held_out.to_vec(),
                rows: rows.len() + held_out.len(),
            })
        }),
        (None, None) => None,
    };
    Ok((builder, left))
}

/// Whether `rows` are every row, `0..n` in order (the refit's).
fn every_row(rows: &[usize], n: usize) -> bool {
    rows.len() == n && rows.iter().enumerate().all(|(i, &r)| i == r)
}

/// A first pass kept to be extended: the filter and its marks' `once`.
type KeptPass = (Arc<SeenTwice>, Vec<u64>);

/// Where [`every_text`]'s first pass comes from, when it makes one.
enum FirstPass {
    /// Made over the rows counted, its `once` kept for the refit where `keep` says how many
    /// bytes of text the refit will have (its filters sized for those).
    OfTheseRows { keep: Option<usize> },
    /// A measured fit's over its training texts, extended with the texts it held out (these
    /// rows are every row).
    Extended(Marked),
}

/// Counts every text of `rows` (`bytes` of text): with a first pass that marks the n-grams seen
/// twice, on a large corpus counted with word pairs whose `min_df` is or may be 2 or more (the
/// n-grams of a single text are then not counted, see [`pipeline::SEEN_TWICE_FROM`]). The
/// chosen `min_df` is 2 only above [`vectorize::LARGE_VOCABULARY`] distinct terms: the first
/// pass's lower bound of the distinct n-grams says so before counting, or every n-gram is
/// counted. `after` says what follows the counting (see [`After`]).
fn every_text(
    tokenizer: &Tokenizer,
    text: &Column,
    (rows, bytes): (&[usize], usize),
    counting: Counting<'_>,
    settings: &TextSettings,
    (seen_twice_from, first_pass, after): (usize, FirstPass, After),
    control: &Control<'_>,
) -> Result<(VocabularyBuilder, Option<KeptPass>)> {
    let (lo, hi) = (settings.ngrams.0 as usize, settings.ngrams.1 as usize);
    let auto = settings.min_df == AUTO_MIN_DF;
    let eligible = VocabularyBuilder::counts_pairs(lo, hi) && (auto || settings.min_df >= 2);
    // The first pass, and its marks' `once` where it is to be left.
    let marked = match first_pass {
        _ if !eligible => None,
        FirstPass::Extended(Marked { seen_twice, once, held_out, .. }) => {
            #[cfg(test)]
            MARKS_REUSED.with(|n| n.set(n.get() + 1));
            // (The measured fit's builders, which held the filter too, are gone.)
            let seen = match Arc::try_unwrap(seen_twice) {
                Ok(seen) => seen,
                Err(shared) => SeenTwice::clone_of(&shared)?,
            };
            let marks = pipeline::mark_on(seen.resume(once), tokenizer, text, &held_out, hi, control)?;
            Some((Arc::new(marks.split().0), None))
        }
        FirstPass::OfTheseRows { keep } if bytes >= seen_twice_from => {
            // One bit per byte of text: of the refit's texts where it resumes them, so that its
            // filter is as full as its own would be (the measured fit's then has more room).
            let words = keep.unwrap_or(bytes) / 64;
            let marks = pipeline::mark_seen_twice(tokenizer, text, rows, words, hi, control)?;
            let (seen, once) = marks.split();
            Some((Arc::new(seen), keep.map(|_| once)))
        }
        _ => None,
    };
    // Counted with it when `min_df` is 2 or more, or will be (see above).
    let seen_twice =
        marked.as_ref().filter(|(seen, _)| !auto || seen.distinct_at_least() > vectorize::LARGE_VOCABULARY);
    let mut builder = pipeline::count_terms(
        tokenizer,
        text,
        rows,
        (lo, hi),
        counting,
        seen_twice.map(|(seen, _)| seen),
        after,
        control,
    )?;
    if auto && seen_twice.is_some() && builder.auto_min_df() < 2 {
        // No term in two texts (so no word either): `min_df` 1 keeps every term, which
        // were not all counted.
        drop(builder);
        builder = pipeline::count_terms(tokenizer, text, rows, (lo, hi), counting, None, after, control)?;
    }
    let left = marked.and_then(|(seen, once)| Some((seen, once?)));
    Ok((builder, left))
}
