#!/usr/bin/env bash
# Miri over the classifier's two-core step (src/models/mlp/two_cores.rs: raw slices shared by
# two threads), under Miri's borrow and data-race checks, with two CPUs and deterministic
# floating point (Miri otherwise varies exp() and the like in their last bits, which the
# bit-identity test would report). About a minute after the first build (a few minutes).
# Not part of scripts/test.sh. Usage: scripts/miri.sh [TEST FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "miri skipped: no Miri for the nightly toolchain (rustup +nightly component add miri rust-src)"
  exit 0
fi
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-num-cpus=2 -Zmiri-deterministic-floats}"
CARGO_TARGET_DIR="${MIRI_TARGET_DIR:-target/miri}" cargo +nightly miri test --lib -- "${1:-models::mlp::two_cores::}"
