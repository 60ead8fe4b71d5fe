//! The network: dense layers with ReLU between them and a softmax output, in f32.
//!
//! All parameters live in one flat vector (per layer: the weight matrix `inputs × outputs`
//! row-major, then the bias), so the optimiser sees one slice. Batched passes run in a
//! [`Workspace`] whose buffers are allocated once; every matrix product goes through
//! [`general_mat_mul`] into those buffers, so a training step allocates nothing.

use super::kernels;
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Axis, s};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Layer sizes and parameters of a trained (or training) network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// `[inputs, hidden..., classes]`.
    sizes: Vec<usize>,
    /// Per layer: weights (`sizes[l] × sizes[l + 1]`, row-major) then biases.
    params: Vec<f32>,
}

impl Network {
    /// A freshly initialised network: He-uniform weights for the ReLU layers
    /// (`±sqrt(6 / fan_in)`), Glorot-uniform for the softmax layer
    /// (`±sqrt(6 / (fan_in + fan_out))`), zero biases.
    pub fn new(sizes: &[usize], rng: &mut impl Rng) -> Network {
        let total = (0..sizes.len() - 1).map(|l| (sizes[l] + 1) * sizes[l + 1]).sum();
        let mut params = Vec::with_capacity(total);
        let last = sizes.len() - 2;
        for l in 0..sizes.len() - 1 {
            let (fan_in, fan_out) = (sizes[l], sizes[l + 1]);
            let limit = if l == last {
                (6.0 / (fan_in + fan_out) as f32).sqrt()
            } else {
                (6.0 / fan_in as f32).sqrt()
            };
            params.extend((0..fan_in * fan_out).map(|_| rng.random_range(-limit..limit)));
            params.extend(std::iter::repeat_n(0.0, fan_out));
        }
        Network { sizes: sizes.to_vec(), params }
    }

    /// `[inputs, hidden..., classes]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of weight layers.
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// Number of inputs.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    /// Number of outputs (classes).
    pub fn outputs(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// All parameters, flat.
    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, flat and writable (for the optimiser).
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Start of layer `l`'s weights and of its biases in the flat parameter vector.
    pub(crate) fn offsets(&self, l: usize) -> (usize, usize) {
        let start: usize = (0..l).map(|i| (self.sizes[i] + 1) * self.sizes[i + 1]).sum();
        (start, start + self.sizes[l] * self.sizes[l + 1])
    }

    /// Layer `l`'s weights as an `inputs × outputs` matrix.
    pub fn weight(&self, l: usize) -> ArrayView2<'_, f32> {
        let (w, b) = self.offsets(l);
        ArrayView2::from_shape((self.sizes[l], self.sizes[l + 1]), &self.params[w..b])
            .expect("layer shape matches parameter layout")
    }

    /// Layer `l`'s biases.
    pub fn bias(&self, l: usize) -> &[f32] {
        let (_, b) = self.offsets(l);
        &self.params[b..b + self.sizes[l + 1]]
    }

    /// Length of the scratch buffer [`Network::forward_row`] needs.
    pub fn scratch_len(&self) -> usize {
        2 * self.sizes[1..].iter().copied().max().unwrap_or(0)
    }

    /// Output scores (logits) for one encoded row. `scratch` must be at least
    /// [`Network::scratch_len`] long; the returned slice points into it. Zero inputs (most
    /// one-hot slots) are skipped.
    pub fn forward_row<'s>(&self, x: &[f32], scratch: &'s mut [f32]) -> &'s [f32] {
        let half = scratch.len() / 2;
        let (mut cur, mut next) = scratch.split_at_mut(half);
        let mut in_len = self.sizes[0];
        for l in 0..self.layers() {
            let (w, b) = self.offsets(l);
            let n_out = self.sizes[l + 1];
            let input: &[f32] = if l == 0 { x } else { &cur[..in_len] };
            let hidden = l + 1 < self.layers();
            kernels::forward(
                input,
                &self.params[w..b],
                self.bias(l),
                &mut next[..n_out],
                in_len,
                n_out,
                hidden,
            );
            in_len = n_out;
            std::mem::swap(&mut cur, &mut next);
        }
        &cur[..in_len]
    }
}

impl Network {
    /// Output scores (logits) of `rows` encoded rows of `x` (row-major, `rows × inputs`), into
    /// `out` (`rows × outputs`). Each layer runs [`kernels::forward_rows`], which scores
    /// [`kernels::ROWS`] rows together with, for each row and output, the operations of the
    /// one-row kernel [`Network::forward_row`] runs, so every row's scores are bit-identical to
    /// its one-row scores.
    /// `scratch` must hold `rows × scratch_len / 2` values twice over (`rows ×`
    /// [`Network::scratch_len`]).
    pub fn forward_rows(&self, x: &[f32], rows: usize, scratch: &mut [f32], out: &mut [f32]) {
        let half = scratch.len() / 2;
        let (mut cur, mut next) = scratch.split_at_mut(half);
        let layers = self.layers();
        for l in 0..layers {
            let (w, b) = self.offsets(l);
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let input: &[f32] = if l == 0 { &x[..rows * n_in] } else { &cur[..rows * n_in] };
            let hidden = l + 1 < layers;
            let target: &mut [f32] =
                if hidden { &mut next[..rows * n_out] } else { &mut out[..rows * n_out] };
            kernels::forward_rows(input, &self.params[w..b], self.bias(l), target, n_in, n_out, hidden);
            std::mem::swap(&mut cur, &mut next);
        }
    }
}

/// In-place softmax of one row of scores.
pub fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in row.iter_mut() {
        *v /= sum;
    }
}

/// One row of [`Workspace::softmax_cross_entropy`]: its scores `p` turned into probabilities,
/// its output gradient `d` (`weight · (p − onehot(t)) · inv_b`), and its loss term
/// `weight · −ln p[t]` returned.
pub(super) fn softmax_cross_entropy_row(
    p: &mut [f32],
    d: &mut [f32],
    t: u32,
    weight: f32,
    inv_b: f32,
) -> f64 {
    softmax(p);
    for (k, (dv, &pv)) in d.iter_mut().zip(p.iter()).enumerate() {
        let target = if k == t as usize { 1.0 } else { 0.0 };
        *dv = weight * (pv - target) * inv_b;
    }
    f64::from(weight) * -f64::from(p[t as usize].max(1e-30)).ln()
}

/// One layer's outputs `out` from its inputs `input` (rows of `n_in`), weights `w` and biases
/// `bias` (`n_out` outputs); a hidden layer's through the ReLU. A narrow layer (at most
/// [`kernels::NARROW`] outputs) goes through its weights transposed into `wt`. Each row's
/// outputs depend on that row only.
pub(super) fn layer_forward(
    (input, out): (&[f32], &mut [f32]),
    (w, bias): (&[f32], &[f32]),
    (n_in, n_out): (usize, usize),
    hidden: bool,
    wt: &mut [f32],
) {
    if n_out <= kernels::NARROW {
        let wt = &mut wt[..n_in * n_out];
        kernels::transpose(w, wt, n_in, n_out);
        kernels::forward_narrow(input, wt, bias, out, n_in, n_out);
        if hidden {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    } else {
        // One-hot inputs and inactive ReLU units are zeros, which the kernel skips.
        kernels::forward(input, w, bias, out, n_in, n_out, hidden);
    }
}

/// The rows `units` of a layer's weight gradient (`n_in × n_out`) into `grads_w`: each entry
/// the sum over the batch's rows, in row order, of an input times an output's gradient
/// (`input`, `delta`: every row of the batch). A narrow layer's is made whole (`units` all of
/// `0..n_in`), transposed in `gwt` first.
pub(super) fn weight_gradient(
    (input, delta): (&[f32], &[f32]),
    (n_in, n_out): (usize, usize),
    units: std::ops::Range<usize>,
    grads_w: &mut [f32],
    gwt: &mut [f32],
) {
    let b = delta.len() / n_out.max(1);
    if n_out <= kernels::NARROW {
        debug_assert_eq!(units, 0..n_in, "a narrow layer's gradient is made whole");
        let gwt = &mut gwt[..n_in * n_out];
        kernels::weight_gradient_narrow(input, delta, gwt, n_in, n_out);
        for (kk, row) in grads_w.chunks_exact_mut(n_out).enumerate() {
            for (j, g) in row.iter_mut().enumerate() {
                *g = gwt[j * n_in + kk];
            }
        }
    } else {
        let a = ArrayView2::from_shape((b, n_in), input).expect("shape");
        let a = a.slice(s![.., units.clone()]);
        let d = ArrayView2::from_shape((b, n_out), delta).expect("shape");
        let mut gw = ArrayViewMut2::from_shape((units.len(), n_out), grads_w).expect("shape");
        general_mat_mul(1.0, &a.t(), &d, 0.0, &mut gw);
    }
}

/// Adds the L2 term `2 · l2 · w` to the weight gradients `grads_w` of weights `w`.
pub(super) fn add_l2(grads_w: &mut [f32], w: &[f32], l2: f32) {
    if l2 > 0.0 {
        for (g, &wv) in grads_w.iter_mut().zip(w) {
            *g += 2.0 * l2 * wv;
        }
    }
}

/// A layer's bias gradient `gb`: the sum of its output gradients `delta` over the rows, in
/// row order.
pub(super) fn bias_gradient(delta: &[f32], gb: &mut [f32]) {
    gb.fill(0.0);
    for row in delta.chunks_exact(gb.len().max(1)) {
        for (g, &dv) in gb.iter_mut().zip(row) {
            *g += dv;
        }
    }
}

/// The gradient `prev` with respect to the previous layer's pre-activations, from this layer's
/// output gradients `delta`, weights `w` and the previous layer's activations `act` (the same
/// rows; each row's from that row only): `delta · wᵀ`, zero where the ReLU was off, times
/// `scale` (dropout's). A narrow layer goes through its weights transposed into `wt`.
pub(super) fn backprop(
    (delta, w, act): (&[f32], &[f32], &[f32]),
    prev: &mut [f32],
    (n_in, n_out): (usize, usize),
    scale: f32,
    wt: &mut [f32],
) {
    if n_out <= kernels::NARROW {
        let wt = &mut wt[..n_in * n_out];
        kernels::transpose(w, wt, n_in, n_out);
        kernels::backprop_narrow(delta, wt, act, prev, scale, n_in, n_out);
    } else {
        let rows = delta.len() / n_out.max(1);
        let d = ArrayView2::from_shape((rows, n_out), delta).expect("shape");
        let wv = ArrayView2::from_shape((n_in, n_out), w).expect("shape");
        let mut p = ArrayViewMut2::from_shape((rows, n_in), &mut *prev).expect("shape");
        general_mat_mul(1.0, &d, &wv.t(), 0.0, &mut p);
        for (pv, &a) in prev.iter_mut().zip(act) {
            *pv = if a > 0.0 { *pv * scale } else { 0.0 };
        }
    }
}

/// Buffers for batched forward and backward passes of up to `capacity` rows.
#[derive(Debug)]
pub struct Workspace {
    capacity: usize,
    /// Output of each layer (post-ReLU and post-dropout for hidden layers; scores, then
    /// probabilities, for the last).
    acts: Vec<ndarray::Array2<f32>>,
    /// Gradient of the loss with respect to each layer's pre-activation.
    deltas: Vec<ndarray::Array2<f32>>,
    /// Gradient of the loss with respect to every parameter (same layout as the network's).
    pub grads: Vec<f32>,
    /// Scale applied to kept hidden units by the last forward pass (1 / keep probability).
    scale: f32,
    /// Transposed weights of a narrow layer (see [`kernels::NARROW`]).
    transposed: Vec<f32>,
    /// Transposed weight gradient of a narrow layer.
    transposed_grad: Vec<f32>,
}

impl Workspace {
    /// Buffers for `net` and batches of at most `capacity` rows.
    pub fn new(net: &Network, capacity: usize) -> Workspace {
        let acts: Vec<_> =
            net.sizes[1..].iter().map(|&n| ndarray::Array2::<f32>::zeros((capacity, n))).collect();
        let narrow = (0..net.layers())
            .filter(|&l| net.sizes[l + 1] <= kernels::NARROW)
            .map(|l| net.sizes[l] * net.sizes[l + 1])
            .max()
            .unwrap_or(0);
        Workspace {
            capacity,
            deltas: acts.clone(),
            acts,
            grads: vec![0.0; net.params.len()],
            scale: 1.0,
            transposed: vec![0.0; narrow],
            transposed_grad: vec![0.0; narrow],
        }
    }

    /// Maximum rows per pass.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Forward pass over the rows of `x` (at most `capacity`). With `dropout = Some((rng, p))`
    /// each hidden unit is zeroed with probability `p` and the rest scaled by `1 / (1 - p)`.
    /// Returns the output scores, one row per input row.
    pub fn forward<R: Rng>(
        &mut self,
        net: &Network,
        x: ArrayView2<'_, f32>,
        dropout: Option<(&mut R, f32)>,
    ) -> ArrayViewMut2<'_, f32> {
        self.forward_from(net, 0, x, dropout)
    }

    /// Forward pass from layer `first` on: `x` holds the inputs of that layer (for `first > 0`
    /// the activations of hidden layer `first - 1`, after the ReLU). Returns the output scores.
    pub fn forward_from<R: Rng>(
        &mut self,
        net: &Network,
        first: usize,
        x: ArrayView2<'_, f32>,
        mut dropout: Option<(&mut R, f32)>,
    ) -> ArrayViewMut2<'_, f32> {
        let b = x.nrows();
        debug_assert!(b <= self.capacity);
        let layers = net.layers();
        debug_assert!(first < layers && x.ncols() == net.sizes[first]);
        self.scale = match &dropout {
            Some((_, p)) if *p > 0.0 => 1.0 / (1.0 - p),
            _ => 1.0,
        };
        let x = x.as_slice().expect("inputs in standard layout");
        for l in first..layers {
            let (before, rest) = self.acts.split_at_mut(l);
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let out = &mut rest[0].as_slice_mut().expect("contiguous")[..b * n_out];
            let input =
                if l == first { x } else { &before[l - 1].as_slice().expect("contiguous")[..b * n_in] };
            let (w_off, b_off) = net.offsets(l);
            let hidden = l + 1 < layers;
            let w = &net.params[w_off..b_off];
            layer_forward((input, out), (w, net.bias(l)), (n_in, n_out), hidden, &mut self.transposed);
            if let (true, Some((rng, p))) = (hidden, &mut dropout)
                && *p > 0.0
            {
                for v in out.iter_mut() {
                    let keep = rng.random::<f32>() >= *p;
                    *v = if keep { *v * self.scale } else { 0.0 };
                }
            }
        }
        self.acts[layers - 1].slice_mut(s![..b, ..])
    }

    /// Turns the scores of the last forward pass into probabilities and sets the output
    /// gradient of the weighted mean cross-entropy: `weight[y] * (p - onehot(y)) / b`.
    /// Returns the sum over rows of `weight[y] * -ln p[y]`.
    pub fn softmax_cross_entropy(&mut self, net: &Network, y: &[u32], class_weight: &[f32]) -> f64 {
        let b = y.len();
        let last = net.layers() - 1;
        let mut loss = 0.0f64;
        let inv_b = 1.0 / b as f32;
        let mut probs = self.acts[last].slice_mut(s![..b, ..]);
        let mut delta = self.deltas[last].slice_mut(s![..b, ..]);
        for ((mut p, mut d), &t) in probs.rows_mut().into_iter().zip(delta.rows_mut()).zip(y) {
            let p = p.as_slice_mut().expect("contiguous");
            let d = d.as_slice_mut().expect("contiguous");
            loss += softmax_cross_entropy_row(p, d, t, class_weight[t as usize], inv_b);
        }
        loss
    }

    /// Backward pass from the output gradient set by [`Workspace::softmax_cross_entropy`].
    /// Fills [`Workspace::grads`], with the L2 term `2 * l2 * W` on the weights.
    pub fn backward(&mut self, net: &Network, x: ArrayView2<'_, f32>, l2: f32) {
        let b = x.nrows();
        let x = x.as_slice().expect("inputs in standard layout");
        let layers = net.layers();
        for l in (0..layers).rev() {
            let (w_off, b_off) = net.offsets(l);
            let (n_in, n_out) = (net.sizes[l], net.sizes[l + 1]);
            let (grads_w, grads_rest) = self.grads[w_off..].split_at_mut(n_in * n_out);
            let (deltas_before, deltas_rest) = self.deltas.split_at_mut(l);
            let delta = &deltas_rest[0].as_slice().expect("contiguous")[..b * n_out];
            let input =
                if l == 0 { x } else { &self.acts[l - 1].as_slice().expect("contiguous")[..b * n_in] };
            let w = &net.params[w_off..b_off];
            weight_gradient((input, delta), (n_in, n_out), 0..n_in, grads_w, &mut self.transposed_grad);
            add_l2(grads_w, w, l2);
            bias_gradient(delta, &mut grads_rest[..n_out]);
            if l > 0 {
                let prev = &mut deltas_before[l - 1].as_slice_mut().expect("contiguous")[..b * n_in];
                let act = &self.acts[l - 1].as_slice().expect("contiguous")[..b * n_in];
                backprop((delta, w, act), prev, (n_in, n_out), self.scale, &mut self.transposed);
            }
        }
    }

    /// Probabilities for every row of `x` (row-major, `x.nrows() × classes`), in passes of
    /// `capacity` rows; `control` is ticked after each pass. The result is allocated fallibly
    /// (its size comes from the data).
    pub fn predict_proba(
        &mut self,
        net: &Network,
        x: ArrayView2<'_, f32>,
        control: &Control<'_>,
    ) -> Result<Vec<f64>> {
        let k = net.outputs();
        let mut out = memory::with_capacity(x.nrows().saturating_mul(k), "the predicted probabilities")?;
        let row_work = net.params().len() as u64;
        for chunk in x.axis_chunks_iter(Axis(0), self.capacity) {
            control.tick(chunk.nrows() as u64 * row_work)?;
            let mut scores = self.forward::<rand_chacha::ChaCha8Rng>(net, chunk, None);
            for mut row in scores.rows_mut() {
                let row = row.as_slice_mut().expect("contiguous");
                softmax(row);
                out.extend(row.iter().map(|&p| f64::from(p)));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::split::rng;
    use ndarray::Array2;

    fn tiny() -> (Network, Array2<f32>, Vec<u32>) {
        with_sizes(&[3, 5, 4, 3])
    }

    fn with_sizes(sizes: &[usize]) -> (Network, Array2<f32>, Vec<u32>) {
        let mut r = rng(3);
        let net = Network::new(sizes, &mut r);
        let x = Array2::from_shape_fn((4, 3), |(i, j)| ((i * 3 + j) as f32 * 0.37).sin());
        (net, x, vec![0, 2, 1, 2])
    }

    fn loss(net: &Network, x: &Array2<f32>, y: &[u32], w: &[f32], l2: f32) -> f64 {
        let mut ws = Workspace::new(net, 8);
        ws.forward::<rand_chacha::ChaCha8Rng>(net, x.view(), None);
        let ce = ws.softmax_cross_entropy(net, y, w) / y.len() as f64;
        let reg: f64 =
            (0..net.layers()).map(|l| net.weight(l).iter().map(|&v| f64::from(v * v)).sum::<f64>()).sum();
        ce + f64::from(l2) * reg
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Narrow layers (the transposed kernels) and wide ones (matrixmultiply).
        check_gradients(&[3, 5, 4, 3]);
        check_gradients(&[3, 40, 36, 3]);
    }

    fn check_gradients(sizes: &[usize]) {
        let (net, x, y) = with_sizes(sizes);
        let w = [1.0, 0.5, 2.0];
        let l2 = 0.01;
        let mut ws = Workspace::new(&net, 8);
        ws.forward::<rand_chacha::ChaCha8Rng>(&net, x.view(), None);
        ws.softmax_cross_entropy(&net, &y, &w);
        ws.backward(&net, x.view(), l2);
        // Small enough not to cross a ReLU kink (the nearest pre-activation here is 1.2e-3
        // from zero), large enough for f32.
        let eps = 5e-4f32;
        for p in 0..net.params().len() {
            let mut plus = net.clone();
            plus.params_mut()[p] += eps;
            let mut minus = net.clone();
            minus.params_mut()[p] -= eps;
            let numeric =
                (loss(&plus, &x, &y, &w, l2) - loss(&minus, &x, &y, &w, l2)) / (2.0 * f64::from(eps));
            let analytic = f64::from(ws.grads[p]);
            assert!((numeric - analytic).abs() < 2e-3, "param {p}: numeric {numeric} analytic {analytic}");
        }
    }

    #[test]
    fn row_pass_equals_batch_pass() {
        let (net, x, _) = tiny();
        let mut ws = Workspace::new(&net, 8);
        let batch = ws.forward::<rand_chacha::ChaCha8Rng>(&net, x.view(), None).to_owned();
        let mut scratch = vec![0.0; net.scratch_len()];
        for i in 0..4 {
            let row = net.forward_row(x.row(i).as_slice().unwrap(), &mut scratch);
            for (a, b) in row.iter().zip(batch.row(i)) {
                assert!((a - b).abs() < 1e-5);
            }
        }
        let p = ws.predict_proba(&net, x.view(), &Control::new()).unwrap();
        assert_eq!(p.len(), 12);
        assert!((p[..3].iter().sum::<f64>() - 1.0).abs() < 1e-6);
    }

    /// The batched pass runs the block kernel; each row's scores must equal its one-row
    /// scores bit for bit, whatever the inputs (zeros, negative zeros, ones, large values).
    #[test]
    fn rows_pass_is_bit_identical_to_row_pass() {
        use rand::Rng;
        let mut r = rng(11);
        for case in 0..60 {
            let depth = r.random_range(0..3usize);
            let mut sizes = vec![r.random_range(1..300usize)];
            for _ in 0..depth {
                sizes.push(r.random_range(1..80usize));
            }
            sizes.push(r.random_range(2..6usize));
            let mut net = Network::new(&sizes, &mut r);
            for p in net.params_mut() {
                if r.random_range(0..10) == 0 {
                    *p = [0.0, -0.0, 1.0, -1.0, 1e30, -3e-39][r.random_range(0..6usize)];
                }
            }
            let rows = r.random_range(1..23usize);
            let x: Vec<f32> = (0..rows * sizes[0])
                .map(|_| match r.random_range(0..9) {
                    0..=2 => 0.0,
                    3 => -0.0,
                    4 => 1.0,
                    5 => r.random_range(-1e20f32..1e20),
                    _ => r.random_range(-3.0f32..3.0),
                })
                .collect();
            let mut scratch = vec![0.0; rows * net.scratch_len()];
            let mut out = vec![0.0; rows * net.outputs()];
            net.forward_rows(&x, rows, &mut scratch, &mut out);
            let mut one = vec![0.0; net.scratch_len()];
            for (i, got) in out.chunks_exact(net.outputs()).enumerate() {
                let want = net.forward_row(&x[i * sizes[0]..(i + 1) * sizes[0]], &mut one);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(got), bits(want), "case {case}, sizes {sizes:?}, row {i}");
            }
        }
    }

    #[test]
    fn dropout_zeroes_and_scales_units() {
        let (net, x, _) = tiny();
        let mut ws = Workspace::new(&net, 8);
        let mut r = rng(1);
        ws.forward(&net, x.view(), Some((&mut r, 0.5)));
        let plain = {
            let mut ws2 = Workspace::new(&net, 8);
            ws2.forward::<rand_chacha::ChaCha8Rng>(&net, x.view(), None);
            ws2.acts[0].clone()
        };
        for (d, p) in ws.acts[0].iter().zip(plain.iter()) {
            assert!(*d == 0.0 || (*d - 2.0 * p).abs() < 1e-6);
        }
    }
}
