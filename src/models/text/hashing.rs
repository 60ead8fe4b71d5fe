//! Token and n-gram hashes: how terms are told apart at prediction without their text.

const K: u64 = 0xf135_7aea_2e62_a9c5;

/// A fixed (seedless, platform-independent) 64-bit hash of one token's bytes: XXH3, whose
/// output bits each depend on every input bit. Terms are told apart by this hash alone at
/// prediction (see `Vocabulary::find_hashed`), so it must not collide on similar short strings,
/// as a word-at-a-time multiply hash did on `洗澡房` and `洗澡水` (a difference in the top byte
/// of a word stays in the top byte).
#[inline]
pub fn token_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The hash of an n-gram from its prefix's hash and its last token's hash.
#[inline]
pub fn combine(prefix: u64, token: u64) -> u64 {
    let h = (prefix.rotate_left(23) ^ token).wrapping_mul(K);
    h ^ (h >> 29)
}

/// The hash of a term (tokens joined by single spaces), equal to what
/// [`Tokens::for_each_ngram_hashed`](super::tokenize::Tokens::for_each_ngram_hashed) gives for it.
pub fn term_hash(term: &str) -> u64 {
    // Split byte by byte: terms are short, and `str::split` makes a searcher per term.
    let mut parts = term.as_bytes().split(|&b| b == b' ');
    let first = token_hash(parts.next().unwrap_or_default());
    parts.fold(first, |h, p| combine(h, token_hash(p)))
}

/// The XXH3 of a 6-byte token (a bigram of 3-byte characters): [`token_hash`], with the length
/// known so that the compiler keeps only XXH3's 4-to-8-byte path.
#[inline]
pub(super) fn token_hash_6(bytes: &[u8; 6]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}
