//! Encoding rows for batch prediction from cells as the source holds them: a categorical
//! cell's text is found by hashing its bytes (no UTF-8 check, no string compared but the one
//! the hash finds), with the same slot, the same encoded inputs and the same errors as
//! [`Feature::encode`]; every other cell goes through [`Feature::encode`].
//!
//! [`Feature::encode`]: super::features::Feature::encode

use super::Classifier;
use super::features::Encoding;
use crate::models::data::{Cell, Input};
use crate::{Error, Result};

/// A classifier's category tables for batch prediction ([`Classifier::category_tables`]):
/// built once per call, then [`CategoryTables::encode`] encodes each row.
pub struct CategoryTables {
    /// Per feature: the hash table of its categories, when it has one.
    tables: Vec<Option<Table>>,
}

/// Open addressing over a categorical feature's texts: `slots[h]` is a category's slot + 1,
/// 0 when empty; linear probing from the text's [`hash`].
struct Table {
    slots: Vec<u32>,
    mask: usize,
}

/// A text's hash: XXH3, as the text model hashes its tokens (the table compares the bytes of
/// the one text the hash finds, so a collision costs a probe, never a wrong slot).
#[inline]
fn hash(bytes: &[u8]) -> usize {
    xxhash_rust::xxh3::xxh3_64(bytes) as usize
}

impl Table {
    /// The table of `categories`, or None when a lookup by hash could find another slot than
    /// [`Feature::encode`] finds (a decoded model with repeated categories, or whose sorted
    /// index is not sorted): such a feature keeps [`Feature::encode`].
    ///
    /// [`Feature::encode`]: super::features::Feature::encode
    fn new(categories: &[String], sorted: &[u32]) -> Option<Table> {
        let len = categories.len();
        if len >= u32::MAX as usize / 4 {
            return None;
        }
        // Above the linear scan's limit, `Feature::encode` searches `sorted`: it finds the
        // same slot as a hash lookup when `sorted` holds every slot in strictly increasing text
        // order (and then the texts are distinct).
        let linear = len <= super::features::LINEAR_SCAN;
        if !linear {
            let ordered = sorted.len() == len
                && sorted.iter().all(|&i| (i as usize) < len)
                && sorted.windows(2).all(|w| categories[w[0] as usize] < categories[w[1] as usize]);
            if !ordered {
                return None;
            }
        }
        let size = (2 * len).next_power_of_two().max(4);
        let mut table = Table { slots: vec![0; size], mask: size - 1 };
        for (slot, text) in categories.iter().enumerate() {
            let mut h = hash(text.as_bytes()) & table.mask;
            loop {
                match table.slots[h] {
                    0 => {
                        table.slots[h] = slot as u32 + 1;
                        break;
                    }
                    // A repeated text (only a decoded model can have one): refused, so that
                    // the feature keeps `Feature::encode`'s rule.
                    s if categories[s as usize - 1] == *text => return None,
                    _ => h = (h + 1) & table.mask,
                }
            }
        }
        Some(table)
    }

    /// The slot of `bytes`, if it is a category.
    #[inline]
    fn find(&self, categories: &[String], bytes: &[u8]) -> Option<usize> {
        let mut h = hash(bytes) & self.mask;
        loop {
            match self.slots[h] {
                0 => return None,
                s if categories[s as usize - 1].as_bytes() == bytes => return Some(s as usize - 1),
                _ => h = (h + 1) & self.mask,
            }
        }
    }
}

impl Classifier {
    /// The hash tables of its categorical features, for encoding rows from cells as the source
    /// holds them ([`CategoryTables::encode`]).
    pub fn category_tables(&self) -> CategoryTables {
        let tables = self
            .encoder
            .features
            .iter()
            .map(|f| match &f.encoding {
                Encoding::Categorical { categories, sorted, .. } => Table::new(categories, sorted),
                Encoding::Numeric { .. } => None,
            })
            .collect();
        CategoryTables { tables }
    }
}

impl CategoryTables {
    /// Encodes one row for `classifier` (the one these tables were made from) into `out`
    /// ([`Classifier::width`] long) exactly as
    /// [`Classifier::encode_with`] encodes it from `input`: `cell(i)` gives feature `i`'s cell
    /// as the source holds it, and `input(i)` the same cell checked (a text cell that is not a
    /// category, or a feature without a table, goes through
    /// [`Feature::encode`](super::features::Feature::encode) with it, so invalid UTF-8 and every
    /// other error is reported as before).
    #[inline]
    pub fn encode<'v>(
        &self,
        classifier: &Classifier,
        out: &mut [f32],
        mut cell: impl FnMut(usize) -> Result<Cell<'v>>,
        mut input: impl FnMut(usize) -> Result<Input<'v>>,
    ) -> Result<()> {
        let features = &classifier.encoder.features;
        if features.len() != self.tables.len() {
            return Err(Error::Internal("category tables of another classifier".into()));
        }
        out.fill(0.0);
        for (i, (f, table)) in features.iter().zip(&self.tables).enumerate() {
            let out = &mut out[f.offset..f.offset + f.width()];
            let found = match (table, &f.encoding, cell(i)?) {
                (Some(table), Encoding::Categorical { categories, .. }, Cell::Text(bytes)) => {
                    table.find(categories, bytes)
                }
                (_, _, Cell::Other(value)) => {
                    f.encode(value, out)?;
                    continue;
                }
                _ => None,
            };
            match found {
                Some(slot) => out[slot] = 1.0,
                None => f.encode(input(i)?, out)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(texts: &[&str]) -> (Vec<String>, Option<Table>) {
        let categories: Vec<String> = texts.iter().map(|s| s.to_string()).collect();
        let mut sorted: Vec<u32> = (0..categories.len() as u32).collect();
        sorted.sort_by(|&a, &b| categories[a as usize].cmp(&categories[b as usize]));
        let t = Table::new(&categories, &sorted);
        (categories, t)
    }

    #[test]
    fn finds_every_category_and_nothing_else() {
        let many: Vec<String> = (0..300).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
        for texts in [&["a", "bb", "", "é"][..], &many[..]] {
            let (categories, t) = table(texts);
            let t = t.expect("a table");
            for (slot, c) in categories.iter().enumerate() {
                assert_eq!(t.find(&categories, c.as_bytes()), Some(slot));
            }
            for miss in [&b"zz"[..], b"c300", b"\xff", b"A"] {
                assert_eq!(t.find(&categories, miss), None);
            }
        }
    }

    #[test]
    fn refuses_what_a_hash_would_find_differently() {
        assert!(table(&["a", "b", "a"]).1.is_none());
        let many: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
        let unsorted: Vec<u32> = (0..20).rev().collect();
        assert!(Table::new(&many, &unsorted).is_none());
    }
}
