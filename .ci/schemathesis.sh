#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis (PyPI) against a live passerelle on loopback, every
# operation, as an admin and as a manager: zero server errors, zero responses off the spec —
# no undocumented status (`status_code_conformance`), media type (`content_type_conformance`)
# or body (`response_schema_conformance`) — then the stateful phase, which follows the links
# the description declares (a created object's `Location` → the GET that reads it).
# Bounded for CI; a longer run: SCHEMATHESIS_EXAMPLES=200 bash .ci/schemathesis.sh
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${SCHEMATHESIS_EXAMPLES:-8}"
PORT="${SCHEMATHESIS_PORT:-18088}"
command -v schemathesis >/dev/null 2>&1 || python3 -m pip install -q schemathesis
cargo build -q --bin passerelle
BIN=target/debug/passerelle

work=$(mktemp -d)
export PASSERELLE_DATA_DIR="$work/data"
export PASSERELLE_DATABASE_URL="sqlite://$work/data/passerelle.db"
export PASSERELLE_AUTH__JWT_SECRET="schemathesis-secret-schemathesis-secret-0123"
export PASSERELLE_BIND="127.0.0.1:$PORT"
export PASSERELLE_RATE_LIMIT__ENABLED=false
export PASSERELLE_LOG_LEVEL=warn
mkdir -p "$PASSERELLE_DATA_DIR"
"$BIN" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do
    curl -sf "$base/health/ready" >/dev/null && break
    sleep 0.2
done

ADMIN=$("$BIN" token --role admin --ttl 1h)
MANAGER=$("$BIN" token --role manager --composante 905 --ttl 1h)
# Some data for the operations to find.
curl -sf -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d '{"code": "905", "label": "UFR de Sciences"}' "$base/composantes" >/dev/null
curl -sf -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    -d '[{"cod_etu": "21900001", "last_name": "LEFÈVRE", "first_name": "Zoé", "composante": "905",
          "etape": "L1INF", "academic_year": 2025, "enrolment_state": "E"}]' \
    "$base/students/import" >/dev/null

status=0
for who in admin manager; do
    token=$ADMIN
    [ "$who" = manager ] && token=$MANAGER
    echo "--- schemathesis as $who ($EXAMPLES examples per operation)"
    schemathesis run "$base/openapi.json" \
        --header "Authorization: Bearer $token" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
        --max-examples "$EXAMPLES" --phases examples,coverage,fuzzing,stateful \
        --workers 2 --seed 1 --no-color --warnings off \
        --generation-database none \
        --report junit --report-dir "target/schemathesis-$who" || status=1
done
if [ $status -ne 0 ]; then
    echo "--- server log (last lines)"; tail -50 "$work/server.log"
fi
exit $status
