//! The classifier's options, declared once ([`OPTIONS`]), and their reader.

use super::MAX_HIDDEN_LAYERS;
use super::features::Selection;
use super::trainer::Config;
use crate::models::option_spec::{Default, Spec, Type};
use crate::models::options::{Common, Options, Range};
use crate::{Error, Result};

const FEATURES: Spec = Spec::new(
    "features",
    Type::Texts,
    Default::Derived("all but the target"),
    "columns to use, in this order (positional prediction order)",
);
const EXCLUDE: Spec = Spec::new(
    "exclude",
    Type::Texts,
    Default::Derived("none"),
    "columns to leave out (not together with `features`)",
);
const HIDDEN_LAYERS: Spec = Spec::new(
    "hidden_layers",
    Type::Ints,
    Default::Derived("`[64, 64]`"),
    "hidden layer widths (at most 100 layers of 1 to 65536); `[]` gives softmax regression",
);
const LEARNING_RATE: Spec = Spec::new(
    "learning_rate",
    Type::Float32(Range::POSITIVE),
    Default::Number(0.001),
    "Adam step size (β1 0.9, β2 0.999, ε 1e-7, as Keras)",
);
const BATCH_SIZE: Spec =
    Spec::new("batch_size", Type::Int { min: 1, max: i64::MAX }, Default::Int(32), "rows per gradient step");
const EPOCHS: Spec = Spec::new(
    "epochs",
    Type::Int { min: 1, max: 1_000_000 },
    Default::Int(10),
    "passes over the training rows",
);
const L2: Spec = Spec::new(
    "l2",
    Type::Float32(Range::NON_NEGATIVE),
    Default::Number(0.0),
    "penalty `l2 · ΣW²` on the weights",
);
const DROPOUT: Spec = Spec::new(
    "dropout",
    Type::Number(Range::FRACTION),
    Default::Number(0.0),
    "probability of dropping a hidden unit while training",
);
const CLASS_WEIGHT: Spec = Spec::new(
    "class_weight",
    Type::Choice(&["none", "balanced"]),
    Default::Choice("none"),
    "`'balanced'` weighs class c by `n / (classes · n_c)`",
);
const VALIDATION_SPLIT: Spec = Spec::new(
    "validation_split",
    Type::Number(Range::FRACTION),
    Default::Number(0.0),
    "fraction of the training rows held out (stratified) for validation",
);
const PATIENCE: Spec = Spec::new(
    "patience",
    Type::Int { min: 1, max: i64::MAX },
    Default::Derived("off"),
    "with `validation_split`: stop after this many epochs without a better validation loss and keep \
     the best weights",
);
const SHUFFLE: Spec = Spec::new("shuffle", Type::Bool, Default::Bool(true), "reshuffle the rows every epoch");
const MAX_CATEGORIES: Spec = Spec::new(
    "max_categories",
    Type::Int { min: 1, max: 100_000 },
    Default::Int(50),
    "one-hot slots per text column (the rest share \"other\")",
);
const ALLOW_EXTRA_KEYS: Spec = Spec::new(
    "allow_extra_keys",
    Type::Bool,
    Default::Bool(false),
    "ignore unknown keys in a JSON prediction argument",
);

/// The classifier's options (besides [`crate::models::options::COMMON`]).
pub const OPTIONS: &[Spec] = &[
    FEATURES,
    EXCLUDE,
    HIDDEN_LAYERS,
    LEARNING_RATE,
    BATCH_SIZE,
    EPOCHS,
    L2,
    DROPOUT,
    CLASS_WEIGHT,
    VALIDATION_SPLIT,
    PATIENCE,
    SHUFFLE,
    MAX_CATEGORIES,
    ALLOW_EXTRA_KEYS,
];

/// Validated training options of a classifier.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// Which columns are features.
    pub selection: Selection,
    /// The network and its training.
    pub config: Config,
    /// `allow_extra_keys`.
    pub allow_extra_keys: bool,
}

impl Params {
    /// Reads the classifier's options.
    pub fn read(opts: &mut Options, common: &Common) -> Result<Params> {
        let features = opts.texts(&FEATURES)?;
        let exclude = opts.texts(&EXCLUDE)?;
        if features.is_some() && exclude.is_some() {
            return Err(Error::option("exclude", "cannot be combined with option 'features'"));
        }
        let hidden = match opts.ints(&HIDDEN_LAYERS)? {
            None => Config::default().hidden,
            Some(list) => {
                if list.len() > MAX_HIDDEN_LAYERS {
                    return Err(Error::option(
                        "hidden_layers",
                        format!(
                            "must be a list of at most {MAX_HIDDEN_LAYERS} layer widths, got {} widths",
                            list.len()
                        ),
                    ));
                }
                if list.iter().any(|&w| !(1..=65_536).contains(&w)) {
                    return Err(Error::option(
                        "hidden_layers",
                        format!("must be a list of layer widths from 1 to 65536, got {list:?}"),
                    ));
                }
                list.into_iter().map(|w| w as usize).collect()
            }
        };
        let learning_rate = opts.number(&LEARNING_RATE)? as f32;
        let batch_size = opts.int(&BATCH_SIZE)? as usize;
        let epochs = opts.int(&EPOCHS)? as usize;
        let l2 = opts.number(&L2)? as f32;
        let dropout = opts.number(&DROPOUT)? as f32;
        let balanced = opts.choice(&CLASS_WEIGHT)? == "balanced";
        let validation_split = opts.number(&VALIDATION_SPLIT)?;
        let patience = if opts.has(&PATIENCE)? {
            let p = opts.int_or(&PATIENCE, 1)? as usize;
            if validation_split == 0.0 {
                return Err(Error::option(
                    "patience",
                    "needs option 'validation_split' (the fraction of training rows to watch)",
                ));
            }
            Some(p)
        } else {
            None
        };
        let shuffle = opts.bool(&SHUFFLE)?;
        let max_categories = opts.int(&MAX_CATEGORIES)? as usize;
        let allow_extra_keys = opts.bool(&ALLOW_EXTRA_KEYS)?;
        Ok(Params {
            selection: Selection { features, exclude: exclude.unwrap_or_default(), max_categories },
            config: Config {
                hidden,
                learning_rate,
                batch_size,
                epochs,
                l2,
                dropout,
                balanced,
                validation_split,
                patience,
                shuffle,
                seed: common.seed,
            },
            allow_extra_keys,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The declared defaults are the defaults of the Rust API ([`Config::default`]).
    #[test]
    fn declared_defaults_are_the_config_defaults() {
        let p = Params::read(&mut Options::default(), &Common::default()).unwrap();
        assert_eq!(p.config, Config::default());
        assert_eq!(p.selection.max_categories, 50);
        let mut o = Options::default();
        Params::read(&mut o, &Common::default()).unwrap();
        let mut read = o.read_keys().to_vec();
        read.sort_unstable();
        let mut declared: Vec<&str> = OPTIONS.iter().map(|s| s.key).collect();
        declared.sort_unstable();
        assert_eq!(read, declared, "every declared option is read");
    }
}
