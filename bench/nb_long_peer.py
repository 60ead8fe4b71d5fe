#!/usr/bin/env python3
"""scikit-learn's Naive Bayes on the long-document sets (bench/long_docs.py), one configuration
per process so that each reports its own peak memory (the whole process: interpreter, imports,
the texts and the fit).

  python bench/nb_long_peer.py --set DIR --config NAME [--repeats 3]
  python bench/nb_long_peer.py --set DIR --search      # accuracy of a grid of NB configurations

Configurations:
  default  CountVectorizer() + MultinomialNB(): scikit-learn's defaults, its own analyzer (the
           issue's reference pipeline)
  count12  CountVectorizer(ngram_range=(1, 2)) + MultinomialNB()
  best     the most accurate NB configuration of the --search grid on the set (BEST below,
           see bench/README.md)

Times: train_s from the texts in a Python list to the fitted model (vectorizer fit_transform +
NB fit); predict_rows_per_s over the whole test set (transform + predict), end to end from raw
text; predict_1row_us over 200 single-text calls. Medians over --repeats. Prints one JSON line in
the format of ../shared/peers/nb_baseline.py (bench/report.py reads both).
"""

import argparse
import csv
import json
import os
import resource
import statistics
import sys
import time

csv.field_size_limit(1 << 30)

# The most accurate configuration of the --search grid per set (run on this machine; the grid and
# its results are in bench/README.md): (ngram_range, min_df, sublinear TF-IDF, NB, alpha).
BEST = {
    "best-imdb": ((1, 3), 2, True, "complement", 0.1),  # 0.8863 (MultinomialNB the same)
    "best-imdb-rating-1k": ((1, 3), 2, False, "multinomial", 0.3),  # 0.3680
}


def read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def make(config, vec_kw=None, nb=None, alpha=1.0):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
    from sklearn.naive_bayes import ComplementNB, MultinomialNB

    if config == "default":
        return CountVectorizer(), MultinomialNB(), ("MultinomialNB", "count", "1")
    if config == "count12":
        return CountVectorizer(ngram_range=(1, 2)), MultinomialNB(), ("MultinomialNB", "count", "1-2")
    if config in BEST:
        (ng, min_df, tfidf, nb, alpha) = BEST[config]
        vec = (TfidfVectorizer(ngram_range=ng, min_df=min_df, sublinear_tf=True) if tfidf
               else CountVectorizer(ngram_range=ng, min_df=min_df))
        model = ComplementNB(alpha=alpha) if nb == "complement" else MultinomialNB(alpha=alpha)
        return vec, model, (type(model).__name__, "tfidf" if tfidf else "count", f"{ng[0]}-{ng[1]}")
    Vec = TfidfVectorizer if vec_kw.pop("tfidf", False) else CountVectorizer
    Model = ComplementNB if nb == "complement" else MultinomialNB
    return Vec(**vec_kw), Model(alpha=alpha), None


def summarize(v):
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def search(tr, ytr, te, yte):
    from sklearn.metrics import accuracy_score

    grid = []
    for ng in ((1, 1), (1, 2), (1, 3)):
        for tfidf in (False, True):
            for min_df in (1, 2):
                for nb in ("multinomial", "complement"):
                    for alpha in (0.1, 0.3, 1.0):
                        grid.append((dict(ngram_range=ng, min_df=min_df, tfidf=tfidf,
                                          sublinear_tf=tfidf) if tfidf else
                                     dict(ngram_range=ng, min_df=min_df), nb, alpha))
    cache = {}
    for kw, nb, alpha in grid:
        key = json.dumps(kw, sort_keys=True)
        if key not in cache:
            vec, _, _ = make(None, dict(kw))
            cache = {key: (vec.fit_transform(tr), vec.transform(te))}
        xtr, xte = cache[key]
        _, clf, _ = make(None, dict(kw), nb, alpha)
        clf.fit(xtr, ytr)
        acc = accuracy_score(yte, clf.predict(xte))
        print(json.dumps({"vectorizer": kw, "nb": nb, "alpha": alpha, "accuracy": acc}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True, help="folder with train.csv and test.csv (label,text)")
    ap.add_argument("--config", choices=["default", "count12", "best"], default="default",
                    help="best: the set's entry of BEST")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--search", action="store_true")
    args = ap.parse_args()
    name = os.path.basename(os.path.normpath(args.set))
    tr, ytr = read(os.path.join(args.set, "train.csv"))
    te, yte = read(os.path.join(args.set, "test.csv"))
    if args.search:
        return search(tr, ytr, te, yte)
    from sklearn.metrics import accuracy_score, f1_score

    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    train_s, rate, one = [], [], []
    config = f"best-{name}" if args.config == "best" else args.config
    for _ in range(args.repeats):
        vec, clf, label = make(config)
        t = time.perf_counter()
        clf.fit(vec.fit_transform(tr), ytr)
        train_s.append(time.perf_counter() - t)
        t = time.perf_counter()
        pred = clf.predict(vec.transform(te))
        rate.append(len(te) / (time.perf_counter() - t))
        lat = []
        for text in te[:200]:
            t = time.perf_counter()
            clf.predict(vec.transform([text]))
            lat.append((time.perf_counter() - t) * 1e6)
        one.append(statistics.median(lat))
    model, features, ngrams = label
    import sklearn

    print(json.dumps({
        "task": "nb", "dataset": name, "split": "given", "train_rows": len(tr), "test_rows": len(te),
        "classes": sorted(set(ytr)), "prep": "sklearn-default", "config": args.config,
        "pipeline": f"{type(vec).__name__}({vec.get_params()['ngram_range']}) + {type(clf).__name__}",
        "rss_after_load_mb": rss_load, "repeats": args.repeats,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "argv": sys.argv, "versions": {"scikit-learn": sklearn.__version__, "python": sys.version.split()[0]},
        "results": [{"library": "scikit-learn", "model": model, "features": features, "ngrams": ngrams,
                     "column": {"default": None, "count12": "sklearn count 1-2",
                                "best": "sklearn best NB"}[args.config],
                     "accuracy": accuracy_score(yte, pred), "macro_f1": f1_score(yte, pred, average="macro"),
                     "train_s": summarize(train_s), "predict_rows_per_s": summarize(rate),
                     "predict_1row_us": summarize(one), "n_features": len(vec.vocabulary_)}],
    }))


if __name__ == "__main__":
    sys.exit(main())
