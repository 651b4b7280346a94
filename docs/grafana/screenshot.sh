#!/usr/bin/env bash
# Regenerates docs/grafana-dashboard.png: starts a latchkey on the demo realm with a fresh SQLite
# store, a Prometheus scraping its management port every 2 s, plays traffic.py against it for a
# few minutes, then has render.mjs draw latchkey-dashboard.json from that Prometheus in headless
# Chromium. Everything listens on 127.0.0.1 and is stopped at the end.
#
# Needs: a built latchkey (LATCHKEY, default target/release/latchkey), Debian's prometheus and
# chromium packages, node and npm (playwright-core and uplot are installed into the work folder
# unless RENDER_NODE_MODULES names a node_modules folder that has them), python3.
#
#   docs/grafana/screenshot.sh                    # about 5 minutes
#   TRAFFIC_SECONDS=600 docs/grafana/screenshot.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
LATCHKEY=${LATCHKEY:-$repo/target/release/latchkey}
WORK=${WORK:-$(mktemp -d /tmp/latchkey-dashboard.XXXXXX)}
TRAFFIC_SECONDS=${TRAFFIC_SECONDS:-300}
PUBLIC=${PUBLIC:-127.0.0.1:18080}
MANAGEMENT=${MANAGEMENT:-127.0.0.1:19000}
PROMETHEUS=${PROMETHEUS:-127.0.0.1:19090}
OUT=${OUT:-$repo/docs/grafana-dashboard.png}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

for tool in prometheus node npm python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install prometheus chromium nodejs npm)" >&2; exit 1; }
done
[ -x "$CHROMIUM" ] || { echo "missing: $CHROMIUM (apt-get install chromium)" >&2; exit 1; }
[ -x "$LATCHKEY" ] || { echo "missing: $LATCHKEY (cargo build --release)" >&2; exit 1; }

MODULES=${RENDER_NODE_MODULES:-$WORK/render/node_modules}
if [ ! -d "$MODULES/playwright-core" ] || [ ! -d "$MODULES/uplot" ]; then
  mkdir -p "$WORK/render"
  npm install --silent --no-audit --no-fund --prefix "$WORK/render" playwright-core uplot
  MODULES=$WORK/render/node_modules
fi

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

wait_for() { # url, what
  for _ in $(seq 1 100); do curl -fs -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "$2 did not come up; see $WORK" >&2; exit 1
}

# A copy, so that a rebuild of the original does not pull the binary from under the server.
cp "$LATCHKEY" "$WORK/latchkey"
"$WORK/latchkey" serve --listen "$PUBLIC" --management-listen "$MANAGEMENT" \
  --db "sqlite://$WORK/latchkey.db" --import-realm "$repo/tests/fixtures/demo-realm.json" \
  >"$WORK/latchkey.log" 2>&1 &
pids+=($!)
wait_for "http://$MANAGEMENT/health/ready" latchkey

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  - job_name: latchkey
    static_configs:
      - targets: ["$MANAGEMENT"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prometheus" \
  --web.listen-address="$PROMETHEUS" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)
wait_for "http://$PROMETHEUS/-/ready" prometheus

sleep 10 # a few idle scrapes before the traffic starts
start=$(date +%s)
python3 "$here/traffic.py" --base "http://$PUBLIC" --seconds "$TRAFFIC_SECONDS"
end=$(date +%s)
sleep 4 # the last scrapes

node "$here/render.mjs" --modules "$MODULES" --chromium "$CHROMIUM" \
  --prometheus "http://$PROMETHEUS" --scrape 2 --start $((start - 20)) --end "$end" --out "$OUT"
echo "work folder (logs, store, Prometheus data): $WORK"
