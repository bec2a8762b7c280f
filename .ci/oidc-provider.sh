#!/usr/bin/env bash
# Installs the npm package `oidc-provider` (a certified OpenID provider) into target/oidc-provider
# for tests/api/oidc.rs, from the npm registry, when missing. Nothing else is downloaded when the
# tests run. Run from anywhere: bash .ci/oidc-provider.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MODULE=target/oidc-provider/node_modules/oidc-provider/lib/index.js
if [ ! -f "$MODULE" ]; then
    echo "--- installing oidc-provider from the npm registry into target/oidc-provider"
    mkdir -p target/oidc-provider
    npm install --prefix target/oidc-provider --no-audit --no-fund --loglevel error oidc-provider@9 >/dev/null
fi
node -e "console.log('oidc-provider ' + require('./target/oidc-provider/node_modules/oidc-provider/package.json').version)"
