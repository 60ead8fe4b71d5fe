//! The starting factors of SVD and SVD++: exactly the draws Surprise makes for the same seed.
//!
//! Surprise's `SVD(random_state=seed)` starts from `numpy.random.RandomState(seed).normal(
//! init_mean, init_std_dev, ...)`: first a matrix for the users, then one for the items (and one
//! more for SVD++'s implicit factors), rows in the order each id first appears in the training
//! ratings. This module reproduces those draws bit for bit: Mersenne Twister MT19937 seeded as
//! numpy's legacy `RandomState` seeds it (`rand_mt`), numpy's legacy 53-bit doubles and its
//! polar (Marsaglia) normal method, which hands out the second value of each pair next.
//!
//! Why copy Surprise's start: the 5-fold RMSE of this model moves by about ±0.0013 with the start
//! alone, so only the same start shows whether two implementations compute the same thing. With
//! it, `seed: 42` on the same rows gives Surprise's `random_state=42` model up to f32 rounding
//! and the visiting order (`examples/svd_same_init.rs`: every fold's RMSE within 3e-4). The
//! seed's low 32 bits are used, as `RandomState` accepts only 32-bit seeds.

use super::factors::Factors;
use super::ratings::Triple;
use rand_mt::Mt;

/// numpy's legacy `RandomState.normal` stream.
pub struct NumpyNormal {
    mt: Mt,
    spare: Option<f64>,
}

impl NumpyNormal {
    /// The stream of `RandomState(seed & 0xffff_ffff)`.
    pub fn new(seed: u64) -> Self {
        NumpyNormal { mt: Mt::new(seed as u32), spare: None }
    }

    /// numpy's `legacy_double`: 53 random bits from two 32-bit draws, in [0, 1).
    fn double(&mut self) -> f64 {
        let a = f64::from(self.mt.next_u32() >> 5);
        let b = f64::from(self.mt.next_u32() >> 6);
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }

    /// numpy's `legacy_gauss`: one N(0, 1) draw by the polar method.
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.spare.take() {
            return g;
        }
        let (x1, x2, r2) = loop {
            let x1 = 2.0 * self.double() - 1.0;
            let x2 = 2.0 * self.double() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                break (x1, x2, r2);
            }
        };
        let f = (-2.0 * r2.ln() / r2).sqrt();
        self.spare = Some(f * x1);
        f * x2
    }

    /// A factor matrix of `order.len()` rows drawn as `normal(mean, std_dev, (rows, k))`, row `n`
    /// of the draws becoming row `order[n]`.
    pub fn factors(&mut self, order: &[u32], k: usize, mean: f64, std_dev: f64) -> Factors {
        let mut m = Factors::zeros(order.len(), k);
        for &row in order {
            let start = row as usize * m.stride;
            for x in &mut m.data[start..start + k] {
                *x = (mean + std_dev * self.gauss()) as f32;
            }
        }
        m
    }
}

/// The dense users and items in the order they first appear in `ratings` (Surprise's inner
/// ids). Users or items that never appear come last, in index order.
pub fn first_appearance(ratings: &[Triple], n_users: usize, n_items: usize) -> (Vec<u32>, Vec<u32>) {
    fn order(n: usize, ids: impl Iterator<Item = u32>) -> Vec<u32> {
        let mut seen = vec![false; n];
        let mut out = Vec::with_capacity(n);
        for id in ids {
            if !std::mem::replace(&mut seen[id as usize], true) {
                out.push(id);
            }
        }
        out.extend((0..n as u32).filter(|&i| !seen[i as usize]));
        out
    }
    (order(n_users, ratings.iter().map(|t| t.user)), order(n_items, ratings.iter().map(|t| t.item)))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn rows_follow_first_appearance() {
        let t = |user, item| Triple { user, item, value: 1.0 };
        let (users, items) = first_appearance(&[t(2, 0), t(0, 1), t(2, 1)], 4, 3);
        assert_eq!(users, [2, 0, 1, 3]);
        assert_eq!(items, [0, 1, 2]);
        let m = NumpyNormal::new(42).factors(&users, 2, 0.0, 0.1);
        let mut g = NumpyNormal::new(42);
        let first: Vec<f32> = (0..2).map(|_| (0.1 * g.gauss()) as f32).collect();
        assert_eq!(m.row(2)[..2], first[..], "the first draws go to the first user seen");
        assert!(m.row(2)[2..].iter().all(|&x| x == 0.0), "padding stays zero");
    }
}
