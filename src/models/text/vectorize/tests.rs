use super::super::tokenize::{Tokenizer, TokenizerConfig, Tokens, term_hash};
use super::builder::{WINDOW_FROM, heaps, merge_sorted, radix_sort};
use super::index::{EMPTY, Index, same_bytes};
use super::*;
use crate::models::text::random_texts;

fn build(
    docs: &[&str],
    lo: usize,
    hi: usize,
    min_df: usize,
    max: Option<usize>,
    w: Weighting,
) -> (Vocabulary, SparseRows, Vec<f32>) {
    let direct = build_with(docs, (lo, hi), min_df, max, w, Way::Direct);
    // Both ways of counting give the same vocabulary and rows, and so do n-grams counted by
    // their bytes, as before pairs.
    for way in [Way::Staged, Way::Bytes] {
        let other = build_with(docs, (lo, hi), min_df, max, w, way);
        assert_eq!(terms(&direct.0), terms(&other.0), "{way:?}");
        assert_eq!((&direct.1, &direct.2), (&other.1, &other.2), "{way:?}");
    }
    direct
}

/// How [`build_with`] counts: `add` with the tables probed directly (small tables) or in
/// stages, or `try_add` with every n-gram counted by its bytes.
#[derive(Clone, Copy, Debug)]
enum Way {
    Direct,
    Staged,
    Bytes,
}

fn build_with(
    docs: &[&str],
    (lo, hi): (usize, usize),
    min_df: usize,
    max: Option<usize>,
    w: Weighting,
    way: Way,
) -> (Vocabulary, SparseRows, Vec<f32>) {
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut b = VocabularyBuilder::default();
    b.always_staged = matches!(way, Way::Staged);
    b.no_pairs = matches!(way, Way::Bytes);
    let mut toks = Tokens::default();
    for d in docs {
        t.tokenize(d, &mut toks);
        match way {
            Way::Bytes => b.try_add(&toks, lo, hi).unwrap(),
            _ => b.add(&toks, lo, hi),
        }
    }
    b.finish(min_df, max, w, &crate::models::control::Control::new()).unwrap()
}

/// Two builders' vocabularies and rows (`min_df` 1, counts) are the same.
fn assert_same_finish(a: VocabularyBuilder, b: VocabularyBuilder) {
    let control = crate::models::control::Control::new();
    let a = a.finish(1, None, Weighting::Count, &control).unwrap();
    let b = b.finish(1, None, Weighting::Count, &control).unwrap();
    assert_eq!(terms(&a.0), terms(&b.0));
    assert_eq!((&a.1, &a.2), (&b.1, &b.2));
}

fn terms(v: &Vocabulary) -> Vec<&str> {
    (0..v.len() as u32).map(|i| v.term(i)).collect()
}

#[test]
fn sorted_vocabulary_and_counts() {
    let (v, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::Count);
    assert_eq!(terms(&v), ["a", "b", "c"]);
    // Count and binary rows list terms in order of first occurrence.
    assert_eq!(rows.row(0), (&[1u32, 0][..], &[2.0f32, 1.0][..]));
    assert_eq!(rows.row(1), (&[2u32, 0][..], &[1.0f32, 1.0][..]));
    let (_, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::Binary);
    assert_eq!(rows.row(0), (&[1u32, 0][..], &[1.0f32, 1.0][..]));
    let (_, rows, _) = build(&["b a b", "c a"], 1, 1, 1, None, Weighting::TfIdf);
    assert_eq!(rows.row(1).0, &[0u32, 2]);
}

/// `min_df` is 2 by default only past a million distinct terms, and only when some term
/// is in two texts.
#[test]
fn automatic_min_df() {
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut toks = Tokens::default();
    let mut b = VocabularyBuilder::default();
    let mut text = String::new();
    let mut d = 0u64;
    let add_doc = |b: &mut VocabularyBuilder, toks: &mut Tokens, text: &mut String, d: u64| {
        text.clear();
        for w in 0..100 {
            text.push_str(&format!("w{:x} ", d * 100 + w));
        }
        t.tokenize(text, toks);
        b.add(toks, 1, 1);
    };
    while b.distinct_terms() <= LARGE_VOCABULARY {
        assert_eq!(b.auto_min_df(), 1);
        add_doc(&mut b, &mut toks, &mut text, d);
        d += 1;
    }
    // Every term in one text only: nothing would be left.
    assert_eq!(b.auto_min_df(), 1);
    add_doc(&mut b, &mut toks, &mut text, 0);
    assert_eq!(b.auto_min_df(), 2);
}

#[test]
fn min_df_and_max_features_prune() {
    let docs = ["a b b b", "a c", "a c d"];
    let (v, _, _) = build(&docs, 1, 1, 2, None, Weighting::Count);
    assert_eq!(terms(&v), ["a", "c"]);
    // totals: a 3, b 3, c 2, d 1 -> top 2 by count, ties alphabetical: a, b
    let (v, _, _) = build(&docs, 1, 1, 1, Some(2), Weighting::Count);
    assert_eq!(terms(&v), ["a", "b"]);
}

/// The rows merged during counting equal the rows made from each document's term ids per
/// occurrence (first-occurrence order for counts and presence, `push_row` for TF-IDF), with
/// pruning by `min_df` and `max_features`.
#[test]
fn merged_rows_match_rows_from_occurrences() {
    let words = ["a", "b", "c", "d", "e", "f", "gg", "h"];
    let mut next = crate::models::text::xorshift(0x9e37_79b9_7f4a_7c15);
    let docs: Vec<String> = (0..60)
        .map(|_| (0..next() % 12).map(|_| words[(next() % 8) as usize]).collect::<Vec<_>>().join(" "))
        .collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    let t = Tokenizer::new(TokenizerConfig::default());
    for (w, hi) in [
        (Weighting::Count, 2),
        (Weighting::Binary, 2),
        (Weighting::TfIdf, 2),
        (Weighting::Count, 3),
        (Weighting::TfIdf, 4),
    ] {
        for (min_df, max) in [(1, None), (3, None), (1, Some(20))] {
            let (v, rows, idf) = build(&docs, 1, hi, min_df, max, w);
            let mut toks = Tokens::default();
            for (d, text) in docs.iter().enumerate() {
                t.tokenize(text, &mut toks);
                let mut ids = Vec::new();
                toks.for_each_ngram(1, hi, |g| ids.extend(v.id(g)));
                let (mut f, mut x) = (Vec::new(), Vec::new());
                if w == Weighting::TfIdf {
                    push_row(&mut ids, w, &idf, &mut f, &mut x);
                } else {
                    for id in ids {
                        match f.iter().position(|&g| g == id) {
                            Some(i) if w == Weighting::Count => x[i] += 1.0,
                            Some(_) => {}
                            None => {
                                f.push(id);
                                x.push(1.0);
                            }
                        }
                    }
                }
                assert_eq!(rows.row(d), (&f[..], &x[..]), "{w:?} {min_df} {max:?} doc {d}");
            }
        }
    }
}

#[test]
fn same_bytes_is_equality() {
    let s = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for n in 0..=s.len() {
        for m in 0..=s.len() {
            let (a, b) = (&s[..n], &s[s.len() - m..]);
            assert_eq!(same_bytes(a, b), a == b);
            assert!(same_bytes(&s[..n], &s[..n]));
        }
        for i in 0..n {
            let mut t = s[..n].to_vec();
            t[i] ^= 1;
            assert!(!same_bytes(&s[..n], &t), "{n} {i}");
        }
    }
}

/// The lookup by hash finds what the lookup by bytes finds, in order, for known and
/// unknown n-grams, on a small table and on a large one.
#[test]
fn find_hashed_matches_find() {
    let mut docs =
        vec!["the cat sat on the mat".to_string(), "a dog sat".into(), "the dog ate the cat food".into()];
    docs.extend((0..40_000).map(|i| format!("w{i} x{}", i % 7)));
    for n in [3, docs.len()] {
        let docs: Vec<&str> = docs[..n].iter().map(String::as_str).collect();
        let (v, _, _) = build(&docs, 1, 2, 1, None, Weighting::Count);
        assert!(v.hashes_are_unique());
        let t = Tokenizer::new(TokenizerConfig::default());
        let mut toks = Tokens::default();
        for text in
            ["the cat ate a mat", "zebra", "", "dog dog sat on the cat food zebra the", "w17 x3 w39999 x9"]
        {
            t.tokenize(text, &mut toks);
            let (mut slow, mut hashes) = (Vec::new(), Vec::new());
            toks.for_each_ngram_hashed(1, 2, |g, h| {
                slow.extend(v.find(g, h));
                hashes.push(h);
            });
            let mut fast = vec![7];
            v.find_hashed(&hashes, &mut fast);
            assert_eq!(fast.remove(0), 7, "appends");
            assert_eq!(fast, slow, "{text}");
            // Known terms are found (the small vocabulary knows no `w…`).
            assert_eq!(
                slow.is_empty(),
                matches!(text, "zebra" | "") || (n == 3 && text.starts_with('w')),
                "{text}"
            );
        }
    }
}

/// Terms are told apart by their 64-bit hash at prediction: no two of a large set of
/// similar short terms share one (every 1- to 3-character string over 30 letters, CJK
/// ideographs and kana, and every 2-gram of the 1- and 2-character ones: 865k terms). The
/// word-at-a-time multiply hash used before failed this.
#[test]
fn term_hashes_do_not_collide() {
    let alphabet: Vec<char> = "abcqxyz09çé洗澡房水间卫生好差很不酒店的了是ぁアー".chars().collect();
    assert_eq!(alphabet.len(), 30);
    let mut short: Vec<String> = alphabet.iter().map(|c| c.to_string()).collect();
    for &a in &alphabet {
        for &b in &alphabet {
            short.push(format!("{a}{b}"));
        }
    }
    let mut terms: Vec<String> = short.clone();
    for &a in &alphabet {
        for &b in &alphabet {
            for &c in &alphabet {
                terms.push(format!("{a}{b}{c}"));
            }
        }
    }
    for a in &short {
        for b in &short {
            terms.push(format!("{a} {b}"));
        }
    }
    let mut hashes: Vec<u64> = terms.iter().map(|t| term_hash(t)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), terms.len());
}

/// Distinct terms with one hash (forced here): the index says so, and the lookup by bytes
/// tells them apart.
#[test]
fn shared_hashes_fall_back_to_bytes() {
    let v = Vocabulary::new("abc".into(), vec![1, 2, 3], vec![7u64 << 60, 7 << 60, 9 << 60]);
    assert!(!v.hashes_are_unique());
    assert_eq!(
        [v.find("a", 7 << 60), v.find("b", 7 << 60), v.find("c", 9 << 60)],
        [Some(0), Some(1), Some(2)]
    );
    assert_eq!(v.find("x", 7 << 60), None);
    let v = Vocabulary::new("abc".into(), vec![1, 2, 3], vec![7u64 << 60, 8 << 60, 9 << 60]);
    assert!(v.hashes_are_unique());
}

#[test]
fn radix_sort_sorts() {
    let mut next = crate::models::text::xorshift(0x1234_5678_9abc_def1);
    let mut v: Vec<(u64, u32)> = (0..5000u32).map(|i| (next() >> (i % 4 * 16), i)).collect();
    let mut want = v.clone();
    want.sort();
    radix_sort(&mut v, |e| e.0).unwrap();
    assert_eq!(v, want);
    // Sorted stably (equal keys keep their order), whichever buffer the last pass wrote: keys
    // of 11 to 64 bits take 1 to 6 passes, and a slice of a larger vector sorts alone.
    for bits in [11, 22, 33, 40, 64] {
        let mut v: Vec<(u64, u32)> = (0..3000u32).map(|i| (next() >> (64 - bits), i)).collect();
        v.extend((0..50u32).map(|i| (7, 10_000 + i)));
        let mut want = v.clone();
        want[100..].sort_by_key(|e| e.0);
        radix_sort(&mut v[100..], |e| e.0).unwrap();
        assert_eq!(v, want, "{bits}-bit keys");
    }
}

/// Two sorted runs merge into one sorted run, the first run's item first among equals
/// (stable), whether the halves of the merged order are taken on two cores or on one, with
/// runs of any lengths (either empty, one item, odd totals) and many equal keys.
#[test]
fn sorted_runs_merge() {
    let mut next = crate::models::text::xorshift(0x3e46e);
    let control = crate::models::control::Control::new();
    for (n, mid, keys) in [
        (0, 0, 50),
        (1, 0, 50),
        (1, 1, 50),
        (5, 0, 50),
        (5, 5, 50),
        (1000, 300, 50),
        (1001, 500, 50),
        (1001, 3, 2),
        (1001, 998, 1),
        (4000, 2000, 1 << 40),
    ] {
        let mut v: Vec<(u64, u32)> = (0..n as u32).map(|i| (next() % keys, i)).collect();
        v[..mid].sort_by_key(|e| e.0);
        v[mid..].sort_by_key(|e| e.0);
        let mut want = v.clone();
        want.sort_by_key(|e| e.0);
        for two in [true, false] {
            let got = merge_sorted(&v[..mid], &v[mid..], |a, b| a.0.cmp(&b.0), &control, two).unwrap();
            assert_eq!(got, want, "{n} items, {mid}, two cores {two}");
        }
    }
}

#[test]
fn bigrams() {
    let (v, _, _) = build(&["x y z"], 1, 2, 1, None, Weighting::Count);
    assert_eq!(terms(&v), ["x", "x y", "y", "y z", "z"]);
    let (v, _, _) = build(&["x y z"], 2, 2, 1, None, Weighting::Count);
    assert_eq!(terms(&v), ["x y", "y z"]);
}

#[test]
fn sublinear_tfidf_by_hand() {
    // 2 docs; "a" in both (idf = ln(3/3)+1 = 1), "b" only in doc 0 (idf = ln(3/2)+1).
    // doc 0 = "a b b": a -> 1·1 = 1, b -> (1 + ln 2)·(1 + ln 1.5); then L2-normalised.
    let (_, rows, idf) = build(&["a b b", "a"], 1, 1, 1, None, Weighting::TfIdf);
    let ib = 1.0 + 1.5f64.ln();
    assert!((idf[0] as f64 - 1.0).abs() < 1e-6 && (idf[1] as f64 - ib).abs() < 1e-6);
    let b = (1.0 + 2f64.ln()) * ib;
    let n = (1.0 + b * b).sqrt();
    let (_, vals) = rows.row(0);
    assert!((vals[0] as f64 - 1.0 / n).abs() < 1e-6);
    assert!((vals[1] as f64 - b / n).abs() < 1e-6);
    assert_eq!(rows.row(1).1, &[1.0f32]);
}

#[test]
fn vocabulary_round_trips_and_rejects_unsorted() {
    let (v, _, _) = build(&["b a"], 1, 1, 1, None, Weighting::Count);
    let bytes = postcard::to_stdvec(&v).unwrap();
    let back: Vocabulary = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(back.id("b"), Some(1));
    let bad = postcard::to_stdvec(&vec!["b", "a"]).unwrap();
    assert!(postcard::from_bytes::<Vocabulary>(&bad).is_err());
}

/// Sizes past the u32 fields are refused before anything is added (before: the term
/// positions, ids and offsets wrapped silently on corpora of over 4 G stored values).
#[test]
fn u32_overflow_is_an_error() {
    let b = VocabularyBuilder::default();
    assert!(b.check_u32(10, 100, 1000, 1).is_ok());
    for (terms, bytes, values, docs, what) in [
        (u32::MAX as usize, 0, 0, 0, "distinct terms"),
        (0, u32::MAX as usize, 0, 0, "bytes of distinct terms"),
        (0, 0, u32::MAX as usize, 0, "(text, term) pairs"),
        (0, 0, 0, usize::MAX, "texts"),
    ] {
        let e = b.check_u32(terms, bytes, values, docs).unwrap_err().to_string();
        assert!(e.contains(what) && e.contains("more than a text model holds"), "{e}");
    }
}

/// Finishing a large vocabulary runs the interrupt check: a failing check stops it with its
/// error, for both weightings (their row passes differ).
#[test]
fn finishing_is_interruptible() {
    use crate::models::control::{CHECK_EVERY, Control};
    let t = Tokenizer::new(TokenizerConfig::default());
    let docs: Vec<String> =
        (0..40_000).map(|i| format!("w{} w{} w{} common words here", i, i % 97, i % 13)).collect();
    let builder = || {
        let mut b = VocabularyBuilder::default();
        let mut toks = Tokens::default();
        for d in &docs {
            t.tokenize(d, &mut toks);
            b.add(&toks, 1, 2);
        }
        b
    };
    for w in [Weighting::Count, Weighting::TfIdf] {
        assert!(builder().finish(1, None, w, &Control::new()).is_ok());
        let check = || Err(crate::Error::data("interrupted"));
        let control = Control::new().with_check(&check);
        std::thread::sleep(CHECK_EVERY);
        let e = builder().finish(1, None, w, &control).err().map(|e| e.to_string());
        assert_eq!(e.as_deref(), Some("interrupted"), "{w:?}");
    }
}

/// Reserving ahead makes room for the rest of the texts at the rate of those counted, and
/// changes neither the vocabulary nor the rows; a scale of at most 1 (or not a number)
/// reserves nothing.
#[test]
fn reserving_ahead_changes_nothing_but_the_room() {
    let docs: Vec<String> =
        (0..400).map(|i| format!("doc {i} has words w{} w{} and more words", i % 37, i % 11)).collect();
    let t = Tokenizer::new(TokenizerConfig::default());
    let (mut plain, mut ahead) = (VocabularyBuilder::default(), VocabularyBuilder::default());
    let mut toks = Tokens::default();
    let mut room = [0; 3];
    for (i, d) in docs.iter().enumerate() {
        t.tokenize(d, &mut toks);
        plain.try_add(&toks, 1, 2).unwrap();
        ahead.try_add(&toks, 1, 2).unwrap();
        if i == 24 {
            let before = ahead.capacities();
            for no in [1.0, 0.5, f64::NAN, f64::INFINITY] {
                ahead.reserve_ahead(no);
                assert_eq!(ahead.capacities(), before, "scale {no}");
            }
            ahead.reserve_ahead(16.0);
            room = ahead.capacities();
            assert!(room.iter().zip(&before).all(|(a, b)| a > b), "{before:?} -> {room:?}");
        }
    }
    // 16 times what 25 texts took is enough for all 400: the pairs did not grow again.
    assert_eq!(ahead.capacities()[0], room[0]);
    assert_same_finish(plain, ahead);
}

/// Heaps' law through two points: their growth's exponent, kept within 0 and 1; what there is
/// now when the points cannot tell.
#[test]
fn heaps_law_extends_the_growth_of_two_points() {
    let near = |got: usize, want: usize| got.abs_diff(want) <= 1;
    // β ½ (words), 1 (pairs), faster than the text (1), no growth (0).
    assert!(near(heaps((1000, 100), (4000, 200), 64000), 800));
    assert!(near(heaps((1000, 100), (2000, 200), 8000), 800));
    assert!(near(heaps((1000, 100), (2000, 400), 8000), 1600));
    assert_eq!(heaps((1000, 100), (2000, 100), 8000), 100);
    for (then, now, total) in [
        ((0, 0), (2000, 100), 8000),
        ((1000, 0), (2000, 100), 8000),
        ((2000, 100), (2000, 150), 8000),
        ((3000, 100), (2000, 150), 8000),
        ((1000, 100), (2000, 150), 2000),
        ((1000, 100), (2000, 150), 100),
    ] {
        assert_eq!(heaps(then, now, total), now.1, "{then:?} {now:?} {total}");
    }
}

/// Sized ahead from the growth of the first sixteenth of the texts, the tables hold the rest
/// without growing, are no larger than the ones that grew as the terms came, and the
/// vocabulary and rows are the same.
#[test]
fn tables_sized_ahead_hold_the_rest_without_growing() {
    let docs = random_texts(0x7ab1e, 2048, 8..24, |r| r % 4000);
    let t = Tokenizer::new(TokenizerConfig::default());
    let (mut plain, mut ahead) = (VocabularyBuilder::default(), VocabularyBuilder::default());
    let mut toks = Tokens::default();
    let total: usize = docs.iter().map(|d| d.len()).sum();
    let (mut seen, mut earlier, mut sized) = (0, None, None);
    for d in &docs {
        t.tokenize(d, &mut toks);
        plain.try_add(&toks, 1, 2).unwrap();
        ahead.try_add(&toks, 1, 2).unwrap();
        seen += d.len();
        if earlier.is_none() && seen * 32 >= total {
            earlier = Some(ahead.growth(seen));
        }
        if sized.is_none() && seen * 16 >= total {
            let before = ahead.table_slots();
            ahead.size_tables_ahead(earlier.unwrap(), seen, total);
            assert!(ahead.table_slots()[1] > before[1], "{before:?} -> {:?}", ahead.table_slots());
            sized = Some(ahead.table_slots());
        }
    }
    assert_eq!(Some(ahead.table_slots()), sized);
    assert_eq!(ahead.table_slots(), plain.table_slots());
    assert_same_finish(plain, ahead);
}

/// With enough word pairs for them to be spelled out on two cores, the vocabulary and the
/// rows are those of every n-gram counted by its bytes (no pairs, nothing spelled out); and
/// so they are with trigrams (pairs of pairs: spelled on one core).
#[test]
fn pairs_spelled_on_two_cores_are_the_bytes_counted() {
    let mut next = crate::models::text::xorshift(0x5be11);
    let docs: Vec<String> = (0..8000)
        .map(|_| (0..10).map(|_| format!("w{}", next() % 20000)).collect::<Vec<_>>().join(" "))
        .collect();
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    // (`max_features` too: the two runs spelled are put together before the selection.)
    for (hi, min_df, cap) in [(2, 1, None), (2, 2, None), (3, 1, None), (2, 1, Some(50_000))] {
        let pairs = build_with(&docs, (1, hi), min_df, cap, Weighting::Count, Way::Direct);
        let bytes = build_with(&docs, (1, hi), min_df, cap, Weighting::Count, Way::Bytes);
        if let Some(cap) = cap {
            assert_eq!(pairs.0.len(), cap);
        } else if min_df == 1 {
            // More pairs than the 65,536 from which two cores spell them.
            assert!(pairs.0.len() > 20_000 + 65_536, "{}", pairs.0.len());
        }
        assert_eq!(terms(&pairs.0), terms(&bytes.0), "1-{hi}, min_df {min_df}");
        // In byte order (sorted on two cores and merged from 16,384 terms on).
        assert!(terms(&pairs.0).windows(2).all(|w| w[0] < w[1]), "1-{hi}, min_df {min_df}");
        assert_eq!((&pairs.1, &pairs.2), (&bytes.1, &bytes.2), "1-{hi}, min_df {min_df}");
    }
}

/// Counted by class, a corpus of terms seen in one class and in several (frequent and rare
/// words, their pairs and trigrams), of occurrences or of presence, counted in one builder or in
/// two to four appended (a term may be in one class in each, in different ones, in several in
/// one and one in the other...), in row order or class by class, gives the same vocabulary as
/// its rows and their sums by class.
#[test]
fn class_counts_merge_as_the_rows_sum() {
    // Rows (5 classes) and lists (23: their runs packed, see `by_class::Packing`).
    for k in [5, 23] {
        class_counts_of_k_merge_as_the_rows_sum(k);
    }
}

fn class_counts_of_k_merge_as_the_rows_sum(k: usize) {
    let mut next = crate::models::text::xorshift(0x5eed);
    let docs: Vec<String> = (0..400)
        .map(|_| {
            let n = 3 + next() % 28;
            let word =
                |r: u64| if r.is_multiple_of(3) { format!("r{}", r % 3000) } else { format!("c{}", r % 20) };
            (0..n).map(|_| word(next())).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let y: Vec<u32> = (0..docs.len()).map(|_| (next() % k as u64) as u32).collect();
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut toks = Tokens::default();
    let control = crate::models::control::Control::new();
    for presence in [false, true] {
        let weighting = if presence { Weighting::Binary } else { Weighting::Count };
        for (lo, hi) in [(1, 1), (1, 2), (1, 3), (2, 2)] {
            for min_df in [1, 2] {
                let mut rows_builder = VocabularyBuilder::default();
                for d in &docs {
                    t.tokenize(d, &mut toks);
                    rows_builder.try_add(&toks, lo, hi).unwrap();
                }
                let (vocab, rows, _) = rows_builder.finish(min_df, None, weighting, &control).unwrap();
                let mut per_term = vec![vec![0u32; k]; vocab.len()];
                for d in 0..rows.rows() {
                    let (fs, vs) = rows.row(d);
                    for (&f, &v) in fs.iter().zip(vs) {
                        per_term[f as usize][y[d] as usize] += v as u32;
                    }
                }
                let mut want =
                    TermClassSums { offsets: vec![0], totals: vec![0.0; k], ..TermClassSums::default() };
                for counts in &per_term {
                    for (c, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                        want.classes.push(c as u32);
                        want.sums.push(n);
                        want.totals[c] += n as f64;
                    }
                    want.offsets.push(want.classes.len() as u32);
                }
                for (ends, class_order) in [
                    (vec![400], false),
                    (vec![400], true),
                    (vec![1, 400], false),
                    (vec![150, 151, 400], false),
                    (vec![0, 100, 399, 400], false),
                    (vec![200, 400], false),
                    (vec![200, 400], true),
                ] {
                    let mut start = 0;
                    let mut all: Option<VocabularyBuilder> = None;
                    // The same parts, the last append told that the counting ends with it at
                    // `min_df` (given, or chosen: 1 at this size), which may leave out pairs.
                    let mut last: [Option<VocabularyBuilder>; 2] = [None, None];
                    for (part, &end) in ends.iter().enumerate() {
                        let mut b = VocabularyBuilder::by_class(k, presence).unwrap();
                        b.always_staged = part % 2 == 1;
                        // The pairs of the parts appended looked up on two cores (with a
                        // second CPU), but in the case of three parts.
                        b.always_beside = ends.len() != 3;
                        // In row order (a term's class changes from text to text), or class
                        // by class as the pipeline counts a part.
                        let mut order: Vec<usize> = (start..end).collect();
                        if class_order {
                            order.sort_by_key(|&d| y[d]);
                        }
                        for d in order {
                            t.tokenize(&docs[d], &mut toks);
                            b.try_add_in_class(&toks, lo, hi, y[d]).unwrap();
                        }
                        start = end;
                        for (l, given) in last.iter_mut().zip([Some(min_df as u32), None]) {
                            let b = b.try_clone().unwrap();
                            let after = if part + 1 == ends.len() {
                                After::Finish { min_df: given }
                            } else {
                                After::MoreTexts
                            };
                            match l {
                                None => *l = Some(b),
                                Some(a) => a.try_append_then(b, after, &control).unwrap(),
                            }
                        }
                        match &mut all {
                            None => all = Some(b),
                            Some(a) => a.try_append(b, &control).unwrap(),
                        }
                    }
                    let all = all.unwrap();
                    let case = format!(
                        "{k} classes, presence {presence}, {lo}-{hi}, min_df {min_df}, parts ending {ends:?}, class order {class_order}"
                    );
                    for (l, given) in last.into_iter().zip([true, false]) {
                        let l = l.unwrap();
                        // Pairs of one text left out: told a `min_df` of 2, where the pairs are
                        // looked up on two cores (parts of words and pairs appended beside, a
                        // second CPU).
                        let leaves = given
                            && min_df == 2
                            && ends.len() >= 2
                            && ends.len() != 3
                            && (lo, hi) == (1, 2)
                            && crate::models::control::Control::second_cpu();
                        assert_eq!(l.left_out_pairs() > 0, leaves, "{case}: {} left out", l.left_out_pairs());
                        assert_eq!(l.distinct_terms(), all.distinct_terms(), "{case}");
                        assert_eq!(l.auto_min_df(), all.auto_min_df(), "{case}");
                        let (last_vocab, last_sums) = l.finish_by_class(min_df, None, &control).unwrap();
                        assert_eq!(terms(&last_vocab), terms(&vocab), "{case}, the last append told");
                        assert_eq!(last_sums, want, "{case}, the last append told");
                    }
                    let (got_vocab, got) = all.finish_by_class(min_df, None, &control).unwrap();
                    assert_eq!(terms(&got_vocab), terms(&vocab), "{case}");
                    assert_eq!(got, want, "{case}");
                }
            }
        }
    }
}

#[test]
fn a_counting_table_is_the_smallest_that_holds_its_terms_at_three_quarters() {
    for n in [0, 1, 3, 4, 5, 6, 7, 12, 13, 96, 97, 1000, (1 << 20) - 1, 3 << 20, (3 << 20) + 1] {
        let table = Index::with_capacity(n);
        let slots = table.slots.len();
        assert!(slots.is_power_of_two() && table.holds(n), "{n} terms in {slots} slots");
        assert!(4 * n <= 3 * slots, "{n} terms in {slots} slots");
        // Half as many slots would be more than three quarters full (tables start at 8).
        let half = Index { slots: vec![(0, EMPTY); slots / 2], shift: 0 };
        assert!(!half.holds(n.max(4)), "{n} terms: {slots} slots where {} hold them", slots / 2);
    }
    // Counting grows the table when the next term would pass three quarters.
    let mut b = VocabularyBuilder::default();
    let mut tokens = Tokens::default();
    let t = Tokenizer::new(TokenizerConfig::default());
    let text: String = (0..20_000).map(|i| format!("w{i} ")).collect();
    t.tokenize(&text, &mut tokens);
    b.try_add(&tokens, 1, 1).unwrap();
    assert_eq!(b.distinct_terms(), 20_000);
    assert_eq!(b.table_slots()[0], 32_768, "20,000 terms: 61% of 32,768 slots");
}

/// A row's index shares its class state with the class of its pending run, so rows stop at
/// 2²⁷ terms in two classes or more: more is a clear error before any memory is taken.
#[test]
fn class_rows_stop_at_their_limit() {
    let mut counts = super::by_class::ClassCounts::new(2, false);
    counts.reserve(1000).unwrap();
    let err = counts.reserve(1 << 27).unwrap_err().to_string();
    assert!(err.contains("more than 134217727 distinct terms in two classes or more"), "{err}");
}

/// Texts of more word pairs than `WINDOW_FROM` (their slots and records prefetched in a window
/// when the tables are probed ahead) and fewer (all at once) count as the tables probed
/// directly and as every n-gram counted by its bytes (`build` compares the three), with pairs
/// and trigrams.
#[test]
fn long_and_short_texts_count_alike_however_probed() {
    let docs = random_texts(0x10_96, 300, 1..301, |r| r % 500);
    assert!(docs.iter().any(|d| d.split(' ').count() > 2 * WINDOW_FROM), "some long texts");
    assert!(docs.iter().any(|d| d.split(' ').count() < WINDOW_FROM), "some short texts");
    let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
    for hi in [2, 3] {
        for min_df in [1, 2] {
            let (v, _, _) = build(&docs, 1, hi, min_df, None, Weighting::Count);
            assert!(v.len() > 1000, "{hi} {min_df}: {}", v.len());
        }
    }
}

/// Texts counted after an append (which drops the lookup tables), an empty one first, count
/// as one builder that counted every text in order does.
#[test]
fn texts_counted_after_an_append_count_as_one_builder() {
    let docs = ["a b c", "b c d", "", "c d e a", "", "e f a b"];
    let t = Tokenizer::new(TokenizerConfig::default());
    let control = crate::models::control::Control::new();
    let count = |b: &mut VocabularyBuilder, texts: &[&str]| {
        let mut toks = Tokens::default();
        for d in texts {
            t.tokenize(d, &mut toks);
            b.try_add(&toks, 1, 2).unwrap();
        }
    };
    let mut one = VocabularyBuilder::default();
    count(&mut one, &docs);
    let (mut first, mut second) = (VocabularyBuilder::default(), VocabularyBuilder::default());
    count(&mut first, &docs[..1]);
    count(&mut second, &docs[1..2]);
    first.try_append(second, &control).unwrap();
    count(&mut first, &docs[2..]);
    assert_eq!(first.texts(), docs.len());
    assert_same_finish(one, first);
}

/// With many classes, a settled run whose count does not fit its packed bits (at 2^20
/// classes: 2,048 or more, of occurrences or of texts) takes three entries and is summed with
/// the others: the class sums are those counted by hand, for one builder and for two appended
/// (large runs on both sides, met in the merge or carried by the append), with the top
/// class packed beside them.
#[test]
fn runs_of_large_counts_are_logged_whole_and_summed() {
    const K: usize = 1 << 20;
    let top = K as u32 - 1;
    let many = |word: &str, n: usize| vec![word; n].join(" ");
    // Parts of (class, text), each counted class by class as the pipeline counts.
    let parts: Vec<Vec<(u32, String)>> = vec![
        vec![
            (0, format!("{} b", many("a", 3000))),
            (0, "a b c".into()),
            // Settled at 2,047 (packed, the most 11 bits hold) and at 2,048 (three entries).
            (0, many("g", 2047)),
            (0, many("h", 2048)),
            (9, many("a", 2100)),
            (9, "g h".into()),
            (9, "b".into()),
            (top, "a".into()),
            (top, many("b", 2500)),
        ],
        // "x" is new to the first builder: its large run comes with the append.
        vec![
            (0, many("a", 2049)),
            (0, "c d".into()),
            (0, many("x", 2100)),
            (9, "b a".into()),
            (9, "x".into()),
            (top, many("d", 2048)),
        ],
    ];
    // For presence (texts, not occurrences): 2,100 texts of "a" in class 0 make a run of 2,100.
    let texts: Vec<Vec<(u32, String)>> = vec![
        (0..2100).map(|_| (0, "a e".to_string())).chain([(5, "a".into()), (top, "e".into())]).collect(),
        (0..2050).map(|_| (5, "e f".to_string())).chain([(top, "a e f".into())]).collect(),
    ];
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut toks = Tokens::default();
    let control = crate::models::control::Control::new();
    for (presence, parts) in [(false, &parts), (true, &texts)] {
        for appended in [false, true] {
            let mut want: std::collections::BTreeMap<String, std::collections::BTreeMap<u32, f64>> =
                Default::default();
            let mut all: Option<VocabularyBuilder> = None;
            let mut one = VocabularyBuilder::by_class(K, presence).unwrap();
            for part in parts {
                let mut b = VocabularyBuilder::by_class(K, presence).unwrap();
                for (class, text) in part {
                    let words: Vec<&str> = text.split(' ').collect();
                    for (i, w) in words.iter().enumerate() {
                        if !presence || !words[..i].contains(w) {
                            *want.entry(w.to_string()).or_default().entry(*class).or_default() += 1.0;
                        }
                    }
                    t.tokenize(text, &mut toks);
                    let into = if appended { &mut b } else { &mut one };
                    into.try_add_in_class(&toks, 1, 1, *class).unwrap();
                }
                if appended {
                    match &mut all {
                        None => all = Some(b),
                        Some(a) => a.try_append(b, &control).unwrap(),
                    }
                }
            }
            let builder = if appended { all.unwrap() } else { one };
            let (vocab, got) = builder.finish_by_class(1, None, &control).unwrap();
            let case = format!("presence {presence}, appended {appended}");
            assert_eq!(terms(&vocab), want.keys().map(String::as_str).collect::<Vec<_>>(), "{case}");
            let mut sums =
                TermClassSums { offsets: vec![0], totals: vec![0.0; K], ..TermClassSums::default() };
            for by_class in want.values() {
                for (&c, &n) in by_class {
                    sums.classes.push(c);
                    assert_eq!(f64::from(n as u32), n, "a count");
                    sums.sums.push(n as u32);
                    sums.totals[c as usize] += n;
                }
                sums.offsets.push(sums.classes.len() as u32);
            }
            assert!(got == sums, "{case}: {:?} {:?} {:?}", got.offsets, got.classes, got.sums);
        }
    }
}

/// A large run whose entries' memory is refused is an error when the counts are summed (one
/// builder) or appended (the other builder's), never counts without it.
#[test]
fn a_large_run_refused_its_entries_is_an_error() {
    use super::by_class::REFUSE_LARGE;
    let t = Tokenizer::new(TokenizerConfig::default());
    let control = crate::models::control::Control::new();
    let counted = |refused: bool| {
        let mut b = VocabularyBuilder::by_class(1 << 20, false).unwrap();
        let mut toks = Tokens::default();
        REFUSE_LARGE.with(|r| r.set(refused));
        for (class, text) in [(0, vec!["a"; 3000].join(" ")), (9, "a".to_string())] {
            t.tokenize(&text, &mut toks);
            b.try_add_in_class(&toks, 1, 1, class).unwrap();
        }
        REFUSE_LARGE.with(|r| r.set(false));
        b
    };
    assert!(counted(false).finish_by_class(1, None, &control).is_ok());
    let e = counted(true).finish_by_class(1, None, &control).unwrap_err().to_string();
    assert!(e.contains("runs of large counts"), "{e}");
    let mut first = counted(false);
    let e = first.try_append(counted(true), &control).unwrap_err().to_string();
    assert!(e.contains("runs of large counts"), "{e}");
    // The next text's room is refused too.
    let mut b = counted(true);
    let mut toks = Tokens::default();
    t.tokenize("a b", &mut toks);
    assert!(b.try_add_in_class(&toks, 1, 1, 9).is_err());
}

/// Above [`LARGE_VOCABULARY`] distinct terms with some in two texts, the chosen `min_df` is 2:
/// an append that ends the counting with the `min_df` to be chosen leaves out the new pairs of
/// one text, and the builder is finished to the same vocabulary and class sums, with the same
/// distinct terms and chosen `min_df`, as when every pair is appended.
#[test]
fn the_last_append_leaves_out_pairs_the_chosen_min_df_drops() {
    let mut next = crate::models::text::xorshift(0x1a57);
    let t = Tokenizer::new(TokenizerConfig::default());
    let mut toks = Tokens::default();
    let control = crate::models::control::Control::new();
    let mut part = |texts: usize| {
        let mut b = VocabularyBuilder::by_class(3, false).unwrap();
        b.always_beside = true;
        for _ in 0..texts {
            let text: Vec<String> = (0..48).map(|_| format!("w{}", next() % 400_000)).collect();
            t.tokenize(&text.join(" "), &mut toks);
            b.try_add_in_class(&toks, 1, 2, (next() % 3) as u32).unwrap();
        }
        b
    };
    let (first, second) = (part(12_000), part(12_000));
    let mut every = first.try_clone().unwrap();
    every.try_append(second.try_clone().unwrap(), &control).unwrap();
    let mut last = first;
    last.try_append_then(second, After::Finish { min_df: None }, &control).unwrap();
    assert!(every.distinct_terms() > LARGE_VOCABULARY, "{} distinct terms", every.distinct_terms());
    assert_eq!(every.auto_min_df(), 2);
    assert_eq!(last.auto_min_df(), 2);
    assert_eq!(last.distinct_terms(), every.distinct_terms());
    if crate::models::control::Control::second_cpu() {
        assert!(last.left_out_pairs() > 400_000, "{} pairs left out", last.left_out_pairs());
    }
    let (want_vocab, want) = every.finish_by_class(2, None, &control).unwrap();
    let (got_vocab, got) = last.finish_by_class(2, None, &control).unwrap();
    assert_eq!(terms(&got_vocab), terms(&want_vocab));
    assert_eq!(got, want);
}
