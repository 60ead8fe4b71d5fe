//! Target `predict_inputs`: arbitrary arguments to the prediction functions of classifiers.

use super::decode::decode_model;
use super::seeds::seeds;
use crate::models::{Input, Model};
use std::sync::OnceLock;

/// The classifiers of the `predict_inputs` target: several features, with extra JSON keys
/// allowed, and one text feature (where one text argument is the feature value, not JSON).
pub(super) fn input_models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        ["classifier", "classifier_extra_keys", "classifier_one_text"]
            .iter()
            .map(|name| {
                let seed = seeds().iter().find(|s| s.name == *name).expect("a seed of that name");
                decode_model(&seed.plain).expect("seed models decode")
            })
            .collect()
    })
}

/// Target `predict_inputs`: the first byte picks a classifier and the form of the arguments.
/// Even: the rest is one text argument (a JSON object of feature values, or a value).
/// Odd: the rest is a list of positional arguments, each a tag byte then its payload.
pub fn predict_inputs(data: &[u8]) {
    let Some((&head, rest)) = data.split_first() else { return };
    let models = input_models();
    let model = &models[(head >> 1) as usize % models.len()];
    let run = |args: &[Input<'_>]| {
        let _ = model.predict(args);
        let _ = model.predict_proba(args);
        let _ = model.explain(args);
    };
    if head & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        run(&[Input::Text(&text)]);
        return;
    }
    // Owned payloads first, then the borrowed inputs.
    enum Arg {
        Null,
        Integer(i64),
        Real(f64),
        Text(String),
        Blob(Vec<u8>),
    }
    let mut args = Vec::new();
    let mut bytes = rest;
    while let [tag, tail @ ..] = bytes {
        if args.len() >= 64 {
            break;
        }
        let take = |n: usize, tail: &[u8]| -> ([u8; 8], usize) {
            let n = n.min(tail.len());
            let mut b = [0u8; 8];
            b[..n].copy_from_slice(&tail[..n]);
            (b, n)
        };
        let (arg, used) = match tag % 6 {
            0 => (Arg::Null, 0),
            1 => {
                let (b, n) = take(8, tail);
                (Arg::Integer(i64::from_le_bytes(b)), n)
            }
            2 => {
                let (b, n) = take(8, tail);
                (Arg::Real(f64::from_le_bytes(b)), n)
            }
            3 | 4 => {
                let len = (*tail.first().unwrap_or(&0) as usize).min(tail.len().saturating_sub(1));
                let body = &tail[tail.len().min(1)..tail.len().min(1) + len];
                let arg = if tag % 6 == 3 {
                    Arg::Text(String::from_utf8_lossy(body).into_owned())
                } else {
                    Arg::Blob(body.to_vec())
                };
                (arg, tail.len().min(1) + len)
            }
            _ => (Arg::Integer(i64::from(*tail.first().unwrap_or(&0) as i8)), tail.len().min(1)),
        };
        args.push(arg);
        bytes = &tail[used..];
    }
    let inputs: Vec<Input<'_>> = args
        .iter()
        .map(|a| match a {
            Arg::Null => Input::Null,
            Arg::Integer(i) => Input::Integer(*i),
            Arg::Real(r) => Input::Real(*r),
            Arg::Text(t) => Input::Text(t),
            Arg::Blob(b) => Input::Blob(b),
        })
        .collect();
    run(&inputs);
}
