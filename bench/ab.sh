#!/usr/bin/env bash
# Two latchkey binaries against each other in one run: S4 (refresh with rotation, ES256 access and
# ID token) and S1 (client_credentials, RS256), each round a fresh server of A then of B on core 0
# with the load generator on core 1, so that the machine's drift falls on both alike. Prints each
# round and the median of B's rate over A's. Not part of the test command.
#
#   bench/ab.sh BIN_A BIN_B [rounds] [seconds] [realm.json] [realm-for-B.json]
#
# With a sixth argument B runs on a realm of its own: one binary against itself with events
# stored and not, say (bench/realm-bench-events.json stores every refresh's event).
#
# A base to compare with: git worktree add /tmp/base <commit> &&
#   (cd /tmp/base && CARGO_TARGET_DIR=/tmp/base-target cargo build --release -p latchkey)
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1; B=$2; rounds=${3:-5}; secs=${4:-10}; realm=${5:-bench/realm-bench.json}; realm_b=${6:-$realm}
port=${PORT:-8391}
cargo build --release --quiet -p latchkey-loadgen
loadgen=./target/release/latchkey-loadgen
run() { # bin scenario client realm
  local dir pid r
  dir=$(mktemp -d)
  taskset -c 0 "$1" serve --db "sqlite://$dir/db.sqlite" --listen "127.0.0.1:$port" --import-realm "$4" >"$dir/log" 2>&1 &
  pid=$!
  until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do sleep 0.05; done
  r=$(taskset -c 1 "$loadgen" --url "http://127.0.0.1:$port/realms/bench/protocol/openid-connect/token" \
    --scenario "$2" --clients 32 --duration "$secs" --client-id "$3" --spin \
    --client-secret bench-secret-0123456789abcdef --username bench --password bench-password --scope openid)
  kill "$pid"; wait "$pid" 2>/dev/null || true; rm -rf "$dir"
  python3 -c 'import json,sys; print(round(json.loads(sys.argv[1])["rps"]))' "$r"
}
out=$(mktemp)
for i in $(seq 1 "$rounds"); do
  for sc in "S4 refresh bench-es256" "S1 client-credentials bench"; do
    set -- $sc
    a=$(run "$A" "$2" "$3" "$realm"); b=$(run "$B" "$2" "$3" "$realm_b")
    echo "$1 round $i: A=$a B=$b" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import re, statistics, sys
ratios = {}
for line in open(sys.argv[1]):
    m = re.match(r"(S\d) round \d+: A=(\d+) B=(\d+)", line)
    if m:
        ratios.setdefault(m[1], []).append(int(m[3]) / int(m[2]))
for s, r in ratios.items():
    print(f"{s}: B/A median {statistics.median(r):.3f} (min {min(r):.3f}, max {max(r):.3f}, {len(r)} rounds)")
PY
rm -f "$out"
