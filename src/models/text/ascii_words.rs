//! The UAX #29 words of ASCII text, 64 bytes at a time: each block's bytes are classified into
//! bit masks at once (SSE2 on x86_64), and the words are the runs of set bits, found with bit
//! counts. A byte-at-a-time scanner branches twice on every word (its start and its end), and
//! those branches are as unpredictable as the text: on English reviews it ran at about
//! 230 MB/s, most of the tokenizer's time.
//!
//! The rules (`words_scalar` is the byte-at-a-time reference, kept for tests): a word is a run of
//! letters, digits and `_` that holds a letter or a digit, joined across one `:`, `.` or `'`
//! between two letters and across one `,`, `;`, `.` or `'` between two digits (WB5–WB13b).
//! Whether such a character joins depends only on its two neighbours, so the joining
//! characters are one more mask, and a word is a run of word or joining characters.

/// Bit masks of one 64-byte block, bit `j` for byte `j`.
#[derive(Clone, Copy, Default)]
struct Block {
    /// Letters, digits and `_`.
    word: u64,
    letter: u64,
    digit: u64,
    /// `:`, `.` and `'`: join two letters.
    mid_letter: u64,
    /// `,`, `;`, `.` and `'`: join two digits.
    mid_num: u64,
}

impl Block {
    /// The masks of `bytes` (64 of them).
    #[inline]
    fn of(bytes: &[u8; 64]) -> Block {
        #[cfg(target_arch = "x86_64")]
        {
            classify_sse2(bytes)
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            classify_scalar(bytes)
        }
    }
}

/// [`Block::of`], one byte at a time (the reference of the SIMD version, and its stand-in on
/// other targets).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn classify_scalar(bytes: &[u8; 64]) -> Block {
    let mut b = Block::default();
    for (j, &c) in bytes.iter().enumerate() {
        let bit = 1u64 << j;
        let letter = c.is_ascii_alphabetic();
        let digit = c.is_ascii_digit();
        if letter || digit || c == b'_' {
            b.word |= bit;
        }
        if letter {
            b.letter |= bit;
        }
        if digit {
            b.digit |= bit;
        }
        if matches!(c, b':' | b'.' | b'\'') {
            b.mid_letter |= bit;
        }
        if matches!(c, b',' | b';' | b'.' | b'\'') {
            b.mid_num |= bit;
        }
    }
    b
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn classify_sse2(bytes: &[u8; 64]) -> Block {
    use std::arch::x86_64::*;
    let mut b = Block::default();
    for (part, chunk) in bytes.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the 16 bytes of `chunk`
        // (unaligned load allowed), and the rest is arithmetic on registers.
        let masks = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast());
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            // Signed compares: bytes of 0x80 and more (not ASCII) are negative, never in range.
            let within = |x: __m128i, lo: u8, hi: u8| {
                _mm_and_si128(
                    _mm_cmpgt_epi8(x, _mm_set1_epi8(lo as i8 - 1)),
                    _mm_cmplt_epi8(x, _mm_set1_epi8(hi as i8 + 1)),
                )
            };
            let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
            let digit = within(v, b'0', b'9');
            let word = _mm_or_si128(_mm_or_si128(letter, digit), eq(b'_'));
            let both = _mm_or_si128(eq(b'.'), eq(b'\''));
            let mid_letter = _mm_or_si128(both, eq(b':'));
            let mid_num = _mm_or_si128(both, _mm_or_si128(eq(b','), eq(b';')));
            [word, letter, digit, mid_letter, mid_num].map(|m| _mm_movemask_epi8(m) as u16 as u64)
        };
        let shift = 16 * part;
        b.word |= masks[0] << shift;
        b.letter |= masks[1] << shift;
        b.digit |= masks[2] << shift;
        b.mid_letter |= masks[3] << shift;
        b.mid_num |= masks[4] << shift;
    }
    b
}

/// The words of ASCII `text` (see the module documentation), in order, as slices of it.
pub(super) fn ascii_words<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    debug_assert!(text.is_ascii());
    let bytes = text.as_bytes();
    let n = bytes.len();
    let block_at = |at: usize| -> Block {
        match bytes.get(at..at + 64) {
            Some(b) => Block::of(b.try_into().unwrap()),
            None => {
                // The last, partial block, padded with spaces (no word, no join).
                let mut pad = [b' '; 64];
                let rest = &bytes[at.min(n)..];
                pad[..rest.len()].copy_from_slice(rest);
                Block::of(&pad)
            }
        }
    };
    // The run of word characters open at the end of the previous block: its start, and whether
    // it holds a letter or digit.
    let mut open: Option<(usize, bool)> = None;
    // The previous block's last letter and digit bits, as bit 0.
    let (mut prev_letter, mut prev_digit) = (0u64, 0u64);
    let mut cur = block_at(0);
    let mut at = 0;
    while at < n {
        let next = block_at(at + 64);
        // Neighbours of each byte: the one before (`<< 1`, the previous block's last byte
        // entering at bit 0) and the one after (`>> 1`, the next block's first at bit 63).
        let before = |m: u64, carry: u64| m << 1 | carry;
        let after = |m: u64, next: u64| m >> 1 | next << 63;
        let joins = cur.mid_letter & before(cur.letter, prev_letter) & after(cur.letter, next.letter & 1)
            | cur.mid_num & before(cur.digit, prev_digit) & after(cur.digit, next.digit & 1);
        let mut run = cur.word | joins;
        let alnum = cur.letter | cur.digit;
        if let Some((start, any)) = open {
            // The open run goes on to the block's first byte that is not in it.
            let len = (!run).trailing_zeros() as usize;
            let any = any || alnum & low_bits(len) != 0;
            if len == 64 {
                open = Some((start, any));
                run = 0;
            } else {
                if any {
                    emit(&text[start..at + len]);
                }
                open = None;
                run &= !low_bits(len);
            }
        }
        while run != 0 {
            let s = run.trailing_zeros() as usize;
            let len = (!(run >> s)).trailing_zeros() as usize;
            if s + len == 64 {
                open = Some((at + s, alnum >> s != 0));
                break;
            }
            if (alnum >> s) & low_bits(len) != 0 {
                emit(&text[at + s..at + s + len]);
            }
            run &= !low_bits(s + len);
        }
        prev_letter = cur.letter >> 63;
        prev_digit = cur.digit >> 63;
        cur = next;
        at += 64;
    }
    if let Some((start, true)) = open {
        emit(&text[start..n.min(at)]);
    }
}

/// The `n` low bits set (`n` at most 64).
#[inline]
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

#[cfg(any(test, feature = "fuzzing"))]
mod classes {
    /// UAX #29 word-break classes of ASCII bytes, as far as the rules that join letters and digits
    /// need them.
    pub(super) const OTHER: u8 = 0;
    pub(super) const LETTER: u8 = 1;
    pub(super) const DIGIT: u8 = 2;
    pub(super) const EXTEND_NUM_LET: u8 = 3; // _
    pub(super) const MID_LETTER: u8 = 4; // :
    pub(super) const MID_NUM_LET: u8 = 5; // . and ' (MidNumLetQ)
    pub(super) const MID_NUM: u8 = 6; // , ;

    pub(super) const fn ascii_classes() -> [u8; 128] {
        let mut t = [OTHER; 128];
        let mut i = 0;
        while i < 128 {
            let c = i as u8;
            t[i] = if c.is_ascii_alphabetic() {
                LETTER
            } else if c.is_ascii_digit() {
                DIGIT
            } else {
                match c {
                    b'_' => EXTEND_NUM_LET,
                    b':' => MID_LETTER,
                    b'.' | b'\'' => MID_NUM_LET,
                    b',' | b';' => MID_NUM,
                    _ => OTHER,
                }
            };
            i += 1;
        }
        t
    }

    pub(super) static ASCII_CLASS: [u8; 128] = ascii_classes();
}

/// [`ascii_words`] one byte at a time: the reference the tests hold it to.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn words_scalar<'a>(text: &'a str, mut emit: impl FnMut(&'a str)) {
    use classes::{ASCII_CLASS, DIGIT, EXTEND_NUM_LET, LETTER, MID_LETTER, MID_NUM, MID_NUM_LET, OTHER};
    let bytes = text.as_bytes();
    let class =
        |i: usize| -> u8 { if i < bytes.len() { ASCII_CLASS[(bytes[i] & 0x7f) as usize] } else { OTHER } };
    let n = bytes.len();
    let mut i = 0;
    while i < n {
        let c = class(i);
        if !(LETTER..=EXTEND_NUM_LET).contains(&c) {
            i += 1;
            continue;
        }
        let start = i;
        let mut alnum = c != EXTEND_NUM_LET;
        let mut prev = c;
        i += 1;
        while i < n {
            let c = class(i);
            match c {
                LETTER | DIGIT | EXTEND_NUM_LET => {
                    alnum |= c != EXTEND_NUM_LET;
                    prev = c;
                    i += 1;
                }
                MID_LETTER | MID_NUM_LET | MID_NUM => {
                    let next = class(i + 1);
                    let joins = match prev {
                        LETTER => next == LETTER && c != MID_NUM,
                        DIGIT => next == DIGIT && c != MID_LETTER,
                        _ => false,
                    };
                    if !joins {
                        break;
                    }
                    prev = next;
                    i += 2;
                }
                _ => break,
            }
        }
        if alnum {
            emit(&text[start..i]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block scanner gives the byte-at-a-time scanner's words on random texts of up to
    /// 300 bytes (runs and joins across block boundaries, partial last blocks) over the
    /// characters the rules treat specially, and SSE2 classifies as the scalar code does.
    #[test]
    fn blocks_give_the_scalar_words() {
        let alphabet = b"aZ09._:',;_ -\"!@#\n\t/&?x`{[@";
        let mut next = crate::models::text::xorshift(0x51_7cc1_b727_220a);
        let mut s = String::new();
        for round in 0..30_000 {
            s.clear();
            // Long runs of one character now and then (a word across several blocks).
            let len = next() % if round % 3 == 0 { 300 } else { 140 };
            while (s.len() as u64) < len {
                let c = alphabet[(next() % alphabet.len() as u64) as usize] as char;
                let times = if next().is_multiple_of(16) { 1 + next() % 90 } else { 1 };
                (0..times).for_each(|_| s.push(c));
            }
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            ascii_words(&s, |w| fast.push(w));
            words_scalar(&s, |w| slow.push(w));
            assert_eq!(fast, slow, "text {s:?}");
        }
        for seed in 1..2_000u64 {
            let mut next = crate::models::text::xorshift(seed);
            let bytes: [u8; 64] = std::array::from_fn(|_| (next() % 256) as u8);
            let (a, b) = (Block::of(&bytes), classify_scalar(&bytes));
            assert_eq!(
                [a.word, a.letter, a.digit, a.mid_letter, a.mid_num],
                [b.word, b.letter, b.digit, b.mid_letter, b.mid_num]
            );
        }
    }
}
