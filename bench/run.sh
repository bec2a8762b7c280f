#!/usr/bin/env bash
# Load figures for passerelle (see bench/README.md): builds release, seeds 60,000 students,
# starts `passerelle serve` in each configuration, and runs wrk on four scenarios.
#
#   bench/run.sh                      # every configuration, 15 s per scenario
#   BENCH_BACKENDS=sqlite bench/run.sh
#
# Configurations (BENCH_BACKENDS, space-separated): `sqlite` and `postgres` (one instance,
# documents in its data directory), `postgres+s3` (one instance, documents in an S3-compatible
# store: moto_server, started here) and `postgres+s3x2` (two instances on the same database
# and store, each loaded by its own wrk with half the connections: no load balancer in the
# way).
#
# Env (defaults): CARGO_TARGET_DIR (target), BENCH_PORT (18380), BENCH_DURATION (15s),
# BENCH_UPLOAD_DURATION (10s), BENCH_THREADS (2), BENCH_CONNECTIONS (16),
# BENCH_UPLOAD_CONNECTIONS (4), BENCH_BACKENDS ("sqlite postgres postgres+s3 postgres+s3x2"),
# BENCH_MOTO_PORT (18390), BENCH_WORK (a temp dir),
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
BACKENDS=${BENCH_BACKENDS:-sqlite postgres postgres+s3 postgres+s3x2}
MOTO_PORT=${BENCH_MOTO_PORT:-18390}
PG_URL=${BENCH_PG_URL:-postgres://passerelle:passerelle@127.0.0.1:5432/passerelle_bench}
STUDENTS=${BENCH_STUDENTS:-60000}
WORK=${BENCH_WORK:-$(mktemp -d -t passerelle-bench.XXXXXX)}
RECEIPT_DOCS=2000
BASE=http://127.0.0.1:$PORT

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
case "$BACKENDS" in *s3*)
  command -v moto_server >/dev/null || { echo "moto_server is missing: pip install 'moto[server]'" >&2; exit 1; }
esac

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

# The servers of the configuration being measured (and moto_server, when it runs).
PIDS=()
stop_servers() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_servers EXIT

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
for config in $BACKENDS; do
  backend=${config%%+*}
  instances=1
  case "$config" in *x2) instances=2 ;; esac
  echo "## $config"
  dir=$WORK/$config
  rm -rf "$dir" && mkdir -p "$dir"
  export PASSERELLE_DATA_DIR=$dir
  if [ "$backend" = sqlite ]; then
    export PASSERELLE_DATABASE_URL=sqlite://$dir/passerelle.db
  else
    PGOPTIONS=--client-min-messages=warning psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS public CASCADE" -c "CREATE SCHEMA public"
    export PASSERELLE_DATABASE_URL=$PG_URL
  fi
  unset PASSERELLE_STORAGE__URL PASSERELLE_AUDIT__PSEUDONYM_KEY
  case "$config" in *+s3*)
    moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$dir/moto.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -sf -X PUT "http://127.0.0.1:$MOTO_PORT/bench" >/dev/null && break; sleep 0.2; done
    export PASSERELLE_STORAGE__URL=s3://bench/docs
    export PASSERELLE_STORAGE__ENDPOINT=http://127.0.0.1:$MOTO_PORT
    export PASSERELLE_STORAGE__REGION=us-east-1
    export PASSERELLE_STORAGE__ACCESS_KEY_ID=testing
    export PASSERELLE_STORAGE__SECRET_ACCESS_KEY=testing
    export PASSERELLE_STORAGE__ALLOW_HTTP=true
    # Shared mode: every instance needs the same pseudonym key from the configuration.
    export PASSERELLE_AUDIT__PSEUDONYM_KEY=bench-pseudonym-key-bench-pseudonym-key
  esac
  ADMIN=$("$BIN" token --role admin --ttl 2h)
  MANAGER=$("$BIN" token --role manager --composante 901 --ttl 2h)

  BASES=()
  for i in $(seq 0 $((instances - 1))); do
    mkdir -p "$dir/instance-$i"
    PASSERELLE_DATA_DIR=$dir/instance-$i "$BIN" serve --bind "127.0.0.1:$((PORT + i))" \
      2>"$dir/server-$i.log" &
    PIDS+=($!)
    BASES+=("http://127.0.0.1:$((PORT + i))")
  done
  for base in "${BASES[@]}"; do
    for _ in $(seq 1 100); do curl -sf "$base/health/ready" >/dev/null && break; sleep 0.2; done
    curl -sf "$base/health/ready" >/dev/null || { echo "server not ready"; cat "$dir"/server-*.log; exit 1; }
  done

  # The registry: ten composantes (an administrator creates them), then the enrolment
  # extraction through the command line, next to the running server.
  for code in $(seq 901 910); do
    api -H 'Content-Type: application/json' \
      -d "{\"code\":\"$code\",\"label\":\"Composante $code\"}" "$BASE/composantes" >/dev/null
  done
  start=$(date +%s%N)
  "$BIN" import students "$WORK/data/students.csv" >"$dir/import.json"
  echo "$config IMPORT $STUDENTS students in $(( ($(date +%s%N) - start) / 1000000 )) ms" | tee -a "$RESULTS"
  vaults=$(sql "SELECT count(*) FROM vaults")
  [ "$vaults" -ge "$STUDENTS" ] || { echo "only $vaults vaults after the import"; head -c 2000 "$dir/import.json"; exit 1; }

  # Documents awaiting Digiposte's receipts: a 2,000-student batch, split, then marked as
  # deposited (what the deliver worker records once Digiposte accepted each document).
  id=$(api -F document_type=releve_notes -F academic_year=2025 -F composante=901 \
    -F label=seed -F "file=@$WORK/data/seed.pdf;type=application/pdf" "$BASE/uploads" | jq -r .id)
  echo "seed batch split in $(drain) s"
  "$SEED" mark-deposited "$PASSERELLE_DATABASE_URL" "$id"
  "$SEED" receipts "$PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET" 300000 "$RECEIPT_DOCS" "$WORK/receipts.tsv"

  # One wrk per instance, each with its share of the threads and connections, run together;
  # their RESULT lines are summed (requests/s, requests, errors), and the latencies are the
  # slower instance's.
  run() { # scenario script threads connections duration
    local name=$1 script=$2 threads=$(( ($3 + instances - 1) / instances ))
    local connections=$(( $4 / instances )) duration=$5 i pids=()
    echo "### $name: $instances × wrk -t$threads -c$connections -d$duration -s bench/$script" | tee -a "$dir/wrk.txt"
    for i in $(seq 0 $((instances - 1))); do
      WRK_THREADS=$threads WRK_PROCESS=$i WRK_PROCESSES=$instances \
        wrk --latency -t"$threads" -c"$connections" -d"$duration" -s "$HERE/$script" "${BASES[$i]}" \
        >"$dir/wrk-$name-$i.txt" &
      pids+=($!)
    done
    wait "${pids[@]}"
    cat "$dir"/wrk-"$name"-*.txt >>"$dir/wrk.txt"
    cat "$dir"/wrk-"$name"-*.txt | sed -n "s/^NOTE /$config NOTE /p" >>"$RESULTS"
    cat "$dir"/wrk-"$name"-*.txt | awk -v c="$config" '$1 == "RESULT" {
        rps += $3; if ($4 > p50) p50 = $4; if ($5 > p99) p99 = $5; n += $6; s += $7; e += $8; name = $2 }
      END { printf "%s %s %d %.2f %.2f %d %d %d\n", c, name, rps, p50, p99, n, s, e }' >>"$RESULTS"
  }
  run health_live live.lua "$THREADS" "$CONNECTIONS" "$DURATION"
  TOKEN=$MANAGER run vaults_filtered vaults.lua "$THREADS" "$CONNECTIONS" "$DURATION"
  RECEIPTS=$WORK/receipts.tsv run webhook_receipts webhook.lua "$THREADS" "$CONNECTIONS" "$DURATION"
  transmitted=$(sql "SELECT count(*) FROM documents WHERE treatment_id = '$id' AND delivery_status = 'transmitted'")
  receipts=$(sql "SELECT count(*) FROM digiposte_receipts")
  TOKEN=$ADMIN BODY=$WORK/data/upload.body BOUNDARY=$(cat "$WORK/data/upload.boundary") \
    run upload_split upload.lua "$THREADS" "$UPLOAD_CONNECTIONS" "$UPLOAD_DURATION"
  uploaded=$(api "$BASE/treatments?per_page=1" | jq .total)
  secs=$(drain)
  echo "$config DRAIN $((uploaded - 1)) uploads split in $secs s after the upload run" | tee -a "$RESULTS"
  failed=$(api "$BASE/treatments?status=split_failed&per_page=1" | jq .total)
  echo "$config CHECK split_failed=$failed receipts_stored=$receipts documents_transmitted=$transmitted/$RECEIPT_DOCS" | tee -a "$RESULTS"
  if [ "$instances" -gt 1 ]; then
    # Which instance's workers split the uploads (locked_by starts with the instance prefix).
    echo "$config CHECK split jobs per worker instance: $(sql "SELECT string_agg(w || '=' || n, ' ') FROM (SELECT split_part(locked_by, '-', 1) AS w, count(*) AS n FROM jobs WHERE kind = 'split' AND status = 'done' GROUP BY 1 ORDER BY 1) t")" | tee -a "$RESULTS"
  fi
  cat "$dir"/server-*.log | grep -c -E "ERROR|WARN" | sed "s/^/$config CHECK server log warnings+errors: /" >>"$RESULTS" || true
  stop_servers
done

echo
echo "| backend | scenario | requests/s | p50 (ms) | p99 (ms) | requests | non-2xx | socket errors |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
awk '$2 !~ /^(NOTE|DRAIN|CHECK|IMPORT)$/ {printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7, $8}' "$RESULTS"
grep -E "^[a-z0-9+]+ (NOTE|DRAIN|CHECK|IMPORT)" "$RESULTS" || true
echo "(raw wrk output: $WORK/<configuration>/wrk.txt)"
