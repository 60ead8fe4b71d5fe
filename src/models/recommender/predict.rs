//! Serving a fitted recommender: one prediction (clipped to the rating scale), its explanation,
//! a batch of rows, the top-k items for a user and the items most similar to an item.

use super::factors::dot;
use super::{Recommender, topn};
use crate::models::Predictions;
use crate::models::control::Control;
use crate::models::data::{Dataset, Input, Value};
use crate::{Error, Result};
use serde_json::{Value as Json, json};
use std::borrow::Cow;

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
    pub(super) fn raw_estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
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
    pub(super) fn estimate(&self, u: Option<u32>, i: Option<u32>) -> f64 {
        let e = self.raw_estimate(u, i);
        match self.rating_scale {
            Some((lo, hi)) => e.clamp(lo, hi),
            None => e,
        }
    }

    /// Finds the dense ids of an argument pair; NULL gives `Ok(None)`.
    pub(super) fn lookup(&self, args: &[Input<'_>]) -> Result<Option<(Option<u32>, Option<u32>)>> {
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

    pub(super) fn predict_pair(&self, args: &[Input<'_>]) -> Result<Value> {
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
    pub(super) fn explain_pair(&self, args: &[Input<'_>]) -> Result<Json> {
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

    pub(super) fn predict_dataset(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
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
}

pub(super) fn check_id(name: &str, v: Input<'_>) -> Result<()> {
    if let Input::Blob(_) = v {
        return Err(Error::argument(format!("argument '{name}' must be an integer or text id, got blob")));
    }
    Ok(())
}
