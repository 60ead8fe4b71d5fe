#!/usr/bin/env python3
"""Surprise's own 5-fold split of MovieLens 100K, for sqlml's side of the comparison.

Runs in the peers' venv (scikit-surprise). Writes, under OUT (default target/bench/folds):

- `train_N.tsv`, `test_N.tsv` (N = 0..4): the folds of `KFold(5, shuffle=True,
  random_state=42)` on `Dataset.load_from_df`, exactly the split the peer script
  `../shared/peers/svd_baseline.py` cross-validates on. Train rows are in the order KFold
  hands them to Surprise, which fixes Surprise's inner ids; ids are the raw ids.
- with `--seeds A..B`: Surprise SVD (defaults, `random_state=seed`) cross-validated on those
  folds for every seed, printed as one JSON line (the seed-to-seed spread of Surprise's RMSE,
  which the single `random_state=42` figure of the peer script cannot show).
- with `--init SEED`: `init_pu_N.f32`, `init_qi_N.f32`, the initial factors Surprise's SVD draws
  with that seed (rows ordered by raw id, little-endian f32), and `init_rmse.json`, the RMSE of
  Surprise's SVD with that seed per fold. `cargo run --release --example svd_same_init` trains
  sqlml's SVD from the same initial factors and compares.

The data is read from `../shared/data` at run time; nothing is copied into the repository.
"""

import argparse
import json
import os
import statistics
import sys

import numpy as np
import pandas as pd
from surprise import SVD, Dataset, Reader, accuracy
from surprise.model_selection import KFold
from surprise.utils import get_rng


def seed_range(text):
    a, _, b = text.partition("..")
    return list(range(int(a), int(b or a) + 1))


def raw_folds(data, n_splits, seed):
    """The raw (train, test) rating lists of KFold(n_splits, shuffle=True, random_state=seed),
    in KFold's order (surprise/model_selection/split.py, 1.1.x)."""
    indices = np.arange(len(data.raw_ratings))
    get_rng(seed).shuffle(indices)
    start = stop = 0
    for fold in range(n_splits):
        start = stop
        stop += len(indices) // n_splits + (1 if fold < len(indices) % n_splits else 0)
        train = [data.raw_ratings[i] for i in list(indices[:start]) + list(indices[stop:])]
        yield train, [data.raw_ratings[i][:3] for i in indices[start:stop]]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ratings", default="../shared/data/ml-100k/u.data")
    ap.add_argument("--out", default="target/bench/folds")
    ap.add_argument("--seeds", type=seed_range, help="e.g. 42..49")
    ap.add_argument("--init", type=int, help="export Surprise's initial factors for this seed")
    args = ap.parse_args()

    df = pd.read_csv(args.ratings, sep="\t", header=None, usecols=[0, 1, 2], names=["user", "item", "rating"])
    data = Dataset.load_from_df(df, Reader(rating_scale=(df.rating.min(), df.rating.max())))
    folds = list(KFold(n_splits=5, random_state=42, shuffle=True).split(data))
    os.makedirs(args.out, exist_ok=True)
    for n, (raw_train, raw_test) in enumerate(raw_folds(data, 5, 42)):
        tr, te = folds[n]
        # The same split as KFold's, row for row (checked), in the order KFold hands the rows to
        # Surprise: its inner ids, and so the rows of its starting factors, follow that order.
        same = data.construct_trainset(raw_train)
        assert list(same.all_ratings()) == list(tr.all_ratings()) and raw_test == te, "KFold changed"
        with open(os.path.join(args.out, f"train_{n}.tsv"), "w") as f:
            f.writelines(f"{u}\t{i}\t{r}\n" for u, i, r, _ in raw_train)
        with open(os.path.join(args.out, f"test_{n}.tsv"), "w") as f:
            f.writelines(f"{u}\t{i}\t{r}\n" for u, i, r in te)
    print(f"wrote {len(folds)} folds to {args.out}", file=sys.stderr)

    if args.init is not None:
        rmse = []
        for n, (tr, te) in enumerate(folds):
            algo = SVD(random_state=args.init)
            # SVD.sgd draws pu then qi from get_rng(random_state) before any update: the same draws.
            rng = get_rng(args.init)
            pu = rng.normal(algo.init_mean, algo.init_std_dev, size=(tr.n_users, algo.n_factors))
            qi = rng.normal(algo.init_mean, algo.init_std_dev, size=(tr.n_items, algo.n_factors))
            users = np.argsort([int(tr.to_raw_uid(u)) for u in range(tr.n_users)], kind="stable")
            items = np.argsort([int(tr.to_raw_iid(i)) for i in range(tr.n_items)], kind="stable")
            pu[users].astype("<f4").tofile(os.path.join(args.out, f"init_pu_{n}.f32"))
            qi[items].astype("<f4").tofile(os.path.join(args.out, f"init_qi_{n}.f32"))
            rmse.append(accuracy.rmse(algo.fit(tr).test(te), verbose=False))
        with open(os.path.join(args.out, "init_rmse.json"), "w") as f:
            json.dump({"seed": args.init, "fold_rmse": rmse, "cv_rmse": statistics.mean(rmse)}, f)

    if args.seeds:
        per_seed = []
        for s in args.seeds:
            rmse = [accuracy.rmse(SVD(random_state=s).fit(tr).test(te), verbose=False) for tr, te in folds]
            per_seed.append(statistics.mean(rmse))
            print(f"seed {s}: {per_seed[-1]:.4f}", file=sys.stderr)
        print(json.dumps({
            "task": "svd", "dataset": "u.data", "library": "scikit-surprise", "algo": "SVD",
            "cv": "KFold(n_splits=5, shuffle=True, random_state=42)", "seeds": args.seeds,
            "cv_rmse_per_seed": per_seed,
            "cv_rmse_seed_mean": statistics.mean(per_seed),
            "cv_rmse_seed_sd": statistics.stdev(per_seed) if len(per_seed) > 1 else 0.0,
        }))


if __name__ == "__main__":
    main()
