#!/usr/bin/env bash
# The Postman collection (postman/) run by newman against a live `passerelle serve` and
# `digiposte-sim` on loopback, then a check that GET /metrics shows the run's live figures.
# newman comes from the npm registry into target/newman when missing. Run from anywhere:
#   bash .ci/newman.sh            (ports: NEWMAN_PORT, default 18110; NEWMAN_SIM_PORT, 18111)
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${NEWMAN_PORT:-18110}"
SIM_PORT="${NEWMAN_SIM_PORT:-18111}"
YEAR=2025
WEBHOOK_SECRET="newman-webhook-secret-0123456789abcdef"
BASE="http://127.0.0.1:$PORT"
SIM="http://127.0.0.1:$SIM_PORT"

NEWMAN=target/newman/node_modules/.bin/newman
if [ ! -x "$NEWMAN" ]; then
    echo "--- installing newman from the npm registry into target/newman"
    npm install --prefix target/newman --no-audit --no-fund --loglevel error newman@6 >/dev/null
fi
"$NEWMAN" --version | sed 's/^/newman /'

cargo build -q --bin passerelle --bin digiposte-sim --example postman_fixtures
BIN=target/debug/passerelle

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

# The files the collection uploads, made by the crate's fixture builders.
target/debug/examples/postman_fixtures "$work/fixtures" "$YEAR" >/dev/null

target/debug/digiposte-sim --bind "127.0.0.1:$SIM_PORT" \
    --webhook-url "$BASE/webhooks/digiposte" --webhook-secret "$WEBHOOK_SECRET" \
    --receipt-delay-ms 200 --cancel-delay-ms 50 --quota-per-minute 0 \
    >"$work/sim.log" 2>&1 &
pids+=($!)

export PASSERELLE_DATA_DIR="$work/data"
export PASSERELLE_DATABASE_URL="sqlite://$work/data/passerelle.db"
export PASSERELLE_AUTH__JWT_SECRET="newman-secret-newman-secret-newman-0123"
export PASSERELLE_BIND="127.0.0.1:$PORT"
export PASSERELLE_ACADEMIC_YEAR="$YEAR"
export PASSERELLE_RATE_LIMIT__ENABLED=false
export PASSERELLE_LOG_LEVEL=warn
export PASSERELLE_JOBS__POLL_INTERVAL_MS=50
export PASSERELLE_DIGIPOSTE__BASE_URL="$SIM/digiposte/v3"
export PASSERELLE_DIGIPOSTE__CLIENT_ID=passerelle
export PASSERELLE_DIGIPOSTE__CLIENT_SECRET=sim-secret
export PASSERELLE_DIGIPOSTE__OKAPI_KEY=sim-okapi-key
export PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__RELEVE_NOTES=RELEVE_NOTES
export PASSERELLE_DIGIPOSTE__DOCUMENT_TYPES__ATTESTATION_REUSSITE=ATTESTATION_REUSSITE
export PASSERELLE_DIGIPOSTE__WEBHOOK_SECRET="$WEBHOOK_SECRET"
export PASSERELLE_DIGIPOSTE__RETRY_BASE_MS=20
export PASSERELLE_DIGIPOSTE__RECONCILE_DELAY_MS=100
export PASSERELLE_DIGIPOSTE__SYNC_ENABLED=false
mkdir -p "$PASSERELLE_DATA_DIR"
"$BIN" serve >"$work/server.log" 2>&1 &
pids+=($!)

ready=""
for _ in $(seq 1 150); do
    if curl -sf "$BASE/health/ready" >/dev/null && curl -sf "$SIM/admin/stats" >/dev/null; then
        ready=yes
        break
    fi
    sleep 0.2
done
if [ -z "$ready" ]; then
    echo "passerelle or digiposte-sim did not start" >&2
    tail -20 "$work/server.log" "$work/sim.log" >&2
    exit 1
fi

ADMIN=$("$BIN" token --role admin --ttl 1h)
MANAGER=$("$BIN" token --role manager --composante 905 --ttl 1h)
STUDENT=$("$BIN" token --role student --cod-etu 21900001 --ttl 1h)
SERVICE=$("$BIN" token --role service --scope metrics:read --ttl 1h)

mkdir -p target/newman
status=0
"$NEWMAN" run postman/passerelle.postman_collection.json \
    --environment postman/passerelle.postman_environment.json \
    --env-var "baseUrl=$BASE" --env-var "simUrl=$SIM" \
    --env-var "adminToken=$ADMIN" --env-var "managerToken=$MANAGER" \
    --env-var "studentToken=$STUDENT" --env-var "serviceToken=$SERVICE" \
    --env-var "webhookSecret=$WEBHOOK_SECRET" --env-var "academicYear=$YEAR" \
    --working-dir "$work/fixtures" \
    --reporters cli,junit --reporter-junit-export target/newman/junit.xml \
    --color off --timeout-request 30000 || status=$?

# --- /metrics after the run: live figures, not just declared families -------------------------
metrics=$(curl -sf -H "Authorization: Bearer $ADMIN" "$BASE/metrics")
value() { # the sum of the samples whose line starts with $1
    printf '%s\n' "$metrics" | awk -v p="$1" 'index($0, p) == 1 { s += $NF } END { print s + 0 }'
}
check() { # name, prefix, minimum
    local v
    v=$(value "$2")
    if awk -v v="$v" -v m="$3" 'BEGIN { exit !(v >= m) }'; then
        printf 'metrics ok   %-48s %s (>= %s)\n' "$1" "$v" "$3"
    else
        printf 'metrics FAIL %-48s %s (< %s)\n' "$1" "$v" "$3"
        status=1
    fi
}
check "POST /uploads answered 202" 'passerelle_http_requests_total{route="/uploads",method="POST",status="202"}' 2
check "GET /treatments/{id} latency observations" 'passerelle_http_request_duration_seconds_count{route="/treatments/{id}",method="GET"}' 3
check "documents transmitted (final state)" 'passerelle_documents{state="transmitted"}' 3
check "Digiposte deposits" 'passerelle_digiposte_calls_total{operation="POST /document/certified"}' 3
check "Digiposte calls, all operations" 'passerelle_digiposte_calls_total{' 10
check "batches split" 'passerelle_split_duration_seconds_count' 2
check "pages split" 'passerelle_split_pages_total' 4
check "split pages per second" 'passerelle_split_pages_per_second' 0.001
printf '%s\n' "$metrics" | grep -E '^passerelle_(digiposte_(rate_limited_total|circuit_state)|jobs_open|documents)' || true

if [ $status -ne 0 ]; then
    echo "--- passerelle log (last lines)"; tail -40 "$work/server.log"
    echo "--- digiposte-sim log (last lines)"; tail -20 "$work/sim.log"
fi
exit $status
