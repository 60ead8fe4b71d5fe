//! The plaintext of a stored model (what the envelope encrypts), and its versions.
//!
//! Format 1: the postcard encoding of [`StoredModel`]. Format 2: the same, followed by the
//! postcard encoding of [`Extras`] (what format 2 added: the input columns a classifier takes
//! positionally). postcard encodes struct fields by position, so a field is never added inside
//! a stored struct: a new format appends to the end, and older plaintexts keep decoding. A
//! plaintext of a newer format than this build reads is refused with the upgrade message.

use super::Model;
use serde::{Deserialize, Serialize, Serializer};

/// Format version of the plaintext inside the envelope (the highest this build reads and the
/// one it writes).
pub const SCHEMA_VERSION: u32 = 2;

/// The first part of the plaintext: the schema version first, so a reader can refuse newer
/// layouts before decoding the rest.
///
/// The store checks after decoding that the parts of the model agree with each other (see
/// [`Model::check`]): a damaged or hand-made plaintext is a decoding error, never a model whose
/// predictions index out of bounds.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredModel {
    /// [`SCHEMA_VERSION`] at the time of writing.
    pub schema_version: u32,
    /// The model.
    pub model: Model,
}

/// What format 2 appends after the [`StoredModel`].
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Extras {
    /// A classifier's positional input columns in training order (dropped columns included);
    /// None for other kinds.
    pub classifier_inputs: Option<Vec<String>>,
}

impl Extras {
    /// The extras of `model`.
    pub fn of(model: &Model) -> Extras {
        match model {
            Model::Classifier(c) if !c.encoder().inputs.is_empty() => {
                Extras { classifier_inputs: Some(c.encoder().inputs.clone()) }
            }
            _ => Extras::default(),
        }
    }

    /// Puts the extras into `model`; an error says what disagrees.
    fn apply(self, model: &mut Model) -> Result<(), String> {
        match (self.classifier_inputs, model) {
            (None, _) => Ok(()),
            (Some(inputs), Model::Classifier(c)) => c.set_inputs(inputs),
            (Some(_), other) => Err(format!("{} model with classifier inputs", other.kind())),
        }
    }
}

/// A model's plaintext as this build writes it: `(StoredModel, Extras)`.
pub struct Plaintext<'a> {
    stored: &'a StoredModel,
    extras: Extras,
}

impl<'a> Plaintext<'a> {
    /// The plaintext of `stored` (whose `schema_version` should be [`SCHEMA_VERSION`]).
    pub fn new(stored: &'a StoredModel) -> Plaintext<'a> {
        Plaintext { stored, extras: Extras::of(&stored.model) }
    }
}

impl Serialize for Plaintext<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.stored, &self.extras).serialize(s)
    }
}

/// Why a plaintext does not decode.
#[derive(Debug, PartialEq)]
pub enum DecodeError {
    /// Not even the version could be read (wrong key material or garbage).
    Unreadable,
    /// Written by a newer format than [`SCHEMA_VERSION`].
    Newer(u32),
    /// postcard could not decode it (its message).
    Codec(String),
    /// It decoded, but its parts disagree (what disagrees).
    Damaged(String),
    /// It decoded, but this build cannot use it (why: a cargo feature it lacks).
    Unsupported(&'static str),
}

/// Decodes a plaintext of any format up to [`SCHEMA_VERSION`] and checks the model
/// ([`Model::check`]).
pub fn decode(plain: &[u8]) -> Result<Model, DecodeError> {
    let (schema, _): (u32, _) = postcard::take_from_bytes(plain).map_err(|_| DecodeError::Unreadable)?;
    if schema > SCHEMA_VERSION {
        return Err(DecodeError::Newer(schema));
    }
    let codec = |e: postcard::Error| DecodeError::Codec(e.to_string());
    let (stored, rest): (StoredModel, &[u8]) = postcard::take_from_bytes(plain).map_err(codec)?;
    let mut model = stored.model;
    let rest = if schema >= 2 {
        let (extras, rest): (Extras, &[u8]) = postcard::take_from_bytes(rest).map_err(codec)?;
        extras.apply(&mut model).map_err(DecodeError::Damaged)?;
        rest
    } else {
        rest
    };
    if !rest.is_empty() {
        return Err(DecodeError::Damaged(format!("{} bytes after the model", rest.len())));
    }
    // Checked after decoding rather than inside serde: postcard drops a deserializer's own
    // message, and this one says what disagrees.
    model.check().map_err(DecodeError::Damaged)?;
    if let Some(why) = model.unsupported() {
        return Err(DecodeError::Unsupported(why));
    }
    Ok(model)
}

/// Encodes `model` as this build stores it (before encryption).
#[cfg(any(test, feature = "fuzzing"))]
pub fn encode(model: Model) -> Result<Vec<u8>, postcard::Error> {
    let stored = StoredModel { schema_version: SCHEMA_VERSION, model };
    postcard::to_stdvec(&Plaintext::new(&stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> Model {
        crate::fuzzing::train("classifier", r#"{"hidden_layers": [2], "epochs": 1}"#, Some("churned"))
            .unwrap()
    }

    /// Format 2 appends the classifier's inputs; a format-1 plaintext (no extras) still
    /// decodes, to a model that takes the used features positionally.
    #[test]
    fn format_2_appends_and_format_1_still_decodes() {
        let model = classifier();
        let Model::Classifier(c) = &model else { unreachable!() };
        let inputs = c.encoder().inputs.clone();
        assert!(!inputs.is_empty());
        let plain = encode(model).unwrap();
        let Ok(Model::Classifier(back)) = decode(&plain) else { panic!("decodes") };
        assert_eq!(back.encoder().inputs, inputs);
        // The same model as format 1 wrote it: the StoredModel alone, version 1.
        let (stored, rest): (StoredModel, &[u8]) = postcard::take_from_bytes(&plain).unwrap();
        assert!(!rest.is_empty());
        let v1 = postcard::to_stdvec(&StoredModel { schema_version: 1, model: stored.model }).unwrap();
        let Ok(Model::Classifier(old)) = decode(&v1) else { panic!("format 1 decodes") };
        assert!(old.encoder().inputs.is_empty());
        // Damage: bytes after the end, extras cut off, a newer format, extras that disagree.
        let mut longer = plain.clone();
        longer.push(0);
        assert_eq!(decode(&longer).unwrap_err(), DecodeError::Damaged("1 bytes after the model".into()));
        assert!(matches!(decode(&plain[..plain.len() - 1]), Err(DecodeError::Codec(_))));
        let mut newer = plain.clone();
        newer[0] = 3;
        assert_eq!(decode(&newer).unwrap_err(), DecodeError::Newer(3));
        let Model::Classifier(c) = decode(&plain).unwrap() else { unreachable!() };
        let stored = StoredModel { schema_version: SCHEMA_VERSION, model: Model::Classifier(c) };
        let wrong =
            postcard::to_stdvec(&(&stored, Extras { classifier_inputs: Some(vec!["x".into()]) })).unwrap();
        assert!(matches!(decode(&wrong), Err(DecodeError::Damaged(m)) if m.contains("features")));
    }
}
