#!/usr/bin/env bash
# The monthly report's time and peak memory over a month of N orders (default 150,000):
# N orders made from the real messages of ../shared/data/messages (cycled, spread evenly over
# October 2026, a caller each), imported with `jiesu import` into a fresh demo data directory,
# then `jiesu report monthly` timed by /usr/bin/time (elapsed seconds, peak RSS).
#
#   bench/report-memory.sh [N] [JIESU]     (JIESU: default $CARGO_TARGET_DIR/release/jiesu)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-150000}"
jiesu="${2:-${CARGO_TARGET_DIR:-target}/release/jiesu}"
messages=../shared/data/messages/messages.jsonl
[ -f "$messages" ] || { echo "skipped: $messages is absent (it is in ../shared/data)" >&2; exit 0; }
[ -x "$jiesu" ] || { echo "no jiesu binary at $jiesu: cargo build --release -p jiesu" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$n" "$messages" "$work/orders.jsonl" <<'PY'
import json, random, sys
n, src, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msgs = [json.loads(l) for l in open(src, encoding="utf-8")]
rnd = random.Random(7)
with open(out, "w", encoding="utf-8") as f:
    for i in range(n):
        m = msgs[i % len(msgs)]
        sec = i * (30 * 86400 - 1) // n
        d, s = 1 + sec // 86400, sec % 86400
        f.write(json.dumps({
            "channel": "phone", "request_type": "complaint",
            "title": m["title"][:60], "content": m["content"][:2000] or m["title"],
            "citizen_name": "市民", "citizen_phone": "139%08d" % rnd.randrange(10**8),
            "accepted_at": "2026-10-%02d %02d:%02d:%02d" % (d, s // 3600, s % 3600 // 60, s % 60),
            "external_ref": "RM-%d" % i,
        }, ensure_ascii=False) + "\n")
PY
"$jiesu" demo --data-dir "$work/data" --no-serve >/dev/null
"$jiesu" import --data-dir "$work/data" --as-user agent "$work/orders.jsonl"
/usr/bin/time -f "report: %e s, peak RSS %M KiB" \
  "$jiesu" report monthly --data-dir "$work/data" --month 2026-10 --out "$work/report.xlsx"
