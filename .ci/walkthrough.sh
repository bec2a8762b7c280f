#!/usr/bin/env bash
# Runs the README's walk-through exactly as written: the ```sh block after the
# `<!-- walkthrough -->` marker, with `bash -euo pipefail`, on ports 18120/18121 in a scratch
# directory, within 5 minutes. Whatever it started is stopped at the end (its process group).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v jq >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q jq >/dev/null; else sudo apt-get install -y -q jq >/dev/null; fi
fi

work=$(mktemp -d)
awk '/^<!-- walkthrough -->$/ { marked = 1; next }
     marked && !inside && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' README.md >"$work/walkthrough.sh"
if [ ! -s "$work/walkthrough.sh" ]; then
    echo "no walk-through block (<!-- walkthrough --> then \`\`\`sh) in README.md" >&2
    exit 1
fi
echo "--- README walk-through: $(grep -c . "$work/walkthrough.sh") lines"

export PORT="${WALKTHROUGH_PORT:-18120}" SIM_PORT="${WALKTHROUGH_SIM_PORT:-18121}" WORK="$work/run"
mkdir -p "$WORK"
# Its own session and process group, so the servers it starts in the background can be
# stopped together if a command fails before its last line does.
setsid timeout 300 bash -euo pipefail "$work/walkthrough.sh" &
group=$!
trap 'kill -- -"$group" 2>/dev/null || true; rm -rf "$work"' EXIT
status=0
wait "$group" || status=$?
if [ $status -ne 0 ]; then
    echo "--- the walk-through failed (exit $status); passerelle log:"
    tail -30 "$WORK/passerelle.log" 2>/dev/null || true
    exit $status
fi
echo "--- README walk-through passed"
