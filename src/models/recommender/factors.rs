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

/// Standard normal draws by the Box–Muller transform (two draws per pair of uniforms).
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

/// Dot product of two padded rows of the same length (a multiple of [`LANES`]).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    debug_assert_eq!(a.len() % LANES, 0);
    let mut acc = [0.0f32; LANES];
    for (x, y) in a.chunks_exact(LANES).zip(b.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    sum_lanes(acc)
}

/// Sums the eight partial sums in a fixed order.
#[inline]
pub fn sum_lanes(acc: [f32; LANES]) -> f32 {
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
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
