#!/usr/bin/env bash
# Runs the Open311 GeoReport v2 contract tests against a fresh demo server.
#
#   tests/contract/run.sh PATH_TO_JIESU_BINARY [PYTEST_ARGS...]
#
# Makes (or reuses) a venv at ${CARGO_TARGET_DIR:-~/.cache/jiesu-target}/contract-venv,
# starts `BIN demo` on a free loopback port with a temporary data dir, waits for
# /open311/discovery.json to answer 200, runs pytest with JIESU_OPEN311_URL set, then
# stops the server and removes the data dir. Exits with pytest's status.
set -euo pipefail

if [ "$#" -lt 1 ]; then
  echo "usage: $0 PATH_TO_JIESU_BINARY [PYTEST_ARGS...]" >&2
  exit 2
fi
bin="$1"
shift
if [ ! -x "$bin" ]; then
  echo "$bin is not an executable file" >&2
  exit 2
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/jiesu-target}"
venv="$target_dir/contract-venv"
stamp="$venv/requirements.txt"

# --- the venv: made once, reinstalled only when requirements.txt changes
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p "$target_dir"
  python3 -m venv "$venv"
  rm -f "$stamp"
fi
if ! cmp -s "$here/requirements.txt" "$stamp"; then
  echo "== installing the contract tests' requirements into $venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --only-binary=:all: -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi

# --- the server
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/jiesu-contract.XXXXXX")"
data_dir="$work_dir/data"
log="$work_dir/server.log"
server_pid=""

# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port="$("$venv/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()')"
url="http://127.0.0.1:$port"

echo "== starting $bin demo on $url (data in $data_dir)"
"$bin" demo --data-dir "$data_dir" --listen "127.0.0.1:$port" >"$log" 2>&1 &
server_pid=$!

deadline=$((SECONDS + 180))
until [ "$("$venv/bin/python" - "$url/open311/discovery.json" <<'PY'
import sys
import urllib.error
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as resp:
        print(resp.status)
except urllib.error.HTTPError as err:
    print(err.code)
except Exception:
    print(0)
PY
)" = "200" ]; do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited before answering; last lines of its log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "$url/open311/discovery.json did not answer 200 within 180 s; last lines of the server log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  sleep 1
done
echo "== server ready; running the contract tests"

status=0
# No __pycache__ or .pytest_cache left in the work tree.
JIESU_OPEN311_URL="$url" PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -q "$here" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "== last lines of the server log" >&2
  tail -n 20 "$log" >&2
fi
exit "$status"
