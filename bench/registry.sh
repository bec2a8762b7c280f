#!/usr/bin/env bash
# The manager's registry (bench/README.md, "The registry"): a release `passerelle serve` on a
# registry of BENCH_STUDENTS students, 6,000 per composante, imported with `passerelle import`
# (timed); then each request of a manager of composante 901 measured on its own, one at a time
# (wrk, 1 connection: p50) and under load (wrk, BENCH_THREADS threads, BENCH_CONNECTIONS
# connections), next to `/health/live` in the same run, with the load average before each.
#
#   bench/registry.sh                                  # SQLite and PostgreSQL, 60,000 students
#   BENCH_STUDENTS=300000 bench/registry.sh            # an academy: 50 composantes of 6,000
#   BENCH_BIN=/path/to/other/passerelle bench/registry.sh   # another build (before/after)
#
# Env (defaults): BENCH_BACKENDS ("sqlite postgres"), BENCH_STUDENTS (60000), BENCH_PORT
# (18380), BENCH_WORK (a temp dir), BENCH_PG_URL (postgres://passerelle:passerelle@127.0.0.1:5432/
# passerelle_bench — its public schema is dropped and recreated), BENCH_DURATION (10s),
# BENCH_SINGLE_DURATION (5s), BENCH_THREADS (2), BENCH_CONNECTIONS (16), BENCH_BIN (the
# release build of this tree, built first), CARGO_TARGET_DIR (target).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${BENCH_PORT:-18380}
DURATION=${BENCH_DURATION:-10s}
SINGLE_DURATION=${BENCH_SINGLE_DURATION:-5s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PG_URL=${BENCH_PG_URL:-postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench}
STUDENTS=${BENCH_STUDENTS:-60000}
WORK=${BENCH_WORK:-$(mktemp -d -t passerelle-registry.XXXXXX)}
BASE=http://127.0.0.1:$PORT
COMPOSANTES=$(( STUDENTS / 6000 > 0 ? STUDENTS / 6000 : 1 ))

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
SEED=$CARGO_TARGET_DIR/release/examples/bench_seed
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build --release --quiet --bin passerelle --example bench_seed
  BIN=$CARGO_TARGET_DIR/release/passerelle
else
  # Another build measured with this tree's seed (built once).
  [ -x "$SEED" ] || cargo build --release --quiet --example bench_seed
  BIN=$BENCH_BIN
fi
mkdir -p "$WORK"
[ -f "$WORK/data-$STUDENTS/students.csv" ] || "$SEED" data "$WORK/data-$STUDENTS" "$STUDENTS" 1 1 >/dev/null

export PASSERELLE_AUTH__JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
export PASSERELLE_ACADEMIC_YEAR=2025
export PASSERELLE_RATE_LIMIT__ENABLED=false
export PASSERELLE_LOG_LEVEL=warn
export BENCH_DIR=$HERE

SERVER=
stop_server() { [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; SERVER=; }
trap stop_server EXIT
load() { cut -d' ' -f1 /proc/loadavg; }

RESULTS=$WORK/registry-$STUDENTS.txt
: >"$RESULTS"
echo "machine: $(nproc) cores; binary: $BIN" | tee -a "$RESULTS"
for backend in $BACKENDS; do
  dir=$WORK/$backend-$STUDENTS
  rm -rf "$dir" && mkdir -p "$dir"
  export PASSERELLE_DATA_DIR=$dir
  if [ "$backend" = sqlite ]; then
    export PASSERELLE_DATABASE_URL=sqlite://$dir/passerelle.db
  else
    PGOPTIONS=--client-min-messages=warning psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
    export PASSERELLE_DATABASE_URL=$PG_URL
  fi
  ADMIN=$("$BIN" token --role admin --ttl 2h)
  MANAGER=$("$BIN" token --role manager --composante 901 --ttl 2h)
  "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$dir/server.log" &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 0.2; done
  for code in $(seq 901 $((900 + COMPOSANTES))); do
    curl -sf -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' \
      -d "{\"code\":\"$code\",\"label\":\"Composante $code\"}" "$BASE/composantes" >/dev/null
  done
  echo "$backend IMPORT load $(load)" | tee -a "$RESULTS"
  start=$(date +%s%N)
  "$BIN" import students "$WORK/data-$STUDENTS/students.csv" >"$dir/import.json"
  echo "$backend IMPORT $STUDENTS rows in $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$RESULTS"
  sleep 2
  # The requests (each checked once: HTTP 200 and its total).
  while read -r name path; do
    total=$(curl -sf -H "Authorization: Bearer $MANAGER" "$BASE$path" | jq '.total')
    for mode in single load; do
      if [ $mode = single ]; then t=1; c=1; d=$SINGLE_DURATION; else t=$THREADS; c=$CONNECTIONS; d=$DURATION; fi
      l=$(load)
      out=$(TOKEN=$MANAGER REQUEST_PATH=$path SCENARIO=$name \
        wrk --latency -t"$t" -c"$c" -d"$d" -s "$HERE/path.lua" "$BASE" | grep '^RESULT')
      echo "$backend $STUDENTS $mode load=$l total=$total ${out#RESULT }" | tee -a "$RESULTS"
    done
  done <<PATHS
health_live /health/live
first_page /vaults?composante=901&per_page=50
name_search /vaults?composante=901&q=lefevre&per_page=50
name_search_2 /vaults?composante=901&q=dupont%20zoe&per_page=50
status /vaults?composante=901&status=not_transmitted&per_page=50
number_prefix /vaults?composante=901&q=300012&per_page=50
summary /vaults/summary?composante=901
PATHS
  stop_server
done
echo "(results: $RESULTS; columns after the load: scenario requests/s p50 p99 requests non-2xx socket-errors)"
