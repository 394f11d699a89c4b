#!/usr/bin/env bash
# Runs every test of Jiesu: unit and property tests, API tests against the real server on
# SQLite and PostgreSQL, crash tests and CLI tests, frontend unit tests (Vitest) and browser
# tests of the web UI (Playwright driving Debian Chromium against the real server), fuzzing
# of every parser of outside input (cargo fuzz on nightly, bounded time). Sets up
# what it needs on a fresh machine (Node.js, npm packages, Chromium, CJK fonts).
#
#   JIESU_TEST_POSTGRES_URL  PostgreSQL the tests create their own databases on
#                            (default postgres://postgres@127.0.0.1:5432/test)
#   CARGO_TARGET_DIR         build cache (default ~/.cache/jiesu-target)
#   CI=true                  an unreachable PostgreSQL fails the run instead of skipping
#   JIESU_FUZZ_SECONDS       how long each fuzz target runs (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/jiesu-target}"
export JIESU_TEST_POSTGRES_URL="${JIESU_TEST_POSTGRES_URL-postgres://postgres@127.0.0.1:5432/test}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# A full run builds three profiles (debug, clippy, the fuzzers' sanitizer build): ~18 GB
# under CARGO_TARGET_DIR with debug builds keeping line tables only (27 GB of test binaries before).
# Say how much room there is, so that a full disk is told apart.
mkdir -p "$CARGO_TARGET_DIR"
df -h "$CARGO_TARGET_DIR" | sed 's/^/disk: /'

if [ -n "$JIESU_TEST_POSTGRES_URL" ] && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -d "$JIESU_TEST_POSTGRES_URL" -q; then
    if [ "${CI:-}" = "true" ]; then
      echo "PostgreSQL at $JIESU_TEST_POSTGRES_URL is not reachable: under CI that is a failure" >&2
      exit 1
    fi
    echo "PostgreSQL at $JIESU_TEST_POSTGRES_URL is not reachable: its tests will be skipped" >&2
    export JIESU_TEST_POSTGRES_URL=""
  fi
fi

# The web UI: frontend unit tests, then the build the server serves (and the browser
# tests below drive).
scripts/build-web.sh --test

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== dependencies: licences, bans and sources (cargo deny, deny.toml)"
if ! command -v cargo-deny >/dev/null 2>&1; then
  cargo install cargo-deny --locked
fi
# `cargo metadata` (under cargo deny) reads the manifests of every platform's dependencies,
# which a build for this one never downloads: fetch them all first.
cargo fetch --locked
cargo deny --offline check licenses bans sources
# Advisories need the RustSec database from GitHub: checked where it can be fetched.
if advisories=$(cargo deny check advisories 2>&1); then
  echo "advisories ok"
elif grep -q "failed to fetch advisory database" <<<"$advisories"; then
  echo "advisories NOT checked: the RustSec database (github.com) cannot be fetched from here"
else
  echo "$advisories" >&2
  exit 1
fi

echo "== tests (SQLite and PostgreSQL)"
cargo test --workspace --locked --no-fail-fast

echo "== fuzzing every parser of outside input (cargo fuzz, ${JIESU_FUZZ_SECONDS:-20} s a target)"
scripts/fuzz.sh "${JIESU_FUZZ_SECONDS:-20}"

echo "== browser tests (Playwright, Debian Chromium)"
if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "noto.*cjk"; then
  echo "installing chromium, chromium-driver and CJK fonts from Debian"
  as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null
fi
# The server under test is the debug binary the integration tests above built.
cargo build --locked -p jiesu

echo "== Open311 contract tests (Python client and JSON Schemas written from the specification)"
tests/contract/run.sh "$CARGO_TARGET_DIR/debug/jiesu" -q
(cd web && JIESU_BIN="$CARGO_TARGET_DIR/debug/jiesu" npm run e2e --silent)
