//! Seeded train/test splits.

use super::memory;
use crate::Result;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// The seeded generator used everywhere in sqlml (ChaCha8: portable, stable output).
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Splits `0..n` into sorted (train, test) row indices. With `strata` (a class id per row) each
/// class is split in the same proportion, as scikit-learn's stratified split does; the number
/// of test rows of a class is `round(test_size * count)`, and a class keeps at least one
/// training row. `test_size == 0` puts every row in train. Memory is taken fallibly (the sizes
/// come from the data).
pub fn train_test_split(
    n: usize,
    strata: Option<&[u32]>,
    test_size: f64,
    seed: u64,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let test = held_out(n, strata, test_size, seed)?;
    Ok((complement(n, &test)?, test))
}

/// The test rows of [`train_test_split`] alone (sorted), for callers that find the training
/// rows as the rows not held out when they need them, instead of keeping a list of them.
pub fn held_out(n: usize, strata: Option<&[u32]>, test_size: f64, seed: u64) -> Result<Vec<usize>> {
    if test_size <= 0.0 || n < 2 {
        return Ok(Vec::new());
    }
    let mut test = match u32::try_from(n) {
        // Shuffled as u32 (half the memory of usize): the shuffle draws its swaps from the
        // length alone, so the permutation, and the split, are the same.
        Ok(_) => test_rows::<u32>(n, strata, test_size, seed)?,
        Err(_) => test_rows::<usize>(n, strata, test_size, seed)?,
    };
    test.sort_unstable();
    Ok(test)
}

/// Every row of `0..n` not in `test` (sorted), in order: one pass beside `test` (no flag per
/// row), into a vector of the exact size (no doubling while it grows). `I` is the index type
/// (`u32` halves the memory where `n` fits).
pub fn complement<I: TryFrom<usize>>(n: usize, test: &[usize]) -> Result<Vec<I>> {
    let index = |i: usize| I::try_from(i).unwrap_or_else(|_| unreachable!("the caller checks that n fits"));
    let mut train = memory::with_capacity(n.saturating_sub(test.len()), "the training rows' indices")?;
    let mut next = 0;
    for &t in test {
        train.extend((next..t).map(index));
        next = t + 1;
    }
    train.extend((next..n).map(index));
    Ok(train)
}

/// The held-out rows of [`train_test_split`] (unsorted), the row indices shuffled as `I`.
fn test_rows<I>(n: usize, strata: Option<&[u32]>, test_size: f64, seed: u64) -> Result<Vec<usize>>
where
    I: Copy + TryFrom<usize> + TryInto<usize>,
{
    let index = |i: usize| I::try_from(i).unwrap_or_else(|_| unreachable!("n fits in the index type"));
    let row = |i: I| i.try_into().unwrap_or_else(|_| unreachable!("an index type into usize"));
    let mut rng = rng(seed ^ SPLIT_STREAM);
    match strata {
        Some(classes) => {
            // The classes' sizes first, so that each group takes its memory once (fallibly).
            let k = classes.iter().copied().max().map_or(0, |m| m as usize + 1);
            let mut sizes = vec![0usize; k];
            for &c in classes {
                sizes[c as usize] += 1;
            }
            let mut groups = Vec::with_capacity(k);
            for &size in &sizes {
                groups.push(memory::with_capacity::<I>(size, "the split's rows of a class")?);
            }
            for (i, &c) in classes.iter().enumerate() {
                groups[c as usize].push(index(i));
            }
            let mut test = Vec::new();
            for g in &mut groups {
                g.shuffle(&mut rng);
                let take = ((g.len() as f64) * test_size).round() as usize;
                test.extend(g[..take.min(g.len().saturating_sub(1))].iter().map(|&i| row(i)));
            }
            Ok(test)
        }
        None => {
            let mut all = memory::with_capacity::<I>(n, "the split's row order")?;
            all.extend((0..n).map(index));
            all.shuffle(&mut rng);
            let take = ((n as f64) * test_size).round() as usize;
            Ok(all[..take.min(n - 1)].iter().map(|&i| row(i)).collect())
        }
    }
}

/// Keeps the split's random stream apart from the model's own use of the same seed.
const SPLIT_STREAM: u64 = 0x5eed_5911_7000_0001;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_keeps_proportions_and_is_seeded() {
        let y: Vec<u32> = (0..100).map(|i| if i < 90 { 0 } else { 1 }).collect();
        let (train, test) = train_test_split(100, Some(&y), 0.2, 42).unwrap();
        assert_eq!(test.len(), 20);
        assert_eq!(train.len(), 80);
        assert_eq!(test.iter().filter(|&&i| y[i] == 1).count(), 2);
        assert_eq!(train_test_split(100, Some(&y), 0.2, 42).unwrap(), (train.clone(), test.clone()));
        assert_ne!(train_test_split(100, Some(&y), 0.2, 7).unwrap().1, test);
    }

    /// The split as it was made before the u32 shuffle and the one-pass training rows (usize
    /// indices, a flag per row): the same rows for every seed, size and stratification.
    #[test]
    fn same_split_as_the_usize_shuffle() {
        fn reference(
            n: usize,
            strata: Option<&[u32]>,
            test_size: f64,
            seed: u64,
        ) -> (Vec<usize>, Vec<usize>) {
            let mut rng = rng(seed ^ SPLIT_STREAM);
            let mut test = Vec::new();
            match strata {
                Some(classes) => {
                    let k = classes.iter().copied().max().map_or(0, |m| m as usize + 1);
                    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); k];
                    for (i, &c) in classes.iter().enumerate() {
                        groups[c as usize].push(i);
                    }
                    for g in &mut groups {
                        g.shuffle(&mut rng);
                        let take = ((g.len() as f64) * test_size).round() as usize;
                        test.extend_from_slice(&g[..take.min(g.len().saturating_sub(1))]);
                    }
                }
                None => {
                    let mut all: Vec<usize> = (0..n).collect();
                    all.shuffle(&mut rng);
                    let take = ((n as f64) * test_size).round() as usize;
                    test.extend_from_slice(&all[..take.min(n - 1)]);
                }
            }
            test.sort_unstable();
            let mut is_test = vec![false; n];
            for &i in &test {
                is_test[i] = true;
            }
            ((0..n).filter(|&i| !is_test[i]).collect(), test)
        }
        for n in [2, 3, 10, 101, 5_000] {
            let y: Vec<u32> = (0..n as u32).map(|i| (i * 7 + i / 3) % 4).collect();
            for seed in [0, 1, 42, u64::MAX] {
                for size in [0.01, 0.2, 0.5, 0.99] {
                    for strata in [None, Some(y.as_slice())] {
                        let got = train_test_split(n, strata, size, seed).unwrap();
                        assert_eq!(got, reference(n, strata, size, seed), "n {n} seed {seed} size {size}");
                        assert_eq!(got.0.len(), got.0.capacity(), "exact training rows");
                    }
                }
            }
        }
    }

    #[test]
    fn zero_test_size_keeps_all() {
        let (train, test) = train_test_split(5, None, 0.0, 1).unwrap();
        assert_eq!(train, vec![0, 1, 2, 3, 4]);
        assert!(test.is_empty());
    }
}
