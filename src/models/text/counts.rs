//! The counts a text fit starts from: its training texts counted, or, in the refit on every row
//! that follows a measured fit (`setup::train`), the measured fit's counts of its training texts
//! with the held-out texts counted on in them ([`pipeline::count_onto`]). Counting by class has
//! no order (the counts are integers), so that is what counting every text gives, and the same
//! model, in the time of counting a fifth of the texts (`test_size` 0.2) instead of all of them
//! again. The copy is made while the measured fit finishes, so only below [`COPIED_BELOW`]
//! bytes of text.

use super::pipeline::{self, Counting};
use super::tokenize::{Tokenizer, TokenizerConfig};
use super::vectorize::{self, VocabularyBuilder};
use super::{AUTO_MIN_DF, TextSettings};
use crate::Result;
use crate::models::control::Control;
use crate::models::data::Column;
use std::sync::Arc;

#[cfg(test)]
thread_local! {
    /// Fits on this thread that counted from a measured fit's counts (tests).
    pub(super) static REUSED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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

/// How a fit counts its training texts.
pub(super) enum Reuse<'a> {
    /// Counts them.
    No,
    /// Counts them and leaves a copy of the counts for the refit on every row, which adds the
    /// rows `held_out` of classes `y` (when that refit's counting will be the same: see
    /// [`reusable`]).
    Leave { held_out: &'a [usize], y: Vec<u32> },
    /// The refit on every row: from the measured fit's counts when they fit, else counts them.
    From(Box<Counted>),
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
/// sets `settings.min_df` when it is automatic. Returns the builder and the counts to leave for
/// the refit ([`Reuse::Leave`], when a copy could be made).
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
) -> Result<(VocabularyBuilder, Option<Counted>)> {
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
        Reuse::From(c) => (Some(c), None),
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
    // Counts are left only if the refit (of the held-out texts too) will take them.
    let leave = leave.filter(|(held_out, _)| {
        reusable(counting, bytes + pipeline::text_bytes_of(text, held_out), seen_twice_from)
    });
    let builder = match (carried, shape) {
        (Some(counted), Some((k, presence))) => {
            let Counted { builder, held_out, held_out_y, .. } = *counted;
            #[cfg(test)]
            REUSED.with(|n| n.set(n.get() + 1));
            let added = Counting::ByClass { y: &held_out_y, k, presence };
            pipeline::count_onto(builder, tokenizer, text, &held_out, (lo, hi), added, control)?
        }
        _ => every_text(tokenizer, text, (rows, bytes), counting, settings, seen_twice_from, control)?,
    };
    if settings.min_df == AUTO_MIN_DF {
        settings.min_df = builder.auto_min_df();
    }
    // A copy the memory refuses is no error: the refit then counts every text.
    let left = leave.and_then(|(held_out, held_out_y)| {
        let copy = builder.try_clone().ok()?;
        Some(Counted {
            builder: copy,
            tokenizer: tokenizer.config().clone(),
            ngrams: (lo, hi),
            held_out: held_out.to_vec(),
            held_out_y,
        })
    });
    Ok((builder, left))
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
    seen_twice_from: usize,
    control: &Control<'_>,
) -> Result<VocabularyBuilder> {
    let (lo, hi) = (settings.ngrams.0 as usize, settings.ngrams.1 as usize);
    let auto = settings.min_df == AUTO_MIN_DF;
    let eligible = VocabularyBuilder::counts_pairs(lo, hi) && (auto || settings.min_df >= 2);
    let seen_twice = if eligible && bytes >= seen_twice_from {
        let seen = pipeline::mark_seen_twice(tokenizer, text, (rows, bytes), hi, control)?;
        (!auto || seen.distinct_at_least() > vectorize::LARGE_VOCABULARY).then(|| Arc::new(seen))
    } else {
        None
    };
    let mut builder =
        pipeline::count_terms(tokenizer, text, rows, (lo, hi), counting, seen_twice.as_ref(), control)?;
    if auto && seen_twice.is_some() && builder.auto_min_df() < 2 {
        // No term in two texts (so no word either): `min_df` 1 keeps every term, which
        // were not all counted.
        drop(builder);
        builder = pipeline::count_terms(tokenizer, text, rows, (lo, hi), counting, None, control)?;
    }
    Ok(builder)
}
