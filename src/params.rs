//! Typed training options for Rust callers.
//!
//! `ml_train` takes its options as a JSON object. From Rust, build them with typed setters
//! instead and check them before any data is read, as linfa's checked parameters do:
//! [`Text`], [`Classifier`] and [`Recommender`] have one setter per option of their kind (the
//! options of `sql/reference.md`, under the same names) plus the common ones, and
//! [`check`](Text::check) validates them against the very declarations the SQL reader uses
//! (ranges, choices, options that do not apply to the chosen algorithm), giving a
//! [`Checked`] value that [`train`] passes to `ml_train`.
//!
//! ```
//! use sqlml::params::{self, Text};
//! let conn = sqlml::rusqlite::Connection::open_in_memory()?;
//! sqlml::register(&conn)?;
//! conn.execute_batch(
//!     "SELECT ml_unlock('passphrase');
//!      CREATE TABLE tickets(body TEXT, queue TEXT);
//!      INSERT INTO tickets VALUES ('refund my order', 'billing'), ('card charged twice', 'billing'),
//!        ('app crashes on start', 'tech'), ('cannot log in', 'tech');",
//! )?;
//! let options = Text::new().ngrams(1, 1).alpha(0.5).test_size(0.0).seed(7).check()?;
//! let report = params::train(&conn, "router", "tickets", Some("queue"), &options)?;
//! assert_eq!(report["version"], 1);
//!
//! // A value out of range fails before anything is read, with the SQL reader's message.
//! let e = Text::new().alpha(-1.0).check().unwrap_err();
//! assert!(e.to_string().starts_with("option 'alpha' must be"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::models::options::{Common, Options};
use crate::{Error, Result};
use serde_json::{Map, Value as Json, json};

/// Options checked against their declarations, ready for [`train`] (or for `ml_train`'s
/// `options` argument, as [`Checked::json`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Checked {
    kind: &'static str,
    json: String,
}

impl Checked {
    /// The model kind the options are for (`text`, `classifier`, `recommender`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The options as the JSON object `ml_train` takes.
    pub fn json(&self) -> &str {
        &self.json
    }
}

/// Checks `values` as `ml_train` would for `kind`, before reading any data.
fn check(kind: &'static str, values: &Map<String, Json>) -> Result<Checked> {
    let json = Json::Object(values.clone()).to_string();
    let mut opts = Options::parse(Some(&json))?;
    let common = Common::read(&mut opts)?;
    crate::models::check_options(kind, &opts, &common)?;
    Ok(Checked { kind, json })
}

/// Trains model `name` of the options' kind on `source` (a table, a view or a read-only
/// SELECT) with target column `target` (`None` for a recommender on implicit feedback without
/// weights), through `ml_train` on `conn` (which must have sqlml registered), and returns its
/// JSON report.
pub fn train(
    conn: &rusqlite::Connection,
    name: &str,
    source: &str,
    target: Option<&str>,
    options: &Checked,
) -> Result<Json> {
    let report: String = conn.query_row(
        "SELECT ml_train(?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![name, options.kind, source, target, options.json],
        |r| r.get(0),
    )?;
    serde_json::from_str(&report).map_err(|e| Error::Internal(format!("ml_train's report is not JSON: {e}")))
}

/// One builder per kind: a map of the options set so far, typed setters for the kind's
/// options and the common ones, and `check`. `KEYS` lists the options it can set (a test
/// holds it equal to the kind's declarations).
macro_rules! builder {
    (
        $(#[$doc:meta])* $name:ident, $kind:literal,
        { $( $(#[$sdoc:meta])* $setter:ident ( $($arg:ident : $ty:ty),* ) => $key:literal : $value:expr ; )* }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct $name(Map<String, Json>);

        impl $name {
            /// The options that this builder can set, by key.
            pub const KEYS: &'static [&'static str] = &[
                $($key,)*
                "seed", "test_size", "max_memory_mb", "progress", "refit", "activate", "keep",
            ];

            /// No option set: every option takes its default.
            pub fn new() -> Self {
                Self::default()
            }

            fn set(mut self, key: &str, value: Json) -> Self {
                self.0.insert(key.to_string(), value);
                self
            }

            /// Checks the options against their declarations (`ml_train`'s own check, before
            /// any data is read).
            pub fn check(&self) -> Result<Checked> {
                check($kind, &self.0)
            }

            $(
                $(#[$sdoc])*
                pub fn $setter(self, $($arg: $ty),*) -> Self {
                    self.set($key, $value)
                }
            )*

            /// Seed of every random choice (split, starting weights, shuffles): the same seed,
            /// data and options give the same model bytes.
            pub fn seed(self, seed: u64) -> Self {
                self.set("seed", json!(seed))
            }
            /// Fraction of rows held out to measure the model (0 for none).
            pub fn test_size(self, fraction: f64) -> Self {
                self.set("test_size", json!(fraction))
            }
            /// Memory budget of the training, in MiB.
            pub fn max_memory_mb(self, mb: u64) -> Self {
                self.set("max_memory_mb", json!(mb))
            }
            /// Progress lines on standard error during the fit.
            pub fn progress(self, on: bool) -> Self {
                self.set("progress", json!(on))
            }
            /// Whether the served model is fitted again on every row after measuring (the
            /// default) or is the model fitted on the training part.
            pub fn refit(self, on: bool) -> Self {
                self.set("refit", json!(on))
            }
            /// When the new version becomes active: `"always"`, `"if_better"` or `"never"`.
            pub fn activate(self, strategy: &str) -> Self {
                self.set("activate", json!(strategy))
            }
            /// Keep only the newest `versions` versions (and the active one) after training.
            pub fn keep(self, versions: u64) -> Self {
                self.set("keep", json!(versions))
            }
        }
    };
}

builder! {
    /// Options of a `text` model (Naive Bayes over words).
    Text, "text", {
        /// The text column.
        text(column: &str) => "text": json!(column);
        /// An ISO 639-1 code or English name of a language, `"zh"`, or `"auto"`.
        language(language: &str) => "language": json!(language);
        /// Chinese/Japanese runs as jieba's `"words"` or as character `"bigrams"`.
        cjk(mode: &str) => "cjk": json!(mode);
        /// Remove the language's stopwords (negations kept).
        stopwords(on: bool) => "stopwords": json!(on);
        /// Snowball stemming.
        stem(on: bool) => "stem": json!(on);
        /// The n-gram lengths, `min..=max`.
        ngrams(min: u32, max: u32) => "ngrams": json!([min, max]);
        /// Keep terms found in at least this many training texts.
        min_df(texts: u64) => "min_df": json!(texts);
        /// Keep only the most frequent terms.
        max_features(terms: u64) => "max_features": json!(terms);
        /// Term weights: `"count"`, `"binary"` or `"tfidf"`.
        weighting(weighting: &str) => "weighting": json!(weighting);
        /// The Naive Bayes variant: `"multinomial"`, `"complement"` or `"bernoulli"`.
        algorithm(algorithm: &str) => "algorithm": json!(algorithm);
        /// Additive smoothing.
        alpha(alpha: f64) => "alpha": json!(alpha);
        /// Class priors: `"learned"` or `"uniform"`.
        priors(priors: &str) => "priors": json!(priors);
    }
}

builder! {
    /// Options of a `classifier` model (multilayer perceptron over columns).
    Classifier, "classifier", {
        /// The feature columns (default: every column but the target).
        features(columns: &[&str]) => "features": json!(columns);
        /// Columns left out of the features.
        exclude(columns: &[&str]) => "exclude": json!(columns);
        /// Widths of the hidden layers.
        hidden_layers(widths: &[u32]) => "hidden_layers": json!(widths);
        /// Adam's learning rate.
        learning_rate(rate: f64) => "learning_rate": json!(rate);
        /// Rows per gradient step.
        batch_size(rows: u64) => "batch_size": json!(rows);
        /// Passes over the training rows.
        epochs(epochs: u64) => "epochs": json!(epochs);
        /// L2 penalty on the weights.
        l2(penalty: f64) => "l2": json!(penalty);
        /// Dropout rate of the hidden layers.
        dropout(rate: f64) => "dropout": json!(rate);
        /// Class weights: `"none"` or `"balanced"`.
        class_weight(weights: &str) => "class_weight": json!(weights);
        /// Fraction of the training rows kept aside for early stopping.
        validation_split(fraction: f64) => "validation_split": json!(fraction);
        /// Epochs without improvement before early stopping.
        patience(epochs: u64) => "patience": json!(epochs);
        /// Shuffle the rows every epoch.
        shuffle(on: bool) => "shuffle": json!(on);
        /// Most categories one-hot encoded per text column.
        max_categories(categories: u64) => "max_categories": json!(categories);
        /// Accept (and ignore) unknown keys in a JSON object given to `ml_predict`.
        allow_extra_keys(on: bool) => "allow_extra_keys": json!(on);
    }
}

builder! {
    /// Options of a `recommender` model (matrix factorisation).
    Recommender, "recommender", {
        /// The user column.
        user(column: &str) => "user": json!(column);
        /// The item column.
        item(column: &str) => "item": json!(column);
        /// `"svd"`, `"svdpp"` or `"als"`.
        algorithm(algorithm: &str) => "algorithm": json!(algorithm);
        /// `"explicit"` ratings or `"implicit"` interactions.
        feedback(feedback: &str) => "feedback": json!(feedback);
        /// The range predictions are clipped to.
        rating_scale(low: f64, high: f64) => "rating_scale": json!([low, high]);
        /// The rating from which a held-out item counts as relevant in the ranking metrics.
        relevant(rating: f64) => "relevant": json!(rating);
        /// Latent factors.
        factors(factors: u64) => "factors": json!(factors);
        /// Passes over the ratings.
        epochs(epochs: u64) => "epochs": json!(epochs);
        /// Learn the global mean and the biases (SVD).
        biased(on: bool) => "biased": json!(on);
        /// Mean of the starting factors.
        init_mean(mean: f64) => "init_mean": json!(mean);
        /// Standard deviation of the starting factors.
        init_std_dev(sd: f64) => "init_std_dev": json!(sd);
        /// Learning rate of every parameter (SGD algorithms).
        lr_all(rate: f64) => "lr_all": json!(rate);
        /// Regularisation of every parameter (SGD algorithms).
        reg_all(penalty: f64) => "reg_all": json!(penalty);
        /// Learning rate of the user biases.
        lr_bu(rate: f64) => "lr_bu": json!(rate);
        /// Learning rate of the item biases.
        lr_bi(rate: f64) => "lr_bi": json!(rate);
        /// Learning rate of the user factors.
        lr_pu(rate: f64) => "lr_pu": json!(rate);
        /// Learning rate of the item factors.
        lr_qi(rate: f64) => "lr_qi": json!(rate);
        /// Learning rate of the implicit item factors (SVD++).
        lr_yj(rate: f64) => "lr_yj": json!(rate);
        /// Regularisation of the user biases.
        reg_bu(penalty: f64) => "reg_bu": json!(penalty);
        /// Regularisation of the item biases.
        reg_bi(penalty: f64) => "reg_bi": json!(penalty);
        /// Regularisation of the user factors.
        reg_pu(penalty: f64) => "reg_pu": json!(penalty);
        /// Regularisation of the item factors.
        reg_qi(penalty: f64) => "reg_qi": json!(penalty);
        /// Regularisation of the implicit item factors (SVD++).
        reg_yj(penalty: f64) => "reg_yj": json!(penalty);
        /// λ of ALS.
        regularization(lambda: f64) => "regularization": json!(lambda);
        /// Confidence weight of implicit ALS.
        confidence(weight: f64) => "confidence": json!(weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{option_spec, options::COMMON};

    fn declared(kind: &str) -> Vec<&'static str> {
        let mut keys: Vec<&str> = option_spec::of_kind(kind).iter().map(|s| s.key).collect();
        keys.sort_unstable();
        assert!(COMMON.iter().all(|c| keys.contains(&c.key)));
        keys
    }

    fn sorted(keys: &[&'static str]) -> Vec<&'static str> {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys
    }

    /// Every declared option has a setter, and every setter a declaration: a new option
    /// without a setter fails here.
    #[test]
    fn one_setter_per_declared_option() {
        assert_eq!(sorted(Text::KEYS), declared("text"));
        assert_eq!(sorted(Classifier::KEYS), declared("classifier"));
        assert_eq!(sorted(Recommender::KEYS), declared("recommender"));
    }

    #[test]
    fn check_is_the_sql_readers_check() {
        let ok = Text::new().ngrams(1, 3).alpha(0.25).stopwords(true).seed(3).check().unwrap();
        assert_eq!(ok.kind(), "text");
        let json: Json = serde_json::from_str(ok.json()).unwrap();
        assert_eq!(json, json!({"ngrams": [1, 3], "alpha": 0.25, "stopwords": true, "seed": 3}));
        let e = |r: Result<Checked>| r.unwrap_err().to_string();
        assert_eq!(
            e(Text::new().weighting("idf").check()),
            "option 'weighting' must be one of 'count', 'binary', 'tfidf', got 'idf'"
        );
        assert!(e(Classifier::new().hidden_layers(&[0]).check()).contains("hidden_layers"));
        assert!(e(Classifier::new().test_size(1.5).check()).contains("test_size"));
        // An option that does not apply to the chosen algorithm.
        let als = e(Recommender::new().algorithm("als").lr_all(0.1).check());
        assert!(als.contains("unknown option 'lr_all'"), "{als}");
        Recommender::new().algorithm("als").confidence(2.0).regularization(0.1).check().unwrap();
        Recommender::new().algorithm("svdpp").lr_yj(0.01).reg_yj(0.1).rating_scale(1.0, 5.0).check().unwrap();
    }
}
