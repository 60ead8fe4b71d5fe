//! SVD++ (Koren 2008): SVD plus implicit feedback from *which* items a user rated.
//!
//! Model: `r̂(u,i) = μ + b_u + b_i + q_iᵀ (p_u + |I_u|^-½ Σ_{j∈I_u} y_j)`. Surprise's
//! `SVDpp.sgd` visits the ratings user by user and, for every rating, recomputes the implicit
//! sum `z_u = |I_u|^-½ Σ y_j` and then updates every `y_j` of the user:
//! `y_j ← y_j + lr_yj (e q_i |I_u|^-½ − reg_yj y_j)` — O(|I_u|·k) per rating, which is why it
//! is slow.
//!
//! We compute the very same updates in O(k) per rating. Within one user's ratings every
//! `y_j` receives the same additive term and the same decay `c = 1 − lr_yj·reg_yj`, so after
//! the user's m ratings `y_j = c^m y_j + A`, with `A ← c A + lr_yj e q_i |I_u|^-½` accumulated
//! rating by rating, and the implicit sum follows `z ← c z + lr_yj e q_i`. The `y_j` are
//! written once at the end of the user's block; nothing reads them in between except through
//! `z`. This is Surprise's update order exactly (up to float rounding), not an approximation.
//! Users (and each user's ratings) are visited in a seeded random order per epoch. (SVD's
//! fixed order, most active users first, is worse here: test RMSE on the MovieLens-1M-shaped
//! split of `bench_rec_large`, seeds 42–49, 0.83585 against 0.83524 on average, higher for
//! every seed.)
//!
//! Duplicate (user, item) ratings count twice in `|I_u|` and in the sum, as in Surprise; the
//! closing `y_j` update is applied once per distinct item.

use super::factors::{Factors, LANES, axpy, prefetch, sum_lanes, with_simd};
use super::init::NumpyNormal;
use super::ratings::Csr;
use super::svd::{Fitted, SgdParams};
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// State during training: the SVD parameters plus the implicit item factors `y_j`.
pub struct State {
    /// Biases and explicit factors.
    pub fitted: Fitted,
    /// y_j.
    pub implicit: Factors,
}

impl State {
    /// Biases at 0, then the draws of Surprise's `SVDpp` (see [`super::init`]): user factors,
    /// item factors and implicit factors, rows in the orders `users` and `items` give.
    pub fn init(
        users: &[u32],
        items: &[u32],
        mean: f32,
        p: &SgdParams,
        normal: &mut NumpyNormal,
        control: &Control<'_>,
    ) -> crate::Result<State> {
        let fitted =
            Fitted::init(users, items, mean, &SgdParams { biased: true, ..p.clone() }, normal, control)?;
        let implicit = normal.factors(items, p.n_factors, p.init_mean, p.init_std_dev, control)?;
        Ok(State { fitted, implicit })
    }

    /// The user vectors `p_u + |I_u|^-½ Σ y_j` with the current `y_j` (what prediction uses).
    pub fn effective_user_factors(&self, history: &Csr) -> Factors {
        let mut out = self.fitted.user_factors.clone();
        for u in 0..history.rows() {
            let (items, _) = history.row(u);
            if items.is_empty() {
                continue;
            }
            let scale = 1.0 / (items.len() as f32).sqrt();
            let row = out.row_mut(u);
            for &j in items {
                axpy(scale, self.implicit.row(j as usize), row);
            }
        }
        out
    }
}

/// Trains from the start `s` ([`State::init`]) on the ratings of `history` (grouped by user,
/// each row sorted by item).
/// `on_epoch(epoch, train_rmse, &state)` runs after every epoch. Returns the fitted model with
/// the implicit part folded into the user factors. An error from `on_epoch` (a diverged RMSE)
/// or from `control` (ticked after every user) ends the training.
pub fn fit(
    history: &Csr,
    mut s: State,
    p: &SgdParams,
    rng: &mut ChaCha8Rng,
    control: &Control<'_>,
    mut on_epoch: impl FnMut(usize, f64, &State) -> Result<()>,
) -> Result<Fitted> {
    let n_users = history.rows();
    debug_assert_eq!(s.fitted.user_factors.rows(), n_users, "start shape");
    let stride = s.implicit.stride;
    let (mut order, mut users) = visit_order(history)?;
    let mut z = vec![0f32; stride];
    let mut acc = vec![0f32; stride];
    let keep_y = 1.0 - p.lr_yj * p.reg_yj;
    let mu = s.fitted.global_mean;
    let n_ratings = order.len().max(1) as f64;
    for epoch in 0..p.n_epochs {
        let sse = with_simd(
            #[inline(always)]
            || -> Result<f64> {
                users.shuffle(rng);
                let mut sse = 0.0f64;
                for &u in &users {
                    let u = u as usize;
                    let range = history.range(u);
                    let (items, _) = history.row(u);
                    control.tick(2 * items.len() as u64 * stride as u64)?;
                    let block = &mut order[range];
                    block.shuffle(rng);
                    let inv_sqrt = 1.0 / (items.len() as f32).sqrt();
                    z.fill(0.0);
                    for &j in items {
                        axpy(1.0, s.implicit.row(j as usize), &mut z);
                    }
                    z.iter_mut().for_each(|x| *x *= inv_sqrt);
                    acc.fill(0.0);
                    let mut decay = 1.0f32;
                    let f = &mut s.fitted;
                    let pu = &mut f.user_factors.data[u * stride..(u + 1) * stride];
                    for (n, &(i, r)) in block.iter().enumerate() {
                        if let Some(&(next, _)) = block.get(n + 1) {
                            prefetch(f.item_factors.row(next as usize));
                        }
                        let i = i as usize;
                        let qi = &mut f.item_factors.data[i * stride..(i + 1) * stride];
                        let err = r - (mu + f.user_bias[u] + f.item_bias[i] + dot_sum(qi, pu, &z));
                        sse += f64::from(err * err);
                        let bu = &mut f.user_bias[u];
                        *bu += p.lr_bu * (err - p.reg_bu * *bu);
                        let bi = &mut f.item_bias[i];
                        *bi += p.lr_bi * (err - p.reg_bi * *bi);
                        step(pu, qi, &mut z, &mut acc, err, inv_sqrt, keep_y, p);
                        decay *= keep_y;
                    }
                    let mut previous = None;
                    for &j in items {
                        if previous == Some(j) {
                            continue;
                        }
                        previous = Some(j);
                        for (y, a) in s.implicit.row_mut(j as usize).iter_mut().zip(&acc) {
                            *y = *y * decay + a;
                        }
                    }
                }
                Ok(sse)
            },
        )?;
        on_epoch(epoch, (sse / n_ratings).sqrt(), &s)?;
    }
    let user_factors = s.effective_user_factors(history);
    Ok(Fitted { user_factors, ..s.fitted })
}

/// Every rating as (item, value), and the users with ratings.
type VisitOrder = (Vec<(u32, f32)>, Vec<u32>);

/// What the trainer shuffles: every rating as (item, value) in the history's user-grouped
/// order, and the users that have ratings.
/// Both take their memory fallibly (their sizes come from the data).
fn visit_order(history: &Csr) -> Result<VisitOrder> {
    let mut order = memory::with_capacity(history.cols.len(), "the ratings' visiting order")?;
    order.extend(history.cols.iter().copied().zip(history.values.iter().copied()));
    let mut users = memory::with_capacity(history.rows(), "the users' visiting order")?;
    users.extend((0..history.rows() as u32).filter(|&u| history.row_len(u as usize) > 0));
    Ok((order, users))
}

/// `qᵀ(p + z)` with the fixed eight-lane summation order of [`dot`](super::factors::dot).
#[inline]
fn dot_sum(q: &[f32], p: &[f32], z: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    for ((qs, ps), zs) in q.chunks_exact(LANES).zip(p.chunks_exact(LANES)).zip(z.chunks_exact(LANES)) {
        for l in 0..LANES {
            lanes[l] += qs[l] * (ps[l] + zs[l]);
        }
    }
    sum_lanes(lanes)
}

/// One rating's factor updates, all from the values before the step:
/// `p ← p + lr_pu (e q − reg_pu p)`, `q ← q + lr_qi (e (p + z) − reg_qi q)`,
/// `z ← c z + lr_yj e q`, `A ← c A + lr_yj e q |I_u|^-½`.
#[allow(clippy::too_many_arguments)]
#[inline]
fn step(
    pu: &mut [f32],
    qi: &mut [f32],
    z: &mut [f32],
    acc: &mut [f32],
    err: f32,
    inv_sqrt: f32,
    keep_y: f32,
    p: &SgdParams,
) {
    let (keep_p, step_p) = (1.0 - p.lr_pu * p.reg_pu, p.lr_pu * err);
    let (keep_q, step_q) = (1.0 - p.lr_qi * p.reg_qi, p.lr_qi * err);
    let step_z = p.lr_yj * err;
    let step_a = step_z * inv_sqrt;
    let lanes = pu
        .chunks_exact_mut(LANES)
        .zip(qi.chunks_exact_mut(LANES))
        .zip(z.chunks_exact_mut(LANES))
        .zip(acc.chunks_exact_mut(LANES));
    for (((ps, qs), zs), accs) in lanes {
        for l in 0..LANES {
            let (pf, qf, zf) = (ps[l], qs[l], zs[l]);
            ps[l] = pf * keep_p + qf * step_p;
            qs[l] = qf * keep_q + (pf + zf) * step_q;
            zs[l] = zf * keep_y + qf * step_z;
            accs[l] = accs[l] * keep_y + qf * step_a;
        }
    }
}

/// Surprise's per-rating algorithm, written naively, to check the fast one against.
#[cfg(test)]
#[allow(clippy::needless_range_loop)]
fn reference_epoch(
    s: &mut State,
    history: &Csr,
    user_order: &[u32],
    block_orders: &[Vec<(u32, f32)>],
    p: &SgdParams,
) {
    let k = s.implicit.stride;
    for (&u, block) in user_order.iter().zip(block_orders) {
        let u = u as usize;
        let (items, _) = history.row(u);
        let sqrt_n = (items.len() as f32).sqrt();
        for &(i, r) in block {
            let i = i as usize;
            let mut z = vec![0f32; k];
            for &j in items {
                for f in 0..k {
                    z[f] += s.implicit.row(j as usize)[f] / sqrt_n;
                }
            }
            let f = &mut s.fitted;
            let d: f32 = (0..k).map(|x| f.item_factors.row(i)[x] * (f.user_factors.row(u)[x] + z[x])).sum();
            let err = r - (f.global_mean + f.user_bias[u] + f.item_bias[i] + d);
            f.user_bias[u] += p.lr_bu * (err - p.reg_bu * f.user_bias[u]);
            f.item_bias[i] += p.lr_bi * (err - p.reg_bi * f.item_bias[i]);
            for x in 0..k {
                let puf = f.user_factors.row(u)[x];
                let qif = f.item_factors.row(i)[x];
                f.user_factors.row_mut(u)[x] += p.lr_pu * (err * qif - p.reg_pu * puf);
                f.item_factors.row_mut(i)[x] += p.lr_qi * (err * (puf + z[x]) - p.reg_qi * qif);
                for &j in items {
                    let y = &mut s.implicit.row_mut(j as usize)[x];
                    *y += p.lr_yj * (err * qif / sqrt_n - p.reg_yj * *y);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::ratings::Triple;
    use super::super::svd::tests::{defaults, index_order, low_rank, with_lr};
    use super::*;
    use crate::models::split::rng;

    #[test]
    fn closed_form_yj_update_equals_surprise_per_rating_update() {
        let (train, _) = low_rank(12, 9);
        let history = Csr::build(12, &train, false);
        let p = SgdParams { n_factors: 5, n_epochs: 1, ..with_lr(defaults(), 0.05) };
        let p = SgdParams { reg_yj: 0.3, reg_pu: 0.1, ..p };
        // Same start for both: run the fast trainer for one epoch while recording its order.
        let r = rng(9);
        let start = || {
            State::init(&index_order(12), &index_order(9), 3.0, &p, &mut NumpyNormal::new(9), &Control::new())
                .unwrap()
        };
        let mut reference = start();
        // Replay the fast trainer's shuffles with a clone of its generator.
        let mut replay = r.clone();
        let mut users: Vec<u32> = (0..12).filter(|&u| history.row_len(u as usize) > 0).collect();
        users.shuffle(&mut replay);
        let mut order: Vec<(u32, f32)> =
            history.cols.iter().copied().zip(history.values.iter().copied()).collect();
        let mut blocks = Vec::new();
        for &u in &users {
            let block = &mut order[history.range(u as usize)];
            block.shuffle(&mut replay);
            blocks.push(block.to_vec());
        }
        reference_epoch(&mut reference, &history, &users, &blocks, &p);
        let want = reference.effective_user_factors(&history);

        // The fast path, from the same generator state as the reference.
        let mut fast_rng = rng(9);
        let got = fit(&history, start(), &p, &mut fast_rng, &Control::new(), |_, _, _| Ok(())).unwrap();
        for (a, b) in got.user_factors.data.iter().zip(&want.data) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        for (a, b) in got.item_factors.data.iter().zip(&reference.fitted.item_factors.data) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        assert!(got.user_bias.iter().zip(&reference.fitted.user_bias).all(|(a, b)| (a - b).abs() < 1e-5));
    }

    #[test]
    fn learns_low_rank_structure() {
        let (train, test) = low_rank(60, 40);
        let history = Csr::build(60, &train, false);
        let mean = train.iter().map(|t| t.value).sum::<f32>() / train.len() as f32;
        let p = SgdParams { n_factors: 3, n_epochs: 150, ..with_lr(defaults(), 0.01) };
        let start = State::init(
            &index_order(60),
            &index_order(40),
            mean,
            &p,
            &mut NumpyNormal::new(4),
            &Control::new(),
        )
        .unwrap();
        let m = fit(&history, start, &p, &mut rng(4), &Control::new(), |_, _, _| Ok(())).unwrap();
        let err = |t: &Triple| (m.estimate(t.user as usize, t.item as usize) - t.value).powi(2);
        let rmse = (test.iter().map(err).sum::<f32>() / test.len() as f32).sqrt();
        assert!(rmse < 0.1, "held-out rmse {rmse}");
    }
}
