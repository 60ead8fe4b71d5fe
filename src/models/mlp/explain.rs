//! Integrated gradients, computed exactly for the piecewise-linear network.
//!
//! Along the straight path `p(t) = b + t (x − b)` from the baseline `b` to the input `x`, the
//! gradient of a class score only changes where a hidden unit's pre-activation crosses zero.
//! Those crossings are found layer by layer (between two consecutive crossings of the earlier
//! layers a pre-activation is linear in `t`, so it crosses zero at most once), and the gradient
//! is constant on each piece. Contribution `i` is therefore
//! `(x_i − b_i) · Σ_pieces (t₁ − t₀) · ∂score/∂x_i(midpoint)`, with no quadrature error: the
//! contributions sum to `score(x) − score(b)` up to f64 rounding (completeness). Computed in
//! f64 from the f32 weights.

use super::network::Network;

/// Contributions behind one class score.
#[derive(Clone, Debug, PartialEq)]
pub struct Attribution {
    /// One contribution per network input.
    pub contributions: Vec<f64>,
    /// The class score (logit) at the input.
    pub score: f64,
    /// The class score at the baseline.
    pub baseline_score: f64,
    /// Number of linear pieces along the path.
    pub pieces: usize,
}

/// Integrated gradients of output score `class` at `x` against `baseline`.
pub fn integrated_gradients(net: &Network, x: &[f32], baseline: &[f32], class: usize) -> Attribution {
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let b: Vec<f64> = baseline.iter().map(|&v| f64::from(v)).collect();
    let point = |t: f64| -> Vec<f64> { b.iter().zip(&x).map(|(&bi, &xi)| bi + t * (xi - bi)).collect() };
    let hidden = net.layers() - 1;
    let mut ts = vec![0.0, 1.0];
    for layer in 0..hidden {
        let z: Vec<Vec<f64>> =
            ts.iter().map(|&t| pre_activations(net, &point(t)).swap_remove(layer)).collect();
        let mut found = Vec::new();
        for (w, pair) in ts.windows(2).enumerate() {
            let (z0, z1) = (&z[w], &z[w + 1]);
            for (&a, &c) in z0.iter().zip(z1) {
                if a * c < 0.0 {
                    found.push(pair[0] + (pair[1] - pair[0]) * a / (a - c));
                }
            }
        }
        ts.extend(found);
        ts.sort_by(f64::total_cmp);
        ts.dedup();
    }
    let mut contributions = vec![0.0; x.len()];
    for pair in ts.windows(2) {
        let width = pair[1] - pair[0];
        let grad = input_gradient(net, &point(0.5 * (pair[0] + pair[1])), class);
        for (c, g) in contributions.iter_mut().zip(grad) {
            *c += width * g;
        }
    }
    for ((c, &xi), &bi) in contributions.iter_mut().zip(&x).zip(&b) {
        *c *= xi - bi;
    }
    let score = scores(net, &x)[class];
    let baseline_score = scores(net, &b)[class];
    Attribution { contributions, score, baseline_score, pieces: ts.len() - 1 }
}

/// Pre-activations of every layer (the last is the output scores), in f64.
fn pre_activations(net: &Network, x: &[f64]) -> Vec<Vec<f64>> {
    let mut out: Vec<Vec<f64>> = Vec::with_capacity(net.layers());
    for l in 0..net.layers() {
        let w = net.weight(l);
        let mut z: Vec<f64> = net.bias(l).iter().map(|&v| f64::from(v)).collect();
        let input: Vec<f64> = match out.last() {
            None => x.to_vec(),
            Some(prev) => prev.iter().map(|&v| v.max(0.0)).collect(),
        };
        for (i, &xi) in input.iter().enumerate() {
            if xi != 0.0 {
                for (zj, &wij) in z.iter_mut().zip(w.row(i)) {
                    *zj += xi * f64::from(wij);
                }
            }
        }
        out.push(z);
    }
    out
}

/// Output scores in f64.
pub fn scores(net: &Network, x: &[f64]) -> Vec<f64> {
    pre_activations(net, x).pop().unwrap_or_default()
}

/// Gradient of output score `class` with respect to the inputs at `x`.
fn input_gradient(net: &Network, x: &[f64], class: usize) -> Vec<f64> {
    let z = pre_activations(net, x);
    let mut g = vec![0.0; net.outputs()];
    g[class] = 1.0;
    for l in (0..net.layers()).rev() {
        let w = net.weight(l);
        let mut below: Vec<f64> = w
            .rows()
            .into_iter()
            .map(|row| row.iter().zip(&g).map(|(&wij, &gj)| f64::from(wij) * gj).sum())
            .collect();
        if l > 0 {
            for (v, &zi) in below.iter_mut().zip(&z[l - 1]) {
                if zi <= 0.0 {
                    *v = 0.0;
                }
            }
        }
        g = below;
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::split::rng;

    #[test]
    fn contributions_sum_to_the_score_difference() {
        let net = Network::new(&[6, 16, 8, 3], &mut rng(11));
        let x = [0.5, -1.2, 2.0, 0.0, 1.0, 0.3];
        let b = [0.1, 0.2, -0.3, 0.25, 0.5, 0.0];
        for class in 0..3 {
            let a = integrated_gradients(&net, &x, &b, class);
            let total: f64 = a.contributions.iter().sum();
            let diff = a.score - a.baseline_score;
            assert!((total - diff).abs() < 1e-9, "class {class}: {total} vs {diff}");
            assert!(a.pieces > 1, "the path crosses some ReLU kinks");
        }
        // The f64 scores agree with the f32 forward pass.
        let mut scratch = vec![0.0; net.scratch_len()];
        let f32_scores = net.forward_row(&x, &mut scratch).to_vec();
        let a = integrated_gradients(&net, &x, &b, 2);
        assert!((a.score - f64::from(f32_scores[2])).abs() < 1e-5);
    }

    #[test]
    fn linear_network_gives_exact_weights_times_delta() {
        // No hidden layer: score = x·W[:, c] + b, so contribution i = W[i, c] (x_i − b_i).
        let net = Network::new(&[3, 2], &mut rng(5));
        let x = [1.0, 2.0, -1.0];
        let b = [0.0, 0.5, 0.0];
        let a = integrated_gradients(&net, &x, &b, 1);
        assert_eq!(a.pieces, 1);
        for i in 0..3 {
            let expect = f64::from(net.weight(0)[[i, 1]]) * f64::from(x[i] - b[i]);
            assert!((a.contributions[i] - expect).abs() < 1e-12);
        }
    }

    #[test]
    fn input_gradient_matches_finite_differences() {
        let net = Network::new(&[4, 8, 8, 2], &mut rng(2));
        let x = [0.3, -0.7, 1.1, 0.05];
        let g = input_gradient(&net, &x, 1);
        for i in 0..4 {
            let (mut hi, mut lo) = (x.to_vec(), x.to_vec());
            hi[i] += 1e-6;
            lo[i] -= 1e-6;
            let numeric = (scores(&net, &hi)[1] - scores(&net, &lo)[1]) / 2e-6;
            assert!((numeric - g[i]).abs() < 1e-6, "input {i}: {numeric} vs {}", g[i]);
        }
    }
}
