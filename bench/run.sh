#!/usr/bin/env bash
# Side-by-side benchmark: the peer baselines (scikit-learn, NLTK, Keras, Surprise) and sqlml's
# bench_* examples, run one after the other in the same invocation, then bench/report.py.
#
#   bench/run.sh [--quick] [--peers-only | --ours-only | --report-only] [nb] [mlp] [svd] [large] [scale] [all]
#
#   --quick        1 repeat instead of 3, and the cheap subset of peer configurations
#                  (no NLTK top-2000 variant, no BaselineOnly / official-split SVD runs)
#   --peers-only   run only the peer baselines (+ report)
#   --ours-only    run only sqlml's examples (+ report against the peer results already there)
#   --report-only  only print the report
#   nb|mlp|svd|large|scale|all tasks (default: all). large: the recommender on a generated
#                MovieLens-1M-shaped set beside Surprise, and a 10k-item catalogue (issue 14);
#                scale: the scaling table of every kind (ours only; the 25M-rating run needs a few GB)
#
# Environment (all optional):
#   PEERS_VENV   peer virtualenv, created with pip if missing (default /tmp/peers)
#   BENCH_OUT    results root (default target/bench): peers in $BENCH_OUT/peers/{nb,mlp,svd}.jsonl,
#                sqlml in $BENCH_OUT/sqlml/bench_*.jsonl, logs in $BENCH_OUT/logs/, $BENCH_OUT/run.json
#   SHARED       the shared folder with peers/ and data/ (default ../shared relative to the repo)
#   BENCH_NICE   niceness for every benchmarked process, peers and ours alike (default 19; 0 = off)
#   REPEATS      override the repeat count
#   CARGO_ARGS   extra arguments for cargo build/run (e.g. "--features bundled")
# Passed to sqlml's examples: BENCH_QUICK=0|1, BENCH_REPEATS=N, BENCH_DATA=<abs path of shared/data>.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

QUICK=0 MODE=both
TASKS=()
for a in "$@"; do
  case "$a" in
    --quick) QUICK=1 ;;
    --peers-only) MODE=peers ;;
    --ours-only) MODE=ours ;;
    --report-only) MODE=report ;;
    nb|mlp|svd|large|scale) TASKS+=("$a") ;;
    all) TASKS=(nb mlp svd large scale) ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "unknown argument: $a (try --help)" >&2; exit 2 ;;
  esac
done
[ ${#TASKS[@]} -eq 0 ] && TASKS=(nb mlp svd large scale)
# de-duplicate, keep order nb mlp svd large scale
SEL=(); for t in nb mlp svd large scale; do for u in "${TASKS[@]}"; do [ "$t" = "$u" ] && { SEL+=("$t"); break; }; done; done
TASKS=("${SEL[@]}")

PEERS_VENV=${PEERS_VENV:-/tmp/peers}
BENCH_OUT=${BENCH_OUT:-target/bench}
SHARED=$(cd "${SHARED:-$ROOT/../shared}" 2>/dev/null && pwd) || { echo "shared folder not found: ${SHARED:-$ROOT/../shared}" >&2; exit 1; }
DATA=$SHARED/data
PEERS=$SHARED/peers
NICE=${BENCH_NICE:-19}
if [ "$QUICK" = 1 ]; then REPEATS=${REPEATS:-1}; else REPEATS=${REPEATS:-3}; fi
mkdir -p "$BENCH_OUT/peers" "$BENCH_OUT/sqlml" "$BENCH_OUT/logs"
OUTP=$(cd "$BENCH_OUT/peers" && pwd)
OUTS=$(cd "$BENCH_OUT/sqlml" && pwd)
LOGS=$(cd "$BENCH_OUT/logs" && pwd)
FOLDS=$(cd "$BENCH_OUT" && pwd)/folds  # Surprise's ml-100k folds, written by bench/surprise_folds.py
PY=$PEERS_VENV/bin/python
export TF_CPP_MIN_LOG_LEVEL=3
# The scaling table is of the default options (bench_scale reads other options from it).
unset BENCH_SCALE_OPTIONS

TIMEFORMAT='%R %U %S'
PROC=$BENCH_OUT/processes.tsv  # task side wall_s cpu_s what: CPU share = cpu/wall shows contention
record() {  # record <task> <side> <timefile> <what>
  local w u s; read -r w u s <"$3" 2>/dev/null || return 0
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$w" "$(echo "$u $s" | awk '{printf "%.3f", $1 + $2}')" "$4" >>"$PROC"
}
nice_run() { if [ "$NICE" != 0 ]; then nice -n "$NICE" "$@"; else "$@"; fi; }
stamp() { date '+%Y-%m-%dT%H:%M:%S%z'; }
log() { echo "[$(date +%T)] $*" >&2; }

# ------------------------------------------------------------------ peer venv
ensure_venv() {
  if [ -x "$PY" ] && "$PY" -c "import sklearn, nltk, surprise, pandas" 2>/dev/null; then
    if [[ " ${TASKS[*]} " != *" mlp "* ]] || "$PY" -c "import keras, tensorflow" 2>/dev/null; then return 0; fi
  fi
  log "creating peer venv in $PEERS_VENV (scikit-learn nltk scikit-surprise pandas tensorflow-cpu)"
  [ -x "$PY" ] || /usr/bin/python3 -m venv "$PEERS_VENV" || { echo "venv creation failed" >&2; return 1; }
  "$PEERS_VENV/bin/pip" install -q scikit-learn nltk scikit-surprise pandas tensorflow-cpu \
    || { echo "pip install into $PEERS_VENV failed" >&2; return 1; }
}

# ------------------------------------------------------------------ peers
FAILED=0
prun() {  # prun <task> <script> <args...>: one process per library, one JSON line appended
  local task=$1 script=$2; shift 2
  local lg="$LOGS/peer-$task-$(date +%s%N).log" t0=$SECONDS tf rc path=$script
  [[ $script == */* ]] || path=peers/$script  # a peer of ../shared/peers, or a path (bench/...)
  tf=$(mktemp)
  log "peer $task: $script $*"
  { time { (cd "$SHARED" && nice_run "$PY" "$path" "$@") >>"$OUTP/$task.jsonl" 2>"$lg"; }; } 2>"$tf"
  rc=$?
  record "$task" peer "$tf" "$script $*"; rm -f "$tf"
  if [ "$rc" = 0 ]; then
    log "  ok in $((SECONDS - t0)) s"
  else
    log "  FAILED rc=$rc (see $lg)"; tail -3 "$lg" >&2; FAILED=1
  fi
}

fresh() {  # keep the previous results as <task>.prev.jsonl: one results file = one run
  [ -s "$OUTP/$1.jsonl" ] && mv "$OUTP/$1.jsonl" "$OUTP/$1.prev.jsonl"
  : >"$OUTP/$1.jsonl"
}

peers_nb() {
  fresh nb
  local sms=(--csv data/sms-spam/SMSSpamCollection --sep '\t' --no-header --label-col 0 --text-col 1 --quoting none)
  local top=2000; [ "$QUICK" = 1 ] && top=0
  prun nb nb_baseline.py "${sms[@]}" --lib nltk --nltk-top $top --repeats "$REPEATS"
  prun nb nb_baseline.py "${sms[@]}" --lib sklearn --repeats "$REPEATS"
  # sklearn's own analyzer on the raw texts: the strict reading of "CountVectorizer+MultinomialNB fit"
  prun nb nb_baseline.py "${sms[@]}" --lib sklearn --prep sklearn --repeats "$REPEATS"
  prun nb nb_baseline.py --train data/banking77/train.csv --test data/banking77/test.csv --text-col text \
    --label-col category --lib nltk --nltk-top 0 --repeats "$REPEATS"
  prun nb nb_baseline.py --train data/banking77/train.csv --test data/banking77/test.csv --text-col text \
    --label-col category --lib sklearn --nltk-top 0 --repeats "$REPEATS"
  prun nb nb_baseline.py --train data/banking77/train.csv --test data/banking77/test.csv --text-col text \
    --label-col category --lib sklearn --prep sklearn --nltk-top 0 --repeats "$REPEATS"
  prun nb nb_baseline.py --csv data/chinese-sentiment/ChnSentiCorp_htl_all.csv --text-col review --label-col label \
    --tokenizer chars --stemmer none --lib all --nltk-top 0 --repeats "$REPEATS"
  # Long documents (issue 14): IMDB reviews and their star ratings, CSVs written outside the
  # repository by bench/long_docs.py; scikit-learn's default pipeline and its best NB found,
  # one process each (peak memory).
  local long
  if long=$(python3 "$ROOT/bench/long_docs.py" --data "$DATA"); then
    for set in imdb imdb-rating-1k; do
      for cfg in default best; do
        prun nb "$ROOT/bench/nb_long_peer.py" --set "$long/$set" --config $cfg --repeats "$REPEATS"
      done
    done
  else
    log "  bench/long_docs.py FAILED"; FAILED=1
  fi
}

peers_mlp() {
  fresh mlp
  for lib in sklearn keras; do
    prun mlp mlp_baseline.py --csv data/telco-churn/Telco-Customer-Churn.csv --target Churn --lib $lib --repeats "$REPEATS"
    prun mlp mlp_baseline.py --csv data/bank-marketing/bank-additional.zip --zip-member bank-additional/bank-full.csv \
      --sep ';' --target y --drop duration --lib $lib --repeats "$REPEATS"
  done
}

peers_svd() {
  fresh svd
  local algos=(SVD BaselineOnly SVDpp); [ "$QUICK" = 1 ] && algos=(SVD SVDpp)
  for a in "${algos[@]}"; do
    prun svd svd_baseline.py --ratings data/ml-100k/u.data --algos $a --repeats "$REPEATS"
  done
  # Surprise's own folds for our side (BENCH_FOLDS), its starting factors for seed 42
  # (examples/svd_same_init.rs), and its RMSE over training seeds 42..49 on those folds.
  fresh svd_seeds
  local seeds=(--seeds 42..49); [ "$QUICK" = 1 ] && seeds=()
  log "peer svd: bench/surprise_folds.py ${seeds[*]}"
  if ! nice_run "$PY" bench/surprise_folds.py --ratings "$DATA/ml-100k/u.data" --out "$FOLDS" --init 42 \
    "${seeds[@]}" >>"$OUTP/svd_seeds.jsonl" 2>"$LOGS/peer-svd-folds.log"; then
    log "  FAILED (see $LOGS/peer-svd-folds.log)"; FAILED=1
  fi
}

GEN=$(cd "$BENCH_OUT" && pwd)/generated  # generated rating sets (bench_rec_large --write-data)

peers_large() {  # Surprise on the generated MovieLens-1M-shaped split that our example writes
  fresh large
  log "peer large: cargo run --release --example bench_rec_large -- --write-data $GEN"
  # shellcheck disable=SC2086
  if ! nice_run cargo run -q --release --example bench_rec_large ${CARGO_ARGS:-} -- --write-data "$GEN" \
    >"$LOGS/generate-large.log" 2>&1; then
    log "  FAILED (see $LOGS/generate-large.log)"; FAILED=1; return 0
  fi
  local algos=SVD,SVDpp; [ "$QUICK" = 1 ] && algos=SVD
  local tf rc; tf=$(mktemp)
  log "peer large: bench/surprise_generated.py --algos $algos"
  { time { nice_run "$PY" bench/surprise_generated.py --dir "$GEN" --algos $algos --repeats "$REPEATS" \
    >>"$OUTP/large.jsonl" 2>"$LOGS/peer-large.log"; }; } 2>"$tf"
  rc=$?
  record large peer "$tf" "surprise_generated.py"; rm -f "$tf"
  [ "$rc" = 0 ] || { log "  FAILED (see $LOGS/peer-large.log)"; FAILED=1; }
}

peers_scale() { :; }  # no peers: the scaling table is sqlml's own

# ------------------------------------------------------------------ ours
example_exists() {
  [ -f "examples/$1.rs" ] || [ -f "examples/$1/main.rs" ] || grep -q "name *= *\"$1\"" Cargo.toml 2>/dev/null
}

ours() {  # ours <task> <example>
  local task=$1 ex=$2 out="$OUTS/$2.jsonl" lg="$LOGS/$2.log" t0=$SECONDS
  if ! example_exists "$ex"; then
    log "sqlml $task: example '$ex' not found (examples/$ex.rs): SKIPPED, no sqlml figures for $task"
    return 0
  fi
  log "sqlml $task: cargo build --release --example $ex"
  # shellcheck disable=SC2086
  if ! nice_run cargo build --release --example "$ex" ${CARGO_ARGS:-} >"$lg" 2>&1; then
    log "  BUILD FAILED (see $lg)"; tail -5 "$lg" >&2; FAILED=1; return 0
  fi
  log "sqlml $task: cargo run --release --example $ex"
  [ -s "$out" ] && mv "$out" "$OUTS/$ex.prev.jsonl"
  # shellcheck disable=SC2086
  local tf; tf=$(mktemp)
  # shellcheck disable=SC2086
  local folds=; [ -s "$FOLDS/train_0.tsv" ] && folds=$FOLDS
  { time { BENCH_QUICK=$QUICK BENCH_REPEATS=$REPEATS BENCH_DATA=$DATA BENCH_FOLDS=$folds \
    nice_run cargo run -q --release --example "$ex" ${CARGO_ARGS:-} 2>>"$lg" | grep '^[[:space:]]*{' >"$out"; }; } 2>"$tf"
  local rc=${PIPESTATUS[0]}
  record "$task" sqlml "$tf" "$ex"; rm -f "$tf"
  if [ "$rc" != 0 ]; then log "  example exited with $rc (see $lg)"; tail -5 "$lg" >&2; FAILED=1; fi
  log "  $(wc -l <"$out") JSON line(s) -> $out in $((SECONDS - t0)) s"
}

# ------------------------------------------------------------------ main
# (one function, parsed whole before it runs: editing this file during a run is then harmless)
main() {
  START=$(stamp)
  [ "$MODE" != report ] && : >"$PROC"
  LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
  if [ "$MODE" = both ] || [ "$MODE" = peers ]; then
    ensure_venv || exit 1
  fi
  declare -A EX=([nb]=bench_text [mlp]=bench_mlp [svd]=bench_recommender [large]=bench_rec_large [scale]=bench_scale)
  for t in "${TASKS[@]}"; do
    [ "$MODE" = report ] && break
    t0=$SECONDS
    if [ "$MODE" = both ] || [ "$MODE" = peers ]; then "peers_$t"; fi
    if [ "$MODE" = both ] || [ "$MODE" = ours ]; then
      ours "$t" "${EX[$t]}"
      if [ "$t" = svd ] && [ -s "$FOLDS/init_rmse.json" ]; then ours svd svd_same_init; fi
    fi
    log "task $t done in $((SECONDS - t0)) s"
  done
  if [ "$MODE" != report ]; then
    GIT=$(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo "+dirty")
    printf '{"started":"%s","finished":"%s","quick":%s,"tasks":"%s","mode":"%s","repeats":%s,"nice":%s,"git":"%s","loadavg_start":"%s","loadavg_end":"%s","cpus":%s}\n' \
      "$START" "$(stamp)" "$([ "$QUICK" = 1 ] && echo true || echo false)" "${TASKS[*]}" "$MODE" "$REPEATS" "$NICE" \
      "$GIT" "$LOAD0" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" "$(nproc)" >"$BENCH_OUT/run.json"
  fi
  TL=$(IFS=,; echo "${TASKS[*]}")
  python3 bench/report.py --peers "$OUTP" --ours "$OUTS" --tasks "$TL" | tee "$BENCH_OUT/report.md"
  log "report written to $BENCH_OUT/report.md"
  return $FAILED
}
main; exit $?
