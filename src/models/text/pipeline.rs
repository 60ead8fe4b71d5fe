//! Tokenizing on a second core while the calling thread counts: training and evaluation over
//! many texts.
//!
//! Training is tokenize-then-count, one text after the other, and the two halves cost about the
//! same (jieba and the normaliser on one side, the vocabulary's hash table on the other). When
//! the machine has a second CPU and there are at least [`MIN_ROWS`] texts, a helper thread
//! tokenizes batches of [`BATCH`] texts while the calling thread counts the previous batch. The
//! texts are still counted in row order, so the model's bytes do not depend on the thread count.
//! The thread lives only for the duration of the call (a scoped thread, joined before
//! returning) and never touches SQLite: the texts were read before.
//!
//! Interruption: the calling thread ticks the training's [`Control`]; when its check fails, the
//! calling thread stops, and a helper stops at its next batch (it sees the channel closed or
//! the control's stop flag).

use super::tokenize::{Tokenizer, Tokens};
use super::{Scratch, cell_text, with_scratch};
use crate::models::control::Control;
use crate::models::data::Column;
use crate::{Error, Result};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Below this many texts, one thread does everything (a thread costs tens of microseconds).
pub(super) const MIN_ROWS: usize = 2048;
/// Texts per batch handed between the threads.
pub(super) const BATCH: usize = 256;

/// Whether a second thread is worth it for `rows` texts.
fn parallel(rows: usize) -> bool {
    rows >= MIN_ROWS && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1)
}

/// Calls `consume` with the tokens of each of `rows` of `text`, in row order (see the module
/// doc). The first unreadable cell (a blob) or error of `consume` ends it with that error.
pub(super) fn for_each_tokens(
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    consume: impl FnMut(&Tokens) -> Result<()>,
) -> Result<()> {
    if parallel(rows.len()) {
        threaded(tokenizer, text, rows, consume)
    } else {
        serial(tokenizer, text, rows, consume)
    }
}

fn serial(
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    mut consume: impl FnMut(&Tokens) -> Result<()>,
) -> Result<()> {
    let mut tokens = Tokens::default();
    for &r in rows {
        tokenizer.tokenize(&cell_text(text.get(r))?, &mut tokens);
        consume(&tokens)?;
    }
    Ok(())
}

fn threaded(
    tokenizer: &Tokenizer,
    text: &Column,
    rows: &[usize],
    mut consume: impl FnMut(&Tokens) -> Result<()>,
) -> Result<()> {
    // Set when the caller stops early: the helper stops within its batch (a batch of long
    // texts takes a good part of a second).
    let quit = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Two batches in flight at most; emptied batches go back to be refilled.
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Vec<Tokens>>>(2);
        let (empty_tx, empty_rx) = mpsc::channel::<Vec<Tokens>>();
        let quit_seen = &quit;
        let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
            for chunk in rows.chunks(BATCH) {
                let mut batch = empty_rx.try_recv().unwrap_or_default();
                batch.resize_with(chunk.len(), Tokens::default);
                let filled = batch.iter_mut().zip(chunk).try_for_each(|(tokens, &r)| {
                    if quit_seen.load(Ordering::Relaxed) {
                        return Err(Error::data("stopped with the calling thread"));
                    }
                    tokenizer.tokenize(&cell_text(text.get(r))?, tokens);
                    Ok(())
                });
                let failed = filled.is_err();
                // A closed channel means the caller stopped early: stop too.
                if full_tx.send(filled.map(|()| batch)).is_err() || failed {
                    return;
                }
            }
        });
        // No thread to be had: the same work on this one.
        let Ok(helper) = spawned else { return serial(tokenizer, text, rows, &mut consume) };
        let mut result = Ok(());
        // Leaving the loop drops the receiver, which stops the helper at its next batch.
        for batch in full_rx {
            match batch.and_then(|batch| {
                batch.iter().try_for_each(&mut consume)?;
                Ok(batch)
            }) {
                Ok(batch) => {
                    let _ = empty_tx.send(batch);
                }
                Err(e) => {
                    quit.store(true, Ordering::Relaxed);
                    result = Err(e);
                    break;
                }
            }
        }
        // Leaving the loop early: the helper stops at its next text, and its next send fails.
        drop(empty_tx);
        // The helper's own panic, not the scope's generic one.
        if let Err(panic) = helper.join() {
            std::panic::resume_unwind(panic);
        }
        result
    })
}

/// `score(text, scratch)` for each of `rows`, in row order, each call's output (`width` values
/// left in `scratch.scores`) appended to the result (allocated fallibly: its size comes from
/// the data); the second half of the rows is scored on a helper thread when
/// [`for_each_tokens`] would use one.
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
    let (first, second) = (0..n / 2, n / 2..n);
    let stop = control.stop_flag();
    let stopped = || Error::data("stopped with the calling thread");
    // Once the check failed, the rest stops at once (the first error is the one reported).
    let tick = |work: u64| if stop.load(Ordering::Relaxed) { Err(stopped()) } else { control.tick(work) };
    if !parallel(n) {
        return Ok((f(first, &tick), f(second, &tick)));
    }
    let helper_tick = |_: u64| if stop.load(Ordering::Relaxed) { Err(stopped()) } else { Ok(()) };
    std::thread::scope(|scope| {
        let f = &f;
        let helper_tick = &helper_tick;
        let helper = std::thread::Builder::new().spawn_scoped(scope, {
            let second = second.clone();
            move || f(second, helper_tick)
        });
        let a = f(first, &tick);
        let b = match helper {
            Ok(helper) => {
                // A failed check in the first half set the stop flag: the helper stops at its
                // next tick. Else the check keeps running while the helper finishes.
                let waited =
                    if stop.load(Ordering::Relaxed) { Ok(()) } else { control.wait(|| helper.is_finished()) };
                let b = helper.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
                waited?;
                b
            }
            Err(_) => f(second, &tick),
        };
        Ok((a, b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::ColumnData;
    use crate::models::text::tokenize::TokenizerConfig;

    fn tokenizer() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { stopwords: true, stem: true, ..TokenizerConfig::default() })
    }

    fn texts(n: usize) -> Column {
        let words = ["refund", "card", "blocked", "travelling", "酒店", "很好", "don't", "ＣＡＦÉ", "12.5"];
        let data = (0..n)
            .map(|i| {
                Some(
                    (0..(i % 7 + 1))
                        .map(|k| words[(i * 31 + k * 7) % words.len()])
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            })
            .collect();
        Column { name: "body".into(), data: ColumnData::Text(data) }
    }

    fn collect(rows: &[usize], col: &Column, threads: bool) -> Result<Vec<Vec<String>>> {
        let mut out = Vec::new();
        let t = tokenizer();
        let keep = |tokens: &Tokens| {
            out.push((0..tokens.len()).map(|i| tokens.get(i).to_string()).collect());
            Ok(())
        };
        if threads { threaded(&t, col, rows, keep) } else { serial(&t, col, rows, keep) }?;
        Ok(out)
    }

    #[test]
    fn threaded_tokens_arrive_in_row_order() {
        let col = texts(MIN_ROWS + BATCH / 2 + 3);
        let rows: Vec<usize> = (0..col.len()).rev().collect();
        assert_eq!(collect(&rows, &col, true).unwrap(), collect(&rows, &col, false).unwrap());
    }

    #[test]
    fn nulls_are_empty_texts_on_either_path() {
        let mut col = texts(3 * BATCH);
        if let ColumnData::Text(v) = &mut col.data {
            v[2 * BATCH + 5] = None;
        }
        let rows: Vec<usize> = (0..3 * BATCH).collect();
        let threaded = collect(&rows, &col, true).unwrap();
        assert_eq!(threaded, collect(&rows, &col, false).unwrap());
        assert_eq!(threaded[2 * BATCH + 5], Vec::<String>::new());
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

    /// A failing check ends either path; the helper thread stops too.
    #[test]
    fn a_failing_check_stops_both_threads() {
        let col = texts(4 * MIN_ROWS);
        let rows: Vec<usize> = (0..col.len()).collect();
        for threads in [false, true] {
            let mut seen = 0;
            let consume = |_: &Tokens| {
                seen += 1;
                if seen == 300 { Err(Error::data("interrupted")) } else { Ok(()) }
            };
            let t = tokenizer();
            let r =
                if threads { threaded(&t, &col, &rows, consume) } else { serial(&t, &col, &rows, consume) };
            assert_eq!(r.unwrap_err().to_string(), "interrupted");
            assert_eq!(seen, 300);
        }
        let check = || Err(Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let second_rows = std::sync::atomic::AtomicUsize::new(0);
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
}
