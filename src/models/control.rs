//! Stopping and watching a long training, without knowing SQLite.
//!
//! A [`Control`] travels with the training options ([`super::Common`]). Every long loop of the
//! trainers calls [`Control::tick`] with a rough count of the work it just did (one unit is
//! about one multiply-add or one byte of text); every [`WORK_PER_LOOK`] units the control looks
//! at the clock, and at most every [`CHECK_EVERY`] it calls the caller's check. The SQL layer's
//! check steps a nested statement, which fails once `sqlite3_interrupt` was called; the error
//! ends the training, and nothing is stored. A tick costs an addition and a comparison, and the
//! check never touches the arithmetic or the random streams, so the model bytes do not depend
//! on it.
//!
//! Only the calling thread calls the check: a [`Control`] is not `Sync`. Helper threads look at
//! [`Control::stop_flag`] instead, which the calling thread sets when its check fails.
//!
//! Progress: with a sink (the option `progress: true` or the environment variable
//! [`PROGRESS_ENV`] `=1` give the standard error), the trainers report each epoch (loss,
//! elapsed and estimated time left), at most one line per [`LINE_EVERY`] and always the last.

use crate::Result;
use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Held by the helper thread of [`Control::beside`]: when dropped (at the end of the helper's
/// work, or as its panic unwinds), sets the flag the waiting thread reads and unparks that
/// thread, so that its [`Control::wait`] ends then instead of at its next poll. Made on the
/// waiting thread ([`Finished::new`]) and moved into the helper.
struct Finished<'a> {
    flag: &'a AtomicBool,
    waiting: std::thread::Thread,
}

impl<'a> Finished<'a> {
    /// A signal that sets `flag` and wakes the calling thread.
    fn new(flag: &'a AtomicBool) -> Finished<'a> {
        Finished { flag, waiting: std::thread::current() }
    }
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.flag.store(true, Ordering::Release);
        self.waiting.unpark();
    }
}

/// Work units between two looks at the clock (a few hundred microseconds of training).
pub const WORK_PER_LOOK: u64 = 1 << 18;
/// The caller's check runs at most this often.
pub const CHECK_EVERY: Duration = Duration::from_millis(50);
/// Progress lines come at most this often (the last one always comes).
pub const LINE_EVERY: Duration = Duration::from_secs(1);
/// The environment variable that turns progress lines on (`1`) for every training.
pub const PROGRESS_ENV: &str = "SQLML_PROGRESS";

/// The caller's side of a training: an interrupt check and a progress sink, both optional.
pub struct Control<'a> {
    check: Option<&'a dyn Fn() -> Result<()>>,
    sink: Option<&'a dyn Fn(&str)>,
    label: String,
    work: Cell<u64>,
    last_check: Cell<Instant>,
    last_line: Cell<Instant>,
    stop: AtomicBool,
}

impl std::fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("check", &self.check.is_some())
            .field("progress", &self.sink.is_some())
            .field("label", &self.label)
            .finish()
    }
}

impl Default for Control<'_> {
    fn default() -> Self {
        Control::new()
    }
}

/// The progress sink of `progress: true`: one line on the standard error, `sqlml: ` first.
fn stderr_sink(line: &str) {
    let mut err = std::io::stderr().lock();
    // A closed standard error must not end the training.
    let _ = writeln!(err, "sqlml: {line}");
    let _ = err.flush();
}

impl<'a> Control<'a> {
    /// No check and no progress.
    pub fn new() -> Control<'a> {
        let now = Instant::now();
        Control {
            check: None,
            sink: None,
            label: String::new(),
            work: Cell::new(0),
            last_check: Cell::new(now),
            last_line: Cell::new(now),
            stop: AtomicBool::new(false),
        }
    }

    /// Calls `check` (at most every [`CHECK_EVERY`]); its error ends the training.
    pub fn with_check(mut self, check: &'a dyn Fn() -> Result<()>) -> Control<'a> {
        self.check = Some(check);
        self
    }

    /// Sends progress lines to `sink`.
    pub fn with_progress(mut self, sink: &'a dyn Fn(&str)) -> Control<'a> {
        self.sink = Some(sink);
        self
    }

    /// Sends progress lines to the standard error.
    pub fn with_progress_to_stderr(mut self) -> Control<'a> {
        self.sink = Some(&stderr_sink);
        self
    }

    /// Starts every progress line with `label` (e.g. the model being trained).
    pub fn with_label(mut self, label: impl Into<String>) -> Control<'a> {
        self.label = label.into();
        self
    }

    /// A control for a second phase of the same training (the refit on every row): the same
    /// check and progress sink, `phase` added to the label, the clocks started afresh.
    pub fn phase(&self, phase: &str) -> Control<'a> {
        let mut c = Control::new().with_label(format!("{}{phase}", self.label));
        c.check = self.check;
        c.sink = self.sink;
        c
    }

    /// Whether progress lines go anywhere.
    pub fn reports_progress(&self) -> bool {
        self.sink.is_some()
    }

    /// Counts `work` units done; every [`WORK_PER_LOOK`] units, looks at the clock and runs the
    /// check when [`CHECK_EVERY`] has passed. Calling thread only.
    #[inline]
    pub fn tick(&self, work: u64) -> Result<()> {
        let total = self.work.get().wrapping_add(work);
        if total < WORK_PER_LOOK {
            self.work.set(total);
            return Ok(());
        }
        self.work.set(0);
        self.look()
    }

    /// Runs the check now if [`CHECK_EVERY`] has passed since the last one (for the ends of
    /// epochs and other coarse steps).
    #[cold]
    #[inline(never)]
    pub fn look(&self) -> Result<()> {
        let Some(check) = self.check else { return Ok(()) };
        let now = Instant::now();
        if now.duration_since(self.last_check.get()) < CHECK_EVERY {
            return Ok(());
        }
        self.last_check.set(now);
        let result = check();
        if result.is_err() {
            self.stop.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Set once the check failed: helper threads poll it and stop early.
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// [`Control::beside`] of two different tasks, this thread ticking this control: `here`
    /// on this thread, `there` on the helper (with `two_cores`; else both here, in turn).
    pub(crate) fn both<A: Send, B: Send>(
        &self,
        what: &str,
        two_cores: bool,
        here: impl FnOnce(&dyn Fn(u64) -> Result<()>) -> A + Send,
        there: impl FnOnce(&dyn Fn(u64) -> Result<()>) -> B + Send,
    ) -> Result<(A, B)> {
        enum Done<A, B> {
            Here(A),
            There(B),
        }
        // `beside` calls each part once: each takes its task out.
        let (here, there) = (std::sync::Mutex::new(Some(here)), std::sync::Mutex::new(Some(there)));
        fn take<F>(m: &std::sync::Mutex<Option<F>>) -> Option<F> {
            m.lock().unwrap_or_else(|p| p.into_inner()).take()
        }
        let done = self.beside(what, two_cores, &|work| self.tick(work), |part, tick| match part {
            0 => take(&here).map(|f| Done::Here(f(tick))),
            _ => take(&there).map(|f| Done::There(f(tick))),
        })?;
        match done {
            (Some(Done::Here(a)), Some(Done::There(b))) => Ok((a, b)),
            _ => Err(crate::Error::Internal(format!("{what}: a part ran twice"))),
        }
    }

    /// Whether the machine has a second CPU for [`Control::beside`] and [`Control::both`].
    /// Asked once per process: `available_parallelism` reads the scheduler affinity and the
    /// cgroup's CPU quota each time (about 20 system calls, 8 µs here), and the text pipeline
    /// asks for every batch of texts it splits.
    pub(crate) fn second_cpu() -> bool {
        static SECOND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *SECOND.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
    }

    /// Runs `part(0, tick)` on this thread and `part(1, tick)` on a helper thread at the same
    /// time, and returns both results (without `two_cores`, or when no thread can be spawned,
    /// part 1 runs here after part 0). This thread's tick is `caller_tick`; once the check has
    /// failed (the stop flag), every tick fails, so the helper, or part 1 here, stops at its
    /// next one. While the helper finishes, this thread keeps running the check
    /// ([`Control::wait`], woken as soon as the helper is done), unless it already failed. A
    /// panic of part 0 sets the stop flag and goes on once the helper is joined; a panic of the
    /// helper is an internal error naming `what`.
    pub(crate) fn beside<T: Send>(
        &self,
        what: &str,
        two_cores: bool,
        caller_tick: &dyn Fn(u64) -> Result<()>,
        part: impl Fn(usize, &dyn Fn(u64) -> Result<()>) -> T + Sync,
    ) -> Result<(T, T)> {
        let stop = &self.stop;
        let stopped = || crate::Error::data("stopped with the calling thread");
        let tick = |work: u64| if stop.load(Ordering::Relaxed) { Err(stopped()) } else { caller_tick(work) };
        if !two_cores {
            return Ok((part(0, &tick), part(1, &tick)));
        }
        let helper_tick = |_: u64| if stop.load(Ordering::Relaxed) { Err(stopped()) } else { Ok(()) };
        let finished = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let (part, helper_tick, done) = (&part, &helper_tick, Finished::new(&finished));
            let helper = std::thread::Builder::new().spawn_scoped(scope, move || {
                let _done = done;
                part(1, helper_tick)
            });
            let a = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| part(0, &tick))) {
                Ok(a) => a,
                Err(p) => {
                    // The helper stops at its next tick; the scope joins it.
                    stop.store(true, Ordering::Relaxed);
                    std::panic::resume_unwind(p)
                }
            };
            let b = match helper {
                Ok(helper) => {
                    let waited = if stop.load(Ordering::Relaxed) {
                        Ok(())
                    } else {
                        self.wait(|| finished.load(Ordering::Acquire))
                    };
                    let b = helper.join().map_err(|p| crate::Error::panicked(what, p))?;
                    waited?;
                    b
                }
                Err(_) => part(1, &tick),
            };
            Ok((a, b))
        })
    }

    /// Waits until `done()` is true (a helper thread finishing), running the check meanwhile
    /// (every millisecond, or as soon as the thread is unparked: see `Finished`); on its
    /// error, sets [`Control::stop_flag`] (the helper sees it) and keeps waiting, then returns
    /// the error.
    pub fn wait(&self, done: impl Fn() -> bool) -> Result<()> {
        let mut outcome = Ok(());
        while !done() {
            if outcome.is_ok() {
                outcome = self.look();
            }
            // A helper unparks this thread when it is done (`Finished`).
            std::thread::park_timeout(Duration::from_millis(1));
        }
        outcome
    }

    /// Reports step `done` of `total` (an epoch, an iteration, a batch of texts) of a loop that
    /// began at `started`: `describe()` gives the step's figures, the control adds the time
    /// elapsed and the time left. At most one line per [`LINE_EVERY`]; the last step always
    /// gets its line.
    pub fn progress(&self, done: usize, total: usize, started: Instant, describe: impl FnOnce() -> String) {
        let Some(sink) = self.sink else { return };
        let now = Instant::now();
        let last = done >= total;
        if !last && now.duration_since(self.last_line.get()) < LINE_EVERY {
            return;
        }
        self.last_line.set(now);
        let elapsed = now.duration_since(started).as_secs_f64();
        let timing = if last {
            format!("{} in all", show_seconds(elapsed))
        } else {
            let left = elapsed / done.max(1) as f64 * (total - done) as f64;
            format!("{} elapsed, about {} left", show_seconds(elapsed), show_seconds(left))
        };
        sink(&format!("{}{}; {timing}", self.label, describe()));
    }
}

/// A duration for people: `0.4 s`, `12.3 s`, `4 min 05 s`, `2 h 07 min`.
pub fn show_seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "?".into();
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let whole = s.round() as u64;
    if whole < 3600 {
        return format!("{} min {:02} s", whole / 60, whole % 60);
    }
    format!("{} h {:02} min", whole / 3600, (whole % 3600) / 60)
}

/// Whether [`PROGRESS_ENV`] asks for progress lines: unset, empty or `0` is no, `1` is yes;
/// anything else is an error naming the variable.
pub fn progress_from_env() -> Result<bool> {
    match std::env::var(PROGRESS_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(false),
        Ok(v) if matches!(v.trim(), "" | "0") => Ok(false),
        Ok(v) if v.trim() == "1" => Ok(true),
        Ok(v) => Err(crate::Error::argument(format!(
            "environment variable {PROGRESS_ENV} must be 0 or 1, got '{}'",
            crate::error::clip(&v)
        ))),
        Err(std::env::VarError::NotUnicode(_)) => Err(crate::Error::argument(format!(
            "environment variable {PROGRESS_ENV} must be 0 or 1, got non-UTF-8 text"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use std::cell::RefCell;

    /// `beside` runs both parts, the second on another thread, and keeps running the check
    /// while it finishes; the helper's `Finished` ends that wait when the helper returns and
    /// when it panics (without it the wait would never end), and the panic is an error naming
    /// the helper.
    #[test]
    fn beside_waits_for_the_helper_even_when_it_panics() {
        for panics in [false, true] {
            let looks = Cell::new(0);
            let check = || {
                looks.set(looks.get() + 1);
                Ok(())
            };
            let control = Control::new().with_check(&check);
            let here = std::thread::current().id();
            let got = control.beside("the test helper", true, &|_| Ok(()), |part, _| {
                if part == 1 {
                    std::thread::sleep(CHECK_EVERY * 3);
                    assert!(!panics, "the helper's panic");
                    assert_ne!(std::thread::current().id(), here, "part 1 on a helper");
                }
                part
            });
            match got {
                Ok(parts) => assert!(!panics && parts == (0, 1), "{parts:?}"),
                Err(e) => assert!(panics && e.to_string().contains("the test helper"), "{e}"),
            }
            assert!(looks.get() >= 1, "the check ran while waiting");
        }
    }

    /// `both` runs its two tasks (of different types) once each: the first here, the second on
    /// a helper with two cores, both here one after the other without; a helper's panic is an
    /// error naming it.
    #[test]
    fn both_runs_each_task_once_where_asked() {
        let here = std::thread::current().id();
        for two in [true, false] {
            let control = Control::new();
            let (a, b) = control
                .both(
                    "the test helper",
                    two,
                    |_| std::thread::current().id(),
                    |_| (std::thread::current().id(), "there"),
                )
                .unwrap();
            assert_eq!(a, here);
            assert_eq!((b.0 == here, b.1), (!two, "there"));
        }
        let control = Control::new();
        let e = control.both("the test helper", true, |_| 1, |_| -> u8 { panic!("boom") });
        assert!(e.is_err_and(|e| e.to_string().contains("the test helper")));
    }

    /// The answer kept for the process is the standard library's.
    #[test]
    fn second_cpu_is_what_the_system_says() {
        let system = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
        assert_eq!((Control::second_cpu(), Control::second_cpu()), (system, system));
    }

    #[test]
    fn ticks_call_the_check_only_after_enough_work_and_time() {
        let calls = Cell::new(0);
        let check = || {
            calls.set(calls.get() + 1);
            if calls.get() >= 2 { Err(Error::data("interrupted")) } else { Ok(()) }
        };
        let c = Control::new().with_check(&check);
        // Little work: no look at the clock at all.
        for _ in 0..1000 {
            c.tick(1).unwrap();
        }
        assert_eq!(calls.get(), 0);
        // Enough work, but the first CHECK_EVERY has not passed.
        c.last_check.set(Instant::now());
        c.tick(WORK_PER_LOOK).unwrap();
        assert_eq!(calls.get(), 0);
        std::thread::sleep(CHECK_EVERY);
        c.tick(WORK_PER_LOOK).unwrap();
        assert_eq!(calls.get(), 1);
        assert!(!c.stop_flag().load(Ordering::Relaxed));
        std::thread::sleep(CHECK_EVERY);
        assert_eq!(c.tick(WORK_PER_LOOK).unwrap_err().to_string(), "interrupted");
        assert!(c.stop_flag().load(Ordering::Relaxed));
        // No check: ticks are free.
        Control::new().tick(u64::MAX).unwrap();
    }

    #[test]
    fn progress_lines_are_throttled_and_the_last_always_comes() {
        let lines = RefCell::new(Vec::new());
        let sink = |l: &str| lines.borrow_mut().push(l.to_string());
        let c = Control::new().with_progress(&sink).with_label("m: ");
        let start = Instant::now();
        for epoch in 1..=5 {
            c.progress(epoch, 5, start, || format!("epoch {epoch}/5"));
        }
        let got = lines.borrow().clone();
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].starts_with("m: epoch 5/5; ") && got[0].ends_with(" s in all"), "{got:?}");
        c.last_line.set(Instant::now() - LINE_EVERY);
        c.progress(1, 4, start - Duration::from_secs(10), || "epoch 1/4".into());
        let line = lines.borrow()[1].clone();
        assert!(line.starts_with("m: epoch 1/4; 10.0 s elapsed, about 30.0 s left"), "{line}");
        // Off: the description is not even built.
        Control::new().progress(1, 1, start, || unreachable!());
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(show_seconds(0.04), "0.0 s");
        assert_eq!(show_seconds(12.34), "12.3 s");
        assert_eq!(show_seconds(245.0), "4 min 05 s");
        assert_eq!(show_seconds(7650.0), "2 h 07 min");
        assert_eq!(show_seconds(f64::INFINITY), "?");
    }

    #[test]
    fn waiting_runs_the_check() {
        let calls = Cell::new(0);
        let check = || {
            calls.set(calls.get() + 1);
            Err(Error::data("interrupted"))
        };
        let c = Control::new().with_check(&check);
        c.last_check.set(Instant::now() - CHECK_EVERY);
        let done_at = Instant::now() + Duration::from_millis(30);
        let e = c.wait(|| Instant::now() >= done_at).unwrap_err();
        assert_eq!((e.to_string(), calls.get()), ("interrupted".to_string(), 1));
        assert!(c.stop_flag().load(Ordering::Relaxed));
    }
}
