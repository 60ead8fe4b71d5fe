//! Seeded train/test splits.

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
/// training row. `test_size == 0` puts every row in train.
pub fn train_test_split(
    n: usize,
    strata: Option<&[u32]>,
    test_size: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    if test_size <= 0.0 || n < 2 {
        return ((0..n).collect(), Vec::new());
    }
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
    let train = (0..n).filter(|&i| !is_test[i]).collect();
    (train, test)
}

/// Keeps the split's random stream apart from the model's own use of the same seed.
const SPLIT_STREAM: u64 = 0x5eed_5911_7000_0001;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stratified_keeps_proportions_and_is_seeded() {
        let y: Vec<u32> = (0..100).map(|i| if i < 90 { 0 } else { 1 }).collect();
        let (train, test) = train_test_split(100, Some(&y), 0.2, 42);
        assert_eq!(test.len(), 20);
        assert_eq!(train.len(), 80);
        assert_eq!(test.iter().filter(|&&i| y[i] == 1).count(), 2);
        assert_eq!(train_test_split(100, Some(&y), 0.2, 42), (train.clone(), test.clone()));
        assert_ne!(train_test_split(100, Some(&y), 0.2, 7).1, test);
    }

    #[test]
    fn zero_test_size_keeps_all() {
        let (train, test) = train_test_split(5, None, 0.0, 1);
        assert_eq!(train, vec![0, 1, 2, 3, 4]);
        assert!(test.is_empty());
    }
}
