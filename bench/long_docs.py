#!/usr/bin/env python3
"""Writes the long-document benchmark sets as CSV files (label,text) outside the repository,
read from the shared IMDB zip at run time (the data's terms forbid copying it into the repo).

  python3 bench/long_docs.py [--data ../shared/data] [--out $TMPDIR/sqlml-long-docs]

Sets (train.csv and test.csv each, the official IMDB train/test halves, members in sorted
path order):
  imdb/            every labelled review, label pos/neg: 25,000 + 25,000, about 1.3 KB each
  imdb-rating-1k/  the reviews of at least 1,000 bytes, label = the star rating from the file
                   name (1-4 and 7-10: 8 classes): 12,150 + 11,882, about 2.0 KB each. The shared
                   data has no long many-class set (no 20 Newsgroups); this one is derived.
Prints the output folder. Does nothing when the files are there and newer than the zip.
"""

import argparse
import csv
import os
import sys
import tempfile
import zipfile

MIN_BYTES = 1000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("BENCH_DATA", os.path.join(here, "..", "..", "shared", "data")))
    ap.add_argument("--out", default=os.environ.get("BENCH_LONG_DOCS",
                                                    os.path.join(tempfile.gettempdir(), "sqlml-long-docs")))
    args = ap.parse_args()
    zpath = os.path.join(args.data, "imdb", "aclImdb_labelled.zip")
    outs = [os.path.join(args.out, s, f"{p}.csv") for s in ("imdb", "imdb-rating-1k") for p in ("train", "test")]
    if all(os.path.exists(p) and os.path.getmtime(p) >= os.path.getmtime(zpath) for p in outs):
        print(args.out)
        return
    with zipfile.ZipFile(zpath) as z:
        names = sorted(n for n in z.namelist()
                       if n.count("/") == 3 and n.split("/")[2] in ("pos", "neg") and n.endswith(".txt"))
        for part in ("train", "test"):
            rows = []
            for n in names:
                _, split, polarity, fname = n.split("/")
                if split != part:
                    continue
                raw = z.read(n)
                rating = fname.rsplit("_", 1)[1][:-4]
                rows.append((polarity, rating, len(raw), raw.decode("utf-8")))
            for name, keep in (("imdb", lambda r: (r[0], r[3])),
                               ("imdb-rating-1k", lambda r: (r[1], r[3]) if r[2] >= MIN_BYTES else None)):
                os.makedirs(os.path.join(args.out, name), exist_ok=True)
                path = os.path.join(args.out, name, f"{part}.csv")
                with open(path + ".tmp", "w", encoding="utf-8", newline="") as fh:
                    w = csv.writer(fh)
                    w.writerow(["label", "text"])
                    for r in rows:
                        k = keep(r)
                        if k:
                            w.writerow(k)
                os.replace(path + ".tmp", path)
    print(args.out)


if __name__ == "__main__":
    sys.exit(main())
