#!/usr/bin/env python3
"""Surprise on the generated MovieLens-1M-shaped split that `bench_rec_large --write-data DIR`
writes (DIR/gen-ml-1m.train.tsv, DIR/gen-ml-1m.test.tsv: user, item, rating per line).

For each algorithm, `fit` on the training rows (`build_full_trainset`, rows in file order, so
inner ids and the starting factors of `random_state=42` are the ones sqlml draws for seed 42),
timed around `algo.fit` alone, then RMSE and MAE of `algo.test` on the test rows.

SVDpp on a million ratings takes Surprise about half an hour per fit (its per-rating update
touches every item the user rated), so by default it runs `--svdpp-epochs` epochs (default 2) and
reports `fit_s_extrapolated` = time x 20 / epochs as the estimate of the default 20-epoch fit, with
its RMSE after those epochs (not comparable); `--svdpp-epochs 20` runs the real thing.

Prints one JSON line per algorithm.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time


def summary(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--name", default="gen-ml-1m")
    ap.add_argument("--algos", default="SVD,SVDpp")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--svdpp-epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import pandas as pd
    from surprise import SVD, Dataset, Reader, SVDpp, accuracy

    def read(part):
        path = os.path.join(args.dir, f"{args.name}.{part}.tsv")
        return pd.read_csv(path, sep="\t", header=None, names=["user", "item", "rating"])

    train_df, test_df = read("train"), read("test")
    scale = (float(min(train_df.rating.min(), test_df.rating.min())),
             float(max(train_df.rating.max(), test_df.rating.max())))
    trainset = Dataset.load_from_df(train_df, Reader(rating_scale=scale)).build_full_trainset()
    testset = list(test_df.itertuples(index=False, name=None))
    for name in [a.strip() for a in args.algos.split(",") if a.strip()]:
        if name == "SVD":
            make, epochs, repeats = (lambda: SVD(random_state=args.seed)), 20, args.repeats
        elif name == "SVDpp":
            epochs = args.svdpp_epochs
            make, repeats = (lambda: SVDpp(random_state=args.seed, n_epochs=epochs)), 1
        else:
            raise SystemExit(f"unknown algorithm {name}")
        times = []
        for _ in range(repeats):
            algo = make()
            t0 = time.perf_counter()
            algo.fit(trainset)
            times.append(time.perf_counter() - t0)
            print(f"{name}: fit {times[-1]:.2f} s", file=sys.stderr)
        preds = algo.test(testset)
        rec = {
            "task": "svd_large", "dataset": args.name, "library": "scikit-surprise", "algo": name,
            "seed": args.seed, "train_rows": len(train_df), "test_rows": len(test_df), "n_epochs": epochs,
            "rmse": accuracy.rmse(preds, verbose=False), "mae": accuracy.mae(preds, verbose=False),
            "fit_s": summary(times),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        if epochs != 20:
            rec["fit_s_extrapolated"] = statistics.median(times) * 20 / epochs
            rec["note"] = f"{epochs} of 20 epochs timed; fit_s_extrapolated = fit_s x 20 / {epochs}; RMSE after {epochs} epochs"
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
