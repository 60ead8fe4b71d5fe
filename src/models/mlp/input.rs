//! Prediction arguments → network inputs, without allocating on the success path.
//!
//! Two forms are accepted:
//! * the values of the training columns positionally, in training order: every non-target
//!   column of the source (or the `features`), without the excluded ones, columns dropped at
//!   training included (their values are ignored); a format-1 model takes only the used
//!   features;
//! * one text argument holding a JSON object `{"column": value, ...}`, as SQLite's
//!   `json_object(...)` produces. Every used feature must be present (ASCII case-insensitive
//!   keys); a key naming a column the model saw at training but does not use (the target,
//!   excluded or dropped columns) is ignored; any other key is an error unless the model was
//!   trained with `allow_extra_keys: true`. JSON `true`/`false` count as 1/0.
//!
//! One text argument is read as a JSON object when it starts with `{` (after spaces), except
//! when the model has exactly one feature and it is a text column.

use super::features::{Encoder, Encoding};
use crate::models::data::Input;
use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// Encodes `args` into `out` (`enc.width` long). `on_value` sees each feature's raw value
/// (feature index, value) as it is encoded.
pub fn encode_args<F: FnMut(usize, Input<'_>)>(
    enc: &Encoder,
    allow_extra_keys: bool,
    args: &[Input<'_>],
    out: &mut [f32],
    mut on_value: F,
) -> Result<()> {
    out.fill(0.0);
    if let [Input::Text(text)] = args {
        let single_text_feature =
            enc.features.len() == 1 && matches!(enc.features[0].encoding, Encoding::Categorical { .. });
        if text.trim_start().starts_with('{') && !single_text_feature {
            return encode_json(enc, allow_extra_keys, text, out, on_value);
        }
    }
    let n = if enc.inputs.is_empty() { enc.features.len() } else { enc.inputs.len() };
    if args.len() != n {
        return Err(Error::argument(format!(
            "expected {n} value{} in training order ({}) or one JSON object, got {} argument{}",
            if n == 1 { "" } else { "s" },
            enc.positional_names().join(", "),
            args.len(),
            if args.len() == 1 { "" } else { "s" },
        )));
    }
    if enc.inputs.is_empty() {
        for (i, (f, &v)) in enc.features.iter().zip(args).enumerate() {
            f.encode(v, &mut out[f.offset..f.offset + f.width()])?;
            on_value(i, v);
        }
        return Ok(());
    }
    // Dropped columns' values are accepted and ignored.
    for (&feature, &v) in enc.input_features.iter().zip(args) {
        if let Some(i) = feature {
            let f = &enc.features[i as usize];
            f.encode(v, &mut out[f.offset..f.offset + f.width()])?;
            on_value(i as usize, v);
        }
    }
    Ok(())
}

/// A bit per feature, inline up to 256 features.
struct Seen {
    inline: [u64; 4],
    heap: Vec<u64>,
}

impl Seen {
    fn new(n: usize) -> Seen {
        Seen { inline: [0; 4], heap: if n > 256 { vec![0; n.div_ceil(64)] } else { Vec::new() } }
    }
    fn words(&mut self) -> &mut [u64] {
        if self.heap.is_empty() { &mut self.inline } else { &mut self.heap }
    }
    /// Marks `i`; false if it was already marked.
    fn insert(&mut self, i: usize) -> bool {
        let w = &mut self.words()[i / 64];
        let bit = 1u64 << (i % 64);
        let fresh = *w & bit == 0;
        *w |= bit;
        fresh
    }
    fn contains(&mut self, i: usize) -> bool {
        self.words()[i / 64] & (1u64 << (i % 64)) != 0
    }
}

fn encode_json<F: FnMut(usize, Input<'_>)>(
    enc: &Encoder,
    allow_extra_keys: bool,
    text: &str,
    out: &mut [f32],
    on_value: F,
) -> Result<()> {
    let mut walk =
        Walk { enc, allow_extra_keys, out, on_value, seen: Seen::new(enc.features.len()), error: None };
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de.deserialize_map(&mut walk).and_then(|()| de.end());
    if let Some(e) = walk.error.take() {
        return Err(e);
    }
    parsed.map_err(|e| Error::argument(format!("argument must be a JSON object of feature values: {e}")))?;
    for (i, f) in enc.features.iter().enumerate() {
        if !walk.seen.contains(i) {
            return Err(Error::argument(format!(
                "feature '{}' is missing from the JSON object (expected keys: {})",
                f.name,
                enc.names().join(", ")
            )));
        }
    }
    Ok(())
}

/// State of one JSON object walk. Our own errors are parked in `error` and the walk stops
/// with a placeholder serde error.
struct Walk<'a, F> {
    enc: &'a Encoder,
    allow_extra_keys: bool,
    out: &'a mut [f32],
    on_value: F,
    seen: Seen,
    error: Option<Error>,
}

impl<F> Walk<'_, F> {
    fn fail<E: de::Error>(&mut self, e: Error) -> E {
        self.error = Some(e);
        E::custom("stopped")
    }
}

enum Key {
    Feature(usize),
    Skip,
    Unknown(String),
}

struct KeySeed<'a> {
    enc: &'a Encoder,
    allow_extra_keys: bool,
    hint: usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a feature name")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> std::result::Result<Key, E> {
        Ok(match self.enc.find(key, self.hint) {
            Some(i) => Key::Feature(i),
            None if self.allow_extra_keys || self.enc.is_ignored(key) => Key::Skip,
            None => Key::Unknown(key.to_string()),
        })
    }
}

impl<'de, F: FnMut(usize, Input<'_>)> Visitor<'de> for &mut Walk<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of feature values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
        let mut hint = 0;
        loop {
            let seed = KeySeed { enc: self.enc, allow_extra_keys: self.allow_extra_keys, hint };
            let Some(key) = map.next_key_seed(seed)? else { return Ok(()) };
            match key {
                Key::Skip => {
                    map.next_value::<IgnoredAny>()?;
                }
                Key::Unknown(name) => {
                    let e = Error::argument(format!(
                        "unknown feature '{name}' in the JSON object (expected keys: {}; train with allow_extra_keys to ignore other keys)",
                        self.enc.names().join(", ")
                    ));
                    return Err(self.fail(e));
                }
                Key::Feature(i) => {
                    if !self.seen.insert(i) {
                        let e = Error::argument(format!(
                            "feature '{}' appears twice in the JSON object",
                            self.enc.features[i].name
                        ));
                        return Err(self.fail(e));
                    }
                    let f = &self.enc.features[i];
                    let slots = &mut self.out[f.offset..f.offset + f.width()];
                    let seed =
                        ValueSeed { feature: i, enc: self.enc, out: slots, on_value: &mut self.on_value };
                    if let Err(e) = map.next_value_seed(seed)? {
                        return Err(self.fail(e));
                    }
                    hint = i + 1;
                }
            }
        }
    }
}

/// Encodes one JSON value into its feature's slots; our error is the `Ok` value so that the
/// caller can tell it from a JSON syntax error.
struct ValueSeed<'a, F> {
    feature: usize,
    enc: &'a Encoder,
    out: &'a mut [f32],
    on_value: &'a mut F,
}

impl<F: FnMut(usize, Input<'_>)> ValueSeed<'_, F> {
    fn put(self, v: Input<'_>) -> Result<()> {
        self.enc.features[self.feature].encode(v, self.out)?;
        (self.on_value)(self.feature, v);
        Ok(())
    }
}

impl<'de, F: FnMut(usize, Input<'_>)> DeserializeSeed<'de> for ValueSeed<'_, F> {
    type Value = Result<()>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Result<()>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F: FnMut(usize, Input<'_>)> Visitor<'de> for ValueSeed<'_, F> {
    type Value = Result<()>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number, text or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Integer(i64::from(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Integer(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Result<()>, E> {
        Ok(self.put(i64::try_from(v).map_or(Input::Real(v as f64), Input::Integer)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Real(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Text(v)))
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Null))
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Result<()>, E> {
        Ok(self.put(Input::Null))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Result<()>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(self.nested("an object")))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Result<()>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(self.nested("an array")))
    }
}

impl<F> ValueSeed<'_, F> {
    fn nested(&self, what: &str) -> Error {
        Error::argument(format!(
            "feature '{}' must be a number, text or null, got {what}",
            self.enc.features[self.feature].name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::data::{Column, ColumnData, Dataset};
    use crate::models::mlp::features::Selection;

    fn encoder() -> Encoder {
        let d = Dataset::new(vec![
            Column { name: "id".into(), data: ColumnData::integers(vec![Some(1), Some(2), Some(3)]) },
            Column { name: "tenure".into(), data: ColumnData::reals(vec![Some(1.0), Some(3.0), None]) },
            Column {
                name: "plan".into(),
                data: ColumnData::texts(vec![Some("pro".into()), Some("free".into()), Some("pro".into())]),
            },
            Column { name: "y".into(), data: ColumnData::integers(vec![Some(0), Some(1), Some(0)]) },
        ]);
        let sel = Selection { exclude: vec!["id".into()], max_categories: 50, ..Selection::default() };
        Encoder::fit(&d, 3, &[0, 1, 2], &sel).unwrap()
    }

    fn run(args: &[Input<'_>], extra: bool) -> Result<Vec<f32>> {
        let enc = encoder();
        let mut out = vec![9.0; enc.width];
        encode_args(&enc, extra, args, &mut out, |_, _| {})?;
        Ok(out)
    }

    #[test]
    fn json_and_positional_agree() {
        let a = run(&[Input::Text(r#"{"plan": "free", "tenure": 3, "id": 7, "y": 1}"#)], false).unwrap();
        let b = run(&[Input::Real(3.0), Input::Text("free")], false).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, vec![1.0, 0.0, 0.0, 1.0]);
        let c = run(&[Input::Text(r#"{"TENURE": null, "plan": "p\u0072o"}"#)], false).unwrap();
        assert_eq!(c, vec![0.0, 1.0, 1.0, 0.0]);
        let d = run(&[Input::Text(r#"{"tenure": true, "plan": "pro", "other": [1]}"#)], true).unwrap();
        assert_eq!(d, vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn errors_say_what_was_expected() {
        let err = |args: &[Input<'_>]| run(args, false).unwrap_err().to_string();
        assert_eq!(
            err(&[Input::Integer(1)]),
            "expected 2 values in training order (tenure, plan) or one JSON object, got 1 argument"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": 1}"#)]),
            "feature 'plan' is missing from the JSON object (expected keys: tenure, plan)"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": 1, "plan": "pro", "color": "red"}"#)]),
            "unknown feature 'color' in the JSON object (expected keys: tenure, plan; train with allow_extra_keys to ignore other keys)"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": 1, "Tenure": 2, "plan": "pro"}"#)]),
            "feature 'tenure' appears twice in the JSON object"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": {"a": 1}, "plan": "pro"}"#)]),
            "feature 'tenure' must be a number, text or null, got an object"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": "x", "plan": "pro"}"#)]),
            "feature 'tenure' must be a number, got text 'x'"
        );
        assert_eq!(
            err(&[Input::Text(r#"{"tenure": 1, "plan": "pro"} x"#)]),
            "argument must be a JSON object of feature values: trailing characters at line 1 column 30"
        );
        assert!(
            err(&[Input::Text("{\"tenure\": 1,")])
                .starts_with("argument must be a JSON object of feature values: EOF")
        );
    }

    #[test]
    fn raw_values_are_reported() {
        let enc = encoder();
        let mut out = vec![0.0; enc.width];
        let mut seen = Vec::new();
        encode_args(&enc, false, &[Input::Text(r#"{"plan": "pro", "tenure": 2.5}"#)], &mut out, |i, v| {
            seen.push((i, v.to_value()))
        })
        .unwrap();
        use crate::models::data::Value;
        assert_eq!(seen, vec![(1, Value::Text("pro".into())), (0, Value::Real(2.5))]);
    }
}
