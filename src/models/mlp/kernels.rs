//! Forward products, the softmax layer's products and the Adam update, on row-major f32 slices.
//!
//! [`forward`] needs no packing: it walks the weight rows as they are stored, keeps a 64-wide
//! accumulator in registers and skips zero inputs, gathered first without branching (one-hot
//! slots and inactive ReLU units are zeros). At batch 32 a general GEMM spends about as long
//! packing its operands as multiplying them; `examples/kernel_bench.rs` measures [`forward`]
//! slightly ahead of matrixmultiply on such inputs, and it is far ahead for one-row predictions.
//! Narrow outputs (the softmax layer, at most [`NARROW`] wide) use dot products and row updates
//! on the transposed weights. The wide backward products stay with matrixmultiply. The code is
//! compiled twice, plain and with AVX2+FMA, and the second is chosen at run time when the CPU
//! has it. Summation order is fixed, so results are reproducible on a given machine.

/// Width of the register accumulator.
const LANES: usize = 64;

macro_rules! dispatch {
    ($plain:ident, $fast:ident, ($($arg:ident),*)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { $fast($($arg),*) };
            }
        }
        $plain::<false>($($arg),*)
    }};
}

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA { a.mul_add(b, acc) } else { acc + a * b }
}

/// `c = a · b + bias` for `a` (`m × k`), `b` (`k × n`), `c` (`m × n`); with `relu`, negative
/// results become 0. Zero entries of `a` are skipped.
pub fn forward(a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize, relu: bool) {
    dispatch!(forward_impl, forward_fma, (a, b, bias, c, k, n, relu))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_fma(a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize, relu: bool) {
    forward_impl::<true>(a, b, bias, c, k, n, relu)
}

/// Rows of `a` are scanned in blocks of this many entries when gathering the non-zero ones.
const BLOCK: usize = 256;

/// Gathers the non-zero entries of `row` into `idx`/`val` without branching (a branch on
/// data-dependent zeros mispredicts about half the time); returns how many there are.
#[inline(always)]
fn nonzeros(row: &[f32], idx: &mut [u16; BLOCK], val: &mut [f32; BLOCK]) -> usize {
    let mut count = 0;
    for (t, &x) in row.iter().enumerate() {
        idx[count] = t as u16;
        val[count] = x;
        count += usize::from(x != 0.0);
    }
    count
}

#[inline(always)]
fn forward_impl<const FMA: bool>(
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
    k: usize,
    n: usize,
    relu: bool,
) {
    let mut idx = [0u16; BLOCK];
    let mut val = [0f32; BLOCK];
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        let mut j0 = 0;
        while j0 < n {
            let w = LANES.min(n - j0);
            let mut acc = [0f32; LANES];
            acc[..w].copy_from_slice(&bias[j0..j0 + w]);
            for (block, part) in a_row.chunks(BLOCK).enumerate() {
                let count = nonzeros(part, &mut idx, &mut val);
                let base = block * BLOCK;
                for (&i, &x) in idx[..count].iter().zip(&val[..count]) {
                    let start = (base + usize::from(i)) * n + j0;
                    if w == LANES {
                        let seg: &[f32; LANES] = b[start..start + LANES].try_into().expect("lanes");
                        for t in 0..LANES {
                            acc[t] = madd::<FMA>(acc[t], x, seg[t]);
                        }
                    } else {
                        for (t, &bv) in b[start..start + w].iter().enumerate() {
                            acc[t] = madd::<FMA>(acc[t], x, bv);
                        }
                    }
                }
            }
            let out = &mut c_row[j0..j0 + w];
            if relu {
                for (o, &v) in out.iter_mut().zip(&acc) {
                    *o = v.max(0.0);
                }
            } else {
                out.copy_from_slice(&acc[..w]);
            }
            j0 += w;
        }
    }
}

/// Rows [`forward_rows`] scores together.
pub const ROWS: usize = 4;

/// [`forward`] on `a`'s rows [`ROWS`] at a time, each row's results bit-identical to
/// [`forward`]'s: every output is its bias plus the products of the row's non-zero inputs
/// accumulated in input order with the same multiply-adds, then the ReLU. Only the
/// interleaving differs: the rows' non-zero inputs are gathered once for all the outputs,
/// and outputs past the last full accumulator width (all of a narrow layer: the softmax
/// layer) are accumulated for the rows together, so that their chains of multiply-adds
/// overlap instead of waiting on each other. A last group of fewer rows goes through
/// [`forward`].
pub fn forward_rows(a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize, relu: bool) {
    dispatch!(forward_rows_impl, forward_rows_fma, (a, b, bias, c, k, n, relu))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_rows_fma(a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize, relu: bool) {
    forward_rows_impl::<true>(a, b, bias, c, k, n, relu)
}

#[inline(always)]
fn forward_rows_impl<const FMA: bool>(
    a: &[f32],
    b: &[f32],
    bias: &[f32],
    c: &mut [f32],
    k: usize,
    n: usize,
    relu: bool,
) {
    if k == 0 || n == 0 {
        return forward_impl::<FMA>(a, b, bias, c, k, n, relu);
    }
    let m = (a.len() / k).min(c.len() / n);
    let full = m / ROWS * ROWS;
    // Each row's non-zero inputs (index, value), in input order, as `nonzeros` finds them.
    let mut idx: Vec<u32> = vec![0; ROWS * k];
    let mut val: Vec<f32> = vec![0.0; ROWS * k];
    for (a_rows, c_rows) in a[..full * k].chunks_exact(ROWS * k).zip(c[..full * n].chunks_exact_mut(ROWS * n))
    {
        let mut count = [0usize; ROWS];
        for (r, row) in a_rows.chunks_exact(k).enumerate() {
            let (idx, val) = (&mut idx[r * k..(r + 1) * k], &mut val[r * k..(r + 1) * k]);
            // Branchless, as `nonzeros`; `cnt <= t`, so every store is in bounds.
            let mut cnt = 0;
            for (t, &x) in row.iter().enumerate() {
                idx[cnt] = t as u32;
                val[cnt] = x;
                cnt += usize::from(x != 0.0);
            }
            count[r] = cnt;
        }
        let common = count.iter().copied().min().unwrap_or(0);
        let mut j0 = 0;
        // Full accumulator widths: one row at a time, as `forward_impl` (eight vector
        // accumulators already keep the multiply-adds busy).
        while n - j0 >= LANES {
            for (r, c_row) in c_rows.chunks_exact_mut(n).enumerate() {
                let mut acc = [0f32; LANES];
                acc.copy_from_slice(&bias[j0..j0 + LANES]);
                for (&i, &x) in idx[r * k..r * k + count[r]].iter().zip(&val[r * k..r * k + count[r]]) {
                    let start = i as usize * n + j0;
                    let seg: &[f32; LANES] = b[start..start + LANES].try_into().expect("lanes");
                    for t in 0..LANES {
                        acc[t] = madd::<FMA>(acc[t], x, seg[t]);
                    }
                }
                store(&acc, &mut c_row[j0..j0 + LANES], relu);
            }
            j0 += LANES;
        }
        // The rest (all of a narrow layer such as the softmax layer): the rows advance
        // together while each has non-zero inputs left, then each alone, so the chains of
        // multiply-adds of different rows overlap.
        if j0 < n {
            let w = n - j0;
            let mut acc = [[0f32; LANES]; ROWS];
            for row in &mut acc {
                row[..w].copy_from_slice(&bias[j0..n]);
            }
            for t in 0..common {
                for (r, row) in acc.iter_mut().enumerate() {
                    let (i, x) = (idx[r * k + t] as usize, val[r * k + t]);
                    let start = i * n + j0;
                    for (o, &bv) in row[..w].iter_mut().zip(&b[start..start + w]) {
                        *o = madd::<FMA>(*o, x, bv);
                    }
                }
            }
            for (r, row) in acc.iter_mut().enumerate() {
                for t in common..count[r] {
                    let (i, x) = (idx[r * k + t] as usize, val[r * k + t]);
                    let start = i * n + j0;
                    for (o, &bv) in row[..w].iter_mut().zip(&b[start..start + w]) {
                        *o = madd::<FMA>(*o, x, bv);
                    }
                }
            }
            for (row, c_row) in acc.iter().zip(c_rows.chunks_exact_mut(n)) {
                store(&row[..w], &mut c_row[j0..n], relu);
            }
        }
    }
    forward_impl::<FMA>(&a[full * k..m * k], b, bias, &mut c[full * n..m * n], k, n, relu)
}

/// Writes accumulators to `out`, with the ReLU when `relu`.
#[inline(always)]
fn store(acc: &[f32], out: &mut [f32], relu: bool) {
    if relu {
        for (o, &v) in out.iter_mut().zip(acc) {
            *o = v.max(0.0);
        }
    } else {
        out.copy_from_slice(&acc[..out.len()]);
    }
}

/// Outputs at most this wide (the softmax layer) take the `*_narrow` kernels, which work on
/// the transposed weights (`n × k`) with dot products and row updates instead of a GEMM.
pub const NARROW: usize = 8;

/// `wt = wᵀ` for `w` (`k × n`).
pub fn transpose(w: &[f32], wt: &mut [f32], k: usize, n: usize) {
    for (kk, row) in w.chunks_exact(n).enumerate() {
        for (j, &v) in row.iter().enumerate() {
            wt[j * k + kk] = v;
        }
    }
}

/// `c[i, j] = bias[j] + a[i, :] · wt[j, :]` for `a` (`m × k`), `wt` (`n × k`), `c` (`m × n`).
pub fn forward_narrow(a: &[f32], wt: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize) {
    dispatch!(forward_narrow_impl, forward_narrow_fma, (a, wt, bias, c, k, n))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn forward_narrow_fma(a: &[f32], wt: &[f32], bias: &[f32], c: &mut [f32], k: usize, n: usize) {
    forward_narrow_impl::<true>(a, wt, bias, c, k, n)
}

#[inline(always)]
fn forward_narrow_impl<const FMA: bool>(
    a: &[f32],
    wt: &[f32],
    bias: &[f32],
    c: &mut [f32],
    k: usize,
    n: usize,
) {
    for (a_row, c_row) in a.chunks_exact(k).zip(c.chunks_exact_mut(n)) {
        for (j, out) in c_row.iter_mut().enumerate() {
            *out = bias[j] + dot::<FMA>(a_row, &wt[j * k..(j + 1) * k]);
        }
    }
}

/// Transposed weight gradient `gwt = dᵀ · a` (`n × k`) for `a` (`m × k`) and `d` (`m × n`).
pub fn weight_gradient_narrow(a: &[f32], d: &[f32], gwt: &mut [f32], k: usize, n: usize) {
    dispatch!(weight_gradient_narrow_impl, weight_gradient_narrow_fma, (a, d, gwt, k, n))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn weight_gradient_narrow_fma(a: &[f32], d: &[f32], gwt: &mut [f32], k: usize, n: usize) {
    weight_gradient_narrow_impl::<true>(a, d, gwt, k, n)
}

#[inline(always)]
fn weight_gradient_narrow_impl<const FMA: bool>(a: &[f32], d: &[f32], gwt: &mut [f32], k: usize, n: usize) {
    gwt.fill(0.0);
    for (a_row, d_row) in a.chunks_exact(k).zip(d.chunks_exact(n)) {
        for (j, &s) in d_row.iter().enumerate() {
            axpy::<FMA>(s, a_row, &mut gwt[j * k..(j + 1) * k]);
        }
    }
}

/// Gradient through a hidden layer from a narrow one: `prev[i, :] = scale · d[i, :] · wt`
/// where `act[i, :] > 0`, else 0; `d` is `m × n`, `wt` is `n × k`, `act` and `prev` `m × k`.
pub fn backprop_narrow(d: &[f32], wt: &[f32], act: &[f32], prev: &mut [f32], scale: f32, k: usize, n: usize) {
    dispatch!(backprop_narrow_impl, backprop_narrow_fma, (d, wt, act, prev, scale, k, n))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn backprop_narrow_fma(d: &[f32], wt: &[f32], act: &[f32], prev: &mut [f32], scale: f32, k: usize, n: usize) {
    backprop_narrow_impl::<true>(d, wt, act, prev, scale, k, n)
}

#[inline(always)]
fn backprop_narrow_impl<const FMA: bool>(
    d: &[f32],
    wt: &[f32],
    act: &[f32],
    prev: &mut [f32],
    scale: f32,
    k: usize,
    n: usize,
) {
    for ((d_row, act_row), prev_row) in
        d.chunks_exact(n).zip(act.chunks_exact(k)).zip(prev.chunks_exact_mut(k))
    {
        prev_row.fill(0.0);
        for (j, &s) in d_row.iter().enumerate() {
            axpy::<FMA>(s, &wt[j * k..(j + 1) * k], prev_row);
        }
        for (p, &a) in prev_row.iter_mut().zip(act_row) {
            *p = if a > 0.0 { *p * scale } else { 0.0 };
        }
    }
}

/// `y += s · x`.
#[inline(always)]
fn axpy<const FMA: bool>(s: f32, x: &[f32], y: &mut [f32]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv = madd::<FMA>(*yv, s, xv);
    }
}

/// Dot product with 16 independent partial sums (vectorisable, fixed order).
#[inline(always)]
fn dot<const FMA: bool>(x: &[f32], y: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0f32; L];
    let mut xs = x.chunks_exact(L);
    let mut ys = y.chunks_exact(L);
    for (xc, yc) in (&mut xs).zip(&mut ys) {
        for t in 0..L {
            acc[t] = madd::<FMA>(acc[t], xc[t], yc[t]);
        }
    }
    let mut tail = 0.0;
    for (&a, &b) in xs.remainder().iter().zip(ys.remainder()) {
        tail = madd::<FMA>(tail, a, b);
    }
    let mut width = L;
    while width > 1 {
        width /= 2;
        for t in 0..width {
            acc[t] += acc[t + width];
        }
    }
    acc[0] + tail
}

/// `sqrt(f32::MIN_POSITIVE)`: a gradient smaller than this would square to a subnormal.
const SQRT_MIN_NORMAL: f32 = f32::from_bits(0x2000_0000); // 2^-63

/// One Adam update (Keras' form): `m += (g − m)·b1`, `v += (g² − v)·b2`,
/// `w −= alpha·m / (sqrt(v) + eps)`, where `b1 = 1 − β1` and `b2 = 1 − β2`.
///
/// Moments that would be subnormal are kept at zero, and a gradient below 2⁻⁶³ (whose square
/// would be subnormal) counts as zero. A parameter whose gradient stays zero has `v` decay by β2
/// a step, into the subnormal range after about 70,000 steps, and arithmetic on subnormals is
/// 10–100 times slower here: a 1M-row training spent 77% of its time in this function. Such
/// moments move a weight by less than `alpha · 2⁻¹²⁶ / eps`, far below the rounding of any weight
/// of a trained network, so the weights are the same as without the flush (tested).
#[allow(clippy::too_many_arguments)]
pub fn adam(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], alpha: f32, b1: f32, b2: f32, eps: f32) {
    dispatch!(adam_impl, adam_fma, (w, g, m, v, alpha, b1, b2, eps))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
fn adam_fma(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], alpha: f32, b1: f32, b2: f32, eps: f32) {
    adam_impl::<true>(w, g, m, v, alpha, b1, b2, eps)
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adam_impl<const FMA: bool>(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    alpha: f32,
    b1: f32,
    b2: f32,
    eps: f32,
) {
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let g = if g.abs() < SQRT_MIN_NORMAL { 0.0 } else { g };
        let next_m = madd::<FMA>(*m, g - *m, b1);
        let next_v = madd::<FMA>(*v, g * g - *v, b2);
        *m = if next_m.abs() < f32::MIN_POSITIVE { 0.0 } else { next_m };
        *v = if next_v < f32::MIN_POSITIVE { 0.0 } else { next_v };
        *w -= alpha * *m / (v.sqrt() + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| f64::from(a[i * k + t]) * f64::from(b[t * n + j])).sum();
            }
        }
        c
    }

    fn data(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| {
                if (i + seed).is_multiple_of(5) {
                    0.0
                } else {
                    (((i * 31 + seed * 7) % 23) as f32 - 11.0) / 7.0
                }
            })
            .collect()
    }

    /// Adam without the flush of subnormal moments and gradients: the weights must not differ.
    fn adam_unflushed<const FMA: bool>(
        w: &mut [f32],
        g: &[f32],
        m: &mut [f32],
        v: &mut [f32],
        b1: f32,
        b2: f32,
    ) {
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = madd::<FMA>(*m, g - *m, b1);
            *v = madd::<FMA>(*v, g * g - *v, b2);
            *w -= 1e-3 * *m / (v.sqrt() + 1e-7);
        }
    }

    #[test]
    fn flushing_subnormal_moments_leaves_the_weights_unchanged() {
        flush_case::<false>();
        flush_case::<true>();
    }

    fn flush_case<const FMA: bool>() {
        // 16 parameters: gradients for 2,000 steps, then zero (the moments decay through the
        // subnormal range), tiny (below 2^-63: squares that underflow) or occasional.
        let n = 16;
        let init = data(n, 7);
        let (mut w1, mut m1, mut v1) = (init.clone(), vec![0.0; n], vec![0.0; n]);
        let (mut w2, mut m2, mut v2) = (init, vec![0.0; n], vec![0.0; n]);
        let mut g = vec![0.0f32; n];
        let mut subnormal_seen = false;
        for step in 0..120_000usize {
            for (j, g) in g.iter_mut().enumerate() {
                *g = match j % 4 {
                    _ if step < 2_000 => ((step * 31 + j * 17) % 97) as f32 * 1e-3 - 0.048,
                    0 => 0.0,
                    1 => 1e-21 * (1 + step % 7) as f32,
                    2 if step % 5_000 == 0 => 1e-3,
                    2 => 0.0,
                    _ => 3e-20,
                };
            }
            adam_impl::<FMA>(&mut w1, &g, &mut m1, &mut v1, 1e-3, 0.1, 0.001, 1e-7);
            adam_unflushed::<FMA>(&mut w2, &g, &mut m2, &mut v2, 0.1, 0.001);
            subnormal_seen |= v2.iter().chain(&m2).any(|x| x.is_subnormal());
            assert!(v1.iter().chain(&m1).all(|x| !x.is_subnormal()), "step {step}");
        }
        assert!(subnormal_seen, "the schedule must reach subnormal moments");
        let bits = |w: &[f32]| w.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&w1), bits(&w2), "fma {FMA}");
    }

    /// [`forward_rows`] gives each row exactly [`forward`]'s bits: random shapes (wider than a
    /// gathering block and than the accumulators, groups of rows and a remainder), inputs with
    /// zeros, negative zeros, ones, large and tiny values, and weights with the same.
    #[test]
    fn block_kernel_is_bit_identical_to_one_row_kernel() {
        use rand::{Rng, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let special = [0.0, -0.0, 1.0, -1.0, 3e38, -3e38, 1e-40, f32::MIN_POSITIVE];
        let pick = |r: &mut rand_chacha::ChaCha8Rng, zeros: u32| match r.random_range(0..10) {
            z if z < zeros => [0.0, -0.0][r.random_range(0..2usize)],
            4 => special[r.random_range(0..special.len())],
            _ => r.random_range(-4.0f32..4.0),
        };
        for case in 0..300 {
            let m = r.random_range(1..19usize);
            let k = if case % 10 == 0 { r.random_range(250..600usize) } else { r.random_range(1..70usize) };
            let n = [1, 2, 3, 15, 16, 17, 33, 64, 65, 130][r.random_range(0..10usize)];
            let zeros = r.random_range(0..9u32);
            let a: Vec<f32> = (0..m * k).map(|_| pick(&mut r, zeros)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| pick(&mut r, 1)).collect();
            let bias: Vec<f32> = (0..n).map(|_| pick(&mut r, 1)).collect();
            for relu in [false, true] {
                let mut got = vec![7.0; m * n];
                forward_rows(&a, &b, &bias, &mut got, k, n, relu);
                let mut want = vec![9.0; n];
                for (i, row) in got.chunks_exact(n).enumerate() {
                    forward(&a[i * k..(i + 1) * k], &b, &bias, &mut want, k, n, relu);
                    let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(row), bits(&want), "case {case}: {m}x{k}x{n}, relu {relu}, row {i}");
                    // The plain build too (the dispatch above takes FMA where the CPU has it).
                    let mut plain = vec![5.0; n];
                    forward_impl::<false>(&a[i * k..(i + 1) * k], &b, &bias, &mut plain, k, n, relu);
                    let mut plain_rows = vec![3.0; m * n];
                    forward_rows_impl::<false>(&a, &b, &bias, &mut plain_rows, k, n, relu);
                    assert_eq!(bits(&plain_rows[i * n..(i + 1) * n]), bits(&plain), "plain, case {case}");
                }
            }
        }
    }

    #[test]
    fn kernels_agree_with_naive_products() {
        for &(m, k, n) in &[(5, 7, 70), (3, 33, 2), (4, 64, 64), (1, 1, 1)] {
            let a = data(m * k, 1);
            let b = data(k * n, 2);
            let bias = data(n, 3);
            let mut c = vec![0.0; m * n];
            forward(&a, &b, &bias, &mut c, k, n, false);
            let expect = naive(&a, &b, m, k, n);
            for (i, (&got, &want)) in c.iter().zip(&expect).enumerate() {
                let want = want + f64::from(bias[i % n]);
                assert!((f64::from(got) - want).abs() < 1e-4, "forward {m}x{k}x{n}");
            }
            forward(&a, &b, &bias, &mut c, k, n, true);
            assert!(c.iter().all(|&v| v >= 0.0));

            let mut bt = vec![0.0; k * n];
            transpose(&b, &mut bt, k, n);
            forward_narrow(&a, &bt, &bias, &mut c, k, n);
            for (i, (&got, &want)) in c.iter().zip(&expect).enumerate() {
                assert!((f64::from(got) - want - f64::from(bias[i % n])).abs() < 1e-4, "narrow {m}x{k}x{n}");
            }
            // gwt = dᵀ a (n × k), i.e. the transpose of aᵀ d
            let d = data(m * n, 4);
            let mut gwt = vec![0.0; n * k];
            weight_gradient_narrow(&a, &d, &mut gwt, k, n);
            let dt: Vec<f32> = (0..n * m).map(|i| d[(i % m) * n + i / m]).collect();
            let expect_gwt = naive(&dt, &a, n, m, k);
            for (&got, &want) in gwt.iter().zip(&expect_gwt) {
                assert!((f64::from(got) - want).abs() < 1e-4, "weight gradient");
            }
            // prev = scale · d · wt, masked by act > 0
            let act = data(m * k, 5);
            let mut prev = vec![9.0; m * k];
            backprop_narrow(&d, &bt, &act, &mut prev, 2.0, k, n);
            let expect_prev = naive(&d, &bt, m, n, k);
            for (i, (&got, &want)) in prev.iter().zip(&expect_prev).enumerate() {
                let want = if act[i] > 0.0 { 2.0 * want } else { 0.0 };
                assert!((f64::from(got) - want).abs() < 1e-4, "backprop");
            }
        }
    }
}
