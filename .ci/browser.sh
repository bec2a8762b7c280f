#!/usr/bin/env bash
# Swagger UI in a real browser: headless Chromium (Debian's package) loads /swagger-ui/ from a
# live passerelle, runs its scripts (served from the binary) and must list the operations.
# A screenshot is left at target/swagger-ui.png for humans.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${BROWSER_PORT:-18089}"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "installing Debian's chromium"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
    CHROMIUM=$(command -v chromium)
fi
cargo build -q --bin passerelle
work=$(mktemp -d)
PASSERELLE_DATA_DIR="$work" PASSERELLE_DATABASE_URL="sqlite://$work/p.db" \
    PASSERELLE_BIND="127.0.0.1:$PORT" PASSERELLE_LOG_LEVEL=warn \
    target/debug/passerelle serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health/live" >/dev/null && break
    sleep 0.2
done

flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --disable-sync --no-first-run --disable-quic
       "--user-data-dir=$work/profile" --window-size=1280,2400 --virtual-time-budget=15000)
url="http://127.0.0.1:$PORT/swagger-ui/"
mkdir -p target
"$CHROMIUM" "${flags[@]}" --dump-dom "$url" >"$work/dom.html" 2>"$work/chromium.log" || true
"$CHROMIUM" "${flags[@]}" --screenshot=target/swagger-ui.png "$url" >/dev/null 2>>"$work/chromium.log" || true

# Every operation of the spec must be rendered as an operation block.
expected=$(python3 -c "
import json,sys
spec=json.load(open('openapi/openapi.json'))
print(sum(1 for p in spec['paths'].values() for m in p if m in ('get','put','post','delete','patch')))")
rendered=$(grep -o 'class="opblock opblock-[a-z]*' "$work/dom.html" | wc -l)
echo "Swagger UI lists $rendered operation(s); the spec has $expected"
if [ "$rendered" -ne "$expected" ] || ! grep -q '/composantes' "$work/dom.html"; then
    echo "FAIL: Swagger UI did not render the operations" >&2
    tail -20 "$work/chromium.log" >&2
    exit 1
fi
if [ -s target/swagger-ui.png ]; then echo "screenshot: target/swagger-ui.png"; fi
