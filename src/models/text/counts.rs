//! The counts a text fit starts from: its training texts counted, or, in the refit on every row
//! that follows a measured fit (`setup::train`), the measured fit's counts of its training texts
//! with the held-out texts counted on in them ([`pipeline::count_onto`]). Counting by class has
//! no order (the counts are integers), so that is what counting every text gives, and the same
//! model, in the time of counting a fifth of the texts (`test_size` 0.2) instead of all of them
//! again. The copy is made while the measured fit finishes, so only below [`COPIED_BELOW`]
//! bytes of text. Above it, where both fits make the first pass over the n-grams seen twice
//! with an explicit `min_df`, the measured fit makes the refit's ([`Marked`]) and counts with
//! it, so the pass is made once.

use super::pipeline::{self, Counting};
use super::tokenize::{Tokenizer, TokenizerConfig};
use super::vectorize::{self, SeenTwice, VocabularyBuilder};
use super::{AUTO_MIN_DF, TextSettings};
use crate::Result;
use crate::models::control::Control;
use crate::models::data::Column;
use crate::models::memory;
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
    /// Its counts, below [`COPIED_BELOW`] bytes of text.
    Counts(Box<Counted>),
    /// From there on, with an explicit `min_df`, its first pass, made over every row.
    Marks(Marked),
}

/// A measured fit's counts of its training texts, left for the refit on every row
/// ([`Setup::leave_for_refit`](crate::models::setup::Setup::leave_for_refit)), with what they
/// depend on beyond what the builder knows (its texts, its classes): the refit builds on them
/// only if its own counting would be the same.
pub(super) struct Counted {
    builder: VocabularyBuilder,
    tokenizer: TokenizerConfig,
    ngrams: (usize, usize),
    /// The rows held out (not counted), with their classes.
    held_out: Vec<usize>,
    held_out_y: Vec<u32>,
}

/// The first pass over the n-grams seen twice ([`pipeline::mark_seen_twice`]) that a measured
/// fit made over every row, `0..rows` in order, as the refit on every row would make it (its
/// halves the same, so the same bits), with what it depends on beyond the rows: the refit takes
/// it only if its own pass would be the same. The measured fit counts with it too: it lets
/// through the n-grams seen twice in any texts, a superset of those seen twice in the
/// training texts, and `min_df` (explicit, 2 or more: the only case this is made) keeps the
/// same terms.
pub(super) struct Marked {
    seen_twice: Arc<SeenTwice>,
    tokenizer: TokenizerConfig,
    hi: usize,
    rows: usize,
}

/// How a fit counts its training texts.
pub(super) enum Reuse<'a> {
    /// Counts them.
    No,
    /// Counts them and leaves a copy of the counts for the refit on every row, which adds the
    /// rows `held_out` of classes `y` (when that refit's counting will be the same: see
    /// [`reusable`]).
    Leave { held_out: &'a [usize], y: Vec<u32> },
    /// The refit on every row: from the measured fit's counts, or with its first pass, when
    /// they fit; else counts them.
    From(Left),
}

/// Bytes of text (of every row) from which the counts are not copied, so that the copy is of a
/// builder that counted less (at IMDB's 33 MB of reviews it takes 52 MB). It is also where the
/// first pass over the n-grams seen twice starts ([`pipeline::SEEN_TWICE_FROM`]), whose filters
/// depend on every text counted.
const COPIED_BELOW: usize = pipeline::SEEN_TWICE_FROM;

/// Whether a fit whose refit counts `bytes` of text may leave or take counts: counted by class
/// (rows hold float sums, whose bits depend on the order), of less than [`COPIED_BELOW`] bytes and
/// less than `seen_twice_from` (where the first pass may start).
fn reusable(counting: Counting<'_>, bytes: usize, seen_twice_from: usize) -> bool {
    matches!(counting, Counting::ByClass { .. }) && bytes < seen_twice_from.min(COPIED_BELOW)
}

/// Counts `rows` of `text` (of classes `counting` says) into a builder, as `reuse` says, and
/// sets `settings.min_df` when it is automatic. Returns the builder and what to leave for the
/// refit ([`Reuse::Leave`]): the counts when a copy could be made, else the first pass over
/// every row where one was made.
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
) -> Result<(VocabularyBuilder, Option<Left>)> {
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
        c.tokenizer == *tokenizer.config()
            && c.ngrams == (lo, hi)
            && c.builder.by_class_shape() == shape
            && c.builder.texts() + c.held_out.len() == rows.len()
            && reusable(counting, bytes, seen_twice_from)
    });
    // The measured fit's first pass is the refit's own if it was made as this one would be.
    let marked = marked
        .filter(|m| m.tokenizer == *tokenizer.config() && m.hi == hi && every_row(rows, m.rows))
        .map(|m| m.seen_twice);
    // Counts are left only if the refit (of the held-out texts too) will take them; else, from
    // the first pass on, the first pass over every row, with an explicit `min_df` only: an
    // automatic one is chosen from the first pass's count of distinct n-grams, which over every
    // row would let the held-out texts choose the measured fit's.
    let (leave, mark_every_row) = match leave {
        Some((held_out, y)) => {
            let every = bytes + pipeline::text_bytes_of(text, held_out);
            if reusable(counting, every, seen_twice_from) {
                (Some((held_out, y)), None)
            } else if settings.min_df != AUTO_MIN_DF {
                (None, Some((rows.len() + held_out.len(), every)))
            } else {
                (None, None)
            }
        }
        None => (None, None),
    };
    let (builder, marks) = match (carried, shape) {
        (Some(counted), Some((k, presence))) => {
            let Counted { builder, held_out, held_out_y, .. } = *counted;
            #[cfg(test)]
            REUSED.with(|n| n.set(n.get() + 1));
            let added = Counting::ByClass { y: &held_out_y, k, presence };
            (pipeline::count_onto(builder, tokenizer, text, &held_out, (lo, hi), added, control)?, None)
        }
        _ => {
            let first_pass = match (marked, mark_every_row) {
                (Some(seen), _) => FirstPass::Made(seen),
                (None, Some(every)) => FirstPass::OverEveryRow(every),
                (None, None) => FirstPass::OfTheseRows,
            };
            every_text(
                tokenizer,
                text,
                (rows, bytes),
                counting,
                settings,
                (seen_twice_from, first_pass),
                control,
            )?
        }
    };
    if settings.min_df == AUTO_MIN_DF {
        settings.min_df = builder.auto_min_df();
    }
    // A copy the memory refuses is no error: the refit then counts every text.
    let left = match (leave, marks) {
        (Some((held_out, held_out_y)), _) => builder.try_clone().ok().map(|copy| {
            Left::Counts(Box::new(Counted {
                builder: copy,
                tokenizer: tokenizer.config().clone(),
                ngrams: (lo, hi),
                held_out: held_out.to_vec(),
                held_out_y,
            }))
        }),
        (None, Some((seen_twice, rows))) => {
            Some(Left::Marks(Marked { seen_twice, tokenizer: tokenizer.config().clone(), hi, rows }))
        }
        (None, None) => None,
    };
    Ok((builder, left))
}

/// Whether `rows` are every row, `0..n` in order (the refit's).
fn every_row(rows: &[usize], n: usize) -> bool {
    rows.len() == n && rows.iter().enumerate().all(|(i, &r)| i == r)
}

/// A first pass made over every row, `0..n`: the filter and `n`.
type EveryRowPass = (Arc<SeenTwice>, usize);

/// Where [`every_text`]'s first pass comes from, when it makes one.
enum FirstPass {
    /// Made over the rows counted.
    OfTheseRows,
    /// Made over every row (`0..n`, of `bytes` of text, the rows counted among them), and left
    /// for the refit on every row: `(n, bytes)`.
    OverEveryRow((usize, usize)),
    /// Made already (by the measured fit, over every row: these rows).
    Made(Arc<SeenTwice>),
}

/// Counts every text of `rows` (`bytes` of text): with a first pass that marks the n-grams seen
/// twice, on a large corpus counted with word pairs whose `min_df` is or may be 2 or more (the
/// n-grams of a single text are then not counted, see [`pipeline::SEEN_TWICE_FROM`]). The
/// chosen `min_df` is 2 only above [`vectorize::LARGE_VOCABULARY`] distinct terms: the first
/// pass's lower bound of the distinct n-grams says so before counting, or every n-gram is
/// counted.
fn every_text(
    tokenizer: &Tokenizer,
    text: &Column,
    (rows, bytes): (&[usize], usize),
    counting: Counting<'_>,
    settings: &TextSettings,
    (seen_twice_from, first_pass): (usize, FirstPass),
    control: &Control<'_>,
) -> Result<(VocabularyBuilder, Option<EveryRowPass>)> {
    let (lo, hi) = (settings.ngrams.0 as usize, settings.ngrams.1 as usize);
    let auto = settings.min_df == AUTO_MIN_DF;
    let eligible = VocabularyBuilder::counts_pairs(lo, hi) && (auto || settings.min_df >= 2);
    // The first pass, and the rows it was made over when they are every row (to leave it).
    let marked = match first_pass {
        _ if !eligible => None,
        FirstPass::Made(seen) => {
            #[cfg(test)]
            MARKS_REUSED.with(|n| n.set(n.get() + 1));
            Some((seen, None))
        }
        FirstPass::OverEveryRow((n, every)) if every >= seen_twice_from => {
            let mut all: Vec<usize> = memory::with_capacity(n, "the rows of the first pass")?;
            all.extend(0..n);
            let seen = pipeline::mark_seen_twice(tokenizer, text, (&all, every), hi, control)?;
            Some((Arc::new(seen), Some(n)))
        }
        FirstPass::OfTheseRows | FirstPass::OverEveryRow(_) if bytes >= seen_twice_from => {
            let seen = pipeline::mark_seen_twice(tokenizer, text, (rows, bytes), hi, control)?;
            Some((Arc::new(seen), None))
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
        control,
    )?;
    if auto && seen_twice.is_some() && builder.auto_min_df() < 2 {
        // No term in two texts (so no word either): `min_df` 1 keeps every term, which
        // were not all counted.
        drop(builder);
        builder = pipeline::count_terms(tokenizer, text, rows, (lo, hi), counting, None, control)?;
    }
    let left = marked.and_then(|(seen, every)| Some((seen, every?)));
    Ok((builder, left))
}
