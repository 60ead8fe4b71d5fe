//! The starting factors of SVD and SVD++: exactly the draws Surprise makes for the same seed.
//!
//! Surprise's `SVD(random_state=seed)` starts from `numpy.random.RandomState(seed).normal(
//! init_mean, init_std_dev, ...)`: first a matrix for the users, then one for the items (and one
//! more for SVD++'s implicit factors), rows in the order each id first appears in the training
//! ratings. This module reproduces those draws bit for bit: Mersenne Twister MT19937 seeded as
//! numpy's legacy `RandomState` seeds it ([`Mt19937`]), numpy's legacy 53-bit doubles and its
//! polar (Marsaglia) normal method, which hands out the second value of each pair next.
//!
//! Why copy Surprise's start: the 5-fold RMSE of this model moves by about ±0.0013 with the start
//! alone, so only the same start shows whether two implementations compute the same thing. With
//! it, `seed: 42` on the same rows gives Surprise's `random_state=42` model up to f32 rounding
//! and the visiting order (`examples/svd_same_init.rs`: every fold's RMSE within 3e-4). The
//! seed's low 32 bits are used, as `RandomState` accepts only 32-bit seeds.

use super::factors::Factors;
use super::params::Algorithm;
use super::ratings::Triple;
use crate::models::control::Control;
use crate::models::memory;
use crate::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Mersenne Twister MT19937 (Matsumoto and Nishimura's reference `genrand_int32`, seeded by
/// `init_genrand` as numpy's `RandomState(seed)` seeds it): the same words as the `rand_mt`
/// crate (a test compares them), made a block of 624 at a time. The state is twisted eight
/// words at a time and the whole block tempered in one loop, which the compiler turns into
/// vector instructions; one word then costs a load. (`rand_mt` twists and tempers one word per
/// call: its words were a third of the starting factors' time.)
pub struct Mt19937 {
    state: [u32; MT_N],
    /// The tempered words of the current block.
    out: [u32; MT_N],
    /// The next word of `out`; `MT_N` when the block is used up.
    next: usize,
}

const MT_N: usize = 624;
const MT_M: usize = 397;
const MT_LANES: usize = 8;

impl Mt19937 {
    /// The generator seeded by `init_genrand(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut state = [0u32; MT_N];
        state[0] = seed;
        for i in 1..MT_N {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, out: [0; MT_N], next: MT_N }
    }

    /// The next 32-bit word.
    #[inline(always)]
    pub fn next_u32(&mut self) -> u32 {
        if self.next >= MT_N {
            self.refill();
        }
        let x = self.out[self.next];
        self.next += 1;
        x
    }

    /// One twist of the state (the reference's loop, eight words at a time where the words it
    /// reads are all old or all new), then the tempered block.
    fn refill(&mut self) {
        #[inline(always)]
        fn twist(y: u32, y1: u32, ym: u32) -> u32 {
            let x = (y & 0x8000_0000) | (y1 & 0x7fff_ffff);
            ym ^ (x >> 1) ^ ((x & 1).wrapping_neg() & 0x9908_b0df)
        }
        let s = &mut self.state;
        // Word i reads words i + 1 (not yet rewritten) and i + M (old for i < N - M, rewritten
        // for i ≥ N - M: i + M - N, at least 227 words back); eight words at once read the
        // same values as one at a time.
        let mut i = 0;
        while i + MT_LANES <= MT_N - MT_M {
            let w: [u32; MT_LANES] = std::array::from_fn(|l| twist(s[i + l], s[i + l + 1], s[i + l + MT_M]));
            s[i..i + MT_LANES].copy_from_slice(&w);
            i += MT_LANES;
        }
        while i < MT_N - MT_M {
            s[i] = twist(s[i], s[i + 1], s[i + MT_M]);
            i += 1;
        }
        while i + MT_LANES < MT_N {
            let w: [u32; MT_LANES] =
                std::array::from_fn(|l| twist(s[i + l], s[i + l + 1], s[i + l + MT_M - MT_N]));
            s[i..i + MT_LANES].copy_from_slice(&w);
            i += MT_LANES;
        }
        while i < MT_N - 1 {
            s[i] = twist(s[i], s[i + 1], s[i + MT_M - MT_N]);
            i += 1;
        }
        s[MT_N - 1] = twist(s[MT_N - 1], s[0], s[MT_M - 1]);
        for (o, &y) in self.out.iter_mut().zip(s.iter()) {
            let mut x = y;
            x ^= x >> 11;
            x ^= (x << 7) & 0x9d2c_5680;
            x ^= (x << 15) & 0xefc6_0000;
            x ^= x >> 18;
            *o = x;
        }
        self.next = 0;
    }
}

/// numpy's legacy `RandomState.normal` stream.
pub struct NumpyNormal {
    mt: Mt19937,
    spare: Option<f64>,
    /// Draws already made ([`DrawsAhead`]): the next ones of the stream, handed out from
    /// `taken` on before `mt` is asked (and `spare` is then `None`).
    ahead: Vec<f64>,
    taken: usize,
}

impl NumpyNormal {
    /// The stream of `RandomState(seed & 0xffff_ffff)`.
    pub fn new(seed: u64) -> Self {
        NumpyNormal { mt: Mt19937::new(seed as u32), spare: None, ahead: Vec::new(), taken: 0 }
    }

    /// The stream of [`Self::new`]`(seed)`, its first draws (up to `max`) made on a second
    /// thread while the caller does something else (the recommender reads its rows into ids
    /// meanwhile); [`DrawsAhead::finish`] hands the stream over.
    pub fn ahead(seed: u64, max: usize) -> DrawsAhead {
        let limit = Arc::new(AtomicUsize::new(max));
        let wanted = Arc::clone(&limit);
        let worker = std::thread::Builder::new().name("sqlml-init".into()).spawn(move || {
            let mut normal = NumpyNormal::new(seed);
            let mut draws = Vec::new();
            loop {
                let most = wanted.load(Ordering::Relaxed);
                if draws.len() + 2 > most {
                    break;
                }
                let pairs = AHEAD_PAIRS.min((most - draws.len()) / 2);
                if draws.try_reserve_exact(2 * pairs).is_err() {
                    break;
                }
                for _ in 0..pairs {
                    // As `Sink::pair` puts them: `f·x2`, then `f·x1`.
                    let (x1, x2, r2) = normal.accepted_pair();
                    let f = polar_factor(r2);
                    draws.push(f * x2);
                    draws.push(f * x1);
                }
            }
            normal.ahead = draws;
            normal
        });
        DrawsAhead { seed, limit, worker: worker.ok() }
    }

    /// The next draw made ahead, if any is left (the buffer is freed with the last).
    #[inline]
    fn take_ahead(&mut self) -> Option<f64> {
        let g = *self.ahead.get(self.taken)?;
        self.taken += 1;
        if self.taken == self.ahead.len() {
            self.ahead = Vec::new();
            self.taken = 0;
        }
        Some(g)
    }

    /// numpy's `legacy_double`: 53 random bits from two 32-bit draws, in [0, 1).
    fn double(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// numpy's `legacy_gauss`: one N(0, 1) draw by the polar method.
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.take_ahead() {
            return g;
        }
        if let Some(g) = self.spare.take() {
            return g;
        }
        let (x1, x2, r2) = self.accepted_pair();
        let f = polar_factor(r2);
        self.spare = Some(f * x1);
        f * x2
    }

    /// The next point of the polar method's rejection loop: uniform in the unit disc but for
    /// its centre. numpy turns it into the pair `f·x2, f·x1` ([`polar_factor`]).
    #[inline]
    fn accepted_pair(&mut self) -> (f64, f64, f64) {
        loop {
            let x1 = 2.0 * self.double() - 1.0;
            let x2 = 2.0 * self.double() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                return (x1, x2, r2);
            }
        }
    }

    /// A factor matrix of `order.len()` rows drawn as `normal(mean, std_dev, (rows, k))`, row `n`
    /// of the draws becoming row `order[n]`.
    ///
    /// The same draws as [`Self::gauss`] one by one, but from `PIPELINE_PAIRS` pairs on, on
    /// two threads: a second thread runs the Mersenne Twister and the rejection loop, this one
    /// the logarithm, square root and division of each accepted pair and the stores (about
    /// half the work each). Each value comes from the same operations either way, so the bits
    /// are the same; if the second thread cannot be started, this one does it all.
    ///
    /// The matrix is allocated fallibly (its size comes from the data, checked against the
    /// budget by the caller); a panic of the second thread is an [`Error::Internal`] (its
    /// draws are lost with it, so this thread could not go on with the same stream). This
    /// thread ticks `control` (a matrix of gigabytes takes seconds); its error ends the draws
    /// and the second thread with them.
    pub fn factors(
        &mut self,
        order: &[u32],
        k: usize,
        mean: f64,
        std_dev: f64,
        control: &Control<'_>,
    ) -> Result<Factors> {
        let mut m = Factors::try_zeros(order.len(), k)?;
        let mut sink = Sink { data: &mut m.data, order, k, stride: m.stride, row: 0, col: 0, mean, std_dev };
        let mut left = order.len() * k;
        if left == 0 {
            return Ok(m);
        }
        if !self.ahead.is_empty() {
            control.tick(TICK_PER_CHUNK)?;
        }
        // The draws made ahead, a row's run at a time.
        let n = left.min(self.ahead.len() - self.taken);
        sink.put_all(&self.ahead[self.taken..self.taken + n]);
        left -= n;
        self.taken += n;
        if self.taken == self.ahead.len() {
            self.ahead = Vec::new();
            self.taken = 0;
        }
        if left == 0 {
            return Ok(m);
        }
        if let Some(g) = self.spare.take() {
            sink.put(g);
            left -= 1;
        }
        let pairs = left / 2;
        let done =
            if pairs >= PIPELINE_PAIRS { self.pairs_on_two_threads(pairs, &mut sink, control)? } else { 0 };
        for n in done..pairs {
            if n % CHUNK_PAIRS == 0 {
                control.tick(TICK_PER_CHUNK)?;
            }
            sink.pair(self.accepted_pair());
        }
        if left % 2 == 1 {
            let (x1, x2, r2) = self.accepted_pair();
            let f = polar_factor(r2);
            sink.put(f * x2);
            self.spare = Some(f * x1);
        }
        Ok(m)
    }

    /// Puts up to `pairs` pairs into `sink`, their points drawn on a second thread; returns
    /// how many (0 when that thread cannot be started); its panic is an error.
    fn pairs_on_two_threads(
        &mut self,
        pairs: usize,
        sink: &mut Sink<'_>,
        control: &Control<'_>,
    ) -> Result<usize> {
        use std::sync::mpsc::sync_channel;
        let (full_tx, full_rx) = sync_channel::<Vec<(f64, f64, f64)>>(CHUNKS_IN_FLIGHT);
        let (empty_tx, empty_rx) = sync_channel::<Vec<(f64, f64, f64)>>(CHUNKS_IN_FLIGHT + 2);
        let this = &mut *self;
        std::thread::scope(|scope| {
            let worker =
                std::thread::Builder::new().name("sqlml-init".into()).spawn_scoped(scope, move || {
                    let mut left = pairs;
                    while left > 0 {
                        let n = left.min(CHUNK_PAIRS);
                        let mut chunk =
                            empty_rx.try_recv().unwrap_or_else(|_| Vec::with_capacity(CHUNK_PAIRS));
                        chunk.clear();
                        chunk.extend((0..n).map(|_| this.accepted_pair()));
                        left -= n;
                        if full_tx.send(chunk).is_err() {
                            return;
                        }
                    }
                });
            let Ok(worker) = worker else { return Ok(0) };
            let mut done = 0;
            let mut ticked = Ok(());
            for chunk in full_rx.iter() {
                ticked = control.tick(TICK_PER_CHUNK);
                if ticked.is_err() {
                    break;
                }
                for &point in &chunk {
                    sink.pair(point);
                }
                done += chunk.len();
                // The worker may have finished and dropped its receiver.
                let _ = empty_tx.send(chunk);
            }
            // Joined here so that a panic of the worker (it has none but a bug) is not raised
            // again by the scope. It is an error: the generator advanced past draws that were
            // lost with the worker, so drawing the rest here would give other factors.
            // On an error the worker's next send fails and it returns.
            drop(full_rx);
            worker.join().map_err(|p| Error::panicked("the thread drawing the starting factors", p))?;
            ticked.map(|()| done)
        })
    }
}

/// The number of draws the starting factors of `algorithm` take for `users` users and `items`
/// items of `n_factors` factors: the user and item factors (SVD++ also the implicit item
/// factors), in that order; none for ALS, which draws otherwise.
pub fn draws_taken(algorithm: Algorithm, users: usize, items: usize, n_factors: usize) -> usize {
    let rows = match algorithm {
        Algorithm::Svd => users.saturating_add(items),
        Algorithm::SvdPp => users.saturating_add(items.saturating_mul(2)),
        Algorithm::Als => 0,
    };
    rows.saturating_mul(n_factors)
}

/// The first draws of a [`NumpyNormal`] stream, being made on a second thread
/// ([`NumpyNormal::ahead`]).
pub struct DrawsAhead {
    seed: u64,
    /// The most draws the thread makes: lowered by [`DrawsAhead::enough`], 0 to stop.
    limit: Arc<AtomicUsize>,
    worker: Option<std::thread::JoinHandle<NumpyNormal>>,
}

impl DrawsAhead {
    /// The seed of the stream being drawn.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Tells the drawing thread that `draws` draws are all the fit takes (once the users and
    /// items are counted): it stops there (within 1,024 pairs) instead of at the most it was
    /// given, and leaves the second core to the preparation of the rows. Draws it already
    /// made beyond them are kept and unused.
    pub fn enough(&self, draws: usize) {
        self.limit.fetch_min(draws, Ordering::Relaxed);
    }

    /// Stops the drawing thread (within 1,024 pairs) and returns the stream with the
    /// draws it made: the same stream as `NumpyNormal::new(seed)`. If the thread could not be
    /// started or panicked, that fresh stream (its draws were its own: nothing is lost).
    pub fn finish(mut self) -> NumpyNormal {
        self.limit.store(0, Ordering::Relaxed);
        self.worker.take().and_then(|w| w.join().ok()).unwrap_or_else(|| NumpyNormal::new(self.seed))
    }
}

impl Drop for DrawsAhead {
    /// Stops and joins the thread when the stream is not wanted (an error before the start).
    fn drop(&mut self) {
        self.limit.store(0, Ordering::Relaxed);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// Pairs drawn ahead between two looks at the stop flag.
const AHEAD_PAIRS: usize = 1024;

/// Work units of [`Control::tick`] per chunk of pairs (about eight operations a pair).
const TICK_PER_CHUNK: u64 = 8 * CHUNK_PAIRS as u64;

/// Accepted pairs per chunk handed from the drawing thread, and chunks queued at most.
const CHUNK_PAIRS: usize = 4096;
const CHUNKS_IN_FLIGHT: usize = 4;
/// From this many pairs on (a 100-factor matrix of 1,311 rows), [`NumpyNormal::factors`]
/// uses two threads.
const PIPELINE_PAIRS: usize = 1 << 16;

/// numpy's factor `sqrt(-2 ln r² / r²)` of the polar method.
#[inline]
fn polar_factor(r2: f64) -> f64 {
    (-2.0 * r2.ln() / r2).sqrt()
}

/// Where the `n`-th draw of a factor matrix goes: row `order[n / k]`, column `n % k`.
struct Sink<'a> {
    data: &'a mut [f32],
    order: &'a [u32],
    k: usize,
    stride: usize,
    row: usize,
    col: usize,
    mean: f64,
    std_dev: f64,
}

impl Sink<'_> {
    /// The pair of draws of an accepted point, in numpy's order: `f·x2`, then `f·x1`.
    #[inline]
    fn pair(&mut self, (x1, x2, r2): (f64, f64, f64)) {
        let f = polar_factor(r2);
        self.put(f * x2);
        self.put(f * x1);
    }

    /// [`Sink::put`] of each of `draws` (at most what is left of the matrix), a row's run
    /// at a time.
    fn put_all(&mut self, mut draws: &[f64]) {
        while !draws.is_empty() {
            let at = self.order[self.row] as usize * self.stride + self.col;
            let n = (self.k - self.col).min(draws.len());
            for (x, &g) in self.data[at..at + n].iter_mut().zip(&draws[..n]) {
                *x = (self.mean + self.std_dev * g) as f32;
            }
            draws = &draws[n..];
            self.col += n;
            if self.col == self.k {
                self.col = 0;
                self.row += 1;
            }
        }
    }

    #[inline]
    fn put(&mut self, g: f64) {
        let at = self.order[self.row] as usize * self.stride + self.col;
        self.data[at] = (self.mean + self.std_dev * g) as f32;
        self.col += 1;
        if self.col == self.k {
            self.col = 0;
            self.row += 1;
        }
    }
}

/// The dense users and items in the order they first appear in `ratings` (Surprise's inner
/// ids). Users or items that never appear come last, in index order.
pub fn first_appearance(ratings: &[Triple], n_users: usize, n_items: usize) -> Result<(Vec<u32>, Vec<u32>)> {
    first_appearance_of(ratings.iter().map(|t| (t.user, t.item)), n_users, n_items)
}

/// [`first_appearance`] of the (user, item) pairs of `ratings`, in their order, read once.
pub fn first_appearance_of(
    ratings: impl Iterator<Item = (u32, u32)>,
    n_users: usize,
    n_items: usize,
) -> Result<(Vec<u32>, Vec<u32>)> {
    let what = "the order users and items first appear in";
    let (mut seen_users, mut seen_items) =
        (memory::zeroed::<bool>(n_users, what)?, memory::zeroed::<bool>(n_items, what)?);
    let (mut users, mut items) =
        (memory::with_capacity(n_users, what)?, memory::with_capacity(n_items, what)?);
    for (u, i) in ratings {
        if !std::mem::replace(&mut seen_users[u as usize], true) {
            users.push(u);
        }
        if !std::mem::replace(&mut seen_items[i as usize], true) {
            items.push(i);
        }
    }
    users.extend((0..n_users as u32).filter(|&u| !seen_users[u as usize]));
    items.extend((0..n_items as u32).filter(|&i| !seen_items[i as usize]));
    Ok((users, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_gives_the_words_of_rand_mt() {
        for seed in [0u32, 1, 42, 5489, 0xdead_beef, u32::MAX] {
            let (mut ours, mut theirs) = (Mt19937::new(seed), rand_mt::Mt::new(seed));
            for n in 0..20 * MT_N + 7 {
                assert_eq!(ours.next_u32(), theirs.next_u32(), "seed {seed} word {n}");
            }
        }
    }

    /// `numpy.random.RandomState(42).normal(0, 0.1, 5)` and `RandomState(7).normal(3, 2, 3)`,
    /// printed by numpy 2.4 (the legacy stream has been frozen since numpy 1.17).
    #[test]
    fn draws_equal_numpy() {
        let mut g = NumpyNormal::new(42);
        let got: Vec<f64> = (0..5).map(|_| 0.1 * g.gauss()).collect();
        assert_eq!(
            got,
            [
                0.04967141530112327,
                -0.013826430117118467,
                0.06476885381006925,
                0.15230298564080255,
                -0.023415337472333597
            ]
        );
        let mut g = NumpyNormal::new(7);
        let got: Vec<f64> = (0..3).map(|_| 3.0 + 2.0 * g.gauss()).collect();
        assert_eq!(got, NUMPY_SEED7);
    }

    const NUMPY_SEED7: [f64; 3] = [6.381051407600712, 2.0681252589183345, 3.0656403273571686];

    /// The two-thread path gives the very draws of `gauss` one by one, spare included, across
    /// matrices (odd sizes hand the spare on) and around the pipeline's threshold.
    #[test]
    fn pipelined_draws_equal_one_by_one() {
        for (rows, k) in [(3, 5), (PIPELINE_PAIRS * 2 / 7 + 1, 7), (PIPELINE_PAIRS / 50, 100), (2_711, 101)] {
            let order: Vec<u32> = (0..rows as u32).rev().collect();
            let mut fast = NumpyNormal::new(11);
            let mut slow = NumpyNormal::new(11);
            for round in 0..3 {
                let m = fast.factors(&order, k, 0.25, 0.1, &Control::new()).unwrap();
                for &row in &order {
                    let want: Vec<f32> = (0..k).map(|_| (0.25 + 0.1 * slow.gauss()) as f32).collect();
                    assert_eq!(m.row(row as usize)[..k], want[..], "rows {rows} k {k} round {round}");
                }
            }
            assert_eq!(fast.gauss(), slow.gauss());
        }
    }

    /// Draws made ahead on a second thread, however many it made before `finish` (none, some,
    /// all, more than used), continue as the one stream: the same factors, spare included.
    #[test]
    fn draws_ahead_equal_one_by_one() {
        // `enough`: the draws the fit takes, told while drawing (fewer than made, or more).
        for (max, wait_ms, enough) in [
            (0, 0, None),
            (1, 5, None),
            (2, 5, None),
            (7, 5, Some(3)),
            (5_000, 0, None),
            (5_000, 20, None),
            (5_000, 5, Some(1_001)),
            (PIPELINE_PAIRS * 3, 20, None),
            (PIPELINE_PAIRS * 3, 0, Some(2 * AHEAD_PAIRS + 1)),
            (PIPELINE_PAIRS * 3, 10, Some(PIPELINE_PAIRS * 4)),
        ] {
            let ahead = NumpyNormal::ahead(5, max);
            if let Some(n) = enough {
                ahead.enough(n);
            }
            std::thread::sleep(std::time::Duration::from_millis(wait_ms));
            let mut fast = ahead.finish();
            let mut slow = NumpyNormal::new(5);
            for (rows, k) in [(3, 5), (301, 7), (PIPELINE_PAIRS / 40, 100)] {
                // Row n of the draws becomes row order[n] (here: the rows backwards).
                let order: Vec<u32> = (0..rows as u32).rev().collect();
                let m = fast.factors(&order, k, 0.1, 0.2, &Control::new()).unwrap();
                for &row in &order {
                    let want: Vec<f32> = (0..k).map(|_| (0.1 + 0.2 * slow.gauss()) as f32).collect();
                    assert_eq!(m.row(row as usize)[..k], want[..], "max {max} {enough:?} rows {rows} k {k}");
                }
            }
            assert_eq!(fast.gauss(), slow.gauss(), "max {max}");
        }
        // Dropped unused: the thread is stopped and joined.
        drop(NumpyNormal::ahead(5, 1 << 20));
    }

    /// A failing check ends the draws, on the pipelined path and on the one-thread one
    /// (before: no check at all while drawing the starting factors).
    #[test]
    fn a_failing_check_ends_the_draws() {
        let check = || Err(crate::Error::data("interrupted"));
        for rows in [PIPELINE_PAIRS, PIPELINE_PAIRS / 50] {
            let order: Vec<u32> = (0..rows as u32).collect();
            let control = Control::new().with_check(&check);
            std::thread::sleep(crate::models::control::CHECK_EVERY);
            let e = NumpyNormal::new(1).factors(&order, 100, 0.0, 0.1, &control).unwrap_err();
            assert_eq!(e.to_string(), "interrupted", "{rows} rows");
        }
    }

    #[test]
    fn rows_follow_first_appearance() {
        let t = |user, item| Triple { user, item, value: 1.0 };
        let (users, items) = first_appearance(&[t(2, 0), t(0, 1), t(2, 1)], 4, 3).unwrap();
        assert_eq!(users, [2, 0, 1, 3]);
        assert_eq!(items, [0, 1, 2]);
        let m = NumpyNormal::new(42).factors(&users, 2, 0.0, 0.1, &Control::new()).unwrap();
        let mut g = NumpyNormal::new(42);
        let first: Vec<f32> = (0..2).map(|_| (0.1 * g.gauss()) as f32).collect();
        assert_eq!(m.row(2)[..2], first[..], "the first draws go to the first user seen");
        assert!(m.row(2)[2..].iter().all(|&x| x == 0.0), "padding stays zero");
    }
}
