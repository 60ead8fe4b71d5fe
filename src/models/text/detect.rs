//! `language: 'auto'`: the dominant language of the training texts, found once at training.
//!
//! A model needs one language (it picks the stopword list and the stemmer, and `'zh'` the Chinese
//! negations), so `'auto'` is decided on the corpus, not per text: a deterministic sample of the
//! training texts (evenly spaced, up to [`SAMPLE_BYTES`] in all) is joined and handed to
//! `whatlang` (trigram and script models for 69 languages) once. Joining many short texts gives
//! the trigram model enough material where one SMS alone would not, and the answer is the
//! language with the most text. The chosen language is stored with the model and shown in the
//! training report (`options.language`, and `language_detected` with whatlang's confidence).
//!
//! When the detected language is not one of ours (say Polish), tokenization does not depend on
//! the language, so without `stopwords` and `stem` the model is trained with the English rules
//! and the report says what was detected; with either on, training stops with an error asking
//! for an explicit `language`, rather than stemming Polish with an English stemmer. A guess
//! whatlang itself calls unreliable is never used: English rules without `stopwords` and
//! `stem`, the same kind of error with either. The same
//! error comes when whatlang itself calls its guess unreliable and the language matters.

use super::tokenize::Language;
use crate::{Error, Result};
use serde_json::{Value as Json, json};
use whatlang::Lang;

/// At most this many bytes of training text are examined.
pub const SAMPLE_BYTES: usize = 64 * 1024;

/// What detection found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    /// The language the model uses.
    pub language: Language,
    /// whatlang's answer (ISO 639-3) and confidence, if it found one.
    pub found: Option<(&'static str, f64)>,
    /// Whether whatlang calls its answer reliable (an unreliable one is never used).
    pub reliable: bool,
}

impl Detected {
    /// The `language_detected` entry of the training report.
    pub fn report(&self) -> Json {
        match self.found {
            Some((code, confidence)) => {
                json!({"detected": code, "confidence": confidence, "reliable": self.reliable,
                       "used": self.language.code()})
            }
            None => json!({"detected": null, "reliable": false, "used": self.language.code()}),
        }
    }
}

/// Ours for whatlang's language, if we have its stopwords and stemmer.
fn ours(lang: Lang) -> Option<Language> {
    Some(match lang {
        Lang::Ara => Language::Arabic,
        Lang::Dan => Language::Danish,
        Lang::Nld => Language::Dutch,
        Lang::Eng => Language::English,
        Lang::Fin => Language::Finnish,
        Lang::Fra => Language::French,
        Lang::Deu => Language::German,
        Lang::Ell => Language::Greek,
        Lang::Hun => Language::Hungarian,
        Lang::Ita => Language::Italian,
        Lang::Nob => Language::Norwegian,
        Lang::Por => Language::Portuguese,
        Lang::Ron => Language::Romanian,
        Lang::Rus => Language::Russian,
        Lang::Spa => Language::Spanish,
        Lang::Swe => Language::Swedish,
        Lang::Tam => Language::Tamil,
        Lang::Tur => Language::Turkish,
        Lang::Cmn => Language::Chinese,
        _ => return None,
    })
}

/// The sample: texts at evenly spaced positions until [`SAMPLE_BYTES`] are gathered (whole
/// texts, the last one cut at a character boundary).
fn sample(texts: &[&str]) -> String {
    let total: usize = texts.iter().map(|t| t.len() + 1).sum();
    let step = (total / SAMPLE_BYTES).max(1);
    let mut out = String::with_capacity(SAMPLE_BYTES.min(total));
    for t in texts.iter().step_by(step) {
        if out.len() >= SAMPLE_BYTES {
            break;
        }
        let room = SAMPLE_BYTES - out.len();
        let cut = if t.len() <= room {
            t.len()
        } else {
            (0..=room).rev().find(|&i| t.is_char_boundary(i)).unwrap_or(0)
        };
        out.push_str(&t[..cut]);
        out.push('\n');
    }
    out
}

/// The language of `texts` for a model; `needs_language` is true when stopwords or stemming are
/// on (then an unsupported language is an error).
pub fn corpus_language(texts: &[&str], needs_language: bool) -> Result<Detected> {
    let Some(info) = whatlang::detect(&sample(texts)) else {
        return Ok(Detected { language: Language::English, found: None, reliable: false });
    };
    let found = Some((info.lang().code(), info.confidence()));
    if !info.is_reliable() {
        if !needs_language {
            return Ok(Detected { language: Language::English, found, reliable: false });
        }
        return Err(Error::option(
            "language",
            format!(
                "is 'auto' and the language of the texts is unclear (best guess {} at confidence {:.2}); \
                 set 'language' explicitly, or turn off 'stopwords' and 'stem'",
                info.lang().eng_name(),
                info.confidence()
            ),
        ));
    }
    match ours(info.lang()) {
        Some(language) => Ok(Detected { language, found, reliable: true }),
        None if !needs_language => Ok(Detected { language: Language::English, found, reliable: true }),
        None => Err(Error::option(
            "language",
            format!(
                "is 'auto' and the texts look like {} ('{}'), which has no stopword list or stemmer here; \
                 set 'language' explicitly, or turn off 'stopwords' and 'stem'",
                info.lang().eng_name(),
                info.lang().code()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(texts: &[&str]) -> Language {
        corpus_language(texts, true).unwrap().language
    }

    #[test]
    fn finds_the_dominant_language() {
        let en = ["Your parcel is on its way and will arrive tomorrow morning", "Thanks for the quick reply"];
        assert_eq!(detect(&en), Language::English);
        let fr = ["Votre colis est en route et arrivera demain matin", "Merci pour votre réponse rapide"];
        assert_eq!(detect(&fr), Language::French);
        let de = ["Ihr Paket ist unterwegs und kommt morgen früh an", "Danke für die schnelle Antwort"];
        assert_eq!(detect(&de), Language::German);
        let es =
            ["Su paquete está en camino y llegará mañana por la mañana", "Gracias por la respuesta rápida"];
        assert_eq!(detect(&es), Language::Spanish);
        let zh = ["房间很干净，服务也很好，下次还会再来", "早餐一般，但是位置非常方便"];
        assert_eq!(detect(&zh), Language::Chinese);
        let ru = ["Ваша посылка уже в пути и прибудет завтра утром", "Спасибо за быстрый ответ"];
        assert_eq!(detect(&ru), Language::Russian);
    }

    #[test]
    fn short_texts_are_decided_together() {
        // Each is too short to tell alone; together they are plainly Italian.
        let it =
            ["grazie mille", "a domani", "va bene, ci vediamo stasera", "non lo so", "che bella giornata"];
        assert_eq!(detect(&it), Language::Italian);
    }

    #[test]
    fn unsupported_language_needs_an_explicit_choice_only_when_it_matters() {
        let pl = ["Twoja paczka jest w drodze i dotrze jutro rano", "Dziękujemy za szybką odpowiedź"];
        let err = corpus_language(&pl, true).unwrap_err().to_string();
        assert_eq!(
            err,
            "option 'language' is 'auto' and the texts look like Polish ('pol'), which has no stopword list \
             or stemmer here; set 'language' explicitly, or turn off 'stopwords' and 'stem'"
        );
        let d = corpus_language(&pl, false).unwrap();
        assert_eq!((d.language, d.found.map(|f| f.0)), (Language::English, Some("pol")));
    }

    #[test]
    fn an_unreliable_guess_is_not_used() {
        // One short text: whatlang guesses (Finnish) but calls it unreliable.
        let err = corpus_language(&["casa bella"], true).unwrap_err().to_string();
        assert!(
            err.starts_with("option 'language' is 'auto' and the language of the texts is unclear"),
            "{err}"
        );
        let d = corpus_language(&["casa bella"], false).unwrap();
        assert_eq!((d.language, d.reliable), (Language::English, false));
        assert_eq!(d.report()["reliable"], false);
    }

    #[test]
    fn nothing_to_detect_falls_back_to_english() {
        assert_eq!(corpus_language(&["", "12345", "!!!"], true).unwrap().found, None);
        assert_eq!(detect(&[]), Language::English);
    }

    #[test]
    fn sample_is_bounded_and_spread() {
        let texts: Vec<String> = (0..100_000).map(|i| format!("text {i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let s = sample(&refs);
        assert!(s.len() <= SAMPLE_BYTES + 1);
        assert!(s.contains("text 0\n") && s.contains("text 99"), "from the start to the end");
        let long = "é".repeat(SAMPLE_BYTES);
        assert!(sample(&[&long]).len() <= SAMPLE_BYTES + 1, "cut at a character boundary");
    }
}
