//! A map over `0..n` on two cores whose result does not depend on the threads.
//!
//! Used where the work is independent per element and read-only on the model: scoring held-out
//! rows, ranking users for the report. Each element is computed by the same code whichever
//! thread runs it, and the results come back in index order, so sums over them (taken by the
//! caller, in order) give the same bits as a loop on one thread. The calling thread ticks the
//! [`Control`] (its check may end the map with an error); the helper thread stops when the
//! control's stop flag is set.

use super::factors::with_simd;
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;
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
                run(c, &mut part);
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
                if c >= chunks {
                    return Ok(());
                }
                control.tick(chunk as u64 * work_each)?;
                let mut part = memory::with_capacity::<T>(chunk, what)?;
                run(c, &mut part);
                mine.push((c, part));
            }
        })();
        if outcome.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        if let Ok(helper) = helper {
            // The helper does not panic; were it to, its chunks are missing and redone below.
            let _ = helper.join();
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

    #[test]
    fn a_failing_check_ends_the_map() {
        let check = || Err(crate::Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(crate::models::control::CHECK_EVERY);
        let e = map(1_000_000, 1_000, &control, "test", |i| i).unwrap_err();
        assert_eq!(e.to_string(), "interrupted");
    }
}
