//! A training batch's step on two cores, to the very bits of the step on one
//! ([`Workspace::forward`](super::network::Workspace::forward),
//! [`Workspace::backward`](super::network::Workspace::backward), [`Adam::step`]).
//!
//! Every value is computed by one thread, in the order the one-core step computes it:
//! - **Phase 1, by rows.** Each thread takes half of the batch's rows: their inputs, their
//!   activations through every layer, their softmax and loss terms, and their gradients with
//!   respect to each layer's pre-activations. A row's values depend on that row and the weights
//!   only (the kernels compute each row alone, as the tests of the block kernel show).
//! - **The loss**, summed over the rows in order by the calling thread, as the one-core step does.
//! - **Phase 2, by parameters.** Each thread takes half of the input units of each wide layer:
//!   their rows of the weight gradient (each a sum over the batch's rows, in row order, as the
//!   one-core product sums it), the L2 term, and the Adam update of those weights. The calling
//!   thread also takes the biases; the helper the narrow layers (at most [`kernels::NARROW`]
//!   outputs) whole. An Adam update reads only its own parameter's gradient and moments.
//!
//! The two threads meet twice a batch (a meeting takes well under a microsecond: the helper
//! spins while it waits, then yields, and parks after a while, the calling thread waking it).
//! The cost is elsewhere: each batch both threads read every weight and the rows the other
//! wrote, which moves them between the cores' caches. At the default network's batches of 32
//! rows (a step of about 30 µs) that costs more than the second core gives, so only batches of
//! enough work train on two cores ([`worth_it`]). Dropout draws its masks from one random
//! stream in order, so a network with dropout trains on one core.

use super::adam::{Adam, Rule};
use super::kernels;
use super::network::{
    Network, add_l2, backprop, bias_gradient, layer_forward, softmax_cross_entropy_row, weight_gradient,
};
use super::trainer::EncodedRows;
use crate::models::control::Control;
use crate::models::memory;
use crate::{Error, Result};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

/// A batch step's multiply-adds (about: the forward product and the two backward ones) from
/// which it is worth a second thread at batches of [`WORTH_FROM_ROWS`] rows or more, and from
/// which it is at any batch size. Each batch both threads read every weight and the rows the
/// other wrote, so the caches' traffic grows with the weights while the work grows with the
/// batch's rows too. Measured by turns (a probe training 100k rows of 33
/// inputs, two epochs): hidden `[64, 64]` at batch 32 (0.6M) 0.138 → 0.152 s, at 64 (1.2M)
/// 0.112 → 0.104 s, at 96 (1.8M) 0.112 → 0.091 s, at 128 (2.4M) 0.113 → 0.081 s, at 512 0.111
/// → 0.064 s; `[32, 32]` at 256 (1.65M) 0.072 → 0.051 s; `[128, 128]` at 32 (2.0M) 0.39 → 0.37
/// s, at 64 (4.0M) 0.34 → 0.27 s; `[256, 256]` at 32 (7.2M) 1.38 → 0.91 s.
const WORTH_FROM: usize = 3 << 19;
/// See [`WORTH_FROM`].
const WORTH_FROM_ROWS: usize = 64;
/// See [`WORTH_FROM`].
const WORTH_AT_ANY_BATCH: usize = 6 << 20;

#[cfg(any(test, feature = "fuzzing"))]
thread_local! {
    /// Tests and the fuzzer: train on two cores whatever the size (`Some(true)`; never with
    /// dropout) or on one (`Some(false)`), on this thread.
    pub(crate) static FORCE: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

/// Whether batches of `bs` rows of `net` train on two cores: a second CPU, no dropout, and
/// enough work a batch.
pub(super) fn worth_it(net: &Network, bs: usize, dropout: f32) -> bool {
    if dropout > 0.0 || bs < 2 || !Control::second_cpu() {
        return false;
    }
    #[cfg(any(test, feature = "fuzzing"))]
    if let Some(force) = FORCE.with(std::cell::Cell::get) {
        return force;
    }
    let sizes = net.sizes();
    let weights: usize = sizes.windows(2).map(|w| w[0] * w[1]).sum();
    let work = 3usize.saturating_mul(bs).saturating_mul(weights);
    work >= WORTH_AT_ANY_BATCH || (work >= WORTH_FROM && bs >= WORTH_FROM_ROWS)
}

/// A slice both threads reach, each only the parts the phase gives it.
#[derive(Clone, Copy)]
struct Shared<T> {
    ptr: *mut T,
    len: usize,
}

impl<T> Shared<T> {
    fn of(v: &mut [T]) -> Shared<T> {
        Shared { ptr: v.as_mut_ptr(), len: v.len() }
    }

    /// Elements `r`.
    ///
    /// # Safety
    /// No other thread reads or writes them while the slice is used (see [`Batch`]).
    #[allow(clippy::mut_from_ref)]
    unsafe fn part(&self, r: Range<usize>) -> &mut [T] {
        assert!(r.start <= r.end && r.end <= self.len, "a part out of its slice");
        // SAFETY: in bounds (checked); unaliased as the caller promises.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r.start), r.end - r.start) }
    }

    /// Elements `r`, read only.
    ///
    /// # Safety
    /// No thread writes them while the slice is used.
    unsafe fn read(&self, r: Range<usize>) -> &[T] {
        assert!(r.start <= r.end && r.end <= self.len, "a part out of its slice");
        // SAFETY: in bounds (checked); not written meanwhile, as the caller promises.
        unsafe { std::slice::from_raw_parts(self.ptr.add(r.start), r.end - r.start) }
    }
}

/// One batch's step as both threads see it. The buffers are written as the phases divide
/// them: in phase 1 each thread writes its rows of `batch_x`, `batch_y`, `row_loss`, `acts`
/// and `deltas` and reads the parameters; in phase 2 each reads every row of `acts`, `deltas`
/// and `batch_x` and writes its parameters, their gradients and moments. The calling thread
/// touches none of them between handing a phase over and the helper's end of it.
struct Batch<'a> {
    net: &'a Network,
    params: Shared<f32>,
    grads: Shared<f32>,
    m: Shared<f32>,
    v: Shared<f32>,
    /// Each layer's outputs, `capacity × outputs`.
    acts: &'a [Shared<f32>],
    /// Each layer's gradients with respect to its pre-activations, `capacity × outputs`.
    deltas: &'a [Shared<f32>],
    batch_x: Shared<f32>,
    batch_y: Shared<u32>,
    row_loss: Shared<f64>,
    rows: &'a [u32],
    x: &'a dyn EncodedRows,
    y: &'a [u32],
    class_weight: &'a [f32],
    l2: f32,
    rule: Rule,
}

// SAFETY: the raw slices are used as `Batch` says: each element by one thread at a time, with
// the meetings (release and acquire) between the phases.
unsafe impl Send for Batch<'_> {}
unsafe impl Sync for Batch<'_> {}

/// A thread's own scratch: the transposed weights and weight gradient of a narrow layer.
struct Scratch {
    wt: Vec<f32>,
    gwt: Vec<f32>,
}

impl Scratch {
    /// The scratch of `part` for a network of layer sizes `sizes`: the transposed weights of
    /// its largest narrow layer (phase 1), and on the part that takes the narrow layers in
    /// phase 2 their transposed gradient. Taken fallibly: a width comes from the options.
    fn for_part(sizes: &[usize], part: usize) -> Result<Scratch> {
        let narrow = (0..sizes.len() - 1)
            .filter(|&l| sizes[l + 1] <= kernels::NARROW)
            .map(|l| sizes[l] * sizes[l + 1])
            .max()
            .unwrap_or(0);
        let what = "a training batch's buffers";
        let gwt = if part == NARROW_PART { narrow } else { 0 };
        Ok(Scratch { wt: memory::zeroed(narrow, what)?, gwt: memory::zeroed(gwt, what)? })
    }
}

/// The rows of a batch of `b` that `part` (0 or 1) takes in phase 1.
fn rows_of(part: usize, b: usize) -> Range<usize> {
    if part == 0 { 0..b / 2 } else { b / 2..b }
}

/// The input units of a layer of `n_in` that `part` takes in phase 2.
fn units_of(part: usize, n_in: usize) -> Range<usize> {
    if part == 0 { 0..n_in / 2 } else { n_in / 2..n_in }
}

/// Which part takes the narrow layers whole in phase 2 (the other takes the biases).
const NARROW_PART: usize = 1;

impl Batch<'_> {
    /// Phase 1 for `part`: see the module.
    ///
    /// # Safety
    /// Run by one thread per part, both parts between the same meetings.
    unsafe fn by_rows(&self, part: usize, scratch: &mut Scratch) {
        let b = self.rows.len();
        let rows = rows_of(part, b);
        if rows.is_empty() {
            return;
        }
        let net = self.net;
        let (sizes, layers, d) = (net.sizes(), net.layers(), net.inputs());
        let span = |n: usize| rows.start * n..rows.end * n;
        // SAFETY (all of this function): this part's rows of every buffer are this thread's;
        // the parameters are only read in phase 1.
        unsafe {
            let batch_x = self.batch_x.part(span(d));
            let batch_y = self.batch_y.part(rows.clone());
            for (i, r) in rows.clone().enumerate() {
                let row = self.rows[r] as usize;
                self.x.row_into(row, &mut batch_x[i * d..(i + 1) * d]);
                batch_y[i] = self.y[row];
            }
            let params = self.params.read(0..self.params.len);
            for l in 0..layers {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                let input: &[f32] = if l == 0 { &*batch_x } else { self.acts[l - 1].read(span(n_in)) };
                let out = self.acts[l].part(span(n_out));
                let (w_off, b_off) = net.offsets(l);
                let (w, bias) = (&params[w_off..b_off], &params[b_off..b_off + n_out]);
                layer_forward((input, out), (w, bias), (n_in, n_out), l + 1 < layers, &mut scratch.wt);
            }
            // The softmax, each row's loss term and the output gradient (the loss terms are
            // summed in row order by the calling thread, as the one-core step sums them).
            let k = sizes[layers];
            let inv_b = 1.0 / b as f32;
            let probs = self.acts[layers - 1].part(span(k));
            let delta = self.deltas[layers - 1].part(span(k));
            let row_loss = self.row_loss.part(rows.clone());
            for (((p, dl), &t), loss) in
                probs.chunks_exact_mut(k).zip(delta.chunks_exact_mut(k)).zip(&*batch_y).zip(row_loss)
            {
                *loss = softmax_cross_entropy_row(p, dl, t, self.class_weight[t as usize], inv_b);
            }
            // Each layer's gradient from the next one's, as `Workspace::backward` makes it.
            for l in (1..layers).rev() {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                let (w_off, b_off) = net.offsets(l);
                let w = &params[w_off..b_off];
                let delta = self.deltas[l].read(span(n_out));
                let prev = self.deltas[l - 1].part(span(n_in));
                let act = self.acts[l - 1].read(span(n_in));
                // (Without dropout the scale is 1.)
                backprop((delta, w, act), prev, (n_in, n_out), 1.0, &mut scratch.wt);
            }
        }
    }

    /// Phase 2 for `part`: see the module.
    ///
    /// # Safety
    /// Run by one thread per part, both parts between the same meetings, after phase 1.
    unsafe fn by_parameters(&self, part: usize, scratch: &mut Scratch) {
        let b = self.rows.len();
        let net = self.net;
        let (sizes, layers) = (net.sizes(), net.layers());
        // SAFETY (all of this function): every row of the activations, gradients and inputs
        // is only read in phase 2; this part's parameters, gradients and moments are its own.
        unsafe {
            let update = |range: Range<usize>| {
                let params = self.params.part(range.clone());
                let grads = self.grads.read(range.clone());
                self.rule.update(params, grads, self.m.part(range.clone()), self.v.part(range));
            };
            for l in 0..layers {
                let (n_in, n_out) = (sizes[l], sizes[l + 1]);
                let (w_off, b_off) = net.offsets(l);
                let input =
                    if l == 0 { self.batch_x.read(0..b * n_in) } else { self.acts[l - 1].read(0..b * n_in) };
                let delta = self.deltas[l].read(0..b * n_out);
                let narrow = n_out <= kernels::NARROW;
                let units = match narrow {
                    true if part == NARROW_PART => 0..n_in,
                    true => 0..0,
                    false => units_of(part, n_in),
                };
                if !units.is_empty() {
                    let weights = w_off + units.start * n_out..w_off + units.end * n_out;
                    let grads_w = self.grads.part(weights.clone());
                    weight_gradient((input, delta), (n_in, n_out), units, grads_w, &mut scratch.gwt);
                    add_l2(grads_w, self.params.read(weights.clone()), self.l2);
                    update(weights);
                }
                if part == if narrow { NARROW_PART } else { 1 - NARROW_PART } {
                    let biases = b_off..b_off + n_out;
                    bias_gradient(delta, self.grads.part(biases.clone()));
                    update(biases);
                }
            }
        }
    }
}

/// What the calling thread hands the helper.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Rows = 1,
    Parameters = 2,
    Quit = 3,
}

/// The meetings of the two threads.
struct Meetings {
    /// The phase handed over last, with its count (`count << 2 | phase`).
    handed: AtomicU64,
    /// The count of the last phase the helper finished.
    done: AtomicU64,
    /// The batch of the phase handed over.
    batch: AtomicPtr<Batch<'static>>,
    /// Whether the helper is parked (or about to be).
    parked: AtomicBool,
    /// Whether the helper's part panicked.
    failed: AtomicBool,
}

/// Spins this many times waiting before yielding, and yields this many times before parking.
const SPINS: u32 = 1 << 12;
const YIELDS: u32 = 64;

/// The helper's side: waits for each phase and runs its part.
fn helper(meet: &Meetings, waker: &std::sync::Mutex<Option<std::thread::Thread>>, mut scratch: Scratch) {
    *waker.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::thread::current());
    let mut seen = 0u64;
    loop {
        let mut waited = 0u32;
        let handed = loop {
            let h = meet.handed.load(Ordering::Acquire);
            if h >> 2 != seen {
                break h;
            }
            waited = waited.saturating_add(1);
            if waited < SPINS {
                std::hint::spin_loop();
            } else if waited < SPINS + YIELDS {
                std::thread::yield_now();
            } else {
                meet.parked.store(true, Ordering::SeqCst);
                if meet.handed.load(Ordering::SeqCst) >> 2 == seen {
                    std::thread::park_timeout(Duration::from_millis(1));
                }
                meet.parked.store(false, Ordering::SeqCst);
            }
        };
        seen = handed >> 2;
        let phase = handed & 3;
        if phase == Phase::Quit as u64 {
            return;
        }
        let batch = meet.batch.load(Ordering::Acquire);
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            // SAFETY: the calling thread keeps the batch alive and runs the other part until
            // this part is done (it waits for `done`).
            let batch = unsafe { &*batch };
            unsafe {
                if phase == Phase::Rows as u64 {
                    batch.by_rows(1, &mut scratch);
                } else {
                    batch.by_parameters(1, &mut scratch);
                }
            }
        }));
        if ran.is_err() {
            meet.failed.store(true, Ordering::SeqCst);
        }
        meet.done.store(seen, Ordering::Release);
    }
}

/// The calling thread's side of training on two cores: [`TwoCores::step`] a batch at a time.
pub(super) struct TwoCores<'m> {
    here: Here<'m>,
    acts: Vec<Vec<f32>>,
    deltas: Vec<Vec<f32>>,
    grads: Vec<f32>,
    batch_x: Vec<f32>,
    batch_y: Vec<u32>,
    row_loss: Vec<f64>,
    /// `acts` and `deltas` as each step hands them over (kept to be refilled, not made again
    /// a batch).
    shared: (Vec<Shared<f32>>, Vec<Shared<f32>>),
}

/// The calling thread's part in the meetings: the meetings, how to wake the helper, the
/// phases handed over so far, and its own scratch.
struct Here<'m> {
    meet: &'m Meetings,
    waker: &'m std::sync::Mutex<Option<std::thread::Thread>>,
    count: u64,
    scratch: Scratch,
}

impl Here<'_> {
    /// Hands `phase` over and runs part 0 of it here, then waits for the helper's part.
    fn meet(&mut self, phase: Phase, batch: &Batch<'_>) -> Result<()> {
        self.count += 1;
        let ptr = batch as *const Batch<'_> as *mut Batch<'static>;
        self.meet.batch.store(ptr, Ordering::Release);
        self.meet.handed.store(self.count << 2 | phase as u64, Ordering::SeqCst);
        if self.meet.parked.load(Ordering::SeqCst)
            && let Some(t) = self.waker.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
        {
            t.unpark();
        }
        // SAFETY: the helper runs part 1 of the same phase; this thread waits for it below,
        // also if its own part panics (the helper reads the batch, which lives on this stack).
        let here = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
            match phase {
                Phase::Rows => batch.by_rows(0, &mut self.scratch),
                Phase::Parameters => batch.by_parameters(0, &mut self.scratch),
                Phase::Quit => {}
            }
        }));
        let mut waited = 0u32;
        while self.meet.done.load(Ordering::Acquire) != self.count {
            waited = waited.saturating_add(1);
            if waited < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        if let Err(panic) = here {
            std::panic::resume_unwind(panic);
        }
        if self.meet.failed.load(Ordering::SeqCst) {
            return Err(Error::Internal("the second core's part of a training step panicked".into()));
        }
        Ok(())
    }
}

impl TwoCores<'_> {
    /// One gradient step on the rows `rows` of `x` (at most the batch size), as
    /// `Workspace::forward`, `softmax_cross_entropy`, `backward` and [`Adam::step`] make it;
    /// returns the sum of the rows' loss terms.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        net: &mut Network,
        adam: &mut Adam,
        (x, y): (&dyn EncodedRows, &[u32]),
        rows: &[u32],
        class_weight: &[f32],
        l2: f32,
    ) -> Result<f64> {
        let rule = adam.advance();
        let (m, v) = adam.moments_mut();
        let (acts, deltas) = &mut self.shared;
        acts.clear();
        acts.extend(self.acts.iter_mut().map(|a| Shared::of(a)));
        deltas.clear();
        deltas.extend(self.deltas.iter_mut().map(|a| Shared::of(a)));
        let params = Shared::of(net.params_mut());
        let batch = Batch {
            net,
            params,
            grads: Shared::of(&mut self.grads),
            m: Shared::of(m),
            v: Shared::of(v),
            acts,
            deltas,
            batch_x: Shared::of(&mut self.batch_x),
            batch_y: Shared::of(&mut self.batch_y),
            row_loss: Shared::of(&mut self.row_loss),
            rows,
            x,
            y,
            class_weight,
            l2,
            rule,
        };
        self.here.meet(Phase::Rows, &batch)?;
        // SAFETY: between the phases the helper touches nothing.
        let loss = unsafe { batch.row_loss.read(0..rows.len()) }.iter().fold(0.0, |sum, &l| sum + l);
        self.here.meet(Phase::Parameters, &batch)?;
        Ok(loss)
    }
}

/// Runs `train` with a [`TwoCores`] for batches of at most `bs` rows of a network of layer
/// sizes `sizes` and `n_params` parameters (the helper thread started beside it and stopped
/// after it, however it ends), or with `None` when the helper cannot start. The buffers, as
/// large as those of a batch on one core (which `trainer::check_memory` counts), are taken
/// fallibly: memory refused is the error.
pub(super) fn with_two_cores<T>(
    sizes: &[usize],
    n_params: usize,
    bs: usize,
    train: impl FnOnce(Option<&mut TwoCores<'_>>) -> Result<T>,
) -> Result<T> {
    let what = "a training batch's buffers";
    let layer = |n: usize| memory::zeroed::<f32>(bs.saturating_mul(n), what);
    let acts = sizes[1..].iter().map(|&n| layer(n)).collect::<Result<Vec<_>>>()?;
    let deltas = sizes[1..].iter().map(|&n| layer(n)).collect::<Result<Vec<_>>>()?;
    let (grads, batch_x) = (memory::zeroed(n_params, what)?, layer(sizes[0])?);
    let (batch_y, row_loss) = (memory::zeroed(bs, what)?, memory::zeroed(bs, what)?);
    let (here, there) = (Scratch::for_part(sizes, 0)?, Scratch::for_part(sizes, 1)?);
    let meet = Meetings {
        handed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        batch: AtomicPtr::new(std::ptr::null_mut()),
        parked: AtomicBool::new(false),
        failed: AtomicBool::new(false),
    };
    let waker = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("sqlml-train".into())
            .spawn_scoped(scope, || helper(&meet, &waker, there));
        if spawned.is_err() {
            // On one core, with its own buffers: these are given back first.
            drop((acts, deltas, grads, batch_x, batch_y, row_loss, here));
            return train(None);
        }
        /// Stops the helper when training ends, by returning or by unwinding.
        struct Quit<'a>(&'a Meetings, &'a std::sync::Mutex<Option<std::thread::Thread>>);
        impl Drop for Quit<'_> {
            fn drop(&mut self) {
                self.0.handed.store(u64::MAX, Ordering::SeqCst);
                if let Some(t) = self.1.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                    t.unpark();
                }
            }
        }
        let _quit = Quit(&meet, &waker);
        let mut two = TwoCores {
            here: Here { meet: &meet, waker: &waker, count: 0, scratch: here },
            acts,
            deltas,
            grads,
            batch_x,
            batch_y,
            row_loss,
            shared: (Vec::with_capacity(sizes.len()), Vec::with_capacity(sizes.len())),
        };
        train(Some(&mut two))
    })
}

#[cfg(test)]
mod tests {
    use super::super::trainer::{Config, fit};
    use super::*;

    /// Rows of `d` inputs, some of them zeros (as one-hot inputs are), and labels of `k`
    /// classes from a noisy rule.
    fn data(n: usize, d: usize, k: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut x = Vec::with_capacity(n * d);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let mut score = 0.0f32;
            for j in 0..d {
                let r = next();
                let v = if r % 4 == 0 {
                    0.0
                } else {
                    ((r >> 11) as f64 / (1u64 << 53) as f64) as f32 * 2.0 - 1.0
                };
                score += v * (j as f32 + 1.0).sin();
                x.push(v);
            }
            let noise = (next() % 3) as u32;
            y.push(((score.abs() * 3.0) as u32 + noise) % k as u32);
        }
        (x, y)
    }

    fn trained(x: &[f32], d: usize, y: &[u32], k: usize, cfg: &Config, two: bool) -> (Vec<f32>, Vec<u64>) {
        FORCE.with(|f| f.set(Some(two)));
        let fitted = fit(x, d, y, k, cfg, Some((x, y)), &Control::new());
        FORCE.with(|f| f.set(None));
        let fitted = fitted.unwrap();
        let log =
            fitted.log.iter().flat_map(|e| [e.loss.to_bits(), e.val_loss.unwrap_or(0.0).to_bits()]).collect();
        (fitted.net.params().to_vec(), log)
    }

    /// Training on two cores gives the weights and the training log of training on one, to
    /// the bit: wide and narrow layers (the softmax layer narrow or not), no hidden layer, odd
    /// batch sizes and widths (halves of unequal size, a batch's last rows), one row a
    /// thread, L2, class weights, a validation split with early stopping, and unshuffled rows.
    #[test]
    fn two_cores_train_the_same_bits_as_one() {
        if !Control::second_cpu() {
            println!("skipped: one CPU, so training never takes two cores");
            return;
        }
        let base = Config { epochs: 3, seed: 5, ..Config::default() };
        let cases: Vec<(usize, usize, Config)> = vec![
            (33, 2, base.clone()),
            (33, 12, base.clone()),
            (7, 3, Config { hidden: vec![9, 5], batch_size: 7, ..base.clone() }),
            (5, 4, Config { hidden: vec![], batch_size: 33, ..base.clone() }),
            (20, 2, Config { hidden: vec![64], batch_size: 2, ..base.clone() }),
            (1, 2, Config { hidden: vec![3, 17], batch_size: 5, l2: 0.01, ..base.clone() }),
            (12, 3, Config { balanced: true, shuffle: false, batch_size: 31, ..base.clone() }),
            (
                12,
                2,
                Config {
                    validation_split: 0.2,
                    patience: Some(1),
                    epochs: 6,
                    learning_rate: 0.05,
                    ..base.clone()
                },
            ),
        ];
        // Under Miri (`scripts/miri.sh`, which checks the threads' shared slices for undefined
        // behaviour and data races), the narrow networks on fewer rows: it interprets.
        let narrow = |cfg: &Config| cfg.hidden.len() == 2 && cfg.hidden.iter().all(|&w| w < 20);
        let rows = if cfg!(miri) { 23 } else { 301 };
        for (i, (d, k, cfg)) in cases.iter().enumerate() {
            if cfg!(miri) && !narrow(cfg) {
                continue;
            }
            let (x, y) = data(rows, *d, *k, i as u64 + 1);
            let one = trained(&x, *d, &y, *k, cfg, false);
            let two = trained(&x, *d, &y, *k, cfg, true);
            assert!(one.0.iter().any(|&w| w != 0.0));
            let same = one.0.iter().zip(&two.0).all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && one.0.len() == two.0.len(), "case {i}: {cfg:?}");
            assert_eq!(one.1, two.1, "case {i}: the training log");
        }
    }

    /// Which batches train on two cores: the default network from batches of 96 rows, a wide
    /// one at 32, never with dropout or one row.
    #[test]
    #[cfg_attr(miri, ignore = "makes a network of 4096 × 4096 weights: too slow to interpret")]
    fn a_batch_is_worth_a_second_core_from_a_size() {
        let net = |sizes: &[usize]| Network::new(sizes, &mut crate::models::split::rng(1));
        let default = net(&[33, 64, 64, 2]);
        let two = Control::second_cpu();
        assert!(!worth_it(&default, 32, 0.0));
        assert!(!worth_it(&default, 64, 0.0));
        assert_eq!(worth_it(&default, 96, 0.0), two);
        assert!(!worth_it(&default, 96, 0.1));
        assert!(!worth_it(&net(&[33, 128, 128, 2]), 32, 0.0));
        assert_eq!(worth_it(&net(&[33, 256, 256, 2]), 32, 0.0), two);
        assert!(!worth_it(&net(&[33, 4096, 4096, 2]), 1, 0.0));
        assert!(!worth_it(&net(&[10, 2]), 1 << 20, 0.1));
    }

    /// A panic in either thread's part is an error (the helper's) or goes on (the calling
    /// thread's) only once the other part is done, and the helper stops either way.
    #[test]
    fn a_panicking_part_stops_both() {
        if !Control::second_cpu() {
            println!("skipped: one CPU");
            return;
        }
        struct Panics(usize);
        impl EncodedRows for Panics {
            fn width(&self) -> usize {
                4
            }
            fn row_into(&self, i: usize, out: &mut [f32]) {
                assert!(i != self.0, "row {i}");
                out.fill(i as f32 / 100.0);
            }
        }
        let y = vec![0u32, 1, 0, 1, 0, 1, 0, 1];
        let cfg = Config { hidden: vec![16], batch_size: 8, epochs: 1, shuffle: false, ..Config::default() };
        FORCE.with(|f| f.set(Some(true)));
        // Row 7 is the helper's (the second half), row 0 this thread's.
        let helper = super::super::trainer::fit_rows(&Panics(7), &y, 2, &cfg, None, &Control::new());
        assert!(matches!(helper, Err(Error::Internal(_))), "{helper:?}");
        let here = std::panic::catch_unwind(|| {
            super::super::trainer::fit_rows(&Panics(0), &y, 2, &cfg, None, &Control::new()).map(|_| ())
        });
        FORCE.with(|f| f.set(None));
        assert!(here.is_err());
    }
}
