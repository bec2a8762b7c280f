#!/usr/bin/env bash
# Clients generated from openapi/openapi.json, as an ENT developer would generate them:
#   1. openapi-spec-validator accepts the description, and every example in it validates
#      against its schema (.ci/check_examples.py);
#   2. openapi-python-client (PyPI) generates a Python client without a warning, and it imports;
#   3. openapi-typescript (npm) generates TypeScript types without a warning, and tsc compiles
#      a file that uses them (strict);
#   4. .ci/client_walkthrough.py drives the walk-through's core through the generated Python
#      client against a live passerelle (port CLIENTS_PORT, default 18130).
# Everything generated goes to target/clients (never committed).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${CLIENTS_PORT:-18130}"
OUT=target/clients
mkdir -p "$OUT"

pip_install() { python3 -m pip install --quiet "$@" || pip install --quiet "$@"; }
command -v openapi-spec-validator >/dev/null 2>&1 || pip_install openapi-spec-validator
command -v openapi-python-client >/dev/null 2>&1 || pip_install openapi-python-client
hash -r
if ! command -v openapi-python-client >/dev/null 2>&1; then
    export PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin"
fi
NODE="$OUT/node"
if [ ! -x "$NODE/node_modules/.bin/openapi-typescript" ] || [ ! -x "$NODE/node_modules/.bin/tsc" ]; then
    echo "--- installing openapi-typescript and typescript from the npm registry into $NODE"
    npm install --prefix "$NODE" --no-audit --no-fund --loglevel error openapi-typescript@7 typescript@5 >/dev/null
fi

echo "--- openapi-spec-validator"
openapi-spec-validator openapi/openapi.json
echo "--- every example validates against its schema"
python3 .ci/check_examples.py openapi/openapi.json

echo "--- openapi-python-client $(openapi-python-client --version 2>/dev/null | awk '{print $NF}')"
rm -rf "$OUT/py"
log="$OUT/python-generate.log"
openapi-python-client generate --path openapi/openapi.json --config openapi/python-client.yaml \
    --output-path "$OUT/py/passerelle_client" --meta none >"$log" 2>&1 || { cat "$log"; exit 1; }
if grep -qiE 'warning|error|unable|could not' "$log"; then
    echo "openapi-python-client warned:" >&2
    cat "$log" >&2
    exit 1
fi
# openapi-python-client bug #1451 (open upstream): an operation with several request media
# types and a required body (here POST /students/import: JSON, multipart or CSV) is annotated
# `| Unset` without importing `Unset`. Add the import where it is missing, and say so.
for f in $(grep -rlw 'Unset' "$OUT/py/passerelle_client/api"); do
    if ! grep -qE '^from \.\.\.types import .*\bUnset\b' "$f"; then
        echo "working around openapi-python-client#1451 in ${f#"$OUT"/py/}"
        sed -i '0,/^from \.\.\.types import /s//from ...types import Unset, /' "$f"
    fi
done
PYTHONPATH="$OUT/py" python3 -W error -c '
import importlib, pkgutil, passerelle_client, passerelle_client.api as api
for m in pkgutil.walk_packages(api.__path__, "passerelle_client.api."):
    importlib.import_module(m.name)
print("the generated client imports, every operation module")'

echo "--- openapi-typescript"
mkdir -p "$OUT/ts"
"$NODE/node_modules/.bin/openapi-typescript" openapi/openapi.json -o "$OUT/ts/passerelle.d.ts" \
    >"$OUT/ts-generate.log" 2>&1 || { cat "$OUT/ts-generate.log"; exit 1; }
if grep -qiE 'warn|error' "$OUT/ts-generate.log"; then
    echo "openapi-typescript warned:" >&2
    cat "$OUT/ts-generate.log" >&2
    exit 1
fi
cat >"$OUT/ts/check.ts" <<'TS'
import type { components, operations, paths } from "./passerelle";

type Vault = components["schemas"]["Vault"];
type Problem = components["schemas"]["Problem"];
type VaultPage = paths["/vaults"]["get"]["responses"][200]["content"]["application/json"];
type UploadAnswer = operations["createUpload"]["responses"][202]["content"]["application/json"];

export function firstStudent(page: VaultPage): string | undefined {
    const first: Vault | undefined = page.items[0];
    return first?.student.cod_etu;
}
export function describe(problem: Problem): string {
    return `${problem.status} ${problem.code}: ${problem.detail}`;
}
export function treatmentId(answer: UploadAnswer): string {
    return answer.id;
}
TS
"$NODE/node_modules/.bin/tsc" --strict --noEmit --target es2020 --moduleResolution node "$OUT/ts/check.ts"
echo "TypeScript types compile"

echo "--- the walk-through's core through the generated Python client"
cargo build -q --bin passerelle --example postman_fixtures
BIN=target/debug/passerelle
work=$(mktemp -d)
export PASSERELLE_DATA_DIR="$work/data"
export PASSERELLE_DATABASE_URL="sqlite://$work/data/passerelle.db"
export PASSERELLE_AUTH__JWT_SECRET="clients-secret-clients-secret-clients-0123"
export PASSERELLE_BIND="127.0.0.1:$PORT"
export PASSERELLE_ACADEMIC_YEAR=2025
export PASSERELLE_RATE_LIMIT__ENABLED=false
export PASSERELLE_LOG_LEVEL=warn
export PASSERELLE_JOBS__POLL_INTERVAL_MS=50
mkdir -p "$PASSERELLE_DATA_DIR"
target/debug/examples/postman_fixtures "$work/files" 2025 >/dev/null
"$BIN" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 150); do
    curl -sf "$base/health/ready" >/dev/null && break
    sleep 0.2
done
ADMIN=$("$BIN" token --role admin --ttl 1h) MANAGER=$("$BIN" token --role manager --composante 905 --ttl 1h) \
    BASE="$base" FILES="$work/files" PYTHONPATH="$OUT/py" \
    python3 .ci/client_walkthrough.py || { tail -30 "$work/server.log"; exit 1; }
