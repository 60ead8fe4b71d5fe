#!/usr/bin/env bash
# sqlml on a 3-voter dqlite cluster on 127.0.0.1, checked end to end (issue 15):
#   1. three nodes with the key in their environment form a cluster; a table of each kind is
#      created and filled and one model of each kind is trained through the leader;
#   2. every node's own copy holds identical model bytes, and predictions through the cluster
#      equal those of a plain sqlite3 copy of each node's database;
#   3. kill -9 of the leader: a new leader serves byte-identical predictions within the
#      failover limit; an in-flight training on a killed leader is lost, nothing else;
#   4. retraining with one node down; the node restarts on its directory and catches up; a
#      full restart of every node from disk keeps the active versions;
#   5. the longest training that stays well under the election timeout (timed on a copy
#      first) runs on the cluster; a longer one costs its node the leadership and its COMMIT
#      fails, with an outcome Raft decides later, the same on every node (such trainings
#      belong on a copy elsewhere, brought in with ml_export/ml_import).
#
# Usage: examples/cluster/run.sh [--failovers N] [--probe-autocommit] [--keep]
#   --failovers N       repeat check 3's kill/failover N times (min/median/max are printed)
#   --probe-autocommit  afterwards, send an autocommit SELECT ml_train(...) to the leader and
#                       report what dqlite does with it (evidence for docs/deployment.md)
#   --keep              keep the run directory (node logs, data, copies)
# Needs (installs nothing): cc, libdqlite-dev, go, golang-github-canonical-go-dqlite-dev,
# go-dqlite (the dqlite shell), sqlite3, cargo (unless SQLML_EXT names a built extension).
# Ends with "N passed, N failed" and exits 0 only if nothing failed.
# Environment: SQLML_EXT (the extension; built with cargo when unset), SQLML_LATENCY_MS
# (default 50: election timeout 15 x = 750 ms), FAILOVER_LIMIT_MS (default 5000).
set -uo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BUILD="$ROOT/target/cluster"
FAILOVERS=1
PROBE=0
KEEP=0
while [ $# -gt 0 ]; do
	case "$1" in
	--failovers) FAILOVERS="$2"; shift 2 ;;
	--probe-autocommit) PROBE=1; shift ;;
	--keep) KEEP=1; shift ;;
	*) echo "usage: $0 [--failovers N] [--probe-autocommit] [--keep]" >&2; exit 2 ;;
	esac
done
export SQLML_LATENCY_MS="${SQLML_LATENCY_MS:-50}"
ELECTION_MS=$((SQLML_LATENCY_MS * 15))
FAILOVER_LIMIT_MS="${FAILOVER_LIMIT_MS:-5000}"
export SQLML_KEY="cluster example passphrase"
T_START=$(date +%s%N)

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL $*"; }
note() { echo "     $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ] && exit 0 || exit 1
}

# ---- prerequisites and builds ---------------------------------------------------------------
missing=()
command -v cc >/dev/null || missing+=("cc (gcc)")
[ -f /usr/include/dqlite.h ] || missing+=("dqlite.h (apt: libdqlite-dev)")
command -v go >/dev/null || missing+=("go (apt: golang-go)")
[ -d /usr/share/gocode/src/github.com/canonical/go-dqlite ] ||
	missing+=("go-dqlite sources (apt: golang-github-canonical-go-dqlite-dev)")
command -v sqlite3 >/dev/null || missing+=("sqlite3 (apt: sqlite3)")
command -v dqlite >/dev/null || missing+=("the dqlite shell (apt: go-dqlite)")
if [ ${#missing[@]} -gt 0 ]; then
	printf 'missing: %s\n' "${missing[@]}"
	fail "prerequisites (installed by .ci/run)"
	finish
fi

mkdir -p "$BUILD"
EXT_SRC="${SQLML_EXT:-}"
if [ -n "$EXT_SRC" ] && [ ! -f "$EXT_SRC" ] && [ -f "$EXT_SRC.so" ]; then EXT_SRC="$EXT_SRC.so"; fi
if [ -z "$EXT_SRC" ]; then
	echo "== cargo build --release -p sqlml-ext"
	(cd "$ROOT" && cargo build --release -p sqlml-ext) || { fail "build the extension"; finish; }
	EXT_SRC="$ROOT/target/release/libsqlml0.so"
fi
[ -f "$EXT_SRC" ] || { fail "no extension at $EXT_SRC"; finish; }

NODE="$BUILD/sqlml-node"
CTL="$BUILD/sqlml-ctl"
if [ ! -x "$NODE" ] || [ "$HERE/node.c" -nt "$NODE" ]; then
	echo "== cc node.c"
	cc -O2 -Wall -Wextra -o "$NODE" "$HERE/node.c" -ldqlite -lsqlite3 -ldl -lpthread ||
		{ fail "build sqlml-node"; finish; }
fi
if [ ! -x "$CTL" ] || [ "$HERE/ctl/main.go" -nt "$CTL" ]; then
	echo "== go build ctl (GOPATH mode on Debian's go-dqlite)"
	[ -n "${HOME:-}" ] || export GOCACHE="$BUILD/go-cache"
	(cd "$HERE" && GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= \
		go build -tags libsqlite3 -o "$CTL" ./ctl) || { fail "build sqlml-ctl"; finish; }
fi

RUN="$(mktemp -d "${TMPDIR:-/tmp}/sqlml-cluster.XXXXXX")"
# The nodes load a private copy: other builds may replace target/release while they run.
EXT="$RUN/libsqlml0.so"
cp "$EXT_SRC" "$EXT"

STARTS=()
PIDS=()     # every process this script starts, by PID
NODE_PID=() # the running node of each id (1..3), or empty
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for pid in "${PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "$KEEP" -eq 1 ] || [ "$FAILED" -gt 0 ]; then
		echo "run directory kept: $RUN"
	else
		rm -rf "$RUN"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read -r P1 P2 P3 <<<"$("$CTL" freeports 3 | tr '\n' ' ')"
ADDR=("" "127.0.0.1:$P1" "127.0.0.1:$P2" "127.0.0.1:$P3")
ALL="${ADDR[1]},${ADDR[2]},${ADDR[3]}"
echo "== nodes on $ALL (election timeout $ELECTION_MS ms), run directory $RUN"

start_node() { # id: start the node on its directory and wait until it listens
	local i=$1 t n
	"$NODE" "$i" "${ADDR[$i]}" "$RUN/n$i" "$EXT" >>"$RUN/n$i.log" 2>&1 &
	NODE_PID[$i]=$!
	PIDS+=($!)
	for t in $(seq 100); do
		n=$(grep -c '^ready' "$RUN/n$i.log" 2>/dev/null)
		if [ "${n:-0}" -ge "${STARTS[$i]:-1}" ]; then
			STARTS[$i]=$((${STARTS[$i]:-1} + 1))
			return 0
		fi
		kill -0 "${NODE_PID[$i]}" 2>/dev/null || break
		sleep 0.05
	done
	echo "node $i did not start:"; tail -5 "$RUN/n$i.log"
	return 1
}
kill_node() { # id: kill -9, as a crash would
	local i=$1
	kill -KILL "${NODE_PID[$i]}" 2>/dev/null
	wait "${NODE_PID[$i]}" 2>/dev/null
	NODE_PID[$i]=""
}
node_of() { # address -> id
	local i
	for i in 1 2 3; do [ "${ADDR[$i]}" = "$1" ] && echo "$i"; done
}
csql() { "$CTL" sql -c "$ALL" -db app.db "$@"; }                        # through the leader
tsql() { csql "BEGIN" "$1" "COMMIT"; }                                    # a write-side call: in a transaction
lsql() { local db=$1; shift; sqlite3 -batch -noheader -list -cmd ".load $EXT" "$db" "$@"; } # plain sqlite3
copy_of() { # id out: that node's own copy of the database, as a plain SQLite file
	rm -f "$2" "$2-wal" "$2-shm"
	"$CTL" dump "${ADDR[$1]}" app.db "$2"
}
sum() { sha256sum | cut -c1-16; }
errof() { tail -1 "$1" | sed -E 's/ \(budget [^)]*\)//; s/^sqlml-ctl sql: //; s/^([A-Z]+) [^:]*:/\1 ...:/'; }

MODELS_SQL="SELECT name, version, active, hex(model) FROM ml_models ORDER BY name, version"
ACTIVE_SQL="SELECT group_concat(v, ', ') FROM (SELECT name || ' v' || version AS v FROM ml_models WHERE active ORDER BY name)"
PRED_SQL="SELECT 't', id, ml_predict('router', body), ml_predict_proba('router', body) FROM tickets WHERE id % 10 = 0
UNION ALL SELECT 'c', id, ml_predict('churn', tenure, plan, monthly_spend), ml_predict_proba('churn', tenure, plan, monthly_spend) FROM customers WHERE id % 25 = 0
UNION ALL SELECT 'r', user, item, printf('%.17g', ml_predict('recs', user, item)) FROM ratings WHERE rowid % 60 = 0
UNION ALL SELECT 'k', u.user, r.item, printf('%.17g', r.score) FROM (SELECT DISTINCT user FROM ratings WHERE user % 30 = 0) u, ml_recommend('recs', u.user, 5) r"

# That node's own copy of the database in $2, once it holds the cluster's model bytes $3: a
# follower applies a committed entry when the next heartbeat tells it the entry is committed,
# so its copy may trail the leader's by a heartbeat. 20 s at most.
caught_up_copy() {
	local t
	for t in $(seq 100); do
		if copy_of "$1" "$2" 2>/dev/null && [ "$(lsql "$2" "$MODELS_SQL" 2>/dev/null | sum)" = "$3" ]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
# Every node's copy: identical model bytes, and predictions equal to the cluster's ($1).
# Prints a failure reason, returns non-zero on mismatch.
compare_copies() {
	local want_pred=$1 nodes=$2 i cl_models
	cl_models=$(csql "$MODELS_SQL" | sum) || { echo "cluster: cannot read ml_models"; return 1; }
	for i in $nodes; do
		caught_up_copy "$i" "$RUN/copy$i.db" "$cl_models" ||
			{ echo "node $i: its copy never held the cluster's model bytes"; return 1; }
		[ "$(lsql "$RUN/copy$i.db" "$PRED_SQL" | sum)" = "$want_pred" ] ||
			{ echo "node $i: a plain sqlite3 copy predicts differently"; return 1; }
	done
}
wait_caught_up() { # id: until that node's copy holds the cluster's models
	caught_up_copy "$1" "$RUN/catch$1.db" "$(csql "$MODELS_SQL" | sum)"
}

# ---- 1. form the cluster, fill tables, train one model of each kind -------------------------
T0=$(now_ms)
ok=1
start_node 1 || ok=0
[ $ok = 1 ] && start_node 2 && start_node 3 || ok=0
[ $ok = 1 ] && "$CTL" join -c "$ALL" 2 "${ADDR[2]}" && "$CTL" join -c "$ALL" 3 "${ADDR[3]}" || ok=0
FORM_MS=$(($(now_ms) - T0))
voters=$("$CTL" cluster -c "$ALL" 2>/dev/null | grep -c '|voter$')
if [ $ok = 1 ] && [ "$voters" = 3 ]; then
	pass "1 three voters formed a cluster in $FORM_MS ms (node starts, bootstrap, ADD+ASSIGN x2)"
else
	fail "1 cluster formation (voters: $voters)"; finish
fi

csql "CREATE TABLE tickets(id INTEGER PRIMARY KEY, body TEXT, queue TEXT)" \
	"INSERT INTO tickets(body, queue) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
	 SELECT CASE i % 3 WHEN 0 THEN 'I was charged twice on invoice ' || i || ', please refund'
	                   WHEN 1 THEN 'the app crashes when I open the settings screen ' || (i % 7)
	                   ELSE 'how do I change the delivery address of order ' || i END,
	        CASE i % 3 WHEN 0 THEN 'billing' WHEN 1 THEN 'bugs' ELSE 'shipping' END FROM n" \
	"CREATE TABLE customers(id INTEGER PRIMARY KEY, tenure INTEGER, plan TEXT, monthly_spend REAL, churned TEXT)" \
	"INSERT INTO customers(tenure, plan, monthly_spend, churned)
	 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
	 SELECT (i * 37) % 72, CASE (i * 11) % 3 WHEN 0 THEN 'basic' WHEN 1 THEN 'plus' ELSE 'pro' END,
	        20 + ((i * 53) % 100) * 0.8,
	        CASE WHEN (i * 37) % 72 < 12 AND (i * 11) % 3 = 0 THEN 'yes' WHEN (i * 7) % 10 = 0 THEN 'yes' ELSE 'no' END
	 FROM n" \
	"CREATE TABLE ratings(user INTEGER, item INTEGER, rating REAL)" \
	"INSERT INTO ratings WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 5999)
	 SELECT i / 20, (i * 7 + i / 20 * 13) % 400, 1 + ((i / 20) % 5 + ((i * 7 + i / 20 * 13) % 400) % 3) % 5 FROM n" \
	>/dev/null || fail "1 create and fill the tables"

ROUTER="ml_train('router', 'text', 'tickets', 'queue', json_object('text', 'body'))"
CHURN="ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id')))"
RECS="ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 20))"
# The text model through the dqlite shell (it wraps each statement in BEGIN ... COMMIT), the
# others through go-dqlite's driver with an explicit transaction.
versions=$(dqlite -s "$ALL" app.db "SELECT json_extract($ROUTER, '\$.version')" 2>&1)
for call in "$CHURN" "$RECS"; do
	v=$(tsql "SELECT json_extract($call, '\$.version')") || { fail "1 $call"; continue; }
	versions="$versions$v"
done
active=$(csql "$ACTIVE_SQL" 2>&1)
if [ "$versions" = "111" ] && [ "$active" = "churn v1, recs v1, router v1" ]; then
	pass "1 one model of each kind trained through the leader (text from the dqlite shell, the others as BEGIN; SELECT ml_train(...); COMMIT): $active"
else
	fail "1 training through the leader: versions '$versions', active '$active'"
fi

# ---- 2. identical bytes on every node; the cluster predicts as a plain sqlite3 copy ---------
BASE=$(csql "$PRED_SQL" | sum)
rows=$(csql "$PRED_SQL" | wc -l)
why=$(compare_copies "$BASE" "1 2 3"); same=$?
for i in 1 2 3; do cp "$RUN/copy$i.db" "$RUN/d$i.db"; cp "$RUN/copy$i.db-wal" "$RUN/d$i.db-wal" 2>/dev/null; done
dumps=$(for i in 1 2 3; do sqlite3 "$RUN/d$i.db" .dump | sum; done | sort -u | wc -l)
if [ "$same" = 0 ] && [ "$rows" -gt 100 ] && [ "$dumps" = 1 ]; then
	pass "2 every node's copy has the same model bytes (and the same .dump); $rows predictions through the cluster equal each plain sqlite3 copy's"
else
	fail "2 copies: $why (prediction rows $rows, distinct dumps $dumps)"
fi

# The classifier's time per epoch, measured on a plain copy (elsewhere), for checks 3b and 5.
cal=$(lsql "$RUN/d1.db" "SELECT json_extract(ml_train('cal', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', 50)), '\$.seconds')")
EPOCH_MS=$(awk -v s="${cal:-1}" 'BEGIN { v = s * 1000 / 50; if (v < 0.5) v = 0.5; printf "%.2f", v }')
note "calibration on a copy: 50 classifier epochs in ${cal:-?} s, ${EPOCH_MS} ms per epoch"
epochs_for() { awk -v ms="$1" -v e="$EPOCH_MS" 'BEGIN { n = int(ms / e); if (n < 1) n = 1; print n }'; }

# ---- 3. kill -9 of the leader; a new leader answers identically ------------------------------
times=()
for run in $(seq "$FAILOVERS"); do
	old=$("$CTL" leader -c "$ALL") || { fail "3 no leader before the kill"; break; }
	k=$(node_of "$old")
	T0=$(now_ms)
	kill_node "$k"
	out=$(csql -retry 30s "$PRED_SQL" 2>"$RUN/failover.err")
	ms=$(($(now_ms) - T0))
	new=$("$CTL" leader -c "$ALL" 2>/dev/null)
	times+=("$ms")
	if [ "$(printf '%s\n' "$out" | sum)" = "$BASE" ] && [ -n "$new" ] && [ "$new" != "$old" ] &&
		[ "$ms" -le "$FAILOVER_LIMIT_MS" ]; then
		pass "3 kill -9 of leader node $k: node $(node_of "$new") leads and answers byte-identical predictions $ms ms after the kill (limit $FAILOVER_LIMIT_MS)"
	else
		fail "3 failover run $run: $ms ms, new leader '$new' (old $old): $(tail -1 "$RUN/failover.err")"
	fi
	if [ "$run" -lt "$FAILOVERS" ]; then
		start_node "$k" && wait_caught_up "$k" || fail "3 node $k restarted for the next run did not catch up"
	fi
done
if [ "${#times[@]}" -gt 0 ]; then
	sorted=($(printf '%s\n' "${times[@]}" | sort -n))
	n=${#sorted[@]}
	if [ $((n % 2)) = 1 ]; then med=${sorted[$((n / 2))]}; else med=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2)); fi
	note "failover over $n run(s), ms: min ${sorted[0]}, median $med, max ${sorted[$((n - 1))]} (${times[*]})"
fi
DOWN=$k

# ---- 4. retrain with one node down; it restarts and catches up --------------------------------
ROUTER2="ml_train('router', 'text', 'tickets', 'queue', json_object('text', 'body', 'ngrams', 1))"
CHURN2="ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'seed', 7))"
RECS2="ml_train('recs', 'recommender', 'ratings', 'rating', json_object('n_factors', 10))"
versions=""
for call in "$ROUTER2" "$CHURN2" "$RECS2"; do
	v=$(tsql "SELECT json_extract($call, '\$.version')") || { fail "4 with node $DOWN down: $call"; continue; }
	versions="$versions$v"
done
BASE2=$(csql "$PRED_SQL" | sum)
up=$(for i in 1 2 3; do [ "$i" != "$DOWN" ] && echo "$i"; done | tr '\n' ' ')
if [ "$versions" = "222" ] && [ "$BASE2" != "$BASE" ] && why=$(compare_copies "$BASE2" "$up"); then
	pass "4 retrained all three kinds with node $DOWN down (version 2 of each, on both live nodes)"
else
	fail "4 retrain with node $DOWN down: versions '$versions' $why"
fi
if start_node "$DOWN" && wait_caught_up "$DOWN" && why=$(compare_copies "$BASE2" "$DOWN"); then
	pass "4 node $DOWN restarted on its directory and caught up (same model bytes, same predictions)"
else
	fail "4 node $DOWN catching up: $why"
fi

# ---- 3b. a training in flight when its leader is killed ---------------------------------------
before=$(csql "$MODELS_SQL" | sum)
old=$("$CTL" leader -c "$ALL")
k=$(node_of "$old")
E=$(epochs_for 1000)
csql "BEGIN" "SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', $E))" "COMMIT" \
	>"$RUN/inflight.out" 2>"$RUN/inflight.err" &
client=$!
PIDS+=($client)
sleep 0.3
kill_node "$k"
wait "$client"
rc=$?
err=$(errof "$RUN/inflight.err")
after=$(csql -retry 30s "$MODELS_SQL" 2>/dev/null | sum)
active=$(csql "$ACTIVE_SQL")
if [ "$rc" != 0 ] && [ "${err#SELECT}" != "$err" ] && [ "$after" = "$before" ] && [ "$active" = "churn v2, recs v2, router v2" ]; then
	pass "3b leader node $k killed 0.3 s into a training of $E epochs: the client's SELECT ml_train failed ($err), no version 3 anywhere, churn v2 still active"
else
	fail "3b in-flight training: client rc $rc ($err), models changed: $([ "$after" = "$before" ] && echo no || echo yes), active: $active"
fi
start_node "$k" && wait_caught_up "$k" || fail "3b node $k did not catch up after restart"

# ---- 4. full restart from disk ---------------------------------------------------------------
for i in 1 2 3; do kill_node "$i"; done
T0=$(now_ms)
ok=1
for i in 1 2 3; do start_node "$i" || ok=0; done
"$CTL" leader -c "$ALL" >/dev/null || ok=0
RESTART_MS=$(($(now_ms) - T0))
active=$(csql "$ACTIVE_SQL")
if [ $ok = 1 ] && [ "$active" = "churn v2, recs v2, router v2" ] && [ "$(csql "$PRED_SQL" | sum)" = "$BASE2" ]; then
	pass "4 kill -9 of all three nodes, restart from their directories: leader in $RESTART_MS ms, active versions kept ($active), same predictions"
else
	fail "4 full restart from disk: active '$active'"
fi

# ---- 5. the training-time rule -------------------------------------------------------------
# A long training belongs on a copy, brought in with ml_export/ml_import as one short write
# (docs/deployment.md; not run here: a statement carrying a bundle of ~70 KB as an X'..' literal
# did not complete through this go-dqlite client in 60 s). What runs on the cluster is the longest training that stays well under the
# election timeout: timed first on a plain copy (a new connection, the key derived, the source
# read, the fit, the write), and run on the cluster only if it took at most a third of the
# timeout. A longer one is shown to be lost.
BUDGET=$((ELECTION_MS / 3))
E=$(epochs_for "$BUDGET")
for try in 1 2 3 4 5; do
	copy_of 1 "$RUN/five.db"
	T0=$(now_ms)
	lsql "$RUN/five.db" "SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', $E))" >/dev/null
	W=$(($(now_ms) - T0))
	[ "$W" -le "$BUDGET" ] && break
	E=$((E * BUDGET * 8 / 10 / W)); [ "$E" -ge 1 ] || E=1
done
old=$("$CTL" leader -c "$ALL")
T0=$(now_ms)
v=$(tsql "SELECT json_extract(ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', $E)), '\$.version')")
ms=$(($(now_ms) - T0))
new=$("$CTL" leader -c "$ALL")
BASE3=$(csql "$PRED_SQL" | sum)
if [ "$W" -le "$BUDGET" ] && [ "$v" = 3 ] && [ "$new" = "$old" ] && why=$(compare_copies "$BASE3" "1 2 3"); then
	pass "5 a training timed at $W ms on a copy ($E epochs; budget $BUDGET ms, a third of the $ELECTION_MS ms election timeout) took $ms ms on the cluster: saved on every node, same leader"
else
	fail "5 short training: $W ms on a copy (budget $BUDGET), version '$v', leader $old -> $new, $why"
fi

E=$(epochs_for $((ELECTION_MS * 2 + 1500)))
old=$("$CTL" leader -c "$ALL")
L=$(node_of "$old")
T0=$(now_ms)
tsql "SELECT ml_train('churn', 'classifier', 'customers', 'churned', json_object('exclude', json_array('id'), 'epochs', $E))" \
	>/dev/null 2>"$RUN/long.err"
rc=$?
ms=$(($(now_ms) - T0))
active=$(csql -retry 30s "$ACTIVE_SQL" 2>/dev/null)
new=$("$CTL" leader -c "$ALL" 2>/dev/null)
A=$(node_of "$new")
if [ "$rc" != 0 ] && [ -n "$A" ] && [ "$A" != "$L" ] && [ "$active" = "churn v3, recs v2, router v2" ]; then
	pass "5 a training longer than the election timeout ($E epochs, $ms ms) cost node $L the leadership: its COMMIT failed ($(errof "$RUN/long.err")); node $A leads with churn v3 active"
	note "such a training belongs on a copy elsewhere, brought in with ml_export/ml_import as one short write (docs/deployment.md)"
else
	fail "5 long training: rc $rc after $ms ms, leader $L -> ${A:-none}, active '$active'"
fi
# That failed COMMIT had an unknown outcome: node L appended the transaction to its Raft log
# before it stepped down. If no other write came since, and L is elected again, Raft commits it
# after all. Kill the new leader, let the others elect, restart it: every node must agree.
if [ -n "$A" ] && [ "$A" != "$L" ]; then
	kill_node "$A"
	active=$(csql -retry 30s "$ACTIVE_SQL" 2>/dev/null)
	start_node "$A" && wait_caught_up "$A"
	if why=$(compare_copies "$(csql "$PRED_SQL" | sum)" "1 2 3") &&
		{ [ "$active" = "churn v3, recs v2, router v2" ] || [ "$active" = "churn v4, recs v2, router v2" ]; }; then
		if [ "$active" = "churn v4, recs v2, router v2" ]; then
			pass "5 ... and after node $A was killed, node $(node_of "$("$CTL" leader -c "$ALL")") was elected and committed that training after all (churn v4 active); all nodes agree: a COMMIT that fails on a lost leadership has an unknown outcome"
		else
			pass "5 ... and after node $A was killed, the failed training stayed lost (churn v3 active); all nodes agree"
		fi
	else
		fail "5 after the failed COMMIT: active '$active' $why"
	fi
fi
for i in 1 2 3; do
	[ -n "${NODE_PID[$i]}" ] && kill -0 "${NODE_PID[$i]}" 2>/dev/null || fail "5 node $i is no longer running"
done

# ---- optional: what dqlite 1.11.1 does with an autocommit write-side call --------------------
if [ "$PROBE" = 1 ]; then
	echo "== probe: an autocommit SELECT ml_train(...) sent as a dqlite QUERY, then an ordinary write"
	old=$("$CTL" leader -c "$ALL")
	k=$(node_of "$old")
	before=$(csql "SELECT max(version) FROM ml_models WHERE name = 'router'")
	out=$(csql "SELECT json_extract(ml_train('router', 'text', 'tickets', 'queue', json_object('text', 'body')), '\$.version')" 2>&1)
	note "the client got: $out"
	out=$(csql -retry 30s "CREATE TABLE IF NOT EXISTS probe(x)" 2>&1)
	note "an ordinary write afterwards: $(printf '%s' "$out" | tail -1)"
	alive=0
	if kill -0 "${NODE_PID[$k]}" 2>/dev/null; then
		alive=1
		note "leader node $k still running"
	else
		note "leader node $k died: $(grep -h 'Assertion' "$RUN/n$k.log" | tail -1)"
	fi
	after=$(csql -retry 30s "SELECT max(version) FROM ml_models WHERE name = 'router'" 2>/dev/null)
	note "router's newest version: $before before, $after now"
	if [ "$out" = "$((before + 1))" ] && [ "$after" = "$((before + 1))" ] && [ $alive = 1 ]; then
		note "probe verdict: the call was replicated"
	elif [ "$after" = "$before" ] && [ $alive = 1 ]; then
		note "probe verdict: safe (the call was refused or failed, the leader runs, nothing was lost)"
	else
		note "probe verdict: UNSAFE (the leader aborted and the version the client was told about is gone)"
	fi
fi

note "total $(($(now_ms) - T_START / 1000000)) ms"
finish
