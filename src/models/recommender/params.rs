//! The recommender's training options, read from the `ml_train` options object.
//!
//! | key | algorithms | default | meaning |
//! |---|---|---|---|
//! | `user`, `item` | all | 1st / 2nd non-target column | id columns (integers or text) |
//! | `algorithm` | | `'svd'` | `'svd'`, `'svdpp'` or `'als'` |
//! | `feedback` | | `'explicit'` (`'implicit'` for als) | svd/svdpp need explicit, als implicit |
//! | `rating_scale` | svd, svdpp | min/max of the training ratings | `[low, high]`; predictions are clipped to it |
//! | `relevant` | svd, svdpp | 4 | a held-out rating ≥ this is a relevant item for precision/recall/NDCG |
//! | `n_factors` | svd, svdpp | 100 / 20 | latent factors (1–1024) |
//! | `n_epochs` | svd, svdpp | 20 | SGD passes |
//! | `biased` | svd | true | learn μ and biases |
//! | `init_mean`, `init_std_dev` | svd, svdpp | 0, 0.1 | normal initialisation of factors |
//! | `lr_all` | svd, svdpp | 0.005 / 0.007 | learning rate of every term |
//! | `reg_all` | svd, svdpp | 0.02 | regularisation of every term |
//! | `lr_bu`, `lr_bi`, `lr_pu`, `lr_qi` (`lr_yj`) | svd, svdpp (svdpp) | `lr_all` | per-term learning rate |
//! | `reg_bu`, `reg_bi`, `reg_pu`, `reg_qi` (`reg_yj`) | svd, svdpp (svdpp) | `reg_all` | per-term regularisation |
//! | `factors` | als | 100 | latent factors (1–1024) |
//! | `iterations` | als | 15 | alternations |
//! | `regularization` | als | 0.01 | λ |
//! | `alpha` | als | 1 | confidence `1 + alpha·weight` |
//!
//! The SGD defaults are Surprise's (`SVD`, `SVDpp`); the ALS ones are the `implicit` library's.
//! Options that do not apply to the chosen algorithm are unknown options (an error listing
//! the ones that do).

use super::als::AlsParams;
use super::svd::SgdParams;
use crate::models::options::{Options, Range};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// The training algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Algorithm {
    /// Biased matrix factorisation by SGD (Surprise's `SVD`).
    Svd,
    /// SVD with implicit feedback (Surprise's `SVDpp`).
    SvdPp,
    /// Implicit-feedback alternating least squares.
    Als,
}

impl Algorithm {
    /// The option value and `ml_models.algorithm` name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Svd => "svd",
            Algorithm::SvdPp => "svdpp",
            Algorithm::Als => "als",
        }
    }

    /// True for implicit feedback (scores are preferences, not ratings).
    pub fn implicit(self) -> bool {
        self == Algorithm::Als
    }
}

/// Everything the recommender reads from the options.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// `user` option.
    pub user: Option<String>,
    /// `item` option.
    pub item: Option<String>,
    /// `algorithm` option.
    pub algorithm: Algorithm,
    /// `rating_scale` option (explicit feedback).
    pub rating_scale: Option<(f64, f64)>,
    /// `relevant` option (explicit feedback).
    pub relevant: f64,
    /// The algorithm's hyperparameters.
    pub hyper: Hyper,
}

/// Hyperparameters of the chosen algorithm.
#[derive(Clone, Debug, PartialEq)]
pub enum Hyper {
    /// svd, svdpp.
    Sgd(SgdParams),
    /// als.
    Als(AlsParams),
}

/// Largest accepted number of factors.
const MAX_FACTORS: i64 = 1024;

impl Params {
    /// Reads the recommender's options (not `seed` / `test_size`, which the platform reads).
    /// The caller then calls [`Options::finish`].
    pub fn read(opts: &mut Options) -> Result<Params> {
        let user = opts.string("user")?;
        let item = opts.string("item")?;
        let algorithm = match opts.choice("algorithm", "svd", &["svd", "svdpp", "als"])? {
            "svdpp" => Algorithm::SvdPp,
            "als" => Algorithm::Als,
            _ => Algorithm::Svd,
        };
        let default_feedback = if algorithm.implicit() { "implicit" } else { "explicit" };
        let feedback = opts.choice("feedback", default_feedback, &["explicit", "implicit"])?;
        if feedback != default_feedback {
            return Err(Error::option(
                "feedback",
                match algorithm {
                    Algorithm::Als => {
                        "must be 'implicit' with algorithm 'als' (use 'svd' or 'svdpp' for ratings)"
                    }
                    _ => {
                        "must be 'explicit' with algorithm 'svd' or 'svdpp' (use algorithm 'als' for implicit feedback)"
                    }
                },
            ));
        }
        if algorithm.implicit() {
            let als = AlsParams {
                factors: opts.int("factors", 100, 1, MAX_FACTORS)? as usize,
                iterations: opts.positive("iterations", 15)?,
                regularization: opts.number_f32("regularization", 0.01, Range::NON_NEGATIVE)?,
                alpha: opts.number_f32("alpha", 1.0, Range::POSITIVE)?,
                cg_steps: 3,
            };
            return Ok(Params {
                user,
                item,
                algorithm,
                rating_scale: None,
                relevant: 4.0,
                hyper: Hyper::Als(als),
            });
        }
        let rating_scale = read_scale(opts)?;
        let relevant = opts.number("relevant", 4.0, Range::ANY)?;
        let svdpp = algorithm == Algorithm::SvdPp;
        // Surprise's defaults, from their one definition (the f32 rates round-trip exactly).
        let d = if svdpp { SgdParams::svdpp() } else { SgdParams::default() };
        let n_factors = opts.int("n_factors", d.n_factors as i64, 1, MAX_FACTORS)? as usize;
        let n_epochs = opts.positive("n_epochs", d.n_epochs)?;
        let biased = if svdpp { true } else { opts.bool("biased", d.biased)? };
        let init_mean = opts.number_fits_f32("init_mean", d.init_mean, Range::ANY)?;
        let init_std_dev = opts.number_fits_f32("init_std_dev", d.init_std_dev, Range::NON_NEGATIVE)?;
        let lr_all = opts.number_fits_f32("lr_all", f64::from(d.lr_pu), Range::POSITIVE)?;
        let reg_all = opts.number_fits_f32("reg_all", f64::from(d.reg_pu), Range::NON_NEGATIVE)?;
        let lr = |o: &mut Options, key| o.number_f32(key, lr_all, Range::POSITIVE);
        let (lr_bu, lr_bi, lr_pu, lr_qi) =
            (lr(opts, "lr_bu")?, lr(opts, "lr_bi")?, lr(opts, "lr_pu")?, lr(opts, "lr_qi")?);
        let lr_yj = if svdpp { lr(opts, "lr_yj")? } else { lr_all as f32 };
        let reg = |o: &mut Options, key| o.number_f32(key, reg_all, Range::NON_NEGATIVE);
        let (reg_bu, reg_bi) = (reg(opts, "reg_bu")?, reg(opts, "reg_bi")?);
        let (reg_pu, reg_qi) = (reg(opts, "reg_pu")?, reg(opts, "reg_qi")?);
        let reg_yj = if svdpp { reg(opts, "reg_yj")? } else { reg_all as f32 };
        let sgd = SgdParams {
            n_factors,
            n_epochs,
            biased,
            init_mean,
            init_std_dev,
            lr_bu,
            lr_bi,
            lr_pu,
            lr_qi,
            lr_yj,
            reg_bu,
            reg_bi,
            reg_pu,
            reg_qi,
            reg_yj,
        };
        Ok(Params { user, item, algorithm, rating_scale, relevant, hyper: Hyper::Sgd(sgd) })
    }
}

/// `rating_scale`: a JSON array `[low, high]` of numbers with `low < high`.
fn read_scale(opts: &mut Options) -> Result<Option<(f64, f64)>> {
    let Some(v) = opts.raw("rating_scale") else { return Ok(None) };
    let pair = match &v {
        Json::Array(a) if a.len() == 2 => a[0].as_f64().zip(a[1].as_f64()),
        _ => None,
    };
    match pair {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => Ok(Some((lo, hi))),
        _ => Err(Error::option("rating_scale", format!("must be [low, high] with low < high, got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Params> {
        let mut o = Options::parse(Some(json))?;
        let p = Params::read(&mut o)?;
        o.finish()?;
        Ok(p)
    }

    #[test]
    fn surprise_defaults_and_overrides() {
        let p = read("{}").unwrap();
        let Hyper::Sgd(s) = p.hyper else { panic!("svd has SGD parameters") };
        assert_eq!(
            (p.algorithm, s.n_factors, s.n_epochs, s.lr_pu, s.reg_qi),
            (Algorithm::Svd, 100, 20, 0.005, 0.02)
        );
        let p = read(r#"{"algorithm": "svdpp", "lr_all": 0.01, "lr_yj": 0.001, "rating_scale": "[1, 5]"}"#)
            .unwrap();
        let Hyper::Sgd(s) = p.hyper else { panic!("svdpp has SGD parameters") };
        assert_eq!((s.n_factors, s.lr_bu, s.lr_yj, s.reg_yj), (20, 0.01, 0.001, 0.02));
        assert_eq!(p.rating_scale, Some((1.0, 5.0)));
        let Hyper::Als(a) = read(r#"{"algorithm": "als", "factors": 8}"#).unwrap().hyper else {
            panic!("als")
        };
        assert_eq!((a.factors, a.iterations, a.regularization, a.alpha), (8, 15, 0.01, 1.0));
    }

    #[test]
    fn bad_options_exact_text() {
        let err = |j: &str| read(j).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"algorithm": "nmf"}"#),
            "option 'algorithm' must be one of 'svd', 'svdpp', 'als', got 'nmf'"
        );
        assert_eq!(
            err(r#"{"feedback": "implicit"}"#),
            "option 'feedback' must be 'explicit' with algorithm 'svd' or 'svdpp' (use algorithm 'als' for implicit feedback)"
        );
        assert_eq!(
            err(r#"{"algorithm": "als", "feedback": "explicit"}"#),
            "option 'feedback' must be 'implicit' with algorithm 'als' (use 'svd' or 'svdpp' for ratings)"
        );
        assert_eq!(err(r#"{"n_factors": 0}"#), "option 'n_factors' must be an integer from 1 to 1024, got 0");
        assert_eq!(err(r#"{"lr_all": -1}"#), "option 'lr_all' must be a positive number, got -1");
        assert_eq!(err(r#"{"reg_qi": "x"}"#), "option 'reg_qi' must be a non-negative number, got 'x'");
        assert_eq!(
            err(r#"{"lr_all": 1e300}"#),
            "option 'lr_all' must be a positive number that fits a 32-bit float (at most 3.4028235e38 in size), got 1e300"
        );
        assert_eq!(
            err(r#"{"algorithm": "als", "alpha": 1e39}"#),
            "option 'alpha' must be a positive number that fits a 32-bit float (at most 3.4028235e38 in size), got 1e39"
        );
        assert_eq!(
            err(r#"{"rating_scale": [5, 1]}"#),
            "option 'rating_scale' must be [low, high] with low < high, got [5,1]"
        );
        assert_eq!(
            err(r#"{"lr_yj": 0.1}"#),
            "unknown option 'lr_yj' (expected one of: algorithm, biased, feedback, init_mean, init_std_dev, item, \
             lr_all, lr_bi, lr_bu, lr_pu, lr_qi, n_epochs, n_factors, rating_scale, reg_all, reg_bi, reg_bu, reg_pu, \
             reg_qi, relevant, user)"
        );
        assert_eq!(
            err(r#"{"algorithm": "als", "n_factors": 3}"#),
            "unknown option 'n_factors' (expected one of: algorithm, alpha, factors, feedback, item, iterations, \
             regularization, user)"
        );
    }
}
