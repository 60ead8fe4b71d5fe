//! Segmentation of normalised text into raw tokens: UAX #29 words (with an ASCII fast path),
//! runs of Chinese/Japanese characters cut by jieba or into character bigrams, and the
//! character classes these need.

use super::language::Cjk;
use unicode_segmentation::UnicodeSegmentation;

pub(super) use super::ascii_words::ascii_words;

/// Chinese and Japanese ideographs and kana (by code point): scripts written without spaces
/// between words.
#[inline]
pub(super) fn is_cjk(cp: u32) -> bool {
    matches!(cp,
        0x3040..=0x30FF        // Hiragana, Katakana
        | 0x31F0..=0x31FF      // Katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK Extension A
        | 0x4E00..=0x9FFF      // CJK Unified Ideographs
        | 0xF900..=0xFAFF      // CJK Compatibility Ideographs
        | 0x20000..=0x3FFFF) // Extensions B–H, compatibility supplement
}

/// [`is_cjk`] of the character whose UTF-8 starts at `bytes[i]`, and its length in bytes,
/// decoded from the bytes (no `char` iterator): ASCII and two-byte characters (below U+0800)
/// are never CJK, lead bytes 0xE5..=0xE9 (U+5000..=U+9FFF) always are.
#[inline]
pub(super) fn cjk_at(bytes: &[u8], i: usize) -> (bool, usize) {
    let cont = |k: usize| (bytes[i + k] & 0x3F) as u32;
    match bytes[i] {
        0..=0xDF => (false, if bytes[i] < 0x80 { 1 } else { 2 }),
        0xE5..=0xE9 => (true, 3),
        b @ 0xE0..=0xEF => (is_cjk(((b & 0x0F) as u32) << 12 | cont(1) << 6 | cont(2)), 3),
        b => (is_cjk(((b & 0x07) as u32) << 18 | cont(1) << 12 | cont(2) << 6 | cont(3)), 4),
    }
}

/// A CJK ideograph that is its own normal form with a normalisation boundary before and after
/// it (U+3400..=U+4DBF, U+4E00..=U+9FFF, 3 bytes in UTF-8) starts at `bytes[i]` (a character
/// boundary): told by the lead byte (0xE5..=0xE9: U+5000..=U+9FFF) or, for 0xE3 and 0xE4, the
/// second byte too (0xE3 0x90.. is U+3400.., 0xE4 0xB7 is U+4DC0..=U+4DFF, not CJK). The
/// boundary after: such an ideograph is a starter that begins no canonical composition, so
/// nothing after it can compose with it or move before it.
#[inline]
pub(super) fn is_simple_ideograph(bytes: &[u8], i: usize) -> bool {
    simple_ideograph_lead(bytes[i], bytes.get(i + 1).map_or(0, |&b| b))
}

/// [`is_simple_ideograph`] of a character whose first two bytes are `b0`, `b1` (`b1` anything
/// when `b0` is not 0xE3 or 0xE4), without branches: `b0 << 6 | b1 & 0x3F` is `0xE0 << 6`
/// plus the code point's bits 6.. for a 3-byte character, and less (ASCII, 2-byte
/// characters, continuation bytes) or more (4-byte characters) for the others.
#[inline]
pub(super) fn simple_ideograph_lead(b0: u8, b1: u8) -> bool {
    const BASE: u32 = 0xE0 << 6;
    let k = (b0 as u32) << 6 | (b1 & 0x3F) as u32;
    // U+3400..=U+9FFF, minus U+4DC0..=U+4DFF (Yijing hexagram symbols).
    let in_range = k.wrapping_sub(BASE + (0x3400 >> 6)) <= (0x9FFF >> 6) - (0x3400 >> 6);
    in_range & (k != BASE + (0x4DC0 >> 6))
}

/// Calls `f` with each bigram (6 bytes) of the run of [`is_simple_ideograph`]s whose first
/// ideograph starts at `bytes[i]`, in order; returns where its last ideograph starts. The
/// run's end is its one unpredictable branch.
#[inline(always)]
pub(super) fn ideograph_pairs(bytes: &[u8], mut i: usize, mut f: impl FnMut(&[u8; 6])) -> usize {
    while let Some(pair) = bytes.get(i..i + 6) {
        let pair: &[u8; 6] = pair.try_into().unwrap();
        if !simple_ideograph_lead(pair[3], pair[4]) {
            break;
        }
        f(pair);
        i += 3;
    }
    i
}

/// Splits normalised text into raw tokens; `emit(token, is_cjk)`.
///
/// One pass over the bytes finds the runs of CJK and other characters; in [`Cjk::Bigrams`]
/// mode the bigrams of a CJK run are emitted as its characters are met (as `char_bigrams`
/// would, in the same order), so the run is not scanned again.
pub(super) fn segment<'a>(text: &'a str, mode: Cjk, mut emit: impl FnMut(&'a str, bool)) {
    if text.is_ascii() {
        ascii_words(text, |w| emit(w, false));
        return;
    }
    let bigrams = mode == Cjk::Bigrams;
    let bytes = text.as_bytes();
    // The current run: its start, whether it is CJK, and the start of its last character.
    let (mut start, mut in_cjk, mut last) = (0, false, 0);
    let mut i = 0;
    while i < bytes.len() {
        if !in_cjk && bytes[i] < 0x80 {
            // ASCII is never CJK: on to the next character that may be.
            let next = next_non_ascii(bytes, i).unwrap_or(bytes.len());
            (last, i) = (next - 1, next);
            continue;
        }
        let (cjk, len) = cjk_at(bytes, i);
        if cjk != in_cjk {
            end_run(&text[start..i], in_cjk, mode, last == start, &mut emit);
            (start, in_cjk) = (i, cjk);
        }
        if cjk && bigrams && i > start {
            emit(&text[last..i + len], true);
        }
        last = i;
        i += len;
    }
    end_run(&text[start..], in_cjk, mode, last == start, &mut emit);
}

/// Emits the tokens of a finished run of [`segment`] not emitted yet: the words of a non-CJK
/// run, jieba's words of a CJK run, or, in bigram mode, the run itself when it is one
/// character (`single`; its bigrams are already out otherwise).
pub(super) fn end_run<'a>(
    run: &'a str,
    cjk: bool,
    mode: Cjk,
    single: bool,
    emit: &mut impl FnMut(&'a str, bool),
) {
    if run.is_empty() {
        return;
    }
    if !cjk {
        words(run, |w| emit(w, false));
    } else if mode == Cjk::Words {
        segment_cjk(run, emit);
    } else if single {
        emit(run, true);
    }
}

/// The UAX #29 words of `text` (as `unicode_words`), with the ASCII stretches on the fast path.
///
/// The text may be cut after each ASCII space, tab, CR or LF that an ASCII character other
/// than a space (or the end) follows: every rule keeps a break there (WB3d joins spaces only to
/// spaces, and an ASCII character is never Extend, Format or ZWJ, which WB4 would attach to the
/// space) but WB3, which keeps CR LF together, and neither of those is in a word; no rule looks
/// across such a cut, so the pieces' words are the text's words. Each piece
/// with a non-ASCII byte (from the cut before the byte to the cut after it) goes to
/// `unicode_words`; what lies between such pieces, all ASCII, goes to [`ascii_words`] whole.
pub(super) fn words<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    let bytes = text.as_bytes();
    let is_cut = |i: usize| {
        matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r')
            && bytes.get(i + 1).is_none_or(|&n| n < 0x80 && n != b' ')
    };
    // The start of the ASCII stretch not yet segmented.
    let mut stretch = 0;
    while let Some(p) = next_non_ascii(bytes, stretch) {
        // The piece holding byte `p`: from just after the last cut before it (or the stretch's
        // start) to the first cut after it (or the end).
        let start = (stretch..p).rev().find(|&i| is_cut(i)).map_or(stretch, |i| i + 1);
        let end = (p..bytes.len()).find(|&i| is_cut(i)).unwrap_or(bytes.len());
        if start > stretch {
            ascii_words(&text[stretch..start - 1], &mut emit);
        }
        let piece = &text[start..end];
        if !piece.chars().all(no_word) {
            piece.unicode_words().for_each(&mut emit);
        }
        stretch = end + 1;
    }
    if stretch < bytes.len() {
        ascii_words(&text[stretch..], &mut emit);
    }
}

/// The first byte at or after `from` that is not ASCII, 8 bytes at a time.
pub(super) fn next_non_ascii(bytes: &[u8], from: usize) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut at = from;
    for c in &mut chunks {
        let high = u64::from_le_bytes(c.try_into().unwrap()) & 0x8080_8080_8080_8080;
        if high != 0 {
            return Some(at + high.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks.remainder().iter().position(|&b| b >= 0x80).map(|i| at + i)
}

/// True for characters that are neither letters nor digits: ASCII other than letters and
/// digits, and the punctuation of Latin-1, General Punctuation and CJK Symbols and Punctuation
/// (`“”、。「」`...). A piece of text made of these only has no UAX #29 word (`unicode_words`
/// keeps only segments with a letter or digit), so it skips the segmenter.
pub(super) fn no_word(c: char) -> bool {
    matches!(c as u32,
        0x00..=0x2F | 0x3A..=0x40 | 0x5B..=0x60 | 0x7B..=0x7F
        | 0xA0..=0xA9 | 0xAB..=0xB1 | 0xB4 | 0xB6..=0xB8 | 0xBB | 0xBF | 0xD7 | 0xF7
        | 0x2000..=0x206F      // General Punctuation
        | 0x3000..=0x3004 | 0x3008..=0x3020 | 0x3030 | 0x303D..=0x303F)
}

#[cfg(feature = "zh")]
pub(super) static JIEBA: std::sync::LazyLock<jieba_rs::Jieba> =
    std::sync::LazyLock::new(jieba_rs::Jieba::new);

/// Cuts a run of CJK characters into words with jieba (HMM on for unknown words, as jieba's
/// default).
#[cfg(feature = "zh")]
pub(super) fn segment_cjk<'a>(run: &'a str, emit: &mut impl FnMut(&'a str, bool)) {
    for t in JIEBA.cut(run, true) {
        emit(t.word, true);
    }
}

/// Without jieba, [`Cjk::Words`] cannot be configured (see [`Cjk::parse`]); bigrams stand in.
#[cfg(not(feature = "zh"))]
pub(super) fn segment_cjk<'a>(run: &'a str, emit: &mut impl FnMut(&'a str, bool)) {
    char_bigrams(run, |t| emit(t, true));
}

/// Overlapping character bigrams; a one-character text gives itself. (The reference for
/// [`segment`]'s fused bigrams.)
#[cfg(any(test, not(feature = "zh")))]
pub(super) fn char_bigrams<'a>(run: &'a str, mut emit: impl FnMut(&'a str)) {
    // Start of the previous and of the current character.
    let mut starts = run.char_indices().map(|(i, _)| i).chain([run.len()]).skip(1);
    let (mut a, mut b) = (0, starts.next().unwrap_or(0));
    let mut any = false;
    for end in starts {
        emit(&run[a..end]);
        (a, b, any) = (b, end, true);
    }
    if !any && b > 0 {
        emit(run);
    }
}
