//! Contiguous f32 factor matrices and the small vector kernels the trainers share.
//!
//! Rows are padded with zeros to a multiple of [`LANES`] (the *stride*), so every kernel works
//! on whole chunks of eight floats: no remainder loop, no bounds checks inside the loop, and
//! the compiler turns each chunk into SIMD instructions. Padding stays zero through every
//! update (its gradient is zero), so it never changes a result.
//!
//! Determinism: reductions use eight fixed partial sums combined in a fixed order, and no
//! `mul_add` is used (fused and unfused rounding differ, and `mul_add` without FMA hardware
//! falls back to a slow software routine). The same data, options and seed therefore give the
//! same bits whatever the SIMD width the build uses.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Floats per chunk; rows are padded to a multiple of this.
pub const LANES: usize = 8;

/// The padded row length for `k` factors.
pub fn stride_for(k: usize) -> usize {
    k.div_ceil(LANES) * LANES
}

/// A row-major matrix of factor vectors, one padded row per user or item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Factors {
    /// Number of factors (the unpadded row length).
    pub k: usize,
    /// Padded row length, a multiple of [`LANES`].
    pub stride: usize,
    /// `rows × stride` values.
    pub data: Vec<f32>,
}

impl Factors {
    /// `rows` zero vectors.
    pub fn zeros(rows: usize, k: usize) -> Self {
        let stride = stride_for(k);
        Factors { k, stride, data: vec![0.0; rows * stride] }
    }

    /// [`Factors::zeros`], the memory taken fallibly (`rows` comes from the data): a refused
    /// allocation is an error.
    pub fn try_zeros(rows: usize, k: usize) -> crate::Result<Self> {
        let stride = stride_for(k);
        let len = rows
            .checked_mul(stride)
            .ok_or_else(|| crate::models::memory::refused(f64::INFINITY, "the factors"))?;
        let data = crate::models::memory::zeroed(len, "the factors")?;
        // Rows read and written at random (an item's per rating), and written whole next.
        crate::models::memory::huge_pages(&data);
        Ok(Factors { k, stride, data })
    }

    /// `rows` vectors drawn from a normal distribution, row by row, factor by factor.
    pub fn normal(rows: usize, k: usize, mean: f32, std_dev: f32, rng: &mut impl Rng) -> Self {
        let mut m = Self::zeros(rows, k);
        let mut normal = NormalSampler::default();
        for row in m.data.chunks_exact_mut(m.stride) {
            for x in &mut row[..k] {
                *x = mean + std_dev * normal.sample(rng);
            }
        }
        m
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.stride).unwrap_or(0)
    }

    /// Row `i` (padded).
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.stride..(i + 1) * self.stride]
    }

    /// Row `i` (padded), mutable.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f32] {
        &mut self.data[i * self.stride..(i + 1) * self.stride]
    }

    /// Euclidean norm of every row.
    pub fn norms(&self) -> Vec<f32> {
        self.data.chunks_exact(self.stride).map(|r| dot(r, r).sqrt()).collect()
    }
}

/// Standard normal draws by the Box–Muller transform (two draws per pair of uniforms), for
/// ALS's start (SVD and SVD++ draw Surprise's own start, see [`super::init`]).
///
/// Written here rather than taken from `rand_distr` so that the stored model bytes for a seed
/// cannot change with a dependency upgrade.
#[derive(Default)]
pub struct NormalSampler {
    spare: Option<f32>,
}

impl NormalSampler {
    /// One draw from N(0, 1).
    pub fn sample(&mut self, rng: &mut impl Rng) -> f32 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        self.spare = Some((radius * angle.sin()) as f32);
        (radius * angle.cos()) as f32
    }
}

/// Runs `f`, compiled for AVX2 when the CPU has it (x86_64), else for the baseline.
///
/// Both versions compute the same bits: the kernels fix their summation order and use no fused
/// multiply-add, so the only difference is how many lanes one instruction handles. Give `f`
/// the `#[inline(always)]` attribute so that its body (and the kernels it calls) is compiled
/// into the AVX2 copy.
#[inline(always)]
pub fn with_simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(test)]
    if BASELINE_ONLY.get() {
        return f();
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(test)]
thread_local! {
    /// Tests set this to run the baseline copy and compare its bits with the AVX2 copy.
    pub static BASELINE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Asks the CPU to start loading `row` into cache (a hint; no effect on results).
#[inline(always)]
pub fn prefetch(row: &[f32]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(16) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint: it never faults, reads no value and writes
        // nothing, and SSE is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// Dot product of two padded rows of the same length (a multiple of [`LANES`]).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    debug_assert_eq!(a.len() % LANES, 0);
    let (a, b) = (a.as_chunks::<LANES>().0, b.as_chunks::<LANES>().0);
    let mut acc = [0.0f32; LANES];
    for (x, y) in a.iter().zip(b) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    sum_lanes(acc)
}

/// `[dot(p[0], q[0]), ..., dot(p[3], q[3])]`, bit for bit: four independent sets of partial
/// sums, each in [`dot`]'s order, so that the four dependency chains overlap instead of
/// queuing (a single [`dot`] waits on its additions one after another).
#[inline(always)]
pub fn dots4(p: [&[f32]; 4], q: [&[f32]; 4]) -> [f32; 4] {
    let p = p.map(|row| row.as_chunks::<LANES>().0);
    let q = q.map(|row| row.as_chunks::<LANES>().0);
    let chunks = p.iter().chain(&q).map(|r| r.len()).min().unwrap_or(0);
    let mut acc = [[0f32; LANES]; 4];
    for c in 0..chunks {
        for j in 0..4 {
            let (x, y) = (&p[j][c], &q[j][c]);
            for l in 0..LANES {
                acc[j][l] += x[l] * y[l];
            }
        }
    }
    acc.map(sum_lanes)
}

/// The dot products of 4 rows `p` with 2 rows `q`: `out[j][m] == dot(p[j], q[m])`, bit for bit
/// (each of the eight sets of partial sums in [`dot`]'s order). Eight accumulators stay in
/// registers and each chunk of the six rows is loaded once for eight multiply-adds, where
/// [`dots4`] of one user against four items loads the user's chunk four times: the kernel of
/// scoring many users against many items (the ranking metrics).
#[inline(always)]
pub fn dots_grid(p: [&[f32]; 4], q: [&[f32]; 2]) -> [[f32; 2]; 4] {
    let p = p.map(|row| row.as_chunks::<LANES>().0);
    let q = q.map(|row| row.as_chunks::<LANES>().0);
    let chunks = p.iter().chain(&q).map(|r| r.len()).min().unwrap_or(0);
    let mut acc = [[[0f32; LANES]; 2]; 4];
    for c in 0..chunks {
        let (y0, y1) = (&q[0][c], &q[1][c]);
        for j in 0..4 {
            let x = &p[j][c];
            for l in 0..LANES {
                acc[j][0][l] += x[l] * y0[l];
            }
            for l in 0..LANES {
                acc[j][1][l] += x[l] * y1[l];
            }
        }
    }
    acc.map(|row| row.map(sum_lanes))
}

/// Sums the eight partial sums in a fixed order: halves folded together, then quarters, then
/// pairs (the order a SIMD horizontal sum takes).
#[inline(always)]
pub fn sum_lanes(acc: [f32; LANES]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_loadu_ps, _mm_movehl_ps, _mm_shuffle_ps,
        };
        // The same tree in SSE registers (part of the x86_64 baseline, so the AVX2 and the
        // baseline copies run the same instructions). Written lane by lane behind
        // `black_box`, as on other targets, the accumulators went through memory: a store
        // and narrower reloads on the dependency chain of every SGD step (about 5% of an SVD
        // epoch). As vector operations, the tree also gives LLVM no reason to vectorise the
        // accumulation loops two lanes at a time (which is what `black_box` prevents).
        // SAFETY: SSE is part of the x86_64 baseline; both loads read 4 floats inside `acc`.
        unsafe {
            let h = _mm_add_ps(_mm_loadu_ps(acc.as_ptr()), _mm_loadu_ps(acc.as_ptr().add(4)));
            let q = _mm_add_ps(h, _mm_movehl_ps(h, h));
            _mm_cvtss_f32(_mm_add_ss(q, _mm_shuffle_ps::<1>(q, q)))
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        sum_lanes_scalar(acc)
    }
}

/// [`sum_lanes`] lane by lane.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline]
fn sum_lanes_scalar(acc: [f32; LANES]) -> f32 {
    // Opaque to the optimiser: seeing the whole reduction tree, LLVM otherwise vectorises the
    // accumulation loop two lanes at a time to match it, which is several times slower.
    let acc = std::hint::black_box(acc);
    let h = [acc[0] + acc[4], acc[1] + acc[5], acc[2] + acc[6], acc[3] + acc[7]];
    let q = [h[0] + h[2], h[1] + h[3]];
    q[0] + q[1]
}

/// `y += a * x` over padded rows.
#[inline]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (ys, xs) in y.chunks_exact_mut(LANES).zip(x.chunks_exact(LANES)) {
        for l in 0..LANES {
            ys[l] += a * xs[l];
        }
    }
}

/// `y = y * c + a * x` over padded rows (a decayed accumulation).
#[inline]
pub fn scale_add(c: f32, a: f32, x: &[f32], y: &mut [f32]) {
    for (ys, xs) in y.chunks_exact_mut(LANES).zip(x.chunks_exact(LANES)) {
        for l in 0..LANES {
            ys[l] = ys[l] * c + a * xs[l];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::split::rng;

    #[test]
    fn padding_and_kernels() {
        assert_eq!(stride_for(100), 104);
        assert_eq!(stride_for(8), 8);
        let mut m = Factors::zeros(2, 3);
        m.row_mut(0)[..3].copy_from_slice(&[1.0, 2.0, 3.0]);
        m.row_mut(1)[..3].copy_from_slice(&[4.0, 5.0, 6.0]);
        assert_eq!(dot(m.row(0), m.row(1)), 32.0);
        assert_eq!(m.norms()[0], 14f32.sqrt());
        let mut y = m.row(1).to_vec();
        axpy(2.0, m.row(0), &mut y);
        assert_eq!(&y[..4], &[6.0, 9.0, 12.0, 0.0]);
        scale_add(0.5, 1.0, m.row(0), &mut y);
        assert_eq!(&y[..4], &[4.0, 6.5, 9.0, 0.0]);
    }

    #[test]
    fn dots4_is_four_dots() {
        let m = Factors::normal(9, 21, 0.0, 1.0, &mut rng(4));
        let p = [m.row(0), m.row(1), m.row(1), m.row(8)];
        let q = [m.row(2), m.row(3), m.row(7), m.row(8)];
        let want: Vec<u32> = (0..4).map(|j| dot(p[j], q[j]).to_bits()).collect();
        assert_eq!(dots4(p, q).map(f32::to_bits).to_vec(), want);
    }

    #[test]
    fn dots_grid_is_eight_dots() {
        let mut r = rng(5);
        for k in [1, 8, 21, 100] {
            let m = Factors::normal(9, k, 0.0, 1.0, &mut r);
            let p = [m.row(0), m.row(1), m.row(1), m.row(8)];
            let q = [m.row(2), m.row(7)];
            let got = dots_grid(p, q);
            for j in 0..4 {
                for n in 0..2 {
                    assert_eq!(got[j][n].to_bits(), dot(p[j], q[n]).to_bits(), "k {k} user {j} item {n}");
                }
            }
            let simd = with_simd(
                #[inline(always)]
                || dots_grid(p, q),
            );
            assert_eq!(simd.map(|r| r.map(f32::to_bits)), got.map(|r| r.map(f32::to_bits)), "k {k}");
        }
    }

    #[test]
    fn sum_lanes_keeps_the_tree_order() {
        let mut r = rng(3);
        for _ in 0..10_000 {
            let acc: [f32; LANES] = std::array::from_fn(|_| r.random::<f32>() * 2e3 - 1e3);
            assert_eq!(sum_lanes(acc).to_bits(), sum_lanes_scalar(acc).to_bits(), "{acc:?}");
        }
        let tiny = [1e-30, 1e30, -1e30, 3.0, 1.0, -1e30, 1e30, 0.5];
        assert_eq!(sum_lanes(tiny).to_bits(), sum_lanes_scalar(tiny).to_bits());
    }

    #[test]
    fn normal_init_has_the_asked_moments_and_zero_padding() {
        let m = Factors::normal(2000, 5, 0.0, 0.1, &mut rng(1));
        let values: Vec<f32> = m.data.chunks_exact(m.stride).flat_map(|r| r[..5].to_vec()).collect();
        let n = values.len() as f32;
        let mean = values.iter().sum::<f32>() / n;
        let sd = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
        assert!(mean.abs() < 0.005, "mean {mean}");
        assert!((sd - 0.1).abs() < 0.005, "sd {sd}");
        assert!(m.data.chunks_exact(m.stride).all(|r| r[5..].iter().all(|&x| x == 0.0)));
        assert_eq!(m, Factors::normal(2000, 5, 0.0, 0.1, &mut rng(1)));
    }
}
