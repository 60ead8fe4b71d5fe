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
//!
//! **Where things are.** `prepare` resolves the columns and maps ids; `fit` trains
//! ([`init`] draws the starting factors; [`svd`], [`svdpp`] or [`als`] fit them; `validation`
//! scores the held-out rows after every epoch); `report` computes the held-out metrics of the
//! training report and of `ml_evaluate`; `predict` serves predictions, explanations and top-k
//! lists. The kernels are in [`factors`] (dot products), [`topn`] (top-k selection) and
//! [`parallel`] (two-core maps), the stored pieces in [`ids`] and [`ratings`].

pub mod als;
pub mod baseline;
pub mod factors;
mod fit;
pub mod ids;
pub mod init;
pub mod metrics;
pub mod parallel;
pub mod params;
mod predict;
mod prepare;
pub mod ratings;
mod report;
pub mod svd;
pub mod svdpp;
pub mod topn;
mod validation;

use self::factors::Factors;
use self::ids::IdMap;
use self::params::Algorithm;
pub use self::params::{OPTIONS, Params};
use self::ratings::Csr;
pub use self::report::{
    RANKING_K, REPORT_RANKING_MIN_USERS, REPORT_RANKING_SCORES, REPORT_RANKING_USERS, report_ranking_users,
};
pub use self::validation::VAL_ROWS;
use super::control::Control;
use super::data::{Dataset, Input, Value};
use super::options::{Common, Options};
use super::setup::{Setup, Target};
use super::{Estimator, Predictions, Trained};
use crate::Result;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

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

impl Recommender {
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

    /// True for implicit feedback (scores are preferences, not ratings).
    pub fn implicit(&self) -> bool {
        self.algorithm.implicit()
    }

    /// The user, item and (explicit ratings) rating columns it was trained on.
    pub fn columns_used(&self) -> Vec<&str> {
        let mut used = vec![self.user_column.as_str(), self.item_column.as_str()];
        used.extend(self.rating_column.as_deref());
        used
    }
}

impl Estimator for Recommender {
    const KIND: &'static str = "recommender";

    type Params = Params;

    fn read_params(opts: &mut Options, _: &Common) -> Result<Params> {
        Params::read(opts)
    }

    /// The user and item columns (named, or the first two besides the target, as the training
    /// finds them: `prepare::role_positions`) and the target.
    fn columns_read(params: &Params, target: Option<&str>, names: &[String]) -> Option<Vec<usize>> {
        let rating = match target {
            Some(t) => Some(super::position_of(names, t)?),
            None => None,
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (user, item) = prepare::role_positions(&names, rating, params).ok()?;
        // A role taken by position is found among the columns read: the first two besides the
        // target are read too, so that they stay the first two there.
        let positional = params.user.is_none() || params.item.is_none();
        let first_two = prepare::others(&names, rating).into_iter().take(2).filter(|_| positional);
        Some(super::sorted_once(
            [Some(user), Some(item), rating].into_iter().flatten().chain(first_two).collect(),
        ))
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

    fn start_ahead(params: &Params, common: &Common) {
        fit::start_ahead(params, common)
    }

    fn fit(setup: &Setup<'_>, params: &Params) -> Result<Trained<Self>> {
        fit::fit(setup, params)
    }

    fn algorithm(&self) -> String {
        self.algorithm.name().to_string()
    }

    fn predict(&self, args: &[Input<'_>]) -> Result<Value> {
        self.predict_pair(args)
    }

    /// A JSON object: the prediction, its terms (`global_mean`, `user_bias`, `item_bias`,
    /// `interaction` = the factor dot product; null where the user or item is unknown) and
    /// `because`: up to 10 items the user rated in the training source (held-out rows
    /// included), most similar to the target item first (cosine of item factors), with the
    /// user's rating (or weight) and the similarity.
    fn explain(&self, args: &[Input<'_>]) -> Result<Json> {
        self.explain_pair(args)
    }

    fn predict_rows(&self, data: &Dataset, control: &Control<'_>) -> Result<Predictions> {
        self.predict_dataset(data, control)
    }

    fn evaluate(&self, data: &Dataset) -> Result<Json> {
        self.evaluate_rows(data)
    }
}

#[cfg(test)]
mod tests;
