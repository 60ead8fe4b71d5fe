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
//! Biases start at 0, factors at N(init_mean, init_std_dev²), drawn as Surprise draws them for
//! the same seed ([`super::init`]). Surprise visits the ratings
//! user by user in the same order every epoch; so do we, the most active users first (see
//! [`fit`]).
//!
//! Float details do not matter at this learning rate: Surprise's loop run here in f32 and in
//! f64, from Surprise's starting factors and in Surprise's order, gives Surprise's test RMSE
//! to five digits for each of four seeds on a MovieLens-1M-shaped split
//! (`examples/svd_order_probe.rs`). The order does: from the same start, it moves the RMSE by
//! up to 0.002 there (see [`fit`]).

use super::factors::{Factors, LANES, dot, prefetch, sum_lanes, with_simd};
use super::init::NumpyNormal;
use super::ratings::Csr;
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;

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
    pub init_mean: f64,
    /// Standard deviation of the normal initialisation of factors.
    pub init_std_dev: f64,
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

impl Default for SgdParams {
    /// Surprise's `SVD()` defaults: 100 factors, 20 epochs, biased, N(0, 0.1²) start, every
    /// learning rate 0.005 and every regularisation 0.02.
    fn default() -> Self {
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
}

impl SgdParams {
    /// Surprise's `SVDpp()` defaults: 20 factors, every learning rate 0.007, the rest as
    /// [`SgdParams::default`].
    pub fn svdpp() -> Self {
        let lr = 0.007;
        SgdParams { n_factors: 20, lr_bu: lr, lr_bi: lr, lr_pu: lr, lr_qi: lr, lr_yj: lr, ..Self::default() }
    }
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
    /// Biases at 0 and factors drawn from `normal` (see [`super::init`]): the user matrix first,
    /// its rows in the order `users` lists them, then the item matrix in the order of `items`.
    pub fn init(
        users: &[u32],
        items: &[u32],
        mean: f32,
        p: &SgdParams,
        normal: &mut NumpyNormal,
        control: &Control<'_>,
    ) -> crate::Result<Self> {
        let user_factors = normal.factors(users, p.n_factors, p.init_mean, p.init_std_dev, control)?;
        let item_factors = normal.factors(items, p.n_factors, p.init_mean, p.init_std_dev, control)?;
        Ok(Fitted {
            global_mean: if p.biased { mean } else { 0.0 },
            user_bias: vec![0.0; users.len()],
            item_bias: vec![0.0; items.len()],
            user_factors,
            item_factors,
        })
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

/// Trains from the start `m` (normally [`Fitted::init`]; `examples/svd_same_init.rs` passes
/// Surprise's own starting factors) on the ratings of `history` (grouped by user).
/// `on_epoch(epoch, train_rmse, &state)`
/// runs after every epoch; the training RMSE is measured during the pass, on the errors before
/// each update (free to compute, and what Surprise users see as progress). An error from
/// `on_epoch` (a diverged RMSE) or from `control` (ticked after every user) ends the training.
///
/// Order: like Surprise, the ratings of one user are visited together (the user's row stays in
/// cache and the user's updates form one dependency chain that `step_and_dot` shortens), in
/// the same order every epoch: the most active users first ([`visiting_order`]), each user's
/// ratings by item. Surprise visits the users in the order they first appear in the rows;
/// on a shuffled source that puts active users early, which is why its fixed order beat the
/// reshuffled one this used before (users reshuffled and each user's ratings rotated every
/// epoch). Test RMSE from the same starting factors, seeds 42–45 on the MovieLens-1M-shaped
/// split of `bench_rec_large` (`examples/svd_order_probe.rs`, whose ids follow first
/// appearance, so ties and each user's item order differ from `ml_train`'s; through `ml_train`
/// most active first gives 0.85971, 0.85777, 0.85833, 0.85774): Surprise 0.86010, 0.85815, 0.85893, 0.85829; reshuffled
/// 0.86036, 0.85843, 0.85934, 0.85850; most active first 0.85930, 0.85735, 0.85807, 0.85733;
/// least active first 0.86136, 0.85922, 0.86016, 0.85924. On MovieLens 100K (three 80/20
/// splits × seeds 42, 43, and `ua`, `ub`: eight fits) most active first is 0.00016 below
/// Surprise on average (from 0.00074 below to 0.00018 above). The order depends on the
/// ratings, not on the rows' order (but for repeated ratings of one item by one user, visited
/// in input order) nor on the seed (which draws the starting factors), and
/// `history` is only read.
///
/// The item row two ratings ahead is prefetched when the item factors are too large to stay
/// in cache (`PREFETCH_ABOVE_BYTES`).
pub fn fit(
    history: &Csr,
    mut m: Fitted,
    p: &SgdParams,
    control: &Control<'_>,
    mut on_epoch: impl FnMut(usize, f64, &Fitted) -> Result<()>,
) -> Result<Fitted> {
    let n_users = history.rows();
    debug_assert_eq!((m.user_factors.rows(), m.user_bias.len()), (n_users, n_users), "start shape");
    let users = visiting_order(history)?;
    let (cols, values) = (&history.cols, &history.values);
    let stride = m.user_factors.stride;
    let prefetch_items = std::mem::size_of_val(&m.item_factors.data[..]) > PREFETCH_ABOVE_BYTES;
    let mu = m.global_mean;
    let n_ratings = cols.len().max(1) as f64;
    for epoch in 0..p.n_epochs {
        let sse = with_simd(
            #[inline(always)]
            || -> Result<f64> {
                let mut sse = 0.0f64;
                for &u in &users {
                    let u = u as usize;
                    let range = history.range(u);
                    control.tick(range.len() as u64 * stride as u64)?;
                    let (items, ratings) = (&cols[range.clone()], &values[range]);
                    let pu = &mut m.user_factors.data[u * stride..(u + 1) * stride];
                    let mut bu = m.user_bias[u];
                    // The estimate's dot product for the rating at hand: computed here for
                    // the user's first rating, then by the previous step as it writes the
                    // new p_u.
                    let mut dot_pq = dot_split(pu, m.item_factors.row(items[0] as usize));
                    for (n, (&i, &r)) in items.iter().zip(ratings).enumerate() {
                        if prefetch_items && let Some(&ahead) = items.get(n + 2) {
                            prefetch(m.item_factors.row(ahead as usize));
                        }
                        let i = i as usize;
                        // `dot_pq` comes last: it ends the previous step's dependency
                        // chain, and everything else is ready before it (one subtraction
                        // after it instead of two additions and a subtraction).
                        let err = ((r - mu) - bu - m.item_bias[i]) - dot_pq;
                        sse += f64::from(err * err);
                        if p.biased {
                            bu += p.lr_bu * (err - p.reg_bu * bu);
                            let bi = &mut m.item_bias[i];
                            *bi += p.lr_bi * (err - p.reg_bi * *bi);
                        }
                        let factors = &mut m.item_factors.data;
                        match items.get(n + 1).map(|&next| next as usize) {
                            Some(next) if next != i => {
                                let (qi, q_next) = two_rows(factors, stride, i, next);
                                dot_pq = step_and_dot(pu, qi, q_next, err, p);
                            }
                            next => {
                                // Last rating of the user, or the same item rated again.
                                let qi = &mut factors[i * stride..(i + 1) * stride];
                                sgd_step(pu, qi, err, p);
                                if next.is_some() {
                                    dot_pq = dot_split(pu, qi);
                                }
                            }
                        }
                    }
                    m.user_bias[u] = bu;
                }
                Ok(sse)
            },
        )?;
        on_epoch(epoch, (sse / n_ratings).sqrt(), &m)?;
    }
    Ok(m)
}

/// The users SVD visits, in the order of every epoch: those with ratings, the most
/// ratings first, ties by index (see [`fit`] for why).
pub fn visiting_order(history: &Csr) -> Result<Vec<u32>> {
    let mut users = memory::with_capacity::<u32>(history.rows(), "the users' visiting order")?;
    users.extend((0..history.rows() as u32).filter(|&u| history.row_len(u as usize) > 0));
    // (Each key is distinct, so the unstable sort, which takes no memory, gives this order.)
    users.sort_unstable_by_key(|&u| (std::cmp::Reverse(history.row_len(u as usize)), u));
    Ok(users)
}

/// Item factors larger than this are prefetched two ratings ahead; smaller ones stay in the
/// L2 cache, where the hint only costs instructions. 100 factors, 20 epochs, CPU ns per SGD
/// step with / without the prefetch: 1,650 items (0.7 MB, MovieLens 100K) 25.3 / 24.0;
/// 5,000 items (2 MB) about equal; 20,000 items (8.3 MB, 10M ratings) 49.9 / 56.0.
pub(super) const PREFETCH_ABOVE_BYTES: usize = 2 << 20;

/// Row `i` mutable and row `j` shared (`i != j`) of a matrix with `stride` columns.
#[inline(always)]
fn two_rows(data: &mut [f32], stride: usize, i: usize, j: usize) -> (&mut [f32], &[f32]) {
    if i < j {
        let (lo, hi) = data.split_at_mut(j * stride);
        (&mut lo[i * stride..(i + 1) * stride], &hi[..stride])
    } else {
        let (lo, hi) = data.split_at_mut(i * stride);
        (&mut hi[..stride], &lo[j * stride..(j + 1) * stride])
    }
}

/// Partial-sum accumulators of [`dot_split`]: chunk `c` of a row goes to accumulator `c % ACCS`.
const ACCS: usize = 4;
/// Floats per group of chunks (one chunk per accumulator).
const GROUP: usize = LANES * ACCS;

/// Folds the accumulators lane by lane (`(a0 + a1) + (a2 + a3)`), then the lanes.
#[inline(always)]
fn reduce_split(acc: &[f32; GROUP]) -> f32 {
    let mut h = [0f32; LANES];
    for l in 0..LANES {
        h[l] = (acc[l] + acc[LANES + l]) + (acc[2 * LANES + l] + acc[3 * LANES + l]);
    }
    sum_lanes(h)
}

/// The accumulators of the leftover chunks (fewer than `ACCS`) after the whole groups.
#[inline(always)]
fn leftover_accs(acc: &mut [f32; GROUP]) -> [&mut [f32; LANES]; ACCS - 1] {
    let (a, _) = acc.as_chunks_mut::<LANES>();
    let [a0, a1, a2, _] = a else { unreachable!() };
    [a0, a1, a2]
}

/// Dot product with `ACCS` independent accumulators (a dependency chain a quarter as long as
/// [`dot`]'s).
#[inline(always)]
fn dot_split(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; GROUP];
    let (ag, ar) = a.as_chunks::<GROUP>();
    let (bg, br) = b.as_chunks::<GROUP>();
    for (x, y) in ag.iter().zip(bg) {
        for j in 0..GROUP {
            acc[j] += x[j] * y[j];
        }
    }
    let (ar, br) = (ar.as_chunks::<LANES>().0, br.as_chunks::<LANES>().0);
    for ((x, y), a) in ar.iter().zip(br).zip(leftover_accs(&mut acc)) {
        for l in 0..LANES {
            a[l] += x[l] * y[l];
        }
    }
    reduce_split(&acc)
}

/// [`sgd_step`], returning `dot_split(p_new, next)` computed as the new `p` is written.
#[inline(always)]
fn step_and_dot(pu: &mut [f32], qi: &mut [f32], next: &[f32], err: f32, p: &SgdParams) -> f32 {
    let k = Step::new(err, p);
    let mut acc = [0f32; GROUP];
    let (pg, pr) = pu.as_chunks_mut::<GROUP>();
    let (qg, qr) = qi.as_chunks_mut::<GROUP>();
    let (ng, nr) = next.as_chunks::<GROUP>();
    for ((ps, qs), ns) in pg.iter_mut().zip(qg.iter_mut()).zip(ng) {
        k.apply_and_dot(ps, qs, ns, &mut acc);
    }
    let (pr, qr, nr) =
        (pr.as_chunks_mut::<LANES>().0, qr.as_chunks_mut::<LANES>().0, nr.as_chunks::<LANES>().0);
    for (((ps, qs), ns), a) in pr.iter_mut().zip(qr.iter_mut()).zip(nr).zip(leftover_accs(&mut acc)) {
        k.apply_and_dot(ps, qs, ns, a);
    }
    reduce_split(&acc)
}

/// The coefficients of one SGD step on the factors.
struct Step {
    keep_p: f32,
    step_p: f32,
    keep_q: f32,
    step_q: f32,
}

impl Step {
    #[inline(always)]
    fn new(err: f32, p: &SgdParams) -> Step {
        Step {
            keep_p: 1.0 - p.lr_pu * p.reg_pu,
            step_p: p.lr_pu * err,
            keep_q: 1.0 - p.lr_qi * p.reg_qi,
            step_q: p.lr_qi * err,
        }
    }

    /// Updates `N` lanes of p and q and adds `p_new · next` lane-wise into `acc`.
    #[inline(always)]
    fn apply_and_dot<const N: usize>(
        &self,
        ps: &mut [f32; N],
        qs: &mut [f32; N],
        ns: &[f32; N],
        acc: &mut [f32; N],
    ) {
        for l in 0..N {
            let (pf, qf) = (ps[l], qs[l]);
            let np = pf * self.keep_p + qf * self.step_p;
            ps[l] = np;
            qs[l] = qf * self.keep_q + pf * self.step_q;
            acc[l] += np * ns[l];
        }
    }
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

    /// `0..n`: rows drawn in index order.
    pub(crate) fn index_order(n: u32) -> Vec<u32> {
        (0..n).collect()
    }

    /// Surprise's defaults for SVD.
    pub(crate) fn defaults() -> SgdParams {
        SgdParams::default()
    }

    /// `p` with every learning rate set to `lr`.
    pub(crate) fn with_lr(p: SgdParams, lr: f32) -> SgdParams {
        SgdParams { lr_bu: lr, lr_bi: lr, lr_pu: lr, lr_qi: lr, lr_yj: lr, ..p }
    }

    use super::super::ratings::Triple;

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
    fn fused_step_and_dot_equals_step_then_dot() {
        let mut r = rng(9);
        for k in [3, 8, 24, 40, 100] {
            let m = Factors::normal(3, k, 0.0, 0.5, &mut r);
            let (mut p1, mut q1, next) = (m.row(0).to_vec(), m.row(1).to_vec(), m.row(2).to_vec());
            let (mut p2, mut q2) = (p1.clone(), q1.clone());
            sgd_step(&mut p1, &mut q1, 0.7, &defaults());
            let want = dot_split(&p1, &next);
            let got = step_and_dot(&mut p2, &mut q2, &next, 0.7, &defaults());
            assert_eq!((p1, q1, want.to_bits()), (p2, q2, got.to_bits()), "k = {k}");
            let plain = dot(m.row(0), m.row(2));
            assert!((dot_split(m.row(0), m.row(2)) - plain).abs() <= 1e-5 * (1.0 + plain.abs()), "k = {k}");
        }
    }

    #[test]
    fn recovers_low_rank_structure() {
        let (train, test) = low_rank(60, 40);
        let mean = train.iter().map(|t| t.value).sum::<f32>() / train.len() as f32;
        let p = with_lr(SgdParams { n_factors: 3, n_epochs: 200, ..defaults() }, 0.02);
        let mut log = Vec::new();
        let start = Fitted::init(
            &index_order(60),
            &index_order(40),
            mean,
            &p,
            &mut NumpyNormal::new(3),
            &Control::new(),
        )
        .unwrap();
        let history = Csr::build(60, &train, false);
        let m = fit(&history, start, &p, &Control::new(), |_, rmse, _| {
            log.push(rmse);
            Ok(())
        })
        .unwrap();
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

    /// Users are visited most ratings first, ties by index; users without ratings are not.
    #[test]
    fn the_most_active_users_come_first() {
        // Ratings per user 0..6: 2, 0, 3, 2, 1, 3.
        let train: Vec<Triple> = [0, 0, 2, 2, 2, 3, 3, 4, 5, 5, 5]
            .iter()
            .enumerate()
            .map(|(n, &user)| Triple { user, item: n as u32, value: 3.0 })
            .collect();
        let history = Csr::build(6, &train, false);
        assert_eq!(visiting_order(&history).unwrap(), [2, 5, 0, 3, 4]);
    }
}
