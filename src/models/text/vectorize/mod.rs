//! From tokens to feature vectors: the vocabulary (with `min_df` and `max_features`), n-grams and
//! the term weighting.
//!
//! Feature ids are positions in the **sorted** vocabulary, so the fitted model never depends on
//! hash order and the same data gives the same bytes. (Only a measured fit's model, scored and
//! dropped, may keep its terms as counted: [`TermOrder::Any`], never serialised.) The tables are our own open-addressing
//! tables over [`term_hash`](super::tokenize::term_hash) (XXH3 of each token, combined per n-gram): the hashes are computed
//! once per token and reused for every n-gram and table, and a trained vocabulary looks terms
//! up by their full 64-bit hash alone ([`Vocabulary::find_hashed`]). The hash is fixed (no
//! seed): the tables are built from trusted training data or one document at a time, so hash
//! flooding does not apply.

mod builder;
mod by_class;
mod index;
mod seen_twice;
mod vocabulary;
mod weighting;

pub use builder::{After, Growth, LARGE_VOCABULARY, TermOrder, VocabularyBuilder};
pub use by_class::{DENSE_CLASSES, MAX_CLASSES, TermClassSums};
pub(crate) use index::prefetch;
pub use seen_twice::{Marks, SeenTwice};
pub use vocabulary::Vocabulary;
#[cfg(test)]
pub(crate) use vocabulary::{SPELL_ALWAYS, UNSPELLED};
pub use weighting::{SparseRows, Weighting, push_row};

#[cfg(test)]
mod tests;
