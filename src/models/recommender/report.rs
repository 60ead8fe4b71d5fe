//! The held-out metrics: `rmse` and `mae` of the predictions, precision, recall and NDCG at
//! [`RANKING_K`] of each user's ranked list, and (in the training report) the baseline's errors.
//!
//! The training report ranks a sample of the held-out users on large catalogues
//! ([`report_ranking_users`]); `ml_evaluate` ranks every user.

use super::prepare::{HeldOutRow, target_values};
use super::ratings::{Csr, Triple};
use super::{Recommender, baseline, metrics, parallel, topn};
use crate::models::control::Control;
use crate::models::data::{Dataset, Input};
use crate::models::memory;
use crate::{Error, Result};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;

/// Length of the ranked lists behind precision@k, recall@k and NDCG@k.
pub const RANKING_K: usize = 10;
const _: () = assert!(RANKING_K == 10, "Model::key_metric names ndcg_at_10");

/// At most this many held-out users are ranked for the training report (chosen evenly over
/// the user indices), which bounds its cost on large data; `evaluate` ranks every user.
pub const REPORT_RANKING_USERS: usize = 2000;

/// The training report ranks at most as many users as keep this many (user, item) scores...
/// (With 2,000,000, ranking 223 users took 16–17 ms of the report's 29–34 ms on the generated
/// 10k-item catalogue of `examples/bench_rec_large.rs`, on a shared 2-core machine; 1,000,000
/// halves it.)
pub const REPORT_RANKING_SCORES: usize = 1_000_000;

/// ... but never fewer users than this (when there are as many).
pub const REPORT_RANKING_MIN_USERS: usize = 100;

/// How many held-out users the training report ranks over `items` items: all of them up to
/// [`REPORT_RANKING_USERS`], fewer for large catalogues, where each ranked user costs a score
/// for every item (a sample of 1,000,000 / `items` users, at least
/// [`REPORT_RANKING_MIN_USERS`]: 2,000 up to 500 items, 594 for MovieLens 100K's 1,682
/// items (of its 943 users), 108 at 9,195 items, 100 from 10,000 items on).
pub fn report_ranking_users(items: usize) -> usize {
    (REPORT_RANKING_SCORES / items.max(1)).clamp(REPORT_RANKING_MIN_USERS, REPORT_RANKING_USERS)
}

/// The held-out part of the training report of `model`: its metrics over the held-out rows
/// `test` (with the raw keys of unknown users, as [`super::prepare::Prepared`] holds them), `Json::Null` when
/// nothing was held out. For explicit feedback, also adds the errors of the baseline (biases
/// alone, clipped to `scale`) to `details` as `baseline_rmse` and `baseline_mae`, computed from
/// the model's by-user history (no by-item copy).
pub(super) fn training_report(
    model: &Recommender,
    test: &[HeldOutRow],
    test_user_keys: &[(usize, String)],
    scale: (f64, f64),
    details: &mut Map<String, Json>,
    control: &Control<'_>,
) -> Result<Json> {
    if test.is_empty() {
        return Ok(Json::Null);
    }
    if !model.implicit() {
        let mean = model.global_mean;
        let (bu, bi) = baseline::baseline_als(&model.history, model.n_items(), mean, control)?;
        let (rmse, mae) = errors(test.len(), 1, control, |k| {
            let (u, i, r) = test[k];
            let e = mean + u.map_or(0.0, |u| bu[u as usize]) + i.map_or(0.0, |i| bi[i as usize]);
            (e.clamp(scale.0, scale.1), f64::from(r))
        })?;
        details.insert("baseline_rmse".into(), json!(rmse));
        details.insert("baseline_mae".into(), json!(mae));
    }
    model.held_out_metrics(test, test_user_keys, (report_ranking_users(model.n_items()), false), control)
}

/// Pairs scored per block of [`errors`] (1 MB of pairs).
const ERROR_BLOCK: usize = 1 << 16;

/// [`metrics::rmse`] and [`metrics::mae`] of the `n` pairs (estimate, truth) `pair(0..n)`, bit
/// for bit, without holding them all: scored [`ERROR_BLOCK`] at a time (on both cores when a
/// block is `work_each` enough, [`parallel::map`]) and summed in order, as those functions sum.
/// At 2,000,000 held-out rows the pairs took 32 MB, and as much again in the map's parts,
/// at the top of the recommender's memory.
fn errors(
    n: usize,
    work_each: u64,
    control: &Control<'_>,
    pair: impl Fn(usize) -> (f64, f64) + Sync,
) -> Result<(f64, f64)> {
    let mut sums = metrics::Errors::default();
    for first in (0..n).step_by(ERROR_BLOCK) {
        let len = ERROR_BLOCK.min(n - first);
        let block = parallel::map(len, work_each, control, "the held-out scores", |k| pair(first + k))?;
        block.into_iter().for_each(|(p, t)| sums.add(p, t));
    }
    Ok((sums.rmse(), sums.mae()))
}

/// The held-out ratings as a by-user CSR (for implicit feedback only the non-zero ones): they
/// were hidden from the fit and scored in the report, but the served model knows they were
/// made (see `Recommender::held_out_rated`).
pub(super) fn held_out_rated(
    test: &[(Option<u32>, Option<u32>, f32)],
    n_users: usize,
    implicit: bool,
) -> Result<Csr> {
    let mut held: Vec<Triple> = memory::with_capacity(test.len(), "the held-out ratings")?;
    held.extend(
        test.iter()
            .filter_map(|&(u, i, value)| Some(Triple { user: u?, item: i?, value }))
            .filter(|t| !implicit || t.value != 0.0),
    );
    Csr::try_build(n_users, &held, false)
}

impl Recommender {
    /// Precision, recall and NDCG at [`RANKING_K`], averaged over users with relevant items.
    /// `groups` maps a user (dense id, or a raw key when unknown) to its relevant items (known
    /// dense ids, sorted and distinct) and the total number of relevant items. At most
    /// `max_users` users are ranked; with `judged_rankable`, the relevant items are ranked
    /// even where the user rated them in the fitted rows.
    fn ranking(
        &self,
        groups: &BTreeMap<UserKey, (Vec<u32>, usize)>,
        (max_users, judged_rankable): (usize, bool),
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
            // Only the fitted rows are left out: held-out ones are what is being judged. With
            // `judged_rankable`, not the relevant items being judged either, even where the
            // model was fitted on them (`ml_evaluate` of rows it trained on, `if_better`
            // scoring an active version fitted on every row): left out, they could never be
            // hit, a score of 0 whatever the model. (The training's report keeps them out: a
            // held-out rating of an item the user also rated in training is one
            // `ml_recommend` would not recommend.)
            let excludes: Vec<std::borrow::Cow<'_, [u32]>> = block
                .iter()
                .filter_map(|(key, (relevant, _))| match key {
                    UserKey::Known(u) if judged_rankable => {
                        Some(without(self.history.row(*u as usize).0, relevant))
                    }
                    UserKey::Known(u) => Some(std::borrow::Cow::Borrowed(self.history.row(*u as usize).0)),
                    UserKey::Unknown(_) => None,
                })
                .collect();
            let excludes: Vec<&[u32]> = excludes.iter().map(|e| e.as_ref()).collect();
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

    /// Metrics of held-out rows given as (user, item, value), with the raw user keys of the
    /// rows whose user is unknown (row index and key, by row); `ranked`: see
    /// [`Recommender::ranking`].
    fn held_out_metrics(
        &self,
        rows: &[(Option<u32>, Option<u32>, f32)],
        unknown_keys: &[(usize, String)],
        ranked: (usize, bool),
        control: &Control<'_>,
    ) -> Result<Json> {
        let mut out = Map::new();
        out.insert("rows".into(), json!(rows.len()));
        if !self.algorithm.implicit() {
            let (rmse, mae) = errors(rows.len(), self.item_factors.stride as u64, control, |n| {
                let (u, i, r) = rows[n];
                (self.estimate(u, i), f64::from(r))
            })?;
            out.insert("rmse".into(), json!(rmse));
            out.insert("mae".into(), json!(mae));
        }
        let mut groups: BTreeMap<UserKey, (Vec<u32>, usize)> = BTreeMap::new();
        let mut keys = unknown_keys.iter().peekable();
        for (n, &(u, i, r)) in rows.iter().enumerate() {
            while keys.next_if(|k| k.0 < n).is_some() {}
            let key = keys.peek().filter(|k| k.0 == n).map(|k| &k.1);
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
        out.extend(self.ranking(&groups, ranked, control)?);
        out.insert(
            "relevant".into(),
            if self.algorithm.implicit() { json!("any held-out interaction") } else { json!(self.relevant) },
        );
        Ok(Json::Object(out))
    }

    /// The metrics of `data` (rows of the training columns) as held-out rows; every user is
    /// ranked.
    pub(super) fn evaluate_rows(&self, data: &Dataset) -> Result<Json> {
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
        let mut keys = Vec::new();
        for (r, &value) in values.iter().enumerate() {
            let (uv, iv) = (user.get(r), item.get(r));
            for (role, col, v) in [("user column", user, uv), ("item column", item, iv)] {
                if matches!(v, Input::Null) {
                    return Err(col.null_at(role, r));
                }
            }
            let u = self.users.index(uv);
            rows.push((u, self.items.index(iv), value));
            if u.is_none() {
                keys.push((r, uv.to_value().to_key()));
            }
        }
        // (Rows the model may have been fitted on: their items stay rankable.)
        self.held_out_metrics(&rows, &keys, (usize::MAX, true), &Control::new())
    }
}

/// The sorted `items` without the sorted `judged` ones (borrowed when it has none of them).
fn without<'a>(items: &'a [u32], judged: &[u32]) -> std::borrow::Cow<'a, [u32]> {
    if !judged.iter().any(|j| items.binary_search(j).is_ok()) {
        return std::borrow::Cow::Borrowed(items);
    }
    std::borrow::Cow::Owned(items.iter().copied().filter(|i| judged.binary_search(i).is_err()).collect())
}

/// A user in a ranking evaluation: known (dense id) or unknown (raw id as text).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum UserKey {
    Known(u32),
    Unknown(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blockwise errors are those of the collected pairs, bit for bit, across block boundaries.
    #[test]
    fn errors_by_block_equal_errors_of_every_pair() {
        let pair = |k: usize| (((k * 7919) % 1013) as f64 * 0.0047 + 0.3, ((k * 31) % 5 + 1) as f64);
        for n in [0, 1, 7, ERROR_BLOCK - 1, ERROR_BLOCK, 3 * ERROR_BLOCK + 5] {
            let pairs: Vec<(f64, f64)> = (0..n).map(pair).collect();
            for work in [1, 1_000] {
                let (rmse, mae) = errors(n, work, &Control::new(), pair).unwrap();
                assert_eq!(rmse.to_bits(), metrics::rmse(&pairs).to_bits(), "n {n}");
                assert_eq!(mae.to_bits(), metrics::mae(&pairs).to_bits(), "n {n}");
            }
        }
    }
}
