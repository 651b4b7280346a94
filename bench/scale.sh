#!/usr/bin/env bash
# Refresh latency with few and with many stored token records.
#
#   bench/scale.sh [seconds] [clients] [small] [large] [rounds]
#                  (defaults: 20 s, 32 clients, 10000, 10000000, 3 rounds)
#
# For each size, once: a fresh SQLite store gets the bench realm, then that many extra
# refresh-token records laid out as latchkey writes them (time-ordered ids, in 100,000
# families; the oldest tenth expired and the sessions of a tenth of the families idled out, so
# the background purge is deleting a backlog while the load runs), then everything is synced to disk. Then, round by round, small and large take
# turns (this VM's speed drifts from minute to minute): each run starts from a fresh copy of
# its filled store, and latchkey serves S4's load (refresh with rotation, ES256) with the
# server on core 0 and the load on core 1. Prints and appends every run to
# bench/results/scale-<time>.jsonl; the report compares the median p99 of each size.
# Needs ~4 GB of disk for 10 million.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
clients=${2:-32}
sizes=("${3:-10000}" "${4:-10000000}")
rounds=${5:-3}
port=${LATCHKEY_PORT:-8381}
cargo build --release --quiet -p latchkey -p latchkey-loadgen
mkdir -p bench/results
out=bench/results/scale-$(date -u +%Y%m%dT%H%M%SZ).jsonl
pid=
dirs=()
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi; }
cleanup() { stop; for d in "${dirs[@]}"; do rm -rf "$d"; done; }
trap cleanup EXIT

start() { # dir db [import]
  taskset -c 0 ./target/release/latchkey serve --db "sqlite://$1/$2" --listen "127.0.0.1:$port" \
    ${3:+--import-realm bench/realm-bench.json} >>"$1/latchkey.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/ready" && return 0; sleep 0.1; done
  echo "latchkey did not start" >&2
  exit 1
}

for n in "${sizes[@]}"; do
  dir=$(mktemp -d /tmp/latchkey-scale.XXXXXX)
  dirs+=("$dir")
  start "$dir" filled.db import
  stop
  echo "filling $n records into $dir ..."
  t0=$(date +%s)
  python3 - "$dir/filled.db" "$n" <<'EOF'
import sqlite3, sys, time
db, n = sys.argv[1], int(sys.argv[2])
families = min(100_000, max(1, n // 100))
now = int(time.time())
c = sqlite3.connect(db)
c.executescript("PRAGMA synchronous=OFF; PRAGMA cache_size=-1000000;")
realm = c.execute("SELECT id FROM realms WHERE name='bench'").fetchone()[0]
user = c.execute("SELECT id FROM users WHERE username='bench' AND realm_id=?", (realm,)).fetchone()[0]
# As latchkey writes them: ids that grow with time (UUIDv7), families started one after another,
# records issued over the past 8 hours (within the realm's 10 h SSO max). The oldest tenth of
# the records expired over two hours ago, and the sessions of the oldest tenth of the families
# idled out 2.5 hours ago (the purge's work: records, and sessions with their families); the
# rest live, their sessions used a minute before the fill.
per_family = max(1, n // families)
with c:
    c.execute("""WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM s WHERE i < ?1 - 1)
        INSERT INTO sessions (id, realm_id, user_id, offline, started_at, auth_time, last_refresh)
        SELECT printf('0000-s-%09d', i), ?2, ?3, 0, ?4 - 30000, ?4 - 30000,
               CASE WHEN i < ?1 / 10 THEN ?4 - 9000 ELSE ?4 - 60 END FROM s""", (families, realm, user, now))
    c.execute("""WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM s WHERE i < ?1 - 1)
        INSERT INTO client_sessions (id, session_id, client_id, started_at, last_refresh)
        SELECT printf('0000-cs-%09d', i), printf('0000-s-%09d', i), 'bench-es256', ?2 - 30000,
               CASE WHEN i < ?1 / 10 THEN ?2 - 9000 ELSE ?2 - 60 END FROM s""", (families, now))
    c.execute("""WITH RECURSIVE t(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM t WHERE i < ?1 - 1)
        INSERT INTO refresh_tokens (jti, client_session_id, issued_at, expires_at, scope, offline, rotated_at, use_count)
        SELECT printf('0000-%010d-', i) || lower(hex(randomblob(8))),
               printf('0000-cs-%09d', min(i / ?2, ?3 - 1)), ?4 - 30000 + (i * 29400) / ?1,
               CASE WHEN i < ?1 / 10 THEN ?4 - 7200 ELSE ?4 + 1200 END, 'openid profile email', 0, ?4, 1
        FROM t""", (n, per_family, families, now))
print(c.execute("SELECT count(*) FROM refresh_tokens").fetchone()[0], "records")
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
EOF
  sync
  echo "filled in $(( $(date +%s) - t0 )) s; store $(du -sh "$dir/filled.db" | cut -f1)"
done

for round in $(seq 1 "$rounds"); do
  for i in "${!sizes[@]}"; do
    n=${sizes[$i]}
    dir=${dirs[$i]}
    rm -f "$dir"/run.db*
    cp "$dir/filled.db" "$dir/run.db"
    sync
    start "$dir" run.db
    r=$(taskset -c 1 ./target/release/latchkey-loadgen --url "http://127.0.0.1:$port/realms/bench/protocol/openid-connect/token" \
      --scenario refresh --clients "$clients" --duration "$secs" --client-id bench-es256 --spin \
      --client-secret bench-secret-0123456789abcdef --username bench --password bench-password --scope openid)
    stop
    left=$(python3 -c 'import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1]); t=int(time.time()); print(c.execute("SELECT count(*) FROM refresh_tokens WHERE expires_at < ?", (t - 3600,)).fetchone()[0], c.execute("SELECT count(*) FROM sessions WHERE last_refresh < ?", (t - 1800 - 3600,)).fetchone()[0])' "$dir/run.db")
    line=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); n=int(sys.argv[2]); left=sys.argv[3].split(); r.update(records=n, expired_at_start=n//10, expired_left=int(left[0]), dead_sessions_at_start=min(100_000, max(1, n // 100))//10, dead_sessions_left=int(left[1]), round=int(sys.argv[4])); print(json.dumps(r))' "$r" "$n" "$left" "$round")
    echo "$line" | tee -a "$out"
  done
done
