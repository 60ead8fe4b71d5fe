//! Times the hand-written forward kernel against matrixmultiply at the default network's shapes
//! (batch 32). Run: `cargo run --release --example kernel_bench`.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2};
use sqlml::models::mlp::kernels;
use std::time::Instant;

fn gemm(a: &[f32], b: &[f32], c: &mut [f32], m: usize, k: usize, n: usize) {
    let a = ArrayView2::from_shape((m, k), a).unwrap();
    let b = ArrayView2::from_shape((k, n), b).unwrap();
    let mut c = ArrayViewMut2::from_shape((m, n), c).unwrap();
    general_mat_mul(1.0, &a, &b, 0.0, &mut c);
}

/// Best time in µs of 200 calls, over 30 rounds.
fn best(f: &mut dyn FnMut()) -> f64 {
    let mut b = f64::INFINITY;
    for _ in 0..30 {
        let t = Instant::now();
        for _ in 0..200 {
            f();
        }
        b = b.min(t.elapsed().as_secs_f64() / 200.0 * 1e6);
    }
    b
}

fn main() {
    let m = 32;
    for &(k, n, density) in &[(50usize, 64usize, 0.33f32), (64, 64, 0.5), (64, 2, 0.5)] {
        // 64 inputs with different zero patterns, cycled, so that branch predictors cannot learn
        // one pattern (real batches never repeat).
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        let inputs: Vec<Vec<f32>> = (0..64)
            .map(|_| (0..m * k).map(|_| if next() < density { next() * 2.0 } else { 0.0 }).collect())
            .collect();
        let mut which = 0usize;
        let mut pick = move || {
            which = (which + 1) % 64;
            which
        };
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5).collect();
        let bias = vec![0.1f32; n];
        let mut c = vec![0f32; m * n];
        let forward_kernel = best(&mut || kernels::forward(&inputs[pick()], &b, &bias, &mut c, k, n, true));
        let forward_gemm = best(&mut || gemm(&inputs[pick()], &b, &mut c, m, k, n));
        println!(
            "{{\"m\":{m},\"k\":{k},\"n\":{n},\"density\":{density},\"forward_us\":{{\"kernel\":{forward_kernel:.2},\"gemm\":{forward_gemm:.2}}}}}"
        );
    }
}
