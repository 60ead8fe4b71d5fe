#!/usr/bin/env bash
# Fuzzing sqlml with libFuzzer, built by plain stable `cargo build` (no nightly, no cargo-fuzz):
# the targets are fuzz/fuzz_targets/*.rs, thin calls into src/fuzzing/ (which documents what
# each one feeds and checks); the committed seed corpora are fuzz/corpus/<target>/ (seed-*
# generated, bug-* inputs that once crashed a target).
#
#   scripts/fuzz.sh short                 every target for $FUZZ_SECONDS (default 15) s (CI)
#   scripts/fuzz.sh long SECONDS [T...]   every target (or the targets T) for SECONDS each
#   scripts/fuzz.sh merge [T...]          add the work corpus's new coverage to fuzz/corpus/<T>/
#   scripts/fuzz.sh build                 only build the targets
#   scripts/fuzz.sh seeds                 regenerate fuzz/corpus/*/seed-* (cargo test, ignored test)
#   scripts/fuzz.sh list                  the targets
#
# Prints per target: runs (executions), crashes (panics and aborts), timeouts (an input
# running over $FUZZ_TIMEOUT s), ooms (over $FUZZ_RSS_MB MB), seconds; exits 1 if any target
# had any. Crashing inputs land in fuzz/artifacts/<target>/ (git-ignored): reproduce one by
# running the built target on it (the script prints the command on a failure),
#   ~/.cache/sqlml-fuzz/target/<host triple>/release/<target> fuzz/artifacts/<target>/<file>
# (host triple: `rustc -vV | sed -n 's/^host: //p'`, e.g. x86_64-unknown-linux-gnu), and once
# fixed keep it as fuzz/corpus/<target>/bug-<what> (replayed by `cargo test`).
#
# The build is what `cargo fuzz build` does (rust-fuzz/cargo-fuzz, src/project.rs): RUSTFLAGS
# with the SanitizerCoverage passes libFuzzer reads (8-bit counters, PC table, compare
# tracing, stack depth), `--cfg fuzzing`, debug assertions and overflow checks, a release
# build for the host triple given as --target (so build scripts and proc macros are not
# instrumented). libfuzzer-sys compiles libFuzzer's C++ (a C++ compiler is needed: g++).
# Differences: FUZZ_CGU codegen units (default 16, a faster build; cargo-fuzz's default is 1,
# a few percent faster to run), no debug info, the bundled SQLite (C, not instrumented)
# compiled at -O1 (fuzz/Cargo.toml).
#
# $FUZZ_JOBS targets at a time (default: the CPUs), each in its own process: `short` runs each
# target in one process, which stops at its first crash; `long` uses -fork=1 (a child process
# fuzzes, the parent restarts it after a crash, so one run counts every crash instead of
# stopping at the first). Builds go to
# $SQLML_FUZZ_DIR/target and new inputs to $SQLML_FUZZ_DIR/corpus/<target> (default
# ~/.cache/sqlml-fuzz, kept between runs: the build is incremental and each run starts from
# what earlier runs found; the committed corpus changes only through `merge`).
# No sanitizer by default (safe Rust): FUZZ_SANITIZER=address builds with AddressSanitizer
# (needs the nightly toolchain, -Zsanitizer; into $SQLML_FUZZ_DIR/target-address).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

TARGETS=(envelope decode decode_mutated options tokenize source predict_inputs bundle)
work=${SQLML_FUZZ_DIR:-$HOME/.cache/sqlml-fuzz}
sanitizer=${FUZZ_SANITIZER:-none}
cgu=${FUZZ_CGU:-16}
timeout_s=${FUZZ_TIMEOUT:-10}
rss_mb=${FUZZ_RSS_MB:-2048}
triple=$(rustc -vV | sed -n 's/^host: //p')
started=$(date +%s)
if [ "$sanitizer" = none ]; then target_dir="$work/target"; else target_dir="$work/target-$sanitizer"; fi

usage() { sed -n '7,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

# The flags of `cargo fuzz build` (cargo-fuzz 0.13), all accepted by stable rustc.
rustflags() {
  local f="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
  f+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table"
  f+=" -Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-simplifycfg-branch-fold-threshold=0"
  case "$triple" in *-linux-*) f+=" -Cllvm-args=-sanitizer-coverage-stack-depth" ;; esac
  f+=" --cfg fuzzing -Cdebug-assertions -Coverflow-checks -Ccodegen-units=$cgu"
  [ "$sanitizer" = none ] || f+=" -Zsanitizer=$sanitizer"
  echo "$f${RUSTFLAGS:+ $RUSTFLAGS}"
}

build() {
  local toolchain=()
  if ! command -v "${CXX:-c++}" >/dev/null 2>&1; then
    echo "fuzz.sh: a C++ compiler is needed to build libFuzzer (libfuzzer-sys): apt-get install g++" >&2
    exit 2
  fi
  if [ "$sanitizer" != none ]; then
    if ! cargo +nightly --version >/dev/null 2>&1; then
      echo "fuzz.sh: FUZZ_SANITIZER=$sanitizer needs the nightly toolchain (-Zsanitizer):" \
        "rustup toolchain install nightly, or run without FUZZ_SANITIZER (no sanitizer, stable)" >&2
      exit 2
    fi
    toolchain=(+nightly)
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_odr_violation=0"
  fi
  echo "== building the fuzz targets (sanitizer $sanitizer, $cgu codegen units, in $target_dir)"
  local t0=$(date +%s)
  (cd fuzz && RUSTFLAGS="$(rustflags)" cargo "${toolchain[@]}" build --release --locked \
    --target "$triple" --target-dir "$target_dir" --bins)
  echo "build: $(( $(date +%s) - t0 )) s"
}

bin() { echo "$target_dir/$triple/release/$1"; }

# run TARGET SECONDS MODE: one target; prints its line, sets failed=1 on any
# crash. MODE "plain": one process, which stops at the first crash (short runs); "fork": a
# child process fuzzes and is restarted after a crash, so every crash is counted (long runs).
run() {
  local t=$1 secs=$2 mode=$3 log
  local corpus="$work/corpus/$t" artifacts="$root/fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  log=$(mktemp)
  local opts=(-max_total_time="$secs" -timeout="$timeout_s" -rss_limit_mb="$rss_mb"
    -artifact_prefix="$artifacts/" -print_final_stats=1)
  [ -f "fuzz/dict/$t.dict" ] && opts+=(-dict="fuzz/dict/$t.dict")
  [ "$mode" = fork ] && opts+=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  local before=$(ls "$artifacts" | wc -l)
  local t0=$(date +%s) status=0
  "$(bin "$t")" "$corpus" "fuzz/corpus/$t" "${opts[@]}" >"$log" 2>&1 || status=$?
  local took=$(( $(date +%s) - t0 ))
  local runs crashes=0 timeouts=0 ooms=0 cov
  if [ "$mode" = fork ]; then
    # Status lines: "#RUNS: cov: N ft: ... oom/timeout/crash: O/T/C time: ..."
    local last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
    runs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<<"$last")
    IFS=/ read -r ooms timeouts crashes \
      <<<"$(sed -n 's/.*oom\/timeout\/crash: \([0-9]*\/[0-9]*\/[0-9]*\).*/\1/p' <<<"$last")"
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  else
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # (|| true: a target that dies before its first status line has none; pipefail and set -e)
    cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p' || true)
    if [ "$status" -ne 0 ]; then
      if grep -q 'ERROR: libFuzzer: timeout' "$log"; then timeouts=1
      elif grep -q 'out-of-memory' "$log"; then ooms=1
      else crashes=1; fi
    fi
  fi
  local new=$(( $(ls "$artifacts" | wc -l) - before ))
  if [ -z "$runs" ]; then
    echo "--- $t: no fuzzing statistics; the end of its log:"; tail -30 "$log"
    runs=0; [ $(( crashes + timeouts + ooms )) -eq 0 ] && crashes=1
  fi
  printf '%-15s %12s %8s %9s %5s %8s %6s\n' "$t" "$runs" "${crashes:-0}" "${timeouts:-0}" "${ooms:-0}" \
    "${took}s" "${cov:-?}"
  if [ $(( ${crashes:-0} + ${timeouts:-0} + ${ooms:-0} )) -gt 0 ] || [ "$new" -gt 0 ]; then
    failed=1
    [ "$mode" = plain ] && grep -m1 -A2 -E 'panicked at|ERROR: libFuzzer' "$log" | sed 's/^/    /'
    ls -t "$artifacts" | head -n "$(( new > 0 ? new : 5 ))" | sed "s|^|    fuzz/artifacts/$t/|"
    echo "    reproduce: $(bin "$t") fuzz/artifacts/$t/$(ls -t "$artifacts" | head -1)"
  fi
  rm -f "$log"
}

# fuzz SECONDS MODE [TARGET...]
fuzz() {
  local secs=$1 mode=$2; shift 2
  local targets=("$@")
  [ ${#targets[@]} -eq 0 ] && targets=("${TARGETS[@]}")
  local jobs=${FUZZ_JOBS:-$(nproc)}
  [ "$jobs" -ge 1 ] 2>/dev/null || { echo "fuzz.sh: FUZZ_JOBS must be a number, 1 or more" >&2; exit 2; }
  build
  failed=0
  echo "== fuzzing ${#targets[@]} target(s), ${secs} s each"
  printf '%-15s %12s %8s %9s %5s %8s %6s\n' target runs crashes timeouts ooms time cov
  # FUZZ_JOBS targets at a time (default: the CPUs; each fuzzing process uses one core), each
  # in a subshell whose exit status says whether it failed; their lines are printed in order.
  local pids=() outs=() i k p
  # Stopped (Ctrl-C, a kill), the script stops the running fuzzers too, which would otherwise
  # run on for their seconds (a background job of a script ignores Ctrl-C).
  trap 'for p in "${pids[@]}"; do pkill -TERM -P "$p"; kill "$p"; done 2>/dev/null; exit 130' INT TERM
  for i in "${!targets[@]}"; do
    outs+=("$(mktemp)")
    ( failed=0; run "${targets[$i]}" "$secs" "$mode"; exit "$failed" ) >"${outs[-1]}" 2>&1 &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ] || [ "$i" -eq $(( ${#targets[@]} - 1 )) ]; then
      for k in "${!pids[@]}"; do
        wait "${pids[$k]}" || failed=1
        cat "${outs[$k]}"; rm -f "${outs[$k]}"
      done
      pids=(); outs=()
    fi
  done
  echo "total: $(( $(date +%s) - started )) s including the build"
  if [ "$failed" -ne 0 ]; then
    echo "fuzz.sh: FAILED: a target crashed, timed out or ran out of memory (inputs above)" >&2
    exit 1
  fi
}

case "${1:-}" in
  short) fuzz "${FUZZ_SECONDS:-15}" plain ;;
  long)
    [ $# -ge 2 ] || usage
    secs=$2; shift 2
    fuzz "$secs" fork "$@" ;;
  merge)
    shift
    targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=("${TARGETS[@]}")
    build
    for t in "${targets[@]}"; do
      echo "== merging $work/corpus/$t into fuzz/corpus/$t"
      "$(bin "$t")" -merge=1 "fuzz/corpus/$t" "$work/corpus/$t" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files' || true
    done ;;
  build) build ;;
  seeds)
    SQLML_FUZZ_SEEDS="$root/fuzz/corpus" cargo test --lib fuzzing::tests::write_seed_corpus -- --ignored --exact ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  *) usage ;;
esac
