//! Recommender: matrix factorisation over (user, item, rating) rows.
//!
//! Three algorithms (see [`params`] for every option and default):
//! - `svd` (default): biased matrix factorisation by SGD, Surprise's `SVD` ([`svd`]);
//! - `svdpp`: SVD++ with implicit feedback from which items each user rated ([`svdpp`]);
//! - `als` with `feedback: 'implicit'`: Hu–Koren–Volinsky implicit ALS for clicks and
//!   purchases ([`als`]); the target may be absent (each row counts 1) or a weight column.
//!
//! Users and items are any SQL integers or text, mapped once to dense indices ([`ids`]).
//! Duplicate (user, item) rows are all kept, as Surprise keeps them: each is one more SGD step
//! (and, for SVD++, one more entry of the user's implicit set); for ALS their weights add up.
//!
//! **Cold start.** Explicit models predict `μ + b_u + b_i + q_iᵀp_u`, where an unknown user
//! (or item) contributes neither bias nor factors: an unknown user gets `μ + b_i`, an unknown
//! item `μ + b_u`, both unknown `μ` — never an error. Predictions are clipped to the rating
//! scale. ALS scores are preferences (about 0 to 1, not clipped); unknown user or item scores 0.
//! [`Recommender::recommend`] gives an unknown user the most popular items instead: by damped
//! mean rating for explicit feedback, by total weight for implicit feedback
//! ([`baseline::popularity`]).

pub mod als;
pub mod baseline;
pub mod factors;
pub mod ids;
pub mod init;
pub mod metrics;
pub mod parallel;
pub mod params;
pub mod ratings;
pub mod svd;
pub mod svdpp;
pub mod topn;

use self::factors::{Factors, dot};
use self::ids::IdMap;
use self::params::{Algorithm, Hyper};
pub use self::params::{OPTIONS, Params};
use self::ratings::{Csr, Triple};
use super::control::Control;
use super::data::{Column, ColumnData, Dataset, Input, Value};
use super::finite;
use super::memory::{self, Budget};
use super::options::{Common, Options, show_f32};
use super::setup::{Setup, Target};
use super::split;
use super::{EpochLog, Estimator, Predictions, Trained};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Instant;

/// Length of the ranked lists behind precision@k, recall@k and NDCG@k.
pub const RANKING_K: usize = 10;
const _: () = assert!(RANKING_K == 10, "Model::key_metric names ndcg_at_10");

/// At most this many held-out users are ranked for the training report (chosen evenly over
/// the user indices), which bounds its cost on large data; `evaluate` ranks every user.
pub const REPORT_RANKING_USERS: usize = 2000;

/// The training report ranks at most as many users as keep this many (user, item) scores...
pub const REPORT_RANKING_SCORES: usize = 2_000_000;

/// ... but never fewer users than this (when there are as many).
pub const REPORT_RANKING_MIN_USERS: usize = 100;

/// How many held-out users the training report ranks over `items` items: all of them up to
/// [`REPORT_RANKING_USERS`], fewer for large catalogues, where each ranked user costs a score
/// for every item (a sample of 2,000,000 / `items` users, at least
/// [`REPORT_RANKING_MIN_USERS`]: 2,000 up to 1,000 items, 1,189 for MovieLens 100K's 1,682
/// items (which has 943 users: all ranked), 200 at 10,000 items, 100 from 20,000 items on).
pub fn report_ranking_users(items: usize) -> usize {
    (REPORT_RANKING_SCORES / items.max(1)).clamp(REPORT_RANKING_MIN_USERS, REPORT_RANKING_USERS)
}

/// A trained recommender.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommender {
    algorithm: Algorithm,
    user_column: String,
    item_column: String,
    rating_column: Option<String>,
    users: IdMap,
    items: IdMap,
    /// Mean training rating (explicit) or 0 (implicit).
    global_mean: f64,
    biased: bool,
    /// Empty for ALS.
    user_bias: Vec<f32>,
    /// Empty for ALS.
    item_bias: Vec<f32>,
    /// For SVD++, `p_u + |I_u|^-½ Σ y_j` (the implicit part folded in after training).
    user_factors: Factors,
    item_factors: Factors,
    item_norms: Vec<f32>,
    rating_scale: Option<(f64, f64)>,
    relevant: f64,
    /// Per user: the items rated in the fitted rows (sorted) and their ratings.
    history: Csr,
    /// Per user: the items rated only in the held-out rows (none when nothing was held out).
    /// They were not fitted, so the ranking metrics judge the fit without them, but the user
    /// did rate them: `ml_recommend` leaves them out and `ml_explain` may cite them.
    held_out_rated: Option<Csr>,
    /// Per item: the score that orders recommendations for unknown users.
    popularity: Vec<f32>,
}

/// The training rows after id mapping and the split.
struct Prepared {
    users: IdMap,
    items: IdMap,
    train: Vec<Triple>,
    /// Held-out rows: dense ids when known in training, and the value.
    test: Vec<(Option<u32>, Option<u32>, f32)>,
    /// Held-out rows whose user is unknown: a key per distinct raw user (for ranking).
    test_user_keys: Vec<Option<String>>,
}

impl Recommender {
    /// The top-`k` items for `user` by predicted score, best first, with the score.
    ///
    /// Items the user rated in the training source (held-out rows included) are left out
    /// unless `include_rated`. Ties are broken
    /// by the smaller item index (the item's rank in SQL sort order). The score is the
    /// model's raw estimate, not clipped to the rating scale, so that clipping cannot tie the
    /// best items. An unknown user gets the most popular items (see the module docs) with
    /// their popularity score; NULL gets no rows.
    pub fn recommend(&self, user: Input<'_>, k: usize, include_rated: bool) -> Result<Vec<(Value, f64)>> {
        check_id("user", user)?;
        if matches!(user, Input::Null) {
            return Ok(Vec::new());
        }
        let top = match self.users.index(user) {
            Some(u) if include_rated => self.top_for_user(u as usize, k, &[]),
            Some(u) => self.top_for_user(u as usize, k, &self.rated(u as usize)),
            None => topn::top_k(self.items.len(), k, &[], |i| self.popularity[i]),
        };
        Ok(top.into_iter().map(|(i, s)| (self.items.value(i), f64::from(s))).collect())
    }

    /// The `k` items whose factor vectors are closest to `item`'s by cosine similarity, best
    /// first, without the item itself. An unknown item (or NULL) has no similar items.
    pub fn similar_items(&self, item: Input<'_>, k: usize) -> Result<Vec<(Value, f64)>> {
        check_id("item", item)?;
        let Some(target) = self.items.index(item) else { return Ok(Vec::new()) };
        let t = target as usize;
        let q = self.item_factors.row(t);
        let nt = self.item_norms[t];
        let top = topn::top_k(self.items.len(), k, &[target], |j| {
            let denominator = nt * self.item_norms[j];
            if denominator > 0.0 { dot(q, self.item_factors.row(j)) / denominator } else { 0.0 }
        });
        Ok(top.into_iter().map(|(i, s)| (self.items.value(i), f64::from(s))).collect())
    }

    /// See [`crate::models::Model::check`].
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        let (users, items) = (self.users.len(), self.items.len());
        let k = self.user_factors.k;
        for (what, f, rows) in [("user", &self.user_factors, users), ("item", &self.item_factors, items)] {
            let fits = f.k == k
                && (1..=1 << 16).contains(&k)
                && f.stride == factors::stride_for(k)
                && rows.checked_mul(f.stride) == Some(f.data.len());
            if !fits {
                return Err(format!(
                    "recommender with {rows} {what}s and {} {what} factor values",
                    f.data.len()
                ));
            }
        }
        let explicit_biases = self.biased && !self.algorithm.implicit();
        for (what, b, n) in [("user", &self.user_bias, users), ("item", &self.item_bias, items)] {
            if b.len() != n && (explicit_biases || !b.is_empty()) {
                return Err(format!("recommender with {n} {what}s and {} {what} biases", b.len()));
            }
        }
        if self.item_norms.len() != items || self.popularity.len() != items {
            return Err(format!("recommender with {items} items and {} norms", self.item_norms.len()));
        }
        for (what, csr) in std::iter::once(("history", &self.history))
            .chain(self.held_out_rated.iter().map(|h| ("held-out history", h)))
        {
            let rows_ok = csr.rows() == users
                && csr.offsets.first() == Some(&0)
                && csr.offsets.windows(2).all(|w| w[0] <= w[1])
                && csr.offsets.last().is_some_and(|&e| e as usize == csr.cols.len())
                && csr.cols.len() == csr.values.len()
                && csr.cols.iter().all(|&i| (i as usize) < items);
            if !rows_ok {
                return Err(format!(
                    "recommender whose {what} does not match its {users} users and {items} items"
                ));
            }
        }
        if let Some((lo, hi)) = self.rating_scale
            && (lo.is_nan() || hi.is_nan() || lo > hi)
        {
            return Err(format!("recommender with the rating scale [{lo}, {hi}]"));
        }
        Ok(())
    }

    /// Number of users known from training.
    pub fn n_users(&self) -> usize {
        self.users.len()
    }

    /// Number of items known from training.
    pub fn n_items(&self) -> usize {
        self.items.len()
    }

    /// Every item user `u` rated in the training source, fitted or held out: sorted, possibly
    /// with repeats (as [`topn::top_k`] accepts them).
    fn rated(&self, u: usize) -> Cow<'_, [u32]> {
        let fitted = self.history.row(u).0;
        match self.held_out_rated.as_ref().map(|h| h.row(u).0) {
            Some(held) if !held.is_empty() => {
                let mut all = [fitted, held].concat();
                all.sort_unstable();
                Cow::Owned(all)
            }
            _ => Cow::Borrowed(fitted),
        }
    }

    /// The top `k` items for user `u` by raw estimate, leaving out `exclude` (sorted).
    fn top_for_user(&self, u: usize, k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
        let p = self.user_factors.row(u);
        let stride = self.item_factors.stride;
        let data = &self.item_factors.data;
        if self.algorithm.implicit() || !self.biased {
            return topn::top_k(self.items.len(), k, exclude, |i| {
                dot(p, &data[i * stride..(i + 1) * stride])
            });
        }
        let base = self.global_mean as f32 + self.user_bias[u];
        let bias = &self.item_bias;
        topn::top_k(self.items.len(), k, exclude, |i| {
            base + bias[i] + dot(p, &data[i * stride..(i + 1) * stride])
        })
    }

    /// The estimate for dense ids (None = unknown), before clipping.
    fn raw_estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
        let both = u.zip(i).map(|(u, i)| {
            f64::from(dot(self.user_factors.row(u as usize), self.item_factors.row(i as usize)))
        });
        if self.algorithm.implicit() {
            return both.unwrap_or(0.0);
        }
        if !self.biased {
            return both.unwrap_or(self.global_mean);
        }
        self.global_mean
            + u.map_or(0.0, |u| f64::from(self.user_bias[u as usize]))
            + i.map_or(0.0, |i| f64::from(self.item_bias[i as usize]))
            + both.unwrap_or(0.0)
    }

    /// The prediction for dense ids: clipped to the rating scale for explicit feedback.
    fn estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
        let e = self.raw_estimate(u, i);
        match self.rating_scale {
            Some((lo, hi)) => e.clamp(lo, hi),
            None => e,
        }
    }

    /// Precision, recall and NDCG at [`RANKING_K`], averaged over users with relevant items.
    /// `groups` maps a user (dense id, or a raw key when unknown) to its relevant items (known
    /// dense ids, sorted and distinct) and the total number of relevant items.
    fn ranking(
        &self,
        groups: &BTreeMap<UserKey, (Vec<u32>, usize)>,
        max_users: usize,
        control: &Control<'_>,
    ) -> Result<Map<String, Json>> {
        let user_work = (self.items.len() * self.item_factors.stride) as u64;
        let selected: Vec<(&UserKey, &(Vec<u32>, usize))> = if groups.len() > max_users {
            let step = groups.len() as f64 / max_users as f64;
            let all: Vec<_> = groups.iter().collect();
            (0..max_users).map(|n| all[(n as f64 * step) as usize]).collect()
        } else {
            groups.iter().collect()
        };
        let popular = topn::top_k(self.items.len(), RANKING_K, &[], |i| self.popularity[i]);
        let biased = !self.algorithm.implicit() && self.biased;
        // Ranked in blocks of users (each item's factors read once per block), on both cores;
        // summed below in the users' order, as one thread would.
        let blocks = selected.len().div_ceil(topn::BLOCK);
        let block_work = user_work * topn::BLOCK as u64;
        let per_block = parallel::map(blocks, block_work, control, "the ranking metrics", |n| {
            let block = &selected[n * topn::BLOCK..((n + 1) * topn::BLOCK).min(selected.len())];
            let known: Vec<usize> = block
                .iter()
                .filter_map(|(key, _)| match key {
                    UserKey::Known(u) => Some(*u as usize),
                    UserKey::Unknown(_) => None,
                })
                .collect();
            let rows: Vec<&[f32]> = known.iter().map(|&u| self.user_factors.row(u)).collect();
            // Only the fitted rows are left out: held-out ones are what is being judged.
            let excludes: Vec<&[u32]> = known.iter().map(|&u| self.history.row(u).0).collect();
            let base: Vec<f32> = if biased {
                known.iter().map(|&u| self.global_mean as f32 + self.user_bias[u]).collect()
            } else {
                Vec::new()
            };
            let biases = biased.then_some((&base[..], &self.item_bias[..]));
            let stride = self.item_factors.stride;
            let mut lists =
                topn::top_k_block(&rows, biases, &self.item_factors.data, stride, &excludes, RANKING_K)
                    .into_iter();
            block
                .iter()
                .map(|(key, (relevant, total))| {
                    let list: Vec<u32> = match key {
                        UserKey::Known(_) => lists.next().unwrap_or_default(),
                        UserKey::Unknown(_) => popular.clone(),
                    }
                    .into_iter()
                    .map(|(i, _)| i)
                    .collect();
                    metrics::ranking_at_k(&list, relevant, *total, RANKING_K)
                })
                .collect::<Vec<_>>()
        })?;
        let per_user = per_block.into_iter().flatten();
        let (mut p, mut r, mut n) = (0.0, 0.0, 0.0);
        for (pk, rk, nk) in per_user {
            (p, r, n) = (p + pk, r + rk, n + nk);
        }
        let users = selected.len().max(1) as f64;
        let mut out = Map::new();
        out.insert(format!("precision_at_{RANKING_K}"), json!(p / users));
        out.insert(format!("recall_at_{RANKING_K}"), json!(r / users));
        out.insert(format!("ndcg_at_{RANKING_K}"), json!(n / users));
        out.insert("ranking_users".into(), json!(selected.len()));
        out.insert("ranking_users_held_out".into(), json!(groups.len()));
        Ok(out)
    }

    /// Metrics of held-out rows given as (user, item, value, raw user key for unknown users).
    fn held_out_metrics(
        &self,
        rows: &[(Option<u32>, Option<u32>, f32)],
        unknown_keys: &[Option<String>],
        max_users: usize,
        control: &Control<'_>,
    ) -> Result<Json> {
        let mut out = Map::new();
        out.insert("rows".into(), json!(rows.len()));
        if !self.algorithm.implicit() {
            let pairs = parallel::map(
                rows.len(),
                self.item_factors.stride as u64,
                control,
                "the held-out scores",
                |n| {
                    let (u, i, r) = rows[n];
                    (self.estimate(u, i), f64::from(r))
                },
            )?;
            out.insert("rmse".into(), json!(metrics::rmse(&pairs)));
            out.insert("mae".into(), json!(metrics::mae(&pairs)));
        }
        let mut groups: BTreeMap<UserKey, (Vec<u32>, usize)> = BTreeMap::new();
        for (&(u, i, r), key) in rows.iter().zip(unknown_keys) {
            let is_relevant = if self.algorithm.implicit() { r > 0.0 } else { f64::from(r) >= self.relevant };
            if !is_relevant {
                continue;
            }
            let key = match (u, key) {
                (Some(u), _) => UserKey::Known(u),
                (None, Some(k)) => UserKey::Unknown(k.clone()),
                (None, None) => continue,
            };
            let entry = groups.entry(key).or_default();
            entry.1 += 1;
            if let Some(i) = i {
                entry.0.push(i);
            }
        }
        for (relevant, total) in groups.values_mut() {
            relevant.sort_unstable();
            let before = relevant.len();
            relevant.dedup();
            *total -= before - relevant.len();
        }
        out.extend(self.ranking(&groups, max_users, control)?);
        out.insert(
            "relevant".into(),
            if self.algorithm.implicit() { json!("any held-out interaction") } else { json!(self.relevant) },
        );
        Ok(Json::Object(out))
    }

    /// True for implicit feedback (scores are preferences, not ratings).
    pub fn implicit(&self) -> bool {
        self.algorithm.implicit()
    }

    /// Finds the dense ids of an argument pair; NULL gives `Ok(None)`.
    fn lookup(&self, args: &[Input<'_>]) -> Result<Option<(Option<u32>, Option<u32>)>> {
        if args.len() != 2 {
            return Err(Error::argument(format!(
                "a recommender takes 2 arguments (user, item), got {}",
                args.len()
            )));
        }
        check_id("user", args[0])?;
        check_id("item", args[1])?;
        if matches!(args[0], Input::Null) || matches!(args[1], Input::Null) {
            return Ok(None);
        }
        Ok(Some((self.users.index(args[0]), self.items.index(args[1]))))
    }
}

/// A user in a ranking evaluation: known (dense id) or unknown (raw id as text).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum UserKey {
    Known(u32),
    Unknown(String),
}

fn check_id(name: &str, v: Input<'_>) -> Result<()> {
    if let Input::Blob(_) = v {
        return Err(Error::argument(format!("argument '{name}' must be an integer or text id, got blob")));
    }
    Ok(())
}

/// The training column roles resolved against the data.
struct Columns<'a> {
    user: &'a Column,
    item: &'a Column,
    rating: Option<&'a Column>,
}

fn resolve_columns<'a>(data: &'a Dataset, rating: Option<&'a Column>, p: &Params) -> Result<Columns<'a>> {
    let others: Vec<&Column> = data
        .columns
        .iter()
        .filter(|c| rating.is_none_or(|r| !r.name.eq_ignore_ascii_case(&c.name)))
        .collect();
    let pick = |opt: &Option<String>, key: &str, nth: usize| -> Result<&'a Column> {
        match opt {
            Some(name) => data.column(name, &format!("option '{key}'")),
            None => others.get(nth).copied().ok_or_else(|| {
                Error::data(format!(
                    "a recommender needs a user and an item column besides the target (columns: {}; \
                     name them with the options 'user' and 'item')",
                    data.column_names().join(", ")
                ))
            }),
        }
    };
    let user = pick(&p.user, "user", 0)?;
    let item = pick(&p.item, "item", 1)?;
    if user.name.eq_ignore_ascii_case(&item.name) {
        return Err(Error::option(
            "item",
            format!("must name another column than option 'user', got '{}'", item.name),
        ));
    }
    for (role, c) in [("user", user), ("item", item)] {
        if rating.is_some_and(|r| r.name.eq_ignore_ascii_case(&c.name)) {
            return Err(Error::option(role, format!("must not be the target column '{}'", c.name)));
        }
    }
    Ok(Columns { user, item, rating })
}

/// The values of the target column as f32 (1 for every row when there is none). NULLs, text
/// and (for implicit feedback) negative weights are errors naming the row.
fn target_values(col: Option<&Column>, n: usize, implicit: bool) -> Result<Vec<f32>> {
    let Some(col) = col else { return Ok(vec![1.0; n]) };
    let null_at = |row: usize| col.null_at("target column", row);
    let values: Vec<f64> = match &col.data {
        ColumnData::Integer(v) => v
            .iter()
            .enumerate()
            .map(|(r, x)| x.map(|x| x as f64).ok_or_else(|| null_at(r)))
            .collect::<Result<_>>()?,
        ColumnData::Real(v) => {
            v.iter().enumerate().map(|(r, x)| x.ok_or_else(|| null_at(r))).collect::<Result<_>>()?
        }
        ColumnData::Null(n) => {
            return Err(if *n == 0 { Error::data("no training rows") } else { null_at(0) });
        }
        ColumnData::Text(v) => {
            let row = v.iter().position(Option::is_some).unwrap_or(0);
            return Err(Error::data(format!(
                "target column '{}' must hold numbers (ratings{}), got text in row {}",
                col.name,
                if implicit { " or interaction weights" } else { "" },
                row + 1
            )));
        }
    };
    let mut out = Vec::with_capacity(values.len());
    for (row, &v) in values.iter().enumerate() {
        if !v.is_finite() || (implicit && v < 0.0) {
            let what = if implicit {
                "interaction weights must be finite and >= 0"
            } else {
                "ratings must be finite"
            };
            return Err(Error::data(format!(
                "target column '{}' holds {v} in row {}; {what}",
                col.name,
                row + 1
            )));
        }
        out.push(v as f32);
    }
    Ok(out)
}

/// Maps ids, splits, and keeps only training ids in the dense maps.
fn prepare(
    cols: &Columns<'_>,
    implicit: bool,
    train_rows: &[usize],
    test_rows: &[usize],
) -> Result<Prepared> {
    let n = cols.user.len();
    let (all_users, user_idx) = IdMap::build(cols.user, "user column")?;
    let (all_items, item_idx) = IdMap::build(cols.item, "item column")?;
    let values = target_values(cols.rating, n, implicit)?;
    let (users, user_map) = restrict(&all_users, &user_idx, train_rows);
    let (items, item_map) = restrict(&all_items, &item_idx, train_rows);
    let mut train = Vec::with_capacity(train_rows.len());
    for &r in train_rows {
        if implicit && values[r] == 0.0 {
            continue;
        }
        let (u, i) = (user_map[user_idx[r] as usize], item_map[item_idx[r] as usize]);
        train.push(Triple { user: u.unwrap_or(0), item: i.unwrap_or(0), value: values[r] });
    }
    if train.is_empty() {
        return Err(Error::data("no training rows (every interaction weight is 0)"));
    }
    let test = test_rows
        .iter()
        .map(|&r| (user_map[user_idx[r] as usize], item_map[item_idx[r] as usize], values[r]))
        .collect();
    let test_user_keys = test_rows
        .iter()
        .map(|&r| match user_map[user_idx[r] as usize] {
            Some(_) => None,
            None => Some(all_users.value(user_idx[r]).to_key()),
        })
        .collect();
    Ok(Prepared { users, items, train, test, test_user_keys })
}

/// The ids that occur in `rows`, and the old → new dense index map.
fn restrict(all: &IdMap, dense: &[u32], rows: &[usize]) -> (IdMap, Vec<Option<u32>>) {
    let mut used = vec![false; all.len()];
    for &r in rows {
        used[dense[r] as usize] = true;
    }
    let mut map = vec![None; all.len()];
    let mut next = 0u32;
    for (old, &keep) in used.iter().enumerate() {
        if keep {
            map[old] = Some(next);
            next += 1;
        }
    }
    let kept = match all {
        IdMap::Integer(v) => IdMap::Integer(v.iter().zip(&used).filter(|p| *p.1).map(|p| *p.0).collect()),
        IdMap::Text(v) => IdMap::Text(v.iter().zip(&used).filter(|p| *p.1).map(|p| p.0.clone()).collect()),
    };
    (kept, map)
}

/// Number of (user, item) pairs that occur more than once in a by-user CSR.
fn duplicate_pairs(history: &Csr) -> usize {
    (0..history.rows()).map(|u| history.row(u).0.windows(2).filter(|w| w[0] == w[1]).count()).sum()
}

/// The held-out rows scored after every epoch and the step between them ([`by_user_order`]).
type ValRows = (Vec<(u32, u32, u32)>, usize);

/// At most this many held-out rows are scored after every epoch (the per-epoch `val_loss`):
/// every `step`-th row, `step = ⌈rows / VAL_ROWS⌉`. The report's metrics use every row.
pub const VAL_ROWS: usize = 200_000;

/// Every `step`-th held-out row (all of them up to [`VAL_ROWS`]) as (user, item, row index),
/// `u32::MAX` for an unknown id, sorted by user, then item: the order in which
/// [`epoch_val_rmse`] scores them, as SGD visits ratings (one user's factors stay in cache; a
/// compact copy read front to back). Also returns `step`.
fn by_user_order(test: &[(Option<u32>, Option<u32>, f32)]) -> Result<ValRows> {
    let step = test.len().div_ceil(VAL_ROWS).max(1);
    let rows = test.len().div_ceil(step);
    let mut order = memory::with_capacity::<(u32, u32, u32)>(rows, "the held-out rows' order")?;
    order.extend(
        test.iter()
            .enumerate()
            .step_by(step)
            .map(|(n, &(u, i, _))| (u.unwrap_or(u32::MAX), i.unwrap_or(u32::MAX), n as u32)),
    );
    order.sort_unstable();
    Ok((order, step))
}

/// RMSE of clipped estimates on held-out rows during training (the per-epoch `val_loss`),
/// scored on both cores in `order` ([`by_user_order`]: every `step`-th row) and summed in the
/// rows' order.
#[allow(clippy::too_many_arguments)]
fn epoch_val_rmse(
    test: &[(Option<u32>, Option<u32>, f32)],
    (order, step): &ValRows,
    m: &svd::Fitted,
    user_factors: &Factors,
    biased: bool,
    mean: f32,
    scale: (f64, f64),
    control: &Control<'_>,
) -> Result<Option<f64>> {
    if test.is_empty() {
        return Ok(None);
    }
    let step = *step;
    let work = user_factors.stride as u64;
    let known = |x: u32| (x != u32::MAX).then_some(x as usize);
    let zero = vec![0f32; user_factors.stride];
    // Four rows at a time: their dot products overlap ([`factors::dots4`], the bits of `dot`).
    let groups = parallel::map(
        order.len().div_ceil(4),
        4 * work,
        control,
        "the held-out scores",
        #[inline(always)]
        |g| {
            let rows: [(u32, u32, u32); 4] =
                std::array::from_fn(|j| order.get(4 * g + j).copied().unwrap_or((u32::MAX, u32::MAX, 0)));
            let pair = |j: usize| match (known(rows[j].0), known(rows[j].1)) {
                (Some(u), Some(i)) => (user_factors.row(u), m.item_factors.row(i)),
                _ => (&zero[..], &zero[..]),
            };
            let pairs: [(&[f32], &[f32]); 4] = std::array::from_fn(pair);
            let dots = factors::dots4(pairs.map(|p| p.0), pairs.map(|p| p.1));
            std::array::from_fn::<f64, 4, _>(|j| {
                let e = match (known(rows[j].0), known(rows[j].1)) {
                    (Some(u), Some(i)) => m.global_mean + m.user_bias[u] + m.item_bias[i] + dots[j],
                    _ if !biased => mean,
                    (u, i) => {
                        m.global_mean + u.map_or(0.0, |u| m.user_bias[u]) + i.map_or(0.0, |i| m.item_bias[i])
                    }
                };
                f64::from(e).clamp(scale.0, scale.1)
            })
        },
    )?;
    let scored = groups.into_iter().flatten();
    let mut pairs = memory::with_capacity::<(f64, f64)>(order.len(), "the held-out scores")?;
    pairs.resize(order.len(), (0.0, 0.0));
    for (&(_, _, n), e) in order.iter().zip(scored) {
        pairs[n as usize / step] = (e, f64::from(test[n as usize].2));
    }
    Ok(Some(metrics::rmse(&pairs)))
}

impl Estimator for Recommender {
    const KIND: &'static str = "recommender";

    type Params = Params;

    fn read_params(opts: &mut Options, _: &Common) -> Result<Params> {
        Params::read(opts)
    }

    fn target(params: &Params) -> Target {
        if params.algorithm.implicit() {
            Target::Optional
        } else {
            Target::Values(
                "a recommender needs the rating column as target (only algorithm 'als' takes a NULL target, \
                 counting each row as one interaction)",
            )
        }
    }

    fn fit(setup: &Setup<'_>, params: &Params) -> Result<Trained<Self>> {
        let common = setup.common;
        let implicit = params.algorithm.implicit();
        let cols = resolve_columns(setup.data, setup.target, params)?;
        let started = Instant::now();
        let prep = prepare(&cols, implicit, &setup.train, &setup.test)?;
        let (n_users, n_items) = (prep.users.len(), prep.items.len());
        check_memory(params, n_users, n_items, &common.budget)?;
        let control = &common.control;
        let by_user = Csr::build(n_users, &prep.train, false);
        // Grouped by item only where needed (ALS, and the baseline of held-out metrics).
        let by_item = || Csr::build(n_items, &prep.train, true);
        let mean = if implicit {
            0.0
        } else {
            prep.train.iter().map(|t| f64::from(t.value)).sum::<f64>() / prep.train.len() as f64
        };
        let rating_scale = if implicit {
            None
        } else {
            params.rating_scale.or_else(|| {
                let lo = prep.train.iter().map(|t| t.value).fold(f32::INFINITY, f32::min);
                let hi = prep.train.iter().map(|t| t.value).fold(f32::NEG_INFINITY, f32::max);
                Some((f64::from(lo), f64::from(hi)))
            })
        };
        let scale = rating_scale.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let mut rng = split::rng(common.seed);
        let mut log = Vec::new();
        // Time spent on the held-out rows (per-epoch validation and the metrics at the end).
        let mut report_seconds = 0.0;
        let val_order = by_user_order(&prep.test)?;
        let seconds = |t: Instant| t.elapsed().as_secs_f64();
        let (user_bias, item_bias, user_factors, item_factors, biased) = match &params.hyper {
            Hyper::Sgd(sgd) => {
                let biased = sgd.biased || params.algorithm == Algorithm::SvdPp;
                let hint = sgd_hint(sgd, params.algorithm);
                let mut on_epoch = |epoch: usize, rmse: f64, m: &svd::Fitted, users: &Factors| {
                    finite::check(rmse, "epoch", epoch + 1, "the training RMSE", &hint)?;
                    let scoring = Instant::now();
                    let val_loss = epoch_val_rmse(
                        &prep.test,
                        &val_order,
                        m,
                        users,
                        biased,
                        mean as f32,
                        scale,
                        control,
                    )?;
                    report_seconds += seconds(scoring);
                    log.push(EpochLog {
                        epoch: epoch as u32 + 1,
                        loss: rmse,
                        val_loss,
                        metric: None,
                        seconds: seconds(started),
                    });
                    control.progress(epoch + 1, sgd.n_epochs, started, || {
                        let val = val_loss.map_or(String::new(), |v| format!(", val_rmse {v:.6}"));
                        format!("epoch {}/{}: rmse {rmse:.6}{val}", epoch + 1, sgd.n_epochs)
                    });
                    Ok(())
                };
                // Surprise's starting draws for the same seed (see `init`).
                let (users, items) = init::first_appearance(&prep.train, n_users, n_items);
                let mut normal = init::NumpyNormal::new(common.seed);
                let fitted = if params.algorithm == Algorithm::Svd {
                    let start = svd::Fitted::init(&users, &items, mean as f32, sgd, &mut normal, control)?;
                    svd::fit(&by_user, start, sgd, &mut rng, control, |e, r, m| {
                        on_epoch(e, r, m, &m.user_factors)
                    })?
                } else {
                    let start = svdpp::State::init(&users, &items, mean as f32, sgd, &mut normal, control)?;
                    svdpp::fit(&by_user, start, sgd, &mut rng, control, |e, r, s| {
                        if !r.is_finite() || prep.test.is_empty() {
                            return on_epoch(e, r, &s.fitted, &s.fitted.user_factors);
                        }
                        on_epoch(e, r, &s.fitted, &s.effective_user_factors(&by_user))
                    })?
                };
                let finite = [
                    &fitted.user_bias,
                    &fitted.item_bias,
                    &fitted.user_factors.data,
                    &fitted.item_factors.data,
                ]
                .iter()
                .all(|v| finite::all_finite(v));
                if !finite {
                    return Err(finite::diverged(
                        Some(("epoch", sgd.n_epochs)),
                        "the factors are not finite",
                        &hint,
                    ));
                }
                (fitted.user_bias, fitted.item_bias, fitted.user_factors, fitted.item_factors, biased)
            }
            Hyper::Als(als_params) => {
                let hint = format!(
                    "raise the option 'regularization', now {}, or lower 'alpha', now {}",
                    show_f32(als_params.regularization),
                    show_f32(als_params.alpha)
                );
                let (x, y) =
                    als::fit(&by_user, &by_item(), als_params, &mut rng, control, |it, loss, _, _| {
                        finite::check(loss, "iteration", it + 1, "the loss", &hint)?;
                        log.push(EpochLog {
                            epoch: it as u32 + 1,
                            loss,
                            val_loss: None,
                            metric: None,
                            seconds: seconds(started),
                        });
                        control.progress(it + 1, als_params.iterations, started, || {
                            format!("iteration {}/{}: loss {loss:.6}", it + 1, als_params.iterations)
                        });
                        Ok(())
                    })?;
                if !finite::all_finite(&x.data) || !finite::all_finite(&y.data) {
                    return Err(finite::diverged(
                        Some(("iteration", als_params.iterations)),
                        "the factors are not finite",
                        &hint,
                    ));
                }
                (Vec::new(), Vec::new(), x, y, false)
            }
        };
        let item_norms = item_factors.norms();
        let popularity = baseline::popularity(&by_user, n_items, mean, implicit);
        let mut model = Recommender {
            algorithm: params.algorithm,
            user_column: cols.user.name.clone(),
            item_column: cols.item.name.clone(),
            rating_column: cols.rating.map(|c| c.name.clone()),
            users: prep.users,
            items: prep.items,
            global_mean: mean,
            biased,
            user_bias,
            item_bias,
            user_factors,
            item_factors,
            item_norms,
            rating_scale,
            relevant: params.relevant,
            history: by_user,
            held_out_rated: None,
            popularity,
        };
        let fit_seconds = seconds(started);
        let mut details = Map::new();
        details.insert("algorithm".into(), json!(params.algorithm.name()));
        details.insert("users".into(), json!(n_users));
        details.insert("items".into(), json!(n_items));
        details.insert("factors".into(), json!(model.user_factors.k));
        details.insert("duplicate_pairs".into(), json!(duplicate_pairs(&model.history)));
        details.insert("fit_seconds".into(), json!(fit_seconds));
        if !implicit {
            details.insert("rating_scale".into(), json!(rating_scale.map(|(lo, hi)| [lo, hi])));
            details.insert("global_mean".into(), json!(mean));
        }
        let scoring = Instant::now();
        let metrics = if prep.test.is_empty() {
            Json::Null
        } else {
            if !implicit {
                let (bu, bi) = baseline::baseline_als(&model.history, &by_item(), mean);
                let pairs: Vec<(f64, f64)> = prep
                    .test
                    .iter()
                    .map(|&(u, i, r)| {
                        let e = mean + u.map_or(0.0, |u| bu[u as usize]) + i.map_or(0.0, |i| bi[i as usize]);
                        (e.clamp(scale.0, scale.1), f64::from(r))
                    })
                    .collect();
                details.insert("baseline_rmse".into(), json!(metrics::rmse(&pairs)));
                details.insert("baseline_mae".into(), json!(metrics::mae(&pairs)));
            }
            // Held-out ratings were hidden from the fit and scored in the report; the served
            // model still knows they were made (see `held_out_rated`).
            let held: Vec<Triple> = prep
                .test
                .iter()
                .filter_map(|&(u, i, value)| Some(Triple { user: u?, item: i?, value }))
                .filter(|t| !implicit || t.value != 0.0)
                .collect();
            model.held_out_rated = Some(Csr::build(n_users, &held, false));
            model.held_out_metrics(
                &prep.test,
                &prep.test_user_keys,
                report_ranking_users(n_items),
                control,
            )?
        };
        if !prep.test.is_empty() {
            report_seconds += seconds(scoring);
            details.insert("report_seconds".into(), json!(report_seconds));
        }
        Ok(Trained {
            train_rows: prep.train.len(),
            test_rows: prep.test.len(),
            held_out: Vec::new(),
            served_rows: prep.train.len(),
            refit_epochs: None,
            model,
            metrics,
            details,
            log,
        })
    }

    fn algorithm(&self) -> String {
        self.algorithm.name().to_string()
    }

    fn predict(&self, args: &[Input<'_>]) -> Result<Value> {
        Ok(match self.lookup(args)? {
            None => Value::Null,
            Some((u, i)) => Value::Real(self.estimate(u, i)),
        })
    }

    /// A JSON object: the prediction, its terms (`global_mean`, `user_bias`, `item_bias`,
    /// `interaction` = the factor dot product; null where the user or item is unknown) and
    /// `because`: up to 10 items the user rated in the training source (held-out rows
    /// included), most similar to the target item
    /// first (cosine of item factors), with the user's rating (or weight) and the similarity.
    fn explain(&self, args: &[Input<'_>]) -> Result<Json> {
        let Some((u, i)) = self.lookup(args)? else { return Ok(Json::Null) };
        let mut because = Vec::new();
        if let (Some(u), Some(i)) = (u, i) {
            let (fitted, fitted_values) = self.history.row(u as usize);
            let (mut items, mut values) = (fitted.to_vec(), fitted_values.to_vec());
            if let Some(held) = &self.held_out_rated {
                let (h_items, h_values) = held.row(u as usize);
                for (&j, &v) in h_items.iter().zip(h_values) {
                    if fitted.binary_search(&j).is_err() {
                        items.push(j);
                        values.push(v);
                    }
                }
            }
            let q = self.item_factors.row(i as usize);
            let nq = self.item_norms[i as usize];
            let mut top = topn::TopK::new(10);
            for (n, &j) in items.iter().enumerate() {
                let d = nq * self.item_norms[j as usize];
                let sim = if d > 0.0 { dot(q, self.item_factors.row(j as usize)) / d } else { 0.0 };
                top.push(n as u32, sim);
            }
            for (n, sim) in top.into_sorted() {
                let n = n as usize;
                because.push(json!({
                    "item": self.items.value(items[n]).to_json(),
                    "rating": values[n],
                    "similarity": sim,
                }));
            }
        }
        let known = |b: &Vec<f32>, x: Option<u32>| -> Json {
            match x {
                Some(x) if !b.is_empty() => json!(b[x as usize]),
                _ => Json::Null,
            }
        };
        let interaction =
            u.zip(i).map(|(u, i)| dot(self.user_factors.row(u as usize), self.item_factors.row(i as usize)));
        Ok(json!({
            "prediction": self.estimate(u, i),
            "global_mean": if self.algorithm.implicit() { Json::Null } else { json!(self.global_mean) },
            "user_bias": known(&self.user_bias, u),
            "item_bias": known(&self.item_bias, i),
            "interaction": interaction,
            "user_known": u.is_some(),
            "item_known": i.is_some(),
            "because": because,
        }))
    }

    fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
        let users = data.column(&self.user_column, "user column")?;
        let items = data.column(&self.item_column, "item column")?;
        let mut values = Vec::with_capacity(data.n_rows);
        for r in 0..data.n_rows {
            control.tick(1)?;
            values.push(match self.lookup(&[users.get(r), items.get(r)])? {
                None => Value::Null,
                Some((u, i)) => Value::Real(self.estimate(u, i)),
            });
        }
        Ok(Predictions { values, ..Predictions::default() })
    }

    fn evaluate(&self, data: &Dataset) -> Result<Json> {
        let user = data.column(&self.user_column, "user column")?;
        let item = data.column(&self.item_column, "item column")?;
        let rating = match &self.rating_column {
            Some(name) => Some(data.column(name, "target column")?),
            None => None,
        };
        if rating.is_none() && !self.algorithm.implicit() {
            return Err(Error::data("evaluation needs the rating column"));
        }
        let n = data.n_rows;
        if n == 0 {
            return Err(Error::data("no rows to evaluate"));
        }
        let values = target_values(rating, n, self.algorithm.implicit())?;
        let mut rows = Vec::with_capacity(n);
        let mut keys = Vec::with_capacity(n);
        for (r, &value) in values.iter().enumerate() {
            let (uv, iv) = (user.get(r), item.get(r));
            for (role, col, v) in [("user column", user, uv), ("item column", item, iv)] {
                if matches!(v, Input::Null) {
                    return Err(col.null_at(role, r));
                }
            }
            let u = self.users.index(uv);
            rows.push((u, self.items.index(iv), value));
            keys.push(if u.is_none() { Some(uv.to_value().to_key()) } else { None });
        }
        self.held_out_metrics(&rows, &keys, usize::MAX, &Control::new())
    }
}

/// Checks the factor matrices a training of `params` over `users` and `items` takes against
/// `budget` before they are allocated (SVD++ also keeps implicit factors and copies of the user
/// factors; ALS a Gram matrix per half-step).
fn check_memory(params: &Params, users: usize, items: usize, budget: &Budget) -> Result<()> {
    let (key, k) = match &params.hyper {
        Hyper::Sgd(s) => ("n_factors", s.n_factors),
        Hyper::Als(a) => ("factors", a.factors),
    };
    let row = 4.0 * factors::stride_for(k) as f64;
    let (user_copies, item_copies) = match params.algorithm {
        Algorithm::SvdPp => (3.0, 2.0),
        Algorithm::Svd | Algorithm::Als => (1.0, 1.0),
    };
    let gram = if params.algorithm == Algorithm::Als { 12.0 * (row / 4.0) * (row / 4.0) } else { 0.0 };
    let bytes = row * (users as f64 * user_copies + items as f64 * item_copies) + gram;
    budget.check(key, &format!("the factors of {users} users and {items} items"), bytes)
}

/// What to lower when SGD diverges: `lr_all`, or the largest of the per-term rates.
fn sgd_hint(p: &svd::SgdParams, algorithm: Algorithm) -> String {
    let mut rates = vec![p.lr_bu, p.lr_bi, p.lr_pu, p.lr_qi];
    if algorithm == Algorithm::SvdPp {
        rates.push(p.lr_yj);
    }
    let largest = rates.iter().copied().fold(0.0f32, f32::max);
    if rates.iter().all(|&r| r == largest) {
        format!("lower the option 'lr_all', now {}", show_f32(largest))
    } else {
        let names = if algorithm == Algorithm::SvdPp {
            "'lr_bu', 'lr_bi', 'lr_pu', 'lr_qi', 'lr_yj'"
        } else {
            "'lr_bu', 'lr_bi', 'lr_pu', 'lr_qi'"
        };
        format!("lower the learning rates 'lr_all', {names}: the largest is now {}", show_f32(largest))
    }
}

#[cfg(test)]
mod tests;
