//! Tests of the fit, the scores and the stored form, on small corpora worked by hand.

use super::fit::{PARALLEL_FIT_FROM, class_sums, split_classes};
use super::*;
use crate::Error;
use crate::models::control::Control;
use crate::models::text::vectorize::SparseRows;

/// Corpus over the vocabulary [a, b, c] (feature ids 0, 1, 2), counts per document:
///   doc0 class 0: a×2, b×1
///   doc1 class 0: a×1
///   doc2 class 1: b×1, c×2
fn corpus() -> (SparseRows, Vec<u32>) {
    let rows = SparseRows {
        offsets: vec![0, 2, 3, 5],
        features: vec![0, 1, 0, 1, 2],
        values: vec![2.0, 1.0, 1.0, 1.0, 2.0],
    };
    (rows, vec![0, 0, 1])
}

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

#[test]
fn multinomial_by_hand() {
    // alpha = 1, V = 3. Class 0 counts a=3 b=1 c=0, N_0 = 4 -> denominators 4 + 3 = 7:
    //   P(a|0) = 4/7, P(b|0) = 2/7, P(c|0) = 1/7.
    // Class 1 counts a=0 b=1 c=2, N_1 = 3 -> 3 + 3 = 6: P(a|1) = 1/6, P(b|1) = 2/6, P(c|1) = 3/6.
    // Priors 2/3 and 1/3.
    let (rows, y) = corpus();
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new())
        .unwrap();
    close(nb.bias()[0], (2.0f64 / 3.0).ln());
    close(nb.bias()[1], (1.0f64 / 3.0).ln());
    close(nb.weight(0, 0), (4.0f64 / 7.0).ln());
    close(nb.weight(2, 0), (1.0f64 / 7.0).ln());
    close(nb.weight(0, 1), (1.0f64 / 6.0).ln());
    close(nb.weight(2, 1), (3.0f64 / 6.0).ln());
    // Document "a c": class 0: ln(2/3) + ln(4/7) + ln(1/7); class 1: ln(1/3) + ln(1/6) + ln(3/6).
    let mut s = [0.0; 2];
    nb.scores(&[0, 2], &[1.0, 1.0], &mut s);
    close(s[0], (2.0f64 / 3.0 * 4.0 / 7.0 / 7.0).ln());
    close(s[1], (1.0f64 / 3.0 / 6.0 * 3.0 / 6.0).ln());
    // p(0) = (8/147) / (8/147 + 1/36)
    softmax(&mut s);
    let (p0, p1) = (8.0 / 147.0, 1.0 / 36.0);
    close(s[0], p0 / (p0 + p1));
}

/// A failing interrupt check ends the fit on both threads (before: the fit had no check at
/// all); without one, the large corpus (two threads) fits, to the bytes of one thread's
/// sums and the same bytes twice.
#[test]
fn a_failing_check_ends_the_fit() {
    let mut rows = SparseRows { offsets: vec![0], ..Default::default() };
    let mut y = Vec::new();
    for d in 0..(2 * PARALLEL_FIT_FROM / 8) as u32 {
        for j in 0..8 {
            rows.features.push((d * 7 + j * 13) % 1000);
            rows.values.push(1.0);
        }
        rows.offsets.push(rows.features.len());
        y.push(d % 4);
    }
    let fit = |control: &Control<'_>| {
        NaiveBayes::fit(&rows, &y, 4, 1000, Algorithm::Multinomial, 1.0, Priors::Learned, control)
    };
    // The two threads' groups, concatenated, are the one-thread sums: the same model bytes.
    let by_class: Vec<Vec<u32>> =
        (0..4).map(|c| (0..y.len() as u32).filter(|&d| y[d as usize] == c).collect()).collect();
    let ok = |_: u64| Ok(());
    let split = split_classes(&rows, &by_class);
    assert!(split > 0 && split < 4);
    let sums = |classes| class_sums(&rows, &by_class, classes, 1000, false, &|n| n, &ok).unwrap();
    let mut two = sums(0..split);
    two.extend(sums(split..4)).unwrap();
    assert_eq!(two, sums(0..4));
    assert_eq!(two.ends.len(), 4);
    let a = postcard::to_stdvec(&fit(&Control::new()).unwrap()).unwrap();
    assert_eq!(a, postcard::to_stdvec(&fit(&Control::new()).unwrap()).unwrap());
    let check = || Err(Error::data("interrupted"));
    let control = Control::new().with_check(&check);
    std::thread::sleep(crate::models::control::CHECK_EVERY);
    assert_eq!(fit(&control).err().map(|e| e.to_string()).as_deref(), Some("interrupted"));
}

/// The dense rows give the same bits as the sparse weights (every algorithm, a random
/// corpus): every row with few classes, the rows of the frequent terms with many.
#[test]
fn dense_rows_score_as_sparse() {
    let mut random = crate::models::text::xorshift(0x2545_f491_4f6c_dd1d);
    let mut next = |m: u64| random() % m;
    for k in [2usize, 3, 40] {
        let mut rows = SparseRows { offsets: vec![0], ..Default::default() };
        let mut y = Vec::new();
        for _ in 0..200 {
            for _ in 0..1 + next(6) {
                // Skewed toward low ids: some terms occur in many classes.
                rows.features.push((next(300) * next(300) / 300) as u32);
                rows.values.push(1.0 + next(3) as f32);
            }
            rows.offsets.push(rows.features.len());
            y.push(next(k as u64) as u32);
        }
        for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
            let nb =
                NaiveBayes::fit(&rows, &y, k, 300, algorithm, 0.1, Priors::Learned, &Control::new()).unwrap();
            // Every row dense for few classes; some rows (the frequent terms) for many.
            let with_row = (0..300).filter(|&f| nb.dense_row(f).is_some()).count();
            assert_eq!(with_row == 300, k < 40, "{k}: {with_row} rows");
            assert!(with_row > 0, "{k}");
            let bytes = postcard::to_stdvec(&nb).unwrap();
            let mut sparse: NaiveBayes = postcard::from_bytes(&bytes).unwrap();
            assert_eq!((&sparse.dense, &sparse.dense_of), (&nb.dense, &nb.dense_of));
            sparse.dense.clear();
            sparse.dense_of.clear();
            for d in 0..rows.rows() {
                let (f, v) = rows.row(d);
                let (mut a, mut b) = (vec![0.0; k], vec![0.0; k]);
                nb.scores(f, v, &mut a);
                sparse.scores(f, v, &mut b);
                assert_eq!(
                    a.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                    b.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
                );
            }
        }
    }
}

#[test]
fn alpha_and_uniform_priors() {
    // alpha = 0.5: P(a|0) = (3 + 0.5) / (4 + 1.5) = 3.5/5.5.
    let (rows, y) = corpus();
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 0.5, Priors::Uniform, &Control::new())
        .unwrap();
    close(nb.weight(0, 0), (3.5f64 / 5.5).ln());
    close(nb.bias()[0], 0.5f64.ln());
    close(nb.bias()[1], 0.5f64.ln());
}

#[test]
fn complement_by_hand() {
    // Complement of class 0 = class 1's counts (a=0 b=1 c=2, total 3):
    //   θ~(a|0) = (0+1)/(3+3) = 1/6 -> W = −ln(1/6); θ~(c|0) = 3/6.
    // Complement of class 1 = class 0's counts (a=3 b=1 c=0, total 4): θ~(a|1) = 4/7.
    let (rows, y) = corpus();
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Complement, 1.0, Priors::Learned, &Control::new())
        .unwrap();
    close(nb.weight(0, 0), -(1.0f64 / 6.0).ln());
    close(nb.weight(2, 0), -(3.0f64 / 6.0).ln());
    close(nb.weight(0, 1), -(4.0f64 / 7.0).ln());
    close(nb.bias()[1], (1.0f64 / 3.0).ln());
}

#[test]
fn bernoulli_by_hand() {
    // Document frequencies: class 0 (2 docs): a 2, b 1, c 0; class 1 (1 doc): a 0, b 1, c 1.
    // alpha = 1: p(a|0) = 3/4, p(b|0) = 2/4, p(c|0) = 1/4; p(a|1) = 1/3, p(b|1) = 2/3, p(c|1) = 2/3.
    let (rows, y) = corpus();
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Bernoulli, 1.0, Priors::Learned, &Control::new())
        .unwrap();
    // Document "a" (present: a; absent: b, c) in class 0: ln(2/3) + ln(3/4) + ln(1/2) + ln(3/4).
    let mut s = [0.0; 2];
    nb.scores(&[0], &[5.0], &mut s);
    close(s[0], (2.0f64 / 3.0 * 0.75 * 0.5 * 0.75).ln());
    close(s[1], (1.0f64 / 3.0 * (1.0 / 3.0) * (1.0 / 3.0) * (1.0 / 3.0)).ln());
}

#[test]
fn weights_that_overflow_are_found() {
    let (rows, y) = corpus();
    for algorithm in [Algorithm::Multinomial, Algorithm::Complement, Algorithm::Bernoulli] {
        assert!(
            NaiveBayes::fit(&rows, &y, 2, 3, algorithm, 0.1, Priors::Learned, &Control::new())
                .unwrap()
                .all_finite()
        );
    }
    // N/α overflows: ln(1 + N/α) is infinite.
    let nb =
        NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1e-320, Priors::Learned, &Control::new())
            .unwrap();
    assert!(!nb.all_finite());
    // Term a is in both documents of class 0: p = (2 + α) / (2 + 2α) rounds to 1.
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Bernoulli, 1e-20, Priors::Learned, &Control::new())
        .unwrap();
    assert!(!nb.all_finite());
}

#[test]
fn empty_document_gets_the_prior() {
    let (rows, y) = corpus();
    let nb = NaiveBayes::fit(&rows, &y, 2, 3, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new())
        .unwrap();
    let mut s = [0.0; 2];
    nb.scores(&[], &[], &mut s);
    softmax(&mut s);
    close(s[0], 2.0 / 3.0);
}

/// The multinomial weights of small whole counts are looked up, not computed: the same bits
/// as computing them, for whole counts on either side of the table's end, fractional sums
/// (TF-IDF rows) and several smoothings.
#[test]
fn multinomial_weights_of_small_counts_are_the_logarithms() {
    let values = [1.0f32, 2.0, 0.5, 3.25, 1023.0, 1024.0, 1025.0, 70000.0, 1e-3];
    let n = values.len();
    let rows =
        SparseRows { offsets: (0..=n).collect(), features: (0..n as u32).collect(), values: values.to_vec() };
    let y: Vec<u32> = (0..n as u32).map(|d| d % 2).collect();
    for alpha in [0.1, 1.0, 0.37, 2.5] {
        let nb =
            NaiveBayes::fit(&rows, &y, 2, n, Algorithm::Multinomial, alpha, Priors::Learned, &Control::new())
                .unwrap();
        // One entry a term, in term order: the term's one value.
        assert_eq!(nb.deltas.len(), n);
        for (d, &v) in nb.deltas.iter().zip(&values) {
            let want = (v as f64 / alpha).ln_1p() as f32;
            assert_eq!(d.to_bits(), want.to_bits(), "count {v}, alpha {alpha}");
        }
    }
}

/// Class ids that do not fit the rows (too few, too many, a class past `n_classes`) are an
/// internal error, not a panic.
#[test]
fn class_ids_that_do_not_fit_the_rows_are_an_internal_error() {
    let rows = SparseRows { offsets: vec![0, 1, 2], features: vec![0, 1], values: vec![1.0, 1.0] };
    for y in [vec![0u32], vec![0, 1, 0], vec![0, 2]] {
        let fit =
            NaiveBayes::fit(&rows, &y, 2, 2, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new());
        assert!(matches!(fit, Err(Error::Internal(_))), "{y:?}");
    }
    assert!(
        NaiveBayes::fit(&rows, &[0, 1], 2, 2, Algorithm::Multinomial, 1.0, Priors::Learned, &Control::new())
            .is_ok()
    );
}
