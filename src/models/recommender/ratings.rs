//! Ratings as dense (user, item, value) triples, and the per-user compressed rows (CSR) the
//! model keeps for exclusion, explanation and SVD++'s implicit feedback.

use crate::models::memory;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One rating (or interaction weight) with dense ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Triple {
    /// Dense user index.
    pub user: u32,
    /// Dense item index.
    pub item: u32,
    /// The rating, or the interaction weight for implicit feedback.
    pub value: f32,
}

/// Compressed sparse rows: for each row (user or item), its columns sorted by index with their
/// values. Duplicate (row, column) pairs are kept, in input order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Csr {
    /// `rows + 1` offsets into `cols` and `values`.
    pub offsets: Vec<u64>,
    /// Column indices, row after row.
    pub cols: Vec<u32>,
    /// Values, aligned with `cols`.
    pub values: Vec<f32>,
}

impl Csr {
    /// Groups `triples` by user (`by_item == false`) or by item, with `rows` rows.
    ///
    /// Two stable counting passes (by column, then by row), so each row comes out sorted by
    /// column with duplicates in input order, in linear time. Memory refused is an error
    /// ([`Csr::try_build_with_cols`]).
    pub fn try_build(rows: usize, triples: &[Triple], by_item: bool) -> Result<Csr> {
        let key = |t: &Triple| if by_item { (t.item as usize, t.user) } else { (t.user as usize, t.item) };
        let n_cols = triples.iter().map(|t| key(t).1 as usize + 1).max().unwrap_or(0);
        Csr::try_build_with_cols(
            rows,
            n_cols,
            triples.len(),
            |k| key(&triples[k]).0,
            |k| key(&triples[k]).1,
            |k| triples[k].value,
        )
    }

    /// [`Csr::try_build`] for tests and examples, whose triples are small.
    ///
    /// # Panics
    /// If the memory is refused.
    pub fn build(rows: usize, triples: &[Triple], by_item: bool) -> Csr {
        Csr::try_build(rows, triples, by_item).expect("memory for a CSR")
    }

    /// The CSR of `n` entries given by their row, column and value (entry `k`'s: `row(k)`,
    /// `col(k)`, `value(k)`), read when needed rather than held as triples, every column index
    /// below `n_cols`: as [`Csr::try_build`] of those triples, whatever `n_cols` above the
    /// largest index. Its sizes come from the data: the memory is taken fallibly.
    pub fn try_build_with_cols(
        rows: usize,
        n_cols: usize,
        n: usize,
        row: impl Fn(usize) -> usize,
        col: impl Fn(usize) -> u32,
        value: impl Fn(usize) -> f32,
    ) -> Result<Csr> {
        if u32::try_from(n).is_err() {
            return Err(Error::data(format!("{n} ratings: at most 2³² − 1 are supported")));
        }
        let what = "the ratings grouped by row";
        let mut next_in_col: Vec<usize> = memory::zeroed(n_cols + 1, what)?;
        for k in 0..n {
            next_in_col[col(k) as usize + 1] += 1;
        }
        for c in 0..n_cols {
            next_in_col[c + 1] += next_in_col[c];
        }
        let mut by_col: Vec<u32> = memory::zeroed(n, what)?;
        for k in 0..n {
            let c = col(k) as usize;
            by_col[next_in_col[c]] = k as u32;
            next_in_col[c] += 1;
        }
        // Now `next_in_col[c]` is where column c's entries end in `by_col` (and c + 1's
        // begin): the last pass knows each entry's column without asking `col` again.
        let mut offsets: Vec<u64> = memory::zeroed(rows + 1, what)?;
        for k in 0..n {
            offsets[row(k) + 1] += 1;
        }
        for r in 0..rows {
            offsets[r + 1] += offsets[r];
        }
        let mut next: Vec<u64> = memory::with_capacity(rows, what)?;
        next.extend_from_slice(&offsets[..rows]);
        let mut cols: Vec<u32> = memory::zeroed(n, what)?;
        let mut values: Vec<f32> = memory::zeroed(n, what)?;
        let mut start = 0;
        for (c, &end) in next_in_col[..n_cols].iter().enumerate() {
            for &k in &by_col[start..end] {
                let k = k as usize;
                let r = row(k);
                let at = next[r] as usize;
                cols[at] = c as u32;
                values[at] = value(k);
                next[r] += 1;
            }
            start = end;
        }
        Ok(Csr { offsets, cols, values })
    }

    /// The same entries grouped by column: `cols` rows (above every column index), each
    /// sorted by row with duplicates in this CSR's order. For a CSR built by user, the same as
    /// [`Csr::build`] by item from its triples.
    pub fn transpose(&self, cols: usize) -> Result<Csr> {
        let what = "the ratings grouped by column";
        let mut offsets: Vec<u64> = memory::zeroed(cols + 1, what)?;
        for &c in &self.cols {
            offsets[c as usize + 1] += 1;
        }
        for c in 0..cols {
            offsets[c + 1] += offsets[c];
        }
        let mut next: Vec<u64> = memory::with_capacity(cols, what)?;
        next.extend_from_slice(&offsets[..cols]);
        let mut out_cols: Vec<u32> = memory::zeroed(self.cols.len(), what)?;
        let mut values: Vec<f32> = memory::zeroed(self.cols.len(), what)?;
        for r in 0..self.rows() {
            for k in self.range(r) {
                let c = self.cols[k] as usize;
                let at = next[c] as usize;
                out_cols[at] = r as u32;
                values[at] = self.values[k];
                next[c] += 1;
            }
        }
        Ok(Csr { offsets, cols: out_cols, values })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// The index range of row `r` in `cols` / `values`.
    #[inline]
    pub fn range(&self, r: usize) -> std::ops::Range<usize> {
        self.offsets[r] as usize..self.offsets[r + 1] as usize
    }

    /// Columns and values of row `r`.
    #[inline]
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let range = self.range(r);
        (&self.cols[range.clone()], &self.values[range])
    }

    /// Number of entries in row `r`.
    #[inline]
    pub fn row_len(&self, r: usize) -> usize {
        self.range(r).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_columns_than_used_give_the_same_rows() {
        let t = |user, item, value| Triple { user, item, value };
        let triples = [t(1, 5, 1.0), t(0, 2, 2.0), t(1, 3, 3.0), t(1, 5, 4.0), t(2, 0, 5.0)];
        let built = Csr::build(3, &triples, false);
        for n_cols in [6, 7, 100] {
            let wide = Csr::try_build_with_cols(
                3,
                n_cols,
                triples.len(),
                |k| triples[k].user as usize,
                |k| triples[k].item,
                |k| triples[k].value,
            )
            .unwrap();
            assert_eq!(wide, built, "{n_cols} columns");
        }
    }

    /// Against a plain grouping: each row's entries in input order, stably sorted by
    /// column (duplicates stay in input order), over rows and columns with no entries too.
    #[test]
    fn rows_are_sorted_by_column_with_duplicates_in_input_order() {
        let (rows, n_cols) = (7, 13);
        let mut x = 12345u64;
        let triples: Vec<Triple> = (0..500)
            .map(|k| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let (user, item) = ((x >> 33) as u32 % (rows as u32 - 1), (x >> 45) as u32 % (n_cols - 2));
                Triple { user, item, value: k as f32 }
            })
            .collect();
        let built = Csr::try_build_with_cols(
            rows,
            n_cols as usize,
            triples.len(),
            |k| triples[k].user as usize,
            |k| triples[k].item,
            |k| triples[k].value,
        )
        .unwrap();
        assert_eq!(built.offsets.len(), rows + 1);
        for r in 0..rows {
            let mut want: Vec<(u32, f32)> =
                triples.iter().filter(|t| t.user as usize == r).map(|t| (t.item, t.value)).collect();
            want.sort_by_key(|&(c, _)| c);
            let (cols, values) = built.row(r);
            let got: Vec<(u32, f32)> = cols.iter().copied().zip(values.iter().copied()).collect();
            assert_eq!(got, want, "row {r}");
        }
    }

    /// Sizes come from the data: memory refused is an error naming what it was for, not an
    /// abort.
    #[test]
    fn refused_memory_is_an_error() {
        let e = Csr::try_build_with_cols(2, usize::MAX / 16, 0, |_| 0, |_| 0, |_| 0.0).unwrap_err();
        assert!(e.to_string().contains("the ratings grouped by row"), "{e}");
        let e = Csr::build(3, &[], false).transpose(usize::MAX / 16).unwrap_err();
        assert!(e.to_string().contains("the ratings grouped by column"), "{e}");
    }

    #[test]
    fn rows_sorted_duplicates_kept() {
        let t = |user, item, value| Triple { user, item, value };
        let triples = [t(1, 5, 1.0), t(0, 2, 2.0), t(1, 3, 3.0), t(1, 5, 4.0)];
        let by_user = Csr::build(3, &triples, false);
        assert_eq!(by_user.row(0), (&[2u32][..], &[2.0f32][..]));
        assert_eq!(by_user.row(1), (&[3u32, 5, 5][..], &[3.0f32, 1.0, 4.0][..]));
        assert_eq!(by_user.row_len(2), 0);
        let by_item = Csr::build(6, &triples, true);
        assert_eq!(by_item.row(5), (&[1u32, 1][..], &[1.0f32, 4.0][..]));
        assert_eq!(by_user.transpose(6).unwrap(), by_item);
    }

    /// Grouping the by-user rows by item gives what grouping the triples by item gives,
    /// duplicates and their order included.
    #[test]
    fn transpose_is_the_build_by_item() {
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) % m) as u32
        };
        let triples: Vec<Triple> =
            (0..5000).map(|k| Triple { user: next(97), item: next(41), value: k as f32 }).collect();
        let by_user = Csr::build(100, &triples, false);
        assert_eq!(by_user.transpose(45).unwrap(), Csr::build(45, &triples, true));
    }
}
