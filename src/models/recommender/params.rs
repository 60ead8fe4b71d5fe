//! The recommender's options, declared once ([`OPTIONS`]), and their reader.
//!
//! The SGD defaults are Surprise's (`SVD`, `SVDpp`); the ALS ones are the `implicit` library's.
//! Options that do not apply to the chosen algorithm are unknown options (an error listing
//! the ones that do). Surprise's `n_factors` and `n_epochs` and `implicit`'s `iterations` and
//! `alpha` are aliases of `factors`, `epochs` and `confidence`.
//!
#![doc = include_str!("../../../sql/options/recommender.md")]

use super::als::AlsParams;
use super::svd::SgdParams;
use crate::models::option_spec::{Default, Spec, Type};
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

const SGD: &[&str] = &["svd", "svdpp"];

const USER: Spec = Spec::new(
    "user",
    Type::Text,
    Default::Derived("1st non-target column"),
    "the user id column (integers or text)",
);
const ITEM: Spec = Spec::new(
    "item",
    Type::Text,
    Default::Derived("2nd non-target column"),
    "the item id column (integers or text)",
);
const ALGORITHM: Spec = Spec::new(
    "algorithm",
    Type::Choice(&["svd", "svdpp", "als"]),
    Default::Choice("svd"),
    "biased SVD by SGD, SVD++ (both Surprise's), or implicit-feedback ALS",
);
const FEEDBACK: Spec = Spec::new(
    "feedback",
    Type::Choice(&["explicit", "implicit"]),
    Default::Choice("explicit"),
    "svd/svdpp need explicit ratings, als implicit feedback",
)
.by_algorithm(&[("als", Default::Choice("implicit"))]);
const RATING_SCALE: Spec = Spec::new(
    "rating_scale",
    Type::Json,
    Default::Derived("min/max of the training ratings"),
    "`[low, high]`; predictions are clipped to it",
)
.only(SGD);
const RELEVANT: Spec = Spec::new(
    "relevant",
    Type::Number(Range::ANY),
    Default::Number(4.0),
    "a held-out rating ≥ this is a relevant item for precision/recall/NDCG",
)
.only(SGD);
const FACTORS: Spec =
    Spec::new("factors", Type::Int { min: 1, max: MAX_FACTORS }, Default::Int(100), "latent factors")
        .aliases(&["n_factors"])
        .by_algorithm(&[("svdpp", Default::Int(20))]);
const EPOCHS: Spec = Spec::new(
    "epochs",
    Type::Int { min: 1, max: i64::MAX },
    Default::Int(20),
    "SGD passes (svd, svdpp) or alternations (als)",
)
.aliases(&["n_epochs", "iterations"])
.by_algorithm(&[("als", Default::Int(15))]);
const BIASED: Spec =
    Spec::new("biased", Type::Bool, Default::Bool(true), "learn μ and biases").only(&["svd"]);
const INIT_MEAN: Spec = Spec::new(
    "init_mean",
    Type::Float32(Range::ANY),
    Default::Number(0.0),
    "mean of the normal initialisation of factors",
)
.only(SGD);
const INIT_STD_DEV: Spec = Spec::new(
    "init_std_dev",
    Type::Float32(Range::NON_NEGATIVE),
    Default::Number(0.1),
    "standard deviation of the normal initialisation of factors",
)
.only(SGD);
const LR_ALL: Spec = Spec::new(
    "lr_all",
    Type::Float32(Range::POSITIVE),
    Default::Number(0.005),
    "learning rate of every term",
)
.only(SGD)
.by_algorithm(&[("svdpp", Default::Number(0.007))]);
const REG_ALL: Spec = Spec::new(
    "reg_all",
    Type::Float32(Range::NON_NEGATIVE),
    Default::Number(0.02),
    "regularisation of every term",
)
.only(SGD);
const fn rate(key: &'static str, doc: &'static str, algorithms: &'static [&'static str]) -> Spec {
    Spec::new(key, Type::Float32(Range::POSITIVE), Default::Derived("`lr_all`"), doc).only(algorithms)
}
const fn penalty(key: &'static str, doc: &'static str, algorithms: &'static [&'static str]) -> Spec {
    Spec::new(key, Type::Float32(Range::NON_NEGATIVE), Default::Derived("`reg_all`"), doc).only(algorithms)
}
const LR_BU: Spec = rate("lr_bu", "learning rate of the user biases", SGD);
const LR_BI: Spec = rate("lr_bi", "learning rate of the item biases", SGD);
const LR_PU: Spec = rate("lr_pu", "learning rate of the user factors", SGD);
const LR_QI: Spec = rate("lr_qi", "learning rate of the item factors", SGD);
const LR_YJ: Spec = rate("lr_yj", "learning rate of the implicit item factors", &["svdpp"]);
const REG_BU: Spec = penalty("reg_bu", "regularisation of the user biases", SGD);
const REG_BI: Spec = penalty("reg_bi", "regularisation of the item biases", SGD);
const REG_PU: Spec = penalty("reg_pu", "regularisation of the user factors", SGD);
const REG_QI: Spec = penalty("reg_qi", "regularisation of the item factors", SGD);
const REG_YJ: Spec = penalty("reg_yj", "regularisation of the implicit item factors", &["svdpp"]);
const REGULARIZATION: Spec =
    Spec::new("regularization", Type::Float32(Range::NON_NEGATIVE), Default::Number(0.01), "λ")
        .only(&["als"]);
const CONFIDENCE: Spec = Spec::new(
    "confidence",
    Type::Float32(Range::POSITIVE),
    Default::Number(1.0),
    "confidence `1 + confidence·weight` of an interaction",
)
.aliases(&["alpha"])
.only(&["als"]);

/// The recommender's options (besides [`crate::models::options::COMMON`]).
pub const OPTIONS: &[Spec] = &[
    USER,
    ITEM,
    ALGORITHM,
    FEEDBACK,
    RATING_SCALE,
    RELEVANT,
    FACTORS,
    EPOCHS,
    BIASED,
    INIT_MEAN,
    INIT_STD_DEV,
    LR_ALL,
    REG_ALL,
    LR_BU,
    LR_BI,
    LR_PU,
    LR_QI,
    LR_YJ,
    REG_BU,
    REG_BI,
    REG_PU,
    REG_QI,
    REG_YJ,
    REGULARIZATION,
    CONFIDENCE,
];

impl Params {
    /// Reads the recommender's options (not `seed` / `test_size`, which the platform reads).
    pub fn read(opts: &mut Options) -> Result<Params> {
        let user = opts.text(&USER)?;
        let item = opts.text(&ITEM)?;
        let algorithm = match opts.choice(&ALGORITHM)? {
            "svdpp" => Algorithm::SvdPp,
            "als" => Algorithm::Als,
            _ => Algorithm::Svd,
        };
        opts.set_algorithm(algorithm.name());
        let default_feedback = if algorithm.implicit() { "implicit" } else { "explicit" };
        let feedback = opts.choice(&FEEDBACK)?;
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
        let factors = opts.int(&FACTORS)? as usize;
        let epochs = opts.int(&EPOCHS)? as usize;
        if algorithm.implicit() {
            let als = AlsParams {
                factors,
                iterations: epochs,
                regularization: opts.number(&REGULARIZATION)? as f32,
                alpha: opts.number(&CONFIDENCE)? as f32,
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
        let relevant = opts.number(&RELEVANT)?;
        let svdpp = algorithm == Algorithm::SvdPp;
        let biased = if svdpp { true } else { opts.bool(&BIASED)? };
        let init_mean = opts.number(&INIT_MEAN)?;
        let init_std_dev = opts.number(&INIT_STD_DEV)?;
        let lr_all = opts.number(&LR_ALL)?;
        let reg_all = opts.number(&REG_ALL)?;
        let mut lr = |spec| opts.number_or(spec, lr_all).map(|v| v as f32);
        let (lr_bu, lr_bi, lr_pu, lr_qi) = (lr(&LR_BU)?, lr(&LR_BI)?, lr(&LR_PU)?, lr(&LR_QI)?);
        let lr_yj = if svdpp { lr(&LR_YJ)? } else { lr_all as f32 };
        let mut reg = |spec| opts.number_or(spec, reg_all).map(|v| v as f32);
        let (reg_bu, reg_bi, reg_pu, reg_qi) = (reg(&REG_BU)?, reg(&REG_BI)?, reg(&REG_PU)?, reg(&REG_QI)?);
        let reg_yj = if svdpp { reg(&REG_YJ)? } else { reg_all as f32 };
        let sgd = SgdParams {
            n_factors: factors,
            n_epochs: epochs,
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
    let Some((name, v)) = opts.raw(&RATING_SCALE)? else { return Ok(None) };
    let pair = match &v {
        Json::Array(a) if a.len() == 2 => a[0].as_f64().zip(a[1].as_f64()),
        _ => None,
    };
    match pair {
        Some((lo, hi)) if lo.is_finite() && hi.is_finite() && lo < hi => Ok(Some((lo, hi))),
        _ => Err(Error::option(name, format!("must be [low, high] with low < high, got {v}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(json: &str) -> Result<Params> {
        let mut o = Options::parse(Some(json))?;
        let p = Params::read(&mut o)?;
        o.finish("recommender")?;
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
            "unknown option 'lr_yj' (expected one of: activate, algorithm, biased, epochs, factors, feedback, init_mean, init_std_dev, item, keep, lr_all, lr_bi, lr_bu, lr_pu, lr_qi, max_memory_mb, progress, rating_scale, refit, reg_all, reg_bi, reg_bu, reg_pu, reg_qi, relevant, seed, test_size, user)"
        );
        assert_eq!(
            err(r#"{"algorithm": "als", "lr_all": 3}"#),
            "unknown option 'lr_all' (expected one of: activate, algorithm, confidence, epochs, factors, feedback, item, keep, max_memory_mb, progress, refit, regularization, seed, test_size, user)"
        );
        assert_eq!(
            err(r#"{"n_factors": 8, "factors": 8}"#),
            "option 'factors' and option 'n_factors' are one option: give one of them"
        );
    }

    /// The peers' names are aliases: Surprise's `n_factors`/`n_epochs`, implicit's
    /// `iterations`/`alpha`; the declared defaults are the Rust API's ([`SgdParams`]).
    #[test]
    fn one_vocabulary_with_the_peers_names_as_aliases() {
        let Hyper::Sgd(s) = read(r#"{"n_factors": 7, "n_epochs": 3}"#).unwrap().hyper else { panic!("svd") };
        assert_eq!((s.n_factors, s.n_epochs), (7, 3));
        let Hyper::Als(a) =
            read(r#"{"algorithm": "als", "iterations": 4, "alpha": 2, "n_factors": 5}"#).unwrap().hyper
        else {
            panic!("als")
        };
        assert_eq!((a.factors, a.iterations, a.alpha), (5, 4, 2.0));
        let Hyper::Sgd(s) = read("{}").unwrap().hyper else { panic!("svd") };
        assert_eq!(s, SgdParams::default());
        let Hyper::Sgd(s) = read(r#"{"algorithm": "svdpp"}"#).unwrap().hyper else { panic!("svdpp") };
        assert_eq!(s, SgdParams::svdpp());
    }

    /// Every option declared for an algorithm is read when training with it.
    #[test]
    fn every_declared_option_is_read() {
        for algorithm in ["svd", "svdpp", "als"] {
            let mut o = Options::parse(Some(&format!(r#"{{"algorithm": "{algorithm}"}}"#))).unwrap();
            Params::read(&mut o).unwrap();
            let mut read = o.read_keys().to_vec();
            read.sort_unstable();
            let mut declared: Vec<&str> =
                OPTIONS.iter().filter(|s| s.applies_to(Some(algorithm))).map(|s| s.key).collect();
            declared.sort_unstable();
            assert_eq!(read, declared, "{algorithm}");
        }
    }
}
