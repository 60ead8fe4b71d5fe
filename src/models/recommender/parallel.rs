//! A map over `0..n` on two cores whose result does not depend on the threads.
//!
//! Used where the work is independent per element and read-only on the model: scoring held-out
//! rows, ranking users for the report. Each element is computed by the same code whichever
//! thread runs it, and the results come back in index order, so sums over them (taken by the
//! caller, in order) give the same bits as a loop on one thread. The calling thread ticks the
//! [`Control`] (its check may end the map with an error); the helper thread stops when the
//! control's stop flag is set.
//!
//! A panic in `f` (a bug: `f` is the caller's code) never leaves the map: on either thread it is
//! caught and becomes an [`crate::Error::Internal`], after the other thread stopped.

use super::factors::with_simd;
use crate::models::control::Control;
use crate::models::memory;
use crate::{Error, Result};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this much work (units of [`Control::tick`], about one multiply-add each: a
/// millisecond or two) one thread does it all. Starting a thread costs tens of microseconds,
/// but on a loaded machine the join can wait a whole scheduler slice for a helper that was
/// preempted inside its chunk: only work well above that is worth splitting.
const PARALLEL_ABOVE: u64 = 1 << 22;

/// Elements per chunk handed out (at most); chunks go to whichever thread is free, so a loaded
/// core does not hold the other back.
const CHUNK_WORK: u64 = 1 << 18;

/// `(0..n).map(f)` collected in order, `f` compiled for AVX2 where the CPU has it
/// ([`with_simd`]; give `f` the `#[inline(always)]` attribute), on two threads when `n × work_each` is large. `what` names the result in
/// an allocation failure.
pub fn map<T: Send>(
    n: usize,
    work_each: u64,
    control: &Control<'_>,
    what: &str,
    f: impl Fn(usize) -> T + Sync,
) -> Result<Vec<T>> {
    // A panic of `f` on the calling thread (the helper's is caught at its join) becomes an
    // error here, after the scope joined the helper; the stop flag ends the helper early.
    std::panic::catch_unwind(AssertUnwindSafe(|| map_inner(n, work_each, control, what, &f))).unwrap_or_else(
        |p| {
            control.stop_flag().store(true, Ordering::Relaxed);
            Err(Error::panicked(&format!("the map computing {what}"), p))
        },
    )
}

fn map_inner<T: Send>(
    n: usize,
    work_each: u64,
    control: &Control<'_>,
    what: &str,
    f: &(impl Fn(usize) -> T + Sync),
) -> Result<Vec<T>> {
    let mut out = memory::with_capacity::<T>(n, what)?;
    let work_each = work_each.max(1);
    let chunk = (CHUNK_WORK / work_each).clamp(1, n.max(1) as u64) as usize;
    let chunks = n.div_ceil(chunk);
    let run = |c: usize, into: &mut Vec<T>| {
        let range = c * chunk..((c + 1) * chunk).min(n);
        with_simd(
            #[inline(always)]
            || {
                for i in range {
                    into.push(f(i));
                }
            },
        );
    };
    if (n as u64).saturating_mul(work_each) < PARALLEL_ABOVE || chunks < 2 {
        for c in 0..chunks {
            control.tick(chunk as u64 * work_each)?;
            run(c, &mut out);
        }
        return Ok(out);
    }
    let next = AtomicUsize::new(0);
    let helper_done: Mutex<Vec<(usize, Vec<T>)>> = Mutex::new(Vec::new());
    let stop = control.stop_flag();
    let mine = std::thread::scope(|scope| -> Result<Vec<(usize, Vec<T>)>> {
        let helper = std::thread::Builder::new().name("sqlml-map".into()).spawn_scoped(scope, || {
            let mut done = Vec::new();
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks || stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut part = Vec::new();
                if part.try_reserve_exact(chunk).is_err() {
                    // Left to the calling thread, which reports the failure.
                    break;
                }
                // Stop the calling thread early when `f` panics here; the join reports it.
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| run(c, &mut part)));
                if let Err(p) = ran {
                    stop.store(true, Ordering::Relaxed);
                    std::panic::resume_unwind(p);
                }
                done.push((c, part));
            }
            if let Ok(mut slot) = helper_done.lock() {
                *slot = done;
            }
        });
        let mut mine = Vec::new();
        let outcome = (|| {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                // (The stop flag set by the helper: its panic, reported at the join.)
                if c >= chunks || stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                control.tick(chunk as u64 * work_each)?;
                let mut part = memory::with_capacity::<T>(chunk, what)?;
                // Stop the helper at once when `f` panics here (the panic goes on to `map`).
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| run(c, &mut part)));
                if let Err(p) = ran {
                    stop.store(true, Ordering::Relaxed);
                    std::panic::resume_unwind(p);
                }
                mine.push((c, part));
            }
        })();
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        if let Ok(helper) = helper {
            // A panic of `f` on the helper: the same `f` would panic again if its chunks were
            // redone here, so it is the error (joined by hand, the scope does not raise it).
            if let Err(p) = helper.join() {
                return Err(Error::panicked(&format!("the helper thread computing {what}"), p));
            }
        }
        outcome.map(|()| mine)
    })?;
    let mut parts = mine;
    parts.extend(helper_done.into_inner().unwrap_or_default());
    parts.sort_unstable_by_key(|p| p.0);
    // Chunks a stopped or failed helper left undone, in order.
    let mut expected = 0;
    for (c, part) in parts {
        while expected < c {
            control.tick(chunk as u64 * work_each)?;
            run(expected, &mut out);
            expected += 1;
        }
        out.extend(part);
        expected = c + 1;
    }
    while expected < chunks {
        control.tick(chunk as u64 * work_each)?;
        run(expected, &mut out);
        expected += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_values_in_order_whatever_the_split() {
        for (n, work) in [(0, 1), (1, 1), (10, 1), (5_000, 1_000), (100_003, 37), (300_001, 29)] {
            let got = map(n, work, &Control::new(), "test", |i| (i as f64).sqrt() * 3.0).unwrap();
            let want: Vec<f64> = (0..n).map(|i| (i as f64).sqrt() * 3.0).collect();
            assert_eq!(got, want, "n {n}");
        }
    }

    /// A panic of `f`, on the helper thread or on the calling one, is an internal error, not
    /// a panic of the caller (before: the helper's chunks were redone on the calling thread,
    /// which panicked in its turn).
    #[test]
    fn a_panic_in_f_is_an_internal_error() {
        let n = 1_000_000;
        for on_helper in [true, false] {
            let panics_here = |i: usize| {
                let helper = std::thread::current().name() == Some("sqlml-map");
                if helper == on_helper && (on_helper || i % 1000 == 7) {
                    panic!("boom at {i}");
                }
                if on_helper && i.is_multiple_of(100) {
                    // Leaves chunks to the helper however late it starts.
                    std::thread::sleep(std::time::Duration::from_micros(10));
                }
                i
            };
            let got = std::panic::catch_unwind(AssertUnwindSafe(|| {
                map(n, 1_000, &Control::new(), "the test", panics_here)
            }));
            let e = got.expect("no panic leaves the map").unwrap_err();
            assert!(matches!(e, Error::Internal(_)), "{e}");
            assert!(e.to_string().contains("panicked: boom at"), "{e}");
        }
        // One thread (little work): the same error.
        let e = map(10, 1, &Control::new(), "the test", |i| if i == 3 { panic!("three") } else { i })
            .unwrap_err();
        assert!(
            e.to_string().starts_with("internal error: the map computing the test panicked: three"),
            "{e}"
        );
    }

    #[test]
    fn a_failing_check_ends_the_map() {
        let check = || Err(crate::Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let e = map(1_000_000, 1_000, &control, "test", |i| i).unwrap_err();
        assert_eq!(e.to_string(), "interrupted");
    }
}
