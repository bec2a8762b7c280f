#!/usr/bin/env bash
# Load figures for passerelle (see bench/README.md): builds release, seeds 60,000 students,
# starts `passerelle serve` on SQLite then on PostgreSQL, and runs wrk on four scenarios.
#
#   bench/run.sh                      # both backends, 15 s per scenario
#   BENCH_BACKENDS=sqlite bench/run.sh
#
# Env (defaults): CARGO_TARGET_DIR (target), BENCH_PORT (18380), BENCH_DURATION (15s),
# BENCH_UPLOAD_DURATION (10s), BENCH_THREADS (2), BENCH_CONNECTIONS (16),
# BENCH_UPLOAD_CONNECTIONS (4), BENCH_BACKENDS ("sqlite postgres"), BENCH_WORK (a temp dir),
# BENCH_PG_URL (postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench — a database
# of its own: its public schema is dropped and recreated), BENCH_STUDENTS (60000).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=${BENCH_PORT:-18380}
DURATION=${BENCH_DURATION:-15s}
UPLOAD_DURATION=${BENCH_UPLOAD_DURATION:-10s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-16}
UPLOAD_CONNECTIONS=${BENCH_UPLOAD_CONNECTIONS:-4}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
PG_URL=${BENCH_PG_URL:-postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench}
STUDENTS=${BENCH_STUDENTS:-60000}
WORK=${BENCH_WORK:-$(mktemp -d -t passerelle-bench.XXXXXX)}
RECEIPT_DOCS=2000
BASE=http://127.0.0.1:$PORT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

echo "## build (release)"
cargo build --release --quiet --bin passerelle --example bench_seed
BIN=$CARGO_TARGET_DIR/release/passerelle
SEED=$CARGO_TARGET_DIR/release/examples/bench_seed

echo "## data in $WORK"
"$SEED" data "$WORK/data" "$STUDENTS" 20 "$RECEIPT_DOCS"

export PASSERELLE_AUTH__JWT_SECRET=bench-secret-bench-secret-bench-secret-0123
export PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET=bench-webhook-secret
# The receipts are signed once before the run: allow an hour instead of 5 minutes.
export PASSERELLE_DIGIPOSTE__WEBHOOK_TOLERANCE_SECS=3600
export PASSERELLE_ACADEMIC_YEAR=2025
export PASSERELLE_RATE_LIMIT__ENABLED=false
# One log line per request at info would measure the terminal; warn keeps errors visible.
export PASSERELLE_LOG_LEVEL=warn
export BENCH_DIR=$HERE

SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

api() { curl -sf -H "Authorization: Bearer $ADMIN" "$@"; }

sql() {
  if [ "$backend" = sqlite ]; then
    sqlite3 "$PASSERELLE_DATA_DIR/passerelle.db" "$1"
  else
    psql -tA "$PG_URL" -c "$1"
  fi
}

# Waits until no treatment is splitting any more; prints the seconds it took.
drain() {
  local start=$SECONDS
  for _ in $(seq 1 3600); do
    local left
    left=$(api "$BASE/treatments?status=splitting&per_page=1" | jq .total)
    [ "$left" = 0 ] && { echo $((SECONDS - start)); return; }
    sleep 1
  done
  echo "timeout"
}

RESULTS=$WORK/results.txt
: >"$RESULTS"
echo "machine: $(nproc) cores; load before the run: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$WORK/machine.txt"
for backend in $BACKENDS; do
  echo "## $backend"
  dir=$WORK/$backend
  rm -rf "$dir" && mkdir -p "$dir"
  export PASSERELLE_DATA_DIR=$dir
  if [ "$backend" = sqlite ]; then
    export PASSERELLE_DATABASE_URL=sqlite://$dir/passerelle.db
  else
    psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
    export PASSERELLE_DATABASE_URL=$PG_URL
  fi
  ADMIN=$("$BIN" token --role admin --ttl 2h)
  MANAGER=$("$BIN" token --role manager --composante 901 --ttl 2h)

  "$BIN" serve --bind "127.0.0.1:$PORT" 2>"$dir/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 0.2; done
  curl -sf "$BASE/health/ready" >/dev/null || { echo "server not ready"; cat "$dir/server.log"; exit 1; }

  # The registry: ten composantes (an administrator creates them), then the enrolment
  # extraction through the command line, next to the running server.
  for code in $(seq 901 910); do
    api -H 'Content-Type: application/json' \
      -d "{\"code\":\"$code\",\"label\":\"Composante $code\"}" "$BASE/composantes" >/dev/null
  done
  start=$(date +%s%N)
  "$BIN" import students "$WORK/data/students.csv" >"$dir/import.json"
  echo "$backend IMPORT $STUDENTS students in $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$RESULTS"
  vaults=$(sql "SELECT count(*) FROM vaults")
  [ "$vaults" -ge "$STUDENTS" ] || { echo "only $vaults vaults after the import"; head -c 2000 "$dir/import.json"; exit 1; }

  # Documents awaiting Digiposte's receipts: a 2,000-student batch, split, then marked as
  # deposited (what the deliver worker records once Digiposte accepted each document).
  id=$(api -F document_type=releve_notes -F academic_year=2025 -F composante=901 \
    -F label=seed -F "file=@$WORK/data/seed.pdf;type=application/pdf" "$BASE/uploads" | jq -r .id)
  echo "seed batch split in $(drain) s"
  "$SEED" mark-deposited "$PASSERELLE_DATABASE_URL" "$id"
  "$SEED" receipts "$PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET" 300000 "$RECEIPT_DOCS" "$WORK/receipts.tsv"

  run() { # scenario script [wrk options…]
    local name=$1 script=$2
    shift 2
    echo "### $name: wrk $* -s bench/$script $BASE" | tee -a "$dir/wrk.txt"
    wrk --latency "$@" -s "$HERE/$script" "$BASE" | tee -a "$dir/wrk.txt" |
      sed -n "s/^RESULT /$backend /p;s/^NOTE /$backend NOTE /p" >>"$RESULTS"
  }
  run health_live live.lua -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
  TOKEN=$MANAGER run vaults_filtered vaults.lua -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
  RECEIPTS=$WORK/receipts.tsv WRK_THREADS=$THREADS run webhook_receipts webhook.lua -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION"
  transmitted=$(sql "SELECT count(*) FROM documents WHERE treatment_id = '$id' AND delivery_status = 'transmitted'")
  receipts=$(sql "SELECT count(*) FROM digiposte_receipts")
  TOKEN=$ADMIN BODY=$WORK/data/upload.body BOUNDARY=$(cat "$WORK/data/upload.boundary") \
    run upload_split upload.lua -t"$THREADS" -c"$UPLOAD_CONNECTIONS" -d"$UPLOAD_DURATION"
  uploaded=$(api "$BASE/treatments?per_page=1" | jq .total)
  secs=$(drain)
  echo "$backend DRAIN $((uploaded - 1)) uploads split in $secs s after the upload run" | tee -a "$RESULTS"
  failed=$(api "$BASE/treatments?status=split_failed&per_page=1" | jq .total)
  echo "$backend CHECK split_failed=$failed receipts_stored=$receipts documents_transmitted=$transmitted/$RECEIPT_DOCS" | tee -a "$RESULTS"
  grep -c -E "ERROR|WARN" "$dir/server.log" | sed "s/^/$backend CHECK server log warnings+errors: /" >>"$RESULTS" || true
  stop_server
done

echo
echo "| backend | scenario | requests/s | p50 (ms) | p99 (ms) | requests | non-2xx | socket errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
awk '$2 !~ /^(NOTE|DRAIN|CHECK|IMPORT)$/ {printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$RESULTS"
grep -E "^[a-z]+ (NOTE|DRAIN|CHECK|IMPORT)" "$RESULTS" || true
echo "(raw wrk output: $WORK/<backend>/wrk.txt)"
