//! Unicode normalisation, the first step of the [`Tokenizer`](super::tokenize::Tokenizer)'s
//! pipeline: NFKC, then lower-case; the typographic apostrophe U+2019 becomes `'` so `don’t`
//! and `don't` are one token.
//!
//! ASCII text skips NFKC (it is already normal); in other text, each character that cannot
//! compose with its neighbours (CJK ideographs, punctuation, full-width forms, kana...) is one
//! table lookup ([`NORM_TABLE`]), and only the rest goes through the general NFKC code
//! ([`normalize_slow`]). The same table classifies characters ([`NormTable::char_class`]) for
//! [`Tokenizer::tokenize_hashes`](super::tokenize::Tokenizer::tokenize_hashes), which hashes
//! Chinese text without normalising all of it first.

use super::segment::{next_non_ascii, no_word};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// NFKC + lower case (+ `’` → `'`) of `text`: `text` itself when it is already normal (no copy
/// at all), else the normal form, written into `out`.
///
/// The text is cut into chunks at **normalisation boundaries**: before a character whose full
/// compatibility decomposition starts with a starter (combining class 0) that is NFKC quick-check
/// Yes, i.e. that never composes with what precedes it. Nothing reorders or composes across
/// such a point, so NFKC of the text is the concatenation of NFKC of its chunks, and so is the
/// lower-casing (per character). A chunk of one character (the common case) is looked up
/// ([`NormTable::classify`]): upper-case ASCII is lower-cased, the characters of
/// [`TABLE_RANGES`] (punctuation and symbols, kana, full-width forms...) have their normalised,
/// lower-cased form precomputed, and the rest of ASCII, CJK ideographs and the table characters
/// that normalise to themselves are [`Norm::Same`]. Any other chunk takes the general path
/// ([`normalize_slow`]). Characters outside the table count as "no boundary before" (always
/// safe: it only makes a chunk longer).
///
/// [`Norm::Same`] chunks are not copied one by one (a `memcpy` call per Chinese character): a
/// run of them is copied in one piece when a chunk that changes (or the end) comes, and never
/// when nothing changes.
pub(super) fn normalize<'a>(text: &'a str, out: &'a mut String) -> &'a str {
    out.clear();
    if text.is_ascii() {
        if !text.bytes().any(|b| b.is_ascii_uppercase()) {
            return text;
        }
        out.push_str(text);
        out.make_ascii_lowercase();
        return out;
    }
    let table = &*NORM_TABLE;
    // `text[..copied]` is in `out`, normalised; `text[copied..start]` normalises to itself.
    let mut copied = 0;
    // The current chunk: its start and, while it is one character long, that character's entry.
    let mut start = 0;
    let mut single: Option<Norm> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        if bytes[i] < 0x80 {
            // A run of ASCII characters: each is a chunk of its own and its own normal form but
            // for its case, so all but the last (which a character without a boundary before
            // it may join) are taken at once.
            let end = next_non_ascii(bytes, i).unwrap_or(bytes.len());
            let bulk = if end == bytes.len() { end } else { end - 1 };
            if bulk > i {
                if i > 0 && single != Some(Norm::Same) {
                    copied = flush_chunk(text, copied, start..i, single, out);
                }
                if bytes[i..bulk].iter().any(u8::is_ascii_uppercase) {
                    out.push_str(&text[copied..i]);
                    let from = out.len();
                    out.push_str(&text[i..bulk]);
                    out[from..].make_ascii_lowercase();
                    copied = bulk;
                }
                (start, single, i) = (bulk, Some(Norm::Same), bulk);
                continue;
            }
        }
        let (norm, len) = table.classify(text, i);
        if norm.is_some() {
            if i > 0 && single != Some(Norm::Same) {
                copied = flush_chunk(text, copied, start..i, single, out);
            }
            start = i;
        }
        // A character without a boundary before it joins the chunk, which then takes the
        // general path (as does a first character without a boundary).
        single = norm;
        i += len;
    }
    if single != Some(Norm::Same) {
        copied = flush_chunk(text, copied, start..text.len(), single, out);
    }
    if copied == 0 {
        return text;
    }
    out.push_str(&text[copied..]);
    out
}

/// Writes the normal form of the chunk `text[chunk]` (whose one character's entry is `single`,
/// `None` for a longer chunk; never [`Norm::Same`]) after the pending unchanged text
/// `text[copied..chunk.start]`; returns the new `copied`.
fn flush_chunk(
    text: &str,
    copied: usize,
    chunk: std::ops::Range<usize>,
    single: Option<Norm>,
    out: &mut String,
) -> usize {
    out.push_str(&text[copied..chunk.start]);
    match single {
        Some(Norm::Lower(b)) => out.push(b.to_ascii_lowercase() as char),
        Some(Norm::Pooled(a, b)) => out.push_str(&NORM_TABLE.pool[a as usize..b as usize]),
        _ => normalize_slow(&text[chunk.clone()], out),
    }
    chunk.end
}

/// NFKC + lower case (+ `’` → `'`) of any text, character by character through
/// `unicode-normalization` (no fast path).
pub(super) fn normalize_slow(text: &str, out: &mut String) {
    let lower = |out: &mut String, c: char| {
        if c == '\u{2019}' {
            out.push('\'');
        } else if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    };
    // Most text is already in NFKC; the quick check (no decomposition) proves it.
    if is_nfkc_quick(text.chars()) == IsNormalized::Yes {
        text.chars().for_each(|c| lower(out, c));
    } else {
        text.nfkc().for_each(|c| lower(out, c));
    }
}

/// How a one-character chunk normalises (see [`normalize`]).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Norm {
    /// An upper-case ASCII letter: lower-case it.
    Lower(u8),
    /// Unchanged.
    Same,
    /// `pool[a..b]`.
    Pooled(u32, u32),
}

/// The code points whose normalised form [`NORM_TABLE`] precomputes: Latin-1 to CJK
/// compatibility (punctuation, symbols, kana, jamo, enclosed and squared forms, most alphabets)
/// and the half- and full-width forms.
const TABLE_RANGES: [(u32, u32); 2] = [(0x80, 0x3400), (0xFF00, 0xFFF0)];

/// Per code point of [`TABLE_RANGES`]: whether it has a normalisation boundary before it, and
/// its NFKC + lower-cased form.
pub(super) struct NormTable {
    /// Per code point: `(a, b)` into `pool`, `(NO_BOUNDARY, 0)` without a boundary before, or
    /// `(SAME, 0)` for a character that is its own normal form.
    entries: Vec<(u32, u32)>,
    pool: String,
    /// Per code point: its [`NormTable::char_class`].
    classes: Vec<u8>,
}

/// [`NormTable::char_class`]: no normalisation boundary before the character (or unknown).
pub(super) const CLASS_NO_BOUNDARY: u8 = 0;
/// [`NormTable::char_class`]: a boundary before it, and its normal form is one or more
/// non-CJK characters that are all [`no_word`] (punctuation, spaces): a stretch of such
/// characters between CJK characters has no word and only ends the CJK run.
pub(super) const CLASS_SEP: u8 = 1;
/// [`NormTable::char_class`]: any other character with a boundary before it.
const CLASS_OTHER: u8 = 2;

/// [`NormTable::char_class`] of the ASCII characters: letters and digits are [`CLASS_OTHER`],
/// the rest [`CLASS_SEP`] (all [`no_word`]).
const fn ascii_char_classes() -> [u8; 128] {
    let mut t = [CLASS_SEP; 128];
    let mut i = 0;
    while i < 128 {
        if (i as u8).is_ascii_alphanumeric() {
            t[i] = CLASS_OTHER;
        }
        i += 1;
    }
    t
}

static ASCII_CHAR_CLASS: [u8; 128] = ascii_char_classes();

/// [`NormTable::entries`] marker: no normalisation boundary before the character.
const NO_BOUNDARY: u32 = u32::MAX;
/// [`NormTable::entries`] marker: the character is its own normal form ([`Norm::Same`]).
const SAME: u32 = u32::MAX - 1;

impl NormTable {
    fn build() -> NormTable {
        let mut entries = Vec::new();
        let mut pool = String::new();
        let mut classes = Vec::new();
        for &(lo, hi) in &TABLE_RANGES {
            for cp in lo..hi {
                let entry =
                    char::from_u32(cp).filter(|&c| has_boundary_before(c)).map_or((NO_BOUNDARY, 0), |c| {
                        let a = pool.len();
                        let mut utf8 = [0; 4];
                        let c = c.encode_utf8(&mut utf8);
                        normalize_slow(c, &mut pool);
                        if pool[a..] == *c {
                            pool.truncate(a);
                            (SAME, 0)
                        } else {
                            (a as u32, pool.len() as u32)
                        }
                    });
                let normal = match entry {
                    (NO_BOUNDARY, _) => None,
                    (SAME, _) => char::from_u32(cp).map(String::from),
                    (a, b) => Some(pool[a as usize..b as usize].to_string()),
                };
                classes.push(match normal {
                    None => CLASS_NO_BOUNDARY,
                    Some(n) if !n.is_empty() && n.chars().all(no_word) => CLASS_SEP,
                    Some(_) => CLASS_OTHER,
                });
                entries.push(entry);
            }
        }
        NormTable { entries, pool, classes }
    }

    /// The class ([`CLASS_NO_BOUNDARY`], [`CLASS_SEP`] or [`CLASS_OTHER`]) of the character starting at
    /// byte `i` of `text`, and its length in bytes. Characters beyond ASCII and
    /// [`TABLE_RANGES`] are [`CLASS_NO_BOUNDARY`], as in [`NormTable::get`] (CJK ideographs are
    /// meant to be told apart before, by `tokenize::is_simple_ideograph`).
    #[inline]
    pub(super) fn char_class(&self, text: &str, i: usize) -> (u8, usize) {
        let b = text.as_bytes()[i];
        if b < 0x80 {
            return (ASCII_CHAR_CLASS[b as usize], 1);
        }
        let c = text[i..].chars().next().unwrap_or_default();
        (self.index(c as u32).map_or(CLASS_NO_BOUNDARY, |k| self.classes[k]), c.len_utf8())
    }

    /// The index of code point `cp` in [`NormTable::entries`], if it is in [`TABLE_RANGES`].
    #[inline]
    fn index(&self, cp: u32) -> Option<usize> {
        let mut base = 0;
        for &(lo, hi) in &TABLE_RANGES {
            if (lo..hi).contains(&cp) {
                return Some(base + (cp - lo) as usize);
            }
            base += (hi - lo) as usize;
        }
        None
    }

    /// The entry of the character starting at byte `i` of `text` (`None`: no boundary before
    /// it), and its length in bytes. Lead bytes 0xE5..=0xE9 (U+5000..=U+9FFF, CJK Unified
    /// Ideographs, the bulk of Chinese text) are answered without decoding.
    #[inline]
    fn classify(&self, text: &str, i: usize) -> (Option<Norm>, usize) {
        let b = text.as_bytes()[i];
        if b < 0x80 {
            return (Some(if b.is_ascii_uppercase() { Norm::Lower(b) } else { Norm::Same }), 1);
        }
        if (0xE5..=0xE9).contains(&b) {
            return (Some(Norm::Same), 3);
        }
        let c = text[i..].chars().next().unwrap_or_default();
        let norm = if matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF) {
            Some(Norm::Same)
        } else {
            self.get(c)
        };
        (norm, c.len_utf8())
    }

    #[inline]
    fn get(&self, c: char) -> Option<Norm> {
        let cp = c as u32;
        let mut base = 0;
        for &(lo, hi) in &TABLE_RANGES {
            if (lo..hi).contains(&cp) {
                return match self.entries[base + (cp - lo) as usize] {
                    (NO_BOUNDARY, _) => None,
                    (SAME, _) => Some(Norm::Same),
                    (a, b) => Some(Norm::Pooled(a, b)),
                };
            }
            base += (hi - lo) as usize;
        }
        None
    }
}

/// True when nothing before `c` can compose or reorder with it: the first character of its full
/// compatibility decomposition is a starter with NFKC quick-check Yes (UAX #15: such a starter
/// is never the second character of a primary composite).
pub(super) fn has_boundary_before(c: char) -> bool {
    let mut first = None;
    unicode_normalization::char::decompose_compatible(c, |d| {
        first.get_or_insert(d);
    });
    let d = first.unwrap_or(c);
    unicode_normalization::char::canonical_combining_class(d) == 0
        && is_nfkc_quick(std::iter::once(d)) == IsNormalized::Yes
}

pub(super) static NORM_TABLE: std::sync::LazyLock<NormTable> = std::sync::LazyLock::new(NormTable::build);
#[cfg(test)]
mod tests {
    use super::super::tokenize::tests::random_strings;
    use super::*;

    /// The chunked normalisation equals the general path: for every code point of the table
    /// alone and next to characters that compose or reorder, and on random mixed strings.
    #[test]
    fn fast_normalization_matches_the_general_path() {
        fn check(s: &str) {
            let (mut buf, mut slow) = (String::new(), String::new());
            let fast = normalize(s, &mut buf);
            normalize_slow(s, &mut slow);
            assert_eq!(fast, slow, "text {s:?}");
        }
        for &(lo, hi) in &TABLE_RANGES {
            for c in (lo..hi).filter_map(char::from_u32) {
                for s in [format!("{c}"), format!("a{c}b"), format!("{c}\u{301}"), format!("中{c}\u{3099}好")]
                {
                    check(&s);
                }
            }
        }
        let alphabet: Vec<char> = concat!(
            "aZ1 ,.'\t中文好你",
            "，。！？：；（）“”‘’…、「」【】《》\u{3000}ＡＢｃ１",
            "かがカガｶﾞ\u{3099}\u{309A}\u{309B}\u{FF9E}",
            "\u{301}\u{316}\u{327}éÅΣσςİ",
            "한\u{1100}\u{1161}\u{11A8}ㄱㅏ\u{F900}\u{FA30}\u{20000}",
            "㍻㌀ﬁ①½²\u{B47}\u{B3E}\u{2126}"
        )
        .chars()
        .collect();
        random_strings(&alphabet, 0x5851_f42d_4c95_7f2d, 100_000, 10, check);
        // Long runs of ASCII (taken at once) between the others.
        let mut mixed = alphabet.clone();
        mixed.extend("abcdefgh ABC.,".chars().cycle().take(200));
        random_strings(&mixed, 0x2545_f491_4f6c_dd1d, 20_000, 200, check);
    }

    /// [`NormTable::classify`] of every character is sound: [`Norm::Same`] only for characters
    /// that are their own normal form and have a boundary before them, [`Norm::Lower`] only for
    /// upper-case ASCII, pooled forms equal [`normalize_slow`]'s; and CJK ideographs take the
    /// fast path.
    #[test]
    fn classify_agrees_with_the_general_path() {
        let table = &*NORM_TABLE;
        let mut buf = [0u8; 4];
        let mut slow = String::new();
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let s = c.encode_utf8(&mut buf);
            let (norm, len) = table.classify(s, 0);
            assert_eq!(len, c.len_utf8());
            slow.clear();
            normalize_slow(s, &mut slow);
            match norm {
                Some(Norm::Same) => assert!(slow == *s && has_boundary_before(c), "{c:?}"),
                Some(Norm::Lower(b)) => assert!(b.is_ascii_uppercase() && b as char == c, "{c:?}"),
                Some(Norm::Pooled(a, b)) => {
                    assert!(table.pool[a as usize..b as usize] == slow && has_boundary_before(c), "{c:?}")
                }
                None => assert!(!c.is_ascii(), "{c:?}"),
            }
            if matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF) || c.is_ascii_lowercase() {
                assert_eq!(norm, Some(Norm::Same), "{c:?}");
            }
        }
    }

    /// Text that is already normal is returned as it is, without a copy.
    #[test]
    fn normal_text_is_not_copied() {
        let mut buf = String::new();
        for s in ["中文好 ok", "abc 1.5", "東京の ホテル。", "中文"] {
            assert!(std::ptr::eq(normalize(s, &mut buf), s), "{s:?}");
        }
        assert_eq!(normalize("中文，OK", &mut buf), "中文,ok");
        assert_eq!(normalize("ABC", &mut buf), "abc");
    }
}
