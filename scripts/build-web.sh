#!/usr/bin/env bash
# Builds the web UI into web/dist, which the jiesu binary serves (embedded in release
# builds). Installs Node.js from Debian if it is missing and the npm packages from
# web/package-lock.json when they changed.
#   --test   also runs the frontend unit tests (Vitest) before building
set -euo pipefail
cd "$(dirname "$0")/../web"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v npm >/dev/null 2>&1; then
  echo "== installing Node.js (Debian packages nodejs, npm)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "== npm ci (web)"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ "${1:-}" = "--test" ]; then
  echo "== web unit tests (Vitest)"
  npm test --silent
fi

echo "== building the web UI (Vite)"
npm run build --silent
