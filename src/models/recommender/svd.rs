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
//! user by user in the same order every epoch; we also go user by user, in a seeded order that
//! changes every epoch (see [`fit`]).
//!
//! Float details do not matter at this learning rate: f64 accumulation of the dot product, or
//! f64 for every parameter as in Surprise, gives the same cross-validated RMSE on
//! MovieLens 100K within 1e-5 (the error `r − r̂` is rounded next to μ ≈ 3.5 anyway). Neither does the
//! order: one global shuffle of all ratings per epoch, a fixed order, or Surprise's exact
//! order (users by first appearance, their ratings in input order) are all within 1e-4 of
//! each other over 20 (fold split, seed) pairs, while the seed alone moves a 5-fold RMSE by
//! ±0.0015.

use super::factors::{Factors, LANES, dot, prefetch, sum_lanes, with_simd};
use super::init::NumpyNormal;
use super::ratings::Csr;
use crate::Result;
use crate::models::control::Control;
use crate::models::memory;
use rand::Rng;
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
/// cache and the user's updates form one dependency chain that `step_and_dot` shortens).
/// Each user's ratings are shuffled once with the seeded generator; every epoch the users are
/// reshuffled and each user's ratings rotated by a random offset (one draw per user instead of
/// one per rating: a full reshuffle per epoch cost about a tenth of the fit and, like
/// Surprise's fixed order, made no difference to accuracy). The item row two ratings ahead is
/// prefetched, as item rows are visited in random order, when the item factors are too large
/// to stay in cache (`PREFETCH_ABOVE_BYTES`).
///
/// Memory: from [`IN_PLACE_FROM`] ratings on, the ratings are shuffled where they are, in
/// `history`'s own rows, and put back in their order when the epochs end (on an error or a
/// panic too),
/// instead of into a copy of every rating (80 MB at 10M ratings, alive through every epoch).
/// `history` is the same afterwards either way, and so is the model (`fit_visiting`).
pub fn fit(
    history: &mut Csr,
    m: Fitted,
    p: &SgdParams,
    rng: &mut ChaCha8Rng,
    control: &Control<'_>,
    on_epoch: impl FnMut(usize, f64, &Fitted) -> Result<()>,
) -> Result<Fitted> {
    let in_place = history.cols.len() >= IN_PLACE_FROM;
    fit_visiting(history, in_place, m, p, rng, control, on_epoch)
}

/// From this many ratings on, [`fit`] shuffles the ratings in place (1,048,576 ratings: an
/// 8 MB copy). Below, a copy costs less than putting the rows back (about 1 ms at 100,000
/// ratings against 0.1 ms for the copy).
pub const IN_PLACE_FROM: usize = 1 << 20;

/// [`fit`], visiting the ratings in `history`'s own rows (`in_place`) or in a copy of them:
/// the same updates in the same order, so the same model.
pub(crate) fn fit_visiting(
    history: &mut Csr,
    in_place: bool,
    mut m: Fitted,
    p: &SgdParams,
    rng: &mut ChaCha8Rng,
    control: &Control<'_>,
    mut on_epoch: impl FnMut(usize, f64, &Fitted) -> Result<()>,
) -> Result<Fitted> {
    let n_users = history.rows();
    debug_assert_eq!((m.user_factors.rows(), m.user_bias.len()), (n_users, n_users), "start shape");
    let mut users = memory::with_capacity::<u32>(n_users, "the users' visiting order")?;
    users.extend((0..n_users as u32).filter(|&u| history.row_len(u as usize) > 0));
    // How far each user's ratings are rotated from their first shuffle (restored in place).
    let mut turned: Vec<u32> =
        if in_place { memory::zeroed(n_users, "the users' rotations")? } else { Vec::new() };
    // What putting the rows back needs, taken before they are (its size comes from the data:
    // the longest row), so that nothing can fail between taking and restoring them.
    let longest =
        if in_place { users.iter().map(|&u| history.row_len(u as usize)).max().unwrap_or(0) } else { 0 };
    let what = "putting the ratings back in order";
    let mut perm: Vec<u32> = memory::with_capacity(longest, what)?;
    let mut scratch = (memory::with_capacity(longest, what)?, memory::with_capacity(longest, what)?);
    let (mut cols, mut values) = if in_place {
        (std::mem::take(&mut history.cols), std::mem::take(&mut history.values))
    } else {
        let mut cols = memory::with_capacity(history.cols.len(), "the ratings' visiting order")?;
        cols.extend_from_slice(&history.cols);
        let mut values = memory::with_capacity(history.values.len(), "the ratings' visiting order")?;
        values.extend_from_slice(&history.values);
        (cols, values)
    };
    // The generator as the first shuffles find it: replayed to put the rows back.
    let start = rng.clone();
    for &u in &users {
        let range = history.range(u as usize);
        // A shuffle's swaps depend on the length alone: the twin makes the same ones.
        cols[range.clone()].shuffle(&mut rng.clone());
        values[range].shuffle(rng);
    }
    let stride = m.user_factors.stride;
    let prefetch_items = std::mem::size_of_val(&m.item_factors.data[..]) > PREFETCH_ABOVE_BYTES;
    let mu = m.global_mean;
    let n_ratings = cols.len().max(1) as f64;
    let mut epochs = || -> Result<()> {
        for epoch in 0..p.n_epochs {
            let sse = with_simd(
                #[inline(always)]
                || -> Result<f64> {
                    users.shuffle(rng);
                    let mut sse = 0.0f64;
                    for &u in &users {
                        let u = u as usize;
                        let range = history.range(u);
                        let len = range.len();
                        control.tick(len as u64 * stride as u64)?;
                        let turn = rng.random_range(0..len as u32);
                        let (items, ratings) = (&mut cols[range.clone()], &mut values[range]);
                        items.rotate_left(turn as usize);
                        ratings.rotate_left(turn as usize);
                        if let Some(t) = turned.get_mut(u) {
                            *t = ((u64::from(*t) + u64::from(turn)) % len as u64) as u32;
                        }
                        let (items, ratings) = (&*items, &*ratings);
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
        Ok(())
    };
    // A panic in the epochs (a bug) still puts the rows back before it goes on.
    let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut epochs));
    if in_place {
        // Each row back as it was: the rotations undone, then the first shuffle, replayed
        // from the same generator state (a shuffle's swaps depend on the length alone).
        let mut replay = start;
        for u in (0..n_users).filter(|&u| history.row_len(u) > 0) {
            let range = history.range(u);
            let (items, ratings) = (&mut cols[range.clone()], &mut values[range.clone()]);
            items.rotate_right(turned[u] as usize);
            ratings.rotate_right(turned[u] as usize);
            shuffled_positions(&mut perm, range.len(), &mut replay);
            scatter(items, ratings, &perm, &mut scratch);
        }
        history.cols = cols;
        history.values = values;
    }
    match trained {
        Ok(result) => result.map(|()| m),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// `0..len` shuffled by `rng` as `slice.shuffle(rng)` shuffles a slice of `len` values (the
/// same draws and swaps: they depend on the length alone): after that shuffle, position `j`
/// holds what was at `perm[j]`.
fn shuffled_positions(perm: &mut Vec<u32>, len: usize, rng: &mut ChaCha8Rng) {
    perm.clear();
    perm.extend(0..len as u32);
    perm.shuffle(rng);
}

/// Undoes the shuffle `perm` of `items` and `values` (position `j` got what was at `perm[j]`,
/// see [`shuffled_positions`]): what is at position `j` goes back to `perm[j]`.
fn scatter(items: &mut [u32], values: &mut [f32], perm: &[u32], scratch: &mut (Vec<u32>, Vec<f32>)) {
    scratch.0.clear();
    scratch.0.extend_from_slice(items);
    scratch.1.clear();
    scratch.1.extend_from_slice(values);
    for (j, &to) in perm.iter().enumerate() {
        items[to as usize] = scratch.0[j];
        values[to as usize] = scratch.1[j];
    }
}

/// Item factors larger than this are prefetched two ratings ahead; smaller ones stay in the
/// L2 cache, where the hint only costs instructions. 100 factors, 20 epochs, CPU ns per SGD
/// step with / without the prefetch: 1,650 items (0.7 MB, MovieLens 100K) 25.3 / 24.0;
/// 5,000 items (2 MB) about equal; 20,000 items (8.3 MB, 10M ratings) 49.9 / 56.0.
pub(super) const PREFETCH_ABOVE_BYTES: usize = 2 << 20;

/// What the SGD trainers shuffle: every rating as (item, value) in the history's user-grouped
/// order, and the users that have ratings.
pub(crate) fn visit_order(history: &Csr) -> (Vec<(u32, f32)>, Vec<u32>) {
    let order = history.cols.iter().copied().zip(history.values.iter().copied()).collect();
    let users = (0..history.rows() as u32).filter(|&u| history.row_len(u as usize) > 0).collect();
    (order, users)
}

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
        let mut history = Csr::build(60, &train, false);
        let m = fit(&mut history, start, &p, &mut rng(3), &Control::new(), |_, rmse, _| {
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

    /// Visiting the ratings in the history's own rows gives the model of visiting a copy, epoch
    /// by epoch, and leaves every row as it was, duplicates, single ratings, users without
    /// ratings and an error ending the epochs included; [`fit`] picks the path by size.
    #[test]
    fn in_place_visiting_equals_a_copy_and_restores_the_rows() {
        let (mut train, _) = low_rank(50, 37);
        // A user rating the same item three times (values in input order), one rating once,
        // one with no ratings (user 50 of 52).
        for value in [1.0, 5.0, 2.0] {
            train.push(Triple { user: 3, item: 7, value });
        }
        train.push(Triple { user: 51, item: 36, value: 4.0 });
        let history = Csr::build(52, &train, false);
        let p = SgdParams { n_factors: 6, n_epochs: 5, ..defaults() };
        let start = || {
            Fitted::init(
                &index_order(52),
                &index_order(37),
                3.0,
                &p,
                &mut NumpyNormal::new(4),
                &Control::new(),
            )
            .unwrap()
        };
        let run = |in_place: bool, stop_at: Option<usize>| {
            let mut rows = history.clone();
            let mut epochs = Vec::new();
            let got =
                fit_visiting(&mut rows, in_place, start(), &p, &mut rng(8), &Control::new(), |e, rmse, m| {
                    epochs.push((rmse.to_bits(), m.clone()));
                    if Some(e) == stop_at { Err(crate::Error::data("stop")) } else { Ok(()) }
                });
            (got.ok(), epochs, rows)
        };
        let (copy, copy_epochs, copy_rows) = run(false, None);
        let (moved, moved_epochs, moved_rows) = run(true, None);
        assert_eq!(moved, copy);
        assert!(copy.is_some());
        assert_eq!(moved_epochs, copy_epochs);
        assert_eq!((&moved_rows, &copy_rows), (&history, &history));
        let (stopped, epochs, rows) = run(true, Some(2));
        assert!(stopped.is_none());
        assert_eq!(epochs, copy_epochs[..3]);
        assert_eq!(rows, history, "rows restored after an error");
        // A panic in the epochs (here in `on_epoch`) goes on, after the rows are put back.
        let mut rows = history.clone();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fit_visiting(&mut rows, true, start(), &p, &mut rng(8), &Control::new(), |e, _, _| {
                assert!(e < 1, "a bug in epoch {e}");
                Ok(())
            })
        }));
        assert!(panicked.is_err());
        assert_eq!(rows, history, "rows restored after a panic");
        // The path by size: the copy below IN_PLACE_FROM ratings.
        assert!(history.cols.len() < IN_PLACE_FROM);
        let mut rows = history.clone();
        let m = fit(&mut rows, start(), &p, &mut rng(8), &Control::new(), |_, _, _| Ok(())).unwrap();
        assert_eq!(Some(m), copy);
        assert_eq!(rows, history);
    }
}
