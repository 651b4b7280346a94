#!/usr/bin/env bash
# latchkey beside the peer (node-oidc-provider), scenario by scenario, in one run.
#
#   bench/run.sh [seconds-per-scenario] [clients] [rounds]   (defaults: 15 s, 32 clients, 3)
#   bench/run.sh --postgres [seconds] [clients] [rounds]     (PostgreSQL beside pgbench)
#
# A round runs every scenario on latchkey and then on the peer. During each latchkey run the
# load generator measures its limit (one core's raw signing or hashing rate) on the server's
# core, interleaved with the load: every 2 s of load the clients hold their next request, the
# server finishes what it has, and a thread pinned to core 0 signs or hashes for 0.5 s. This
# machine is a VM whose speed drifts by a third within a minute; a limit measured before and
# after a 15 s run missed that drift, one measured every 2 s follows it. The report takes, for
# each scenario, the round with the median latchkey rate, and compares it with the peer and
# that run's limit; every round is listed.
#
# Each server runs alone on core 0 (taskset -c 0), fresh for each scenario; the load generator
# (latchkey-loadgen, the same for both) runs on core 1 and polls instead of sleeping (--spin):
# waking a sleeping load generator on the other core costs the *server's* core an IPI per
# response, which on this VM was ~9 % of its time — a cost of sharing one machine, not of serving.
# latchkey uses SQLite with every commit fsynced (synchronous=FULL, group commit). The peer
# keeps its store in memory.
# Writes bench/results/<time>/ (raw JSON lines, logs) and, through bench/report.py,
# bench/RESULTS.md and bench/results.png. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
# The PostgreSQL mode: latchkey's refresh beside pgbench on the same server (bench/postgres.sh).
if [ "${1:-}" = "--postgres" ]; then shift; exec bench/postgres.sh "$@"; fi
secs=${1:-15}
clients=${2:-32}
rounds=${3:-3}
peer_dir=${PEER_DIR:-../shared/peers/oidc-provider}
lport=${LATCHKEY_PORT:-8380}
pport=${PEER_PORT:-3380}
secret=bench-secret-0123456789abcdef

[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores: server on one, load on the other" >&2; exit 2; }
command -v node >/dev/null || { echo "needs Node.js for the peer" >&2; exit 2; }
cargo build --release --quiet -p latchkey -p latchkey-loadgen
[ -d "$peer_dir/node_modules/oidc-provider" ] || npm install --prefix "$peer_dir" --no-audit --no-fund --silent

out=bench/results/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
results="$out/results.jsonl"
: >"$results"
loadgen=./target/release/latchkey-loadgen
server_pid=

stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=
  fi
}
trap stop_server EXIT

wait_for() { # url
  for _ in $(seq 1 400); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.05
  done
  echo "server did not come up: $1" >&2
  exit 1
}

peak_kb() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# record SERVER SCENARIO LOADGEN-JSON PEAK-KB
record() {
  python3 -c 'import json,sys; r=json.loads(sys.argv[3]); r.update(server=sys.argv[1], id=sys.argv[2], peak_rss_kb=int(sys.argv[4]), round=int(sys.argv[5])); print(json.dumps(r))' \
    "$1" "$2" "$3" "$4" "$round" >>"$results"
  echo "$1 $2 (round $round): $3 peak_rss_kb=$4"
}

start_latchkey() { # db-dir [import]
  local dir=$1
  taskset -c 0 ./target/release/latchkey serve --db "sqlite://$dir/latchkey.db" --listen "127.0.0.1:$lport" \
    ${2:+--import-realm bench/realm-bench.json} >>"$dir/latchkey.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$lport/health/ready"
}

# limit SCENARIO-ID LIMIT LOADGEN-JSON: the limit the load generator measured between slices
# of the scenario's load (its "limit" member), as a line of its own.
limit() {
  python3 -c 'import json,sys; r=json.loads(sys.argv[1])["limit"]; r.update(server="limit", id=sys.argv[2], scenario_id=sys.argv[3], round=int(sys.argv[4]), phase="interleaved"); print(json.dumps(r))' "$3" "$2" "$1" "$round" >>"$results"
}

latchkey_scenario() { # id loadgen-scenario client-id limit [scope]
  local id=$1 scenario=$2 client=$3 lim=$4 scope=${5:-}
  local dir="$out/r$round/latchkey-$id"
  mkdir -p "$dir"
  start_latchkey "$dir" import
  local r
  r=$(taskset -c 1 "$loadgen" --url "http://127.0.0.1:$lport/realms/bench/protocol/openid-connect/token" \
    --scenario "$scenario" --clients "$clients" --duration "$secs" --client-id "$client" --spin \
    --client-secret "$secret" --username bench --password bench-password ${scope:+--scope "$scope"} \
    --limit "$lim" --limit-core 0)
  record latchkey "$id" "$r" "$(peak_kb "$server_pid")"
  limit "$id" "$lim" "$r"
  stop_server
}

peer_scenario() { # id loadgen-scenario at-alg id-alg [scope]
  local id=$1 scenario=$2 at=$3 idalg=$4 scope=${5:-}
  local dir="$out/r$round/peer-$id"
  mkdir -p "$dir"
  (cd "$peer_dir" && PORT=$pport AT_FORMAT=jwt AT_ALG=$at ID_ALG=$idalg ROTATE=1 MINT=$clients \
    POOL_FILE="$OLDPWD/$dir/rt_pool.txt" exec taskset -c 0 node server.mjs) >"$dir/peer.log" 2>&1 &
  server_pid=$!
  wait_for "http://127.0.0.1:$pport/.well-known/openid-configuration"
  local r
  r=$(taskset -c 1 "$loadgen" --url "http://127.0.0.1:$pport/token" --scenario "$scenario" \
    --clients "$clients" --duration "$secs" --client-id bench --client-secret "$secret" --spin \
    ${scope:+--scope "$scope"} --token-file "$dir/rt_pool.txt")
  record peer "$id" "$r" "$(peak_kb "$server_pid")"
  stop_server
}

for round in $(seq 1 "$rounds"); do
  echo "== S1 client_credentials, RS256 access token"
  latchkey_scenario S1 client-credentials bench limit-rs256
  peer_scenario S1 client-credentials RS256 RS256 api:read
  echo "== S2 client_credentials, ES256 access token"
  latchkey_scenario S2 client-credentials bench-es256 limit-es256
  peer_scenario S2 client-credentials ES256 ES256 api:read
  echo "== S3 refresh with rotation, RS256 access + ID token"
  latchkey_scenario S3 refresh bench limit-rs256 openid
  peer_scenario S3 refresh RS256 RS256
  echo "== S4 refresh with rotation, ES256 access + ID token"
  latchkey_scenario S4 refresh bench-es256 limit-es256 openid
  peer_scenario S4 refresh ES256 ES256
  echo "== S5 password grant, argon2id m=19 MiB t=2 p=1 (the peer has no password grant)"
  latchkey_scenario S5 password bench limit-argon2
done

echo "== start-up on an existing store, and idle memory"
dir="$out/r1/latchkey-S1"
start_latchkey "$dir"
sleep 2
ready_ms=$(grep -o 'ready_ms[^0-9]*[0-9]*' "$dir/latchkey.log" | tail -1 | grep -o '[0-9]*$')
idle=$(rss_kb "$server_pid")
stop_server
python3 -c 'import json,sys; print(json.dumps(dict(server="latchkey", id="startup", ready_ms=int(sys.argv[1]), idle_rss_kb=int(sys.argv[2]))))' \
  "$ready_ms" "$idle" >>"$results"
echo "ready after ${ready_ms} ms on an existing store; idle RSS ${idle} kB"

{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024/1024+0.5) " GiB"}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "kernel: $(uname -r); rustc: $(rustc --version); node: $(node --version)"
  echo "command: bench/run.sh $secs $clients $rounds"
} >"$out/machine.txt"
bench/report.sh "$out"
