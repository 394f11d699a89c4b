#!/usr/bin/env bash
# Builds Jiesu (the web UI, then the server that embeds it) and runs it on a demo city: the server with its embedded database on
# http://127.0.0.1:8080/ (override with LISTEN=host:port), logins printed at start.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jiesu-target}"
scripts/build-web.sh
cargo build --release --locked -p jiesu
exec "$CARGO_TARGET_DIR/release/jiesu" demo --data-dir "${DATA_DIR:-data/demo}" --listen "${LISTEN:-127.0.0.1:8080}" "$@"
