//! Target `options`: training every kind with any options, the work they ask for capped.

use super::data::{dataset, many_classes_text_data};
use super::decode::decode_model;
use super::exercise::exercise;
use super::seeds::encode;
use crate::Error;
use crate::models::memory::Budget;
use crate::models::{self, Common, Options};
use serde_json::{Map, Value as Json, json};
use std::time::Instant;

/// Options that multiply the work of a training run, and the most the `options` target lets
/// through: a fuzzer would otherwise spend its time in (legitimately) long trainings
/// (`epochs` up to 1,000,000; `n_epochs` and `iterations` unbounded; layers of 65,536 units).
/// The training's interrupt check and memory budget are tested too: every training of the
/// target is stopped by its interrupt check after [`TRAIN_SECONDS`] and has a budget of
/// [`TRAIN_MB`] (at most), so a value past these caps ends in a clean error, not a hang or
/// an out-of-memory abort.
const WORK_CAPS: &[(&str, u64)] = &[("epochs", 200), ("n_epochs", 200), ("iterations", 50)];
/// Largest hidden layer width and number of hidden layers let through.
const MAX_WIDTH: u64 = 256;
const MAX_LAYERS: usize = 4;
/// Seconds after which the `options` target interrupts a training.
pub const TRAIN_SECONDS: f64 = 2.0;
/// The memory budget of the `options` target's trainings, in MiB (below the fuzzer's default
/// limit of 2 GiB).
pub const TRAIN_MB: u64 = 512;

/// Lowers the options that only scale the work (see [`WORK_CAPS`]); every other value is
/// passed on as the fuzzer wrote it.
pub fn clamp_work(map: &mut Map<String, Json>) {
    for &(key, cap) in WORK_CAPS {
        if let Some(v) = map.get_mut(key)
            && v.as_f64().is_some_and(|x| x > cap as f64)
        {
            *v = json!(cap);
        }
    }
    if let Some(v) = map.get_mut("hidden_layers") {
        let parsed = match &*v {
            Json::String(s) => serde_json::from_str::<Json>(s).ok(),
            other => Some(other.clone()),
        };
        let clamp = |x: &Json| match x.as_f64() {
            Some(f) if f > MAX_WIDTH as f64 => json!(MAX_WIDTH),
            _ => x.clone(),
        };
        match parsed {
            Some(Json::Array(a)) => *v = Json::Array(a.iter().take(MAX_LAYERS).map(clamp).collect()),
            Some(x @ Json::Number(_)) => *v = clamp(&x),
            _ => {}
        }
    }
}

/// Target `options`: `text` as the options of `ml_train`, parsed, lowered by [`clamp_work`],
/// then given to the training of every kind on its fixed data (the text kind also with 20
/// classes, the recommender also without a target), each with a deadline and a memory budget
/// (see [`WORK_CAPS`]). A model that trains must encode, decode and work; a text model refitted
/// on every row (which builds on the measured fit's counts) must be the very model of one fit on
/// every row; a text model trained on a lent column from the first pass on (its texts given back
/// as they are counted) must be the one not lent; a classifier trained on two cores must be the
/// very model of one trained on one.
pub fn train_options(text: &[u8]) {
    let Ok(text) = std::str::from_utf8(text) else { return };
    let Ok(opts) = Options::parse(Some(text)) else { return };
    let Json::Object(mut map) = opts.to_json() else { return };
    clamp_work(&mut map);
    let runs = [
        ("text", dataset("text").0, Some("queue")),
        // More classes than counted in dense rows: lists of runs.
        ("text", many_classes_text_data(), Some("queue")),
        ("classifier", dataset("classifier").0, Some("churned")),
        ("recommender", dataset("recommender").0, Some("rating")),
        ("recommender", dataset("recommender").0, None),
    ];
    for (kind, data, target) in runs {
        let mut opts = Options::from_map(map.clone());
        let started = Instant::now();
        let deadline = move || {
            if started.elapsed().as_secs_f64() > TRAIN_SECONDS {
                Err(Error::argument("interrupted by the fuzz target's deadline"))
            } else {
                Ok(())
            }
        };
        let Ok(mut common) = Common::read(&mut opts) else { return };
        common.budget = Budget::training_mb(common.budget.mb().min(TRAIN_MB));
        common.control = std::mem::take(&mut common.control).with_check(&deadline);
        if let Ok(trained) = models::train(kind, data, target, &mut opts, &common) {
            let refit = trained.served_rows > trained.train_rows;
            let plain = encode(trained.model).expect("a trained model encodes");
            // A text model's refit on every row (which builds on the measured fit's counts) is
            // the model of one fit on every row: Naive Bayes draws nothing at random.
            if kind == "text" && refit {
                let mut opts = Options::from_map(map.clone());
                let once = Common::read(&mut opts).map(|c| Common { test_size: 0.0, refit: false, ..c });
                if let Ok(mut once) = once {
                    once.budget = common.budget;
                    once.control = std::mem::take(&mut once.control).with_check(&deadline);
                    if let Ok(every) = models::train(kind, data, target, &mut opts, &once) {
                        let every = encode(every.model).expect("a trained model encodes");
                        assert!(
                            plain == every,
                            "the refit of a text model trained with {text} is not the fit on every row"
                        );
                    }
                }
            }
            // A text model trained on a lent column from its first pass on (its training texts
            // given back as they are counted, where it counts for the refit: an explicit `min_df`
            // of 2 or more) is the model of the same training not lent. Checked for half of the
            // inputs (each trains twice more).
            if kind == "text" && text.len() % 2 == 1 {
                crate::models::text::first_pass_at_every_size(true);
                let plain = models::train(kind, data, target, &mut Options::from_map(map.clone()), &common);
                let mut lent = data.clone();
                let mut opts = Options::from_map(map.clone());
                let given_back = models::train_giving_back(kind, &mut lent, target, &mut opts, &common);
                crate::models::text::first_pass_at_every_size(false);
                match (plain, given_back) {
                    (Ok(plain), Ok(given_back)) => assert!(
                        encode(plain.model).expect("encodes") == encode(given_back.model).expect("encodes"),
                        "a text model trained with {text} on a lent column is not the one not lent"
                    ),
                    (Ok(_), Err(e)) if !e.to_string().contains("deadline") => {
                        panic!("a text model trained with {text} on a lent column failed: {e}")
                    }
                    _ => {}
                }
            }
            // A classifier trained on two cores is the very model of one trained on one (the
            // fixed data makes batches too small for two cores unless forced). Checked for a
            // quarter of the inputs: forced on such small batches, the two threads' meetings
            // (a core of this VM is now and then away for tens of microseconds) made the target
            // three times slower when checked for every input.
            if kind == "classifier" && text.len() % 4 == 0 {
                let mut opts = Options::from_map(map.clone());
                crate::models::mlp::two_cores::FORCE.with(|f| f.set(Some(true)));
                let two = models::train(kind, data, target, &mut opts, &common);
                crate::models::mlp::two_cores::FORCE.with(|f| f.set(None));
                if let Ok(two) = two {
                    let two = encode(two.model).expect("a trained model encodes");
                    assert!(
                        two == plain,
                        "a classifier trained with {text} on two cores is not the one of one core"
                    );
                }
            }
            match decode_model(&plain) {
                Ok(model) => exercise(&model),
                Err(e) => panic!("a {kind} model trained with {text} does not decode: {e}"),
            }
        }
    }
}
