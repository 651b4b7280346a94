#!/usr/bin/env bash
# latchkey gateway beside the gateway peers (../shared/peers/gateway/run.sh): nginx as a plain
# proxy (the limit: forwarding with no authentication at all) and Apache httpd with
# mod_auth_openidc verifying the same bearer JWT, each alone on core 0, wrk and the upstream on
# core 1, in one run.
#
#   bench/gateway.sh [seconds] [connections] [rounds]   (defaults: 10 s, 32, 3)
#
# Each round runs the peers' script once with an ES256 token and once with an RS256 token; the
# report takes each algorithm's round with the median gateway rate and lists every round. The
# gateway's idle RSS is read after start (issuer discovered, JWKS fetched). Writes
# bench/results/gateway-<time>/ and, through bench/gateway_report.py, bench/GATEWAY.md and
# bench/gateway.png. Needs nginx-light, apache2, libapache2-mod-auth-openidc, wrk (installed
# with apt-get when missing). Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-32}
rounds=${3:-3}
peers=${PEERS_DIR:-../shared/peers/gateway}

[ "$(nproc)" -ge 2 ] || { echo "needs 2 cores" >&2; exit 2; }
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
[ -x /usr/sbin/apache2 ] || missing+=(apache2)
[ -f /usr/lib/apache2/modules/mod_auth_openidc.so ] || missing+=(libapache2-mod-auth-openidc)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release --quiet -p latchkey
bin=$PWD/target/release/latchkey

out=bench/results/gateway-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
cmd="$bin gateway --config $PWD/bench/gateway-kong.yml --listen 127.0.0.1:19003 --status-listen 127.0.0.1:19004"
for round in $(seq 1 "$rounds"); do
  for alg in ES256 RS256; do
    echo "== round $round, $alg"
    ALG=$alg GATEWAY_CMD="$cmd" LATCHKEY_BIN="$bin" "$peers/run.sh" "$secs" "$conns" | tee "$out/round$round-$alg.txt"
  done
done

# Idle RSS: the gateway started on its own, after discovery and the JWKS fetch.
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
echo '{"realm":"bench","clients":[{"clientId":"bench","secret":"s","serviceAccountsEnabled":true}]}' >"$tmp/realm.json"
"$bin" serve --listen 127.0.0.1:18091 --db "sqlite://$tmp/idp.db" --import-realm "$tmp/realm.json" >"$tmp/idp.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:18091/health/ready && break; sleep 0.1; done
BENCH_ISSUER=http://127.0.0.1:18091/realms/bench "$bin" gateway --config bench/gateway-kong.yml \
  --listen 127.0.0.1:19013 --status-listen 127.0.0.1:19014 >"$tmp/gw.log" 2>&1 &
gw=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null http://127.0.0.1:19014/health/ready && break; sleep 0.1; done
sleep 1
awk '/VmRSS/ {print $2}' "/proc/$gw/status" >"$out/idle_rss_kb.txt"
echo "idle RSS $(cat "$out/idle_rss_kb.txt") kB"
{
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024/1024+0.5) " GiB"}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "kernel: $(uname -r); rustc: $(rustc --version); nginx: $(nginx -v 2>&1 | cut -d/ -f2); apache: $(/usr/sbin/apache2 -v | head -1 | cut -d/ -f2)"
  echo "command: bench/gateway.sh $secs $conns $rounds"
} >"$out/machine.txt"

venv=bench/.venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'matplotlib==3.10.8'
fi
"$venv/bin/python" bench/gateway_report.py "$out"
