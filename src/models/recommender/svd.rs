//! Biased matrix factorisation by SGD: the "SVD" of Funk as Surprise defines it.
//!
//! Model: `r̂(u,i) = μ + b_u + b_i + q_iᵀ p_u`. For each rating, with `e = r − r̂`:
//!
//! ```text
//! b_u ← b_u + lr_bu (e − reg_bu b_u)        p_u ← p_u + lr_pu (e q_i − reg_pu p_u)
//! b_i ← b_i + lr_bi (e − reg_bi b_i)        q_i ← q_i + lr_qi (e p_u − reg_qi q_i)
//! ```
//!
//! (both factor updates use the values from before the step), exactly Surprise's `SVD.sgd`.
//! Biases start at 0, factors at N(init_mean, init_std_dev²). One difference: Surprise visits
//! the ratings in the same user-grouped order every epoch; we shuffle them each epoch with the
//! seeded generator, which is the textbook SGD and is at least as accurate.

use super::factors::{Factors, LANES, dot};
use super::ratings::Triple;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// Hyperparameters of the SGD trainers (SVD and SVD++), with Surprise's names.
#[derive(Clone, Debug, PartialEq)]
pub struct SgdParams {
    /// Number of latent factors.
    pub n_factors: usize,
    /// Passes over the ratings.
    pub n_epochs: usize,
    /// Whether to learn μ and the biases (SVD only; SVD++ is always biased).
    pub biased: bool,
    /// Mean of the normal initialisation of factors.
    pub init_mean: f32,
    /// Standard deviation of the normal initialisation of factors.
    pub init_std_dev: f32,
    /// Learning rate of the user biases.
    pub lr_bu: f32,
    /// Learning rate of the item biases.
    pub lr_bi: f32,
    /// Learning rate of the user factors.
    pub lr_pu: f32,
    /// Learning rate of the item factors.
    pub lr_qi: f32,
    /// Learning rate of SVD++'s implicit item factors.
    pub lr_yj: f32,
    /// Regularisation of the user biases.
    pub reg_bu: f32,
    /// Regularisation of the item biases.
    pub reg_bi: f32,
    /// Regularisation of the user factors.
    pub reg_pu: f32,
    /// Regularisation of the item factors.
    pub reg_qi: f32,
    /// Regularisation of SVD++'s implicit item factors.
    pub reg_yj: f32,
}

/// The learned parameters of a biased factorisation (SVD++ folds its implicit part into
/// `user_factors` once training ends).
#[derive(Clone, Debug, PartialEq)]
pub struct Fitted {
    /// μ (0 when unbiased).
    pub global_mean: f32,
    /// b_u.
    pub user_bias: Vec<f32>,
    /// b_i.
    pub item_bias: Vec<f32>,
    /// p_u.
    pub user_factors: Factors,
    /// q_i.
    pub item_factors: Factors,
}

impl Fitted {
    /// Allocates biases at 0 and factors from the normal initialisation (users first).
    pub fn init(n_users: usize, n_items: usize, mean: f32, p: &SgdParams, rng: &mut ChaCha8Rng) -> Self {
        let user_factors = Factors::normal(n_users, p.n_factors, p.init_mean, p.init_std_dev, rng);
        let item_factors = Factors::normal(n_items, p.n_factors, p.init_mean, p.init_std_dev, rng);
        Fitted {
            global_mean: if p.biased { mean } else { 0.0 },
            user_bias: vec![0.0; n_users],
            item_bias: vec![0.0; n_items],
            user_factors,
            item_factors,
        }
    }

    /// The unclipped estimate for a known user and item.
    #[inline]
    pub fn estimate(&self, u: usize, i: usize) -> f32 {
        self.global_mean
            + self.user_bias[u]
            + self.item_bias[i]
            + dot(self.user_factors.row(u), self.item_factors.row(i))
    }
}

/// Trains on `triples` (dense ids below `n_users` / `n_items`). `on_epoch(epoch, train_rmse,
/// &state)` runs after every epoch; the training RMSE is measured during the pass, on the
/// errors before each update (free to compute, and what Surprise users see as progress).
pub fn fit(
    triples: &[Triple],
    n_users: usize,
    n_items: usize,
    global_mean: f32,
    p: &SgdParams,
    rng: &mut ChaCha8Rng,
    mut on_epoch: impl FnMut(usize, f64, &Fitted),
) -> Fitted {
    let mut m = Fitted::init(n_users, n_items, global_mean, p, rng);
    let mut order = triples.to_vec();
    let stride = m.user_factors.stride;
    let mu = m.global_mean;
    for epoch in 0..p.n_epochs {
        order.shuffle(rng);
        let mut sse = 0.0f64;
        for t in &order {
            let (u, i) = (t.user as usize, t.item as usize);
            let pu = &mut m.user_factors.data[u * stride..(u + 1) * stride];
            let qi = &mut m.item_factors.data[i * stride..(i + 1) * stride];
            let err = t.value - (mu + m.user_bias[u] + m.item_bias[i] + dot(pu, qi));
            sse += f64::from(err * err);
            if p.biased {
                let bu = &mut m.user_bias[u];
                *bu += p.lr_bu * (err - p.reg_bu * *bu);
                let bi = &mut m.item_bias[i];
                *bi += p.lr_bi * (err - p.reg_bi * *bi);
            }
            sgd_step(pu, qi, err, p);
        }
        on_epoch(epoch, (sse / order.len().max(1) as f64).sqrt(), &m);
    }
    m
}

/// `p ← p + lr_pu (e q − reg_pu p)` and `q ← q + lr_qi (e p − reg_qi q)` with the old p and q,
/// written as `p·(1 − lr·reg) + q·(lr·e)` so each lane costs two multiplies and an add.
#[inline]
fn sgd_step(pu: &mut [f32], qi: &mut [f32], err: f32, p: &SgdParams) {
    let (keep_p, step_p) = (1.0 - p.lr_pu * p.reg_pu, p.lr_pu * err);
    let (keep_q, step_q) = (1.0 - p.lr_qi * p.reg_qi, p.lr_qi * err);
    for (ps, qs) in pu.chunks_exact_mut(LANES).zip(qi.chunks_exact_mut(LANES)) {
        for l in 0..LANES {
            let (pf, qf) = (ps[l], qs[l]);
            ps[l] = pf * keep_p + qf * step_p;
            qs[l] = qf * keep_q + pf * step_q;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::models::split::rng;

    /// Surprise's defaults for SVD.
    pub(crate) fn defaults() -> SgdParams {
        SgdParams {
            n_factors: 100,
            n_epochs: 20,
            biased: true,
            init_mean: 0.0,
            init_std_dev: 0.1,
            lr_bu: 0.005,
            lr_bi: 0.005,
            lr_pu: 0.005,
            lr_qi: 0.005,
            lr_yj: 0.005,
            reg_bu: 0.02,
            reg_bi: 0.02,
            reg_pu: 0.02,
            reg_qi: 0.02,
            reg_yj: 0.02,
        }
    }

    /// `p` with every learning rate set to `lr`.
    pub(crate) fn with_lr(p: SgdParams, lr: f32) -> SgdParams {
        SgdParams { lr_bu: lr, lr_bi: lr, lr_pu: lr, lr_qi: lr, lr_yj: lr, ..p }
    }

    /// A rank-2 rating matrix plus biases; about a third of the cells (by a hash) is held out.
    pub(crate) fn low_rank(n_users: u32, n_items: u32) -> (Vec<Triple>, Vec<Triple>) {
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for u in 0..n_users {
            for i in 0..n_items {
                let a = ((u % 5) as f32 - 2.0) * 0.5;
                let b = ((u % 3) as f32 - 1.0) * 0.5;
                let c = ((i % 4) as f32 - 1.5) * 0.6;
                let d = ((i % 7) as f32 - 3.0) * 0.3;
                let value = 3.0 + 0.1 * (u % 4) as f32 - 0.1 * (i % 3) as f32 + a * c + b * d;
                let t = Triple { user: u, item: i, value };
                if ((u * 1000 + i).wrapping_mul(2_654_435_761) >> 16) % 3 == 0 {
                    test.push(t)
                } else {
                    train.push(t)
                }
            }
        }
        (train, test)
    }

    #[test]
    fn step_matches_surprise_formula() {
        let p = defaults();
        let mut pu = vec![0.5f32; 8];
        let mut qi = vec![-0.25f32; 8];
        sgd_step(&mut pu, &mut qi, 2.0, &p);
        let want_p = 0.5 + 0.005 * (2.0 * -0.25 - 0.02 * 0.5);
        let want_q = -0.25 + 0.005 * (2.0 * 0.5 - 0.02 * -0.25);
        assert!((pu[0] - want_p).abs() < 1e-7 && (qi[7] - want_q).abs() < 1e-7);
    }

    #[test]
    fn recovers_low_rank_structure() {
        let (train, test) = low_rank(60, 40);
        let mean = train.iter().map(|t| t.value).sum::<f32>() / train.len() as f32;
        let p = with_lr(SgdParams { n_factors: 3, n_epochs: 200, ..defaults() }, 0.02);
        let mut log = Vec::new();
        let m = fit(&train, 60, 40, mean, &p, &mut rng(3), |_, rmse, _| log.push(rmse));
        let rmse = (test
            .iter()
            .map(|t| (m.estimate(t.user as usize, t.item as usize) - t.value).powi(2))
            .sum::<f32>()
            / test.len() as f32)
            .sqrt();
        let spread = (test.iter().map(|t| (t.value - mean).powi(2)).sum::<f32>() / test.len() as f32).sqrt();
        assert!(rmse < 0.1 * spread, "held-out rmse {rmse} vs spread {spread}, train {:?}", &log[190..]);
        assert!(log[199] < log[0] / 5.0);
    }
}
