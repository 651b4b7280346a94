#!/usr/bin/env bash
# Refresh-with-rotation throughput on SQLite (issue 3's benchmark; not part of the tests).
# Server pinned to core 0, load generator to core 1. Usage: bench/refresh.sh [seconds] [clients]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}; clients=${2:-32}; port=${PORT:-8282}
cargo build --release --quiet -p latchkey -p latchkey-loadgen
dir=$(mktemp -d)
taskset -c 0 ./target/release/latchkey serve --db "sqlite://$dir/db.sqlite" --listen "127.0.0.1:$port" \
  --import-realm bench/realm-bench.json >"$dir/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
until curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null; do sleep 0.05; done
url="http://127.0.0.1:$port/realms/bench/protocol/openid-connect/token"
for client in bench bench-es256; do
  for scenario in refresh client-credentials; do
    printf '%-12s %-19s ' "$client" "$scenario"
    taskset -c 1 ./target/release/latchkey-loadgen --url "$url" --scenario "$scenario" --clients "$clients" \
      --duration "$secs" --client-id "$client" --client-secret bench-secret-0123456789abcdef \
      --username bench --password bench-password --scope openid
  done
done
echo "peak RSS of the server: $(grep VmHWM /proc/$pid/status | awk '{print $2, $3}')"
