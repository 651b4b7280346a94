#!/usr/bin/env bash
# Runs every test of latchkey: formatting and lints, unit tests, then the browser, integration
# and interop tests against the real release binary. Installs what it needs, idempotently.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never
# Each phase's heading says how long the suite has run so far.
phase() { echo "== $* (at $((SECONDS / 60))m$((SECONDS % 60))s)"; }

cat <<'NEEDS'
== latchkey's test suite needs:
   - a Rust toolchain (cargo, rustc 1.85+)
   - apt-get and root, when a Debian package is missing (python3-venv, nodejs, npm, chromium, curl, jq)
   - the network on the first run: Python packages into ./.venv, npm packages into tests/browser/node_modules
   - PostgreSQL at 127.0.0.1:5432, trust auth, database "test" (else that half is skipped; CI=true makes it an error)
NEEDS

need_apt=()
command -v python3 >/dev/null || need_apt+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v node >/dev/null || need_apt+=(nodejs npm)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v curl >/dev/null || need_apt+=(curl)
command -v jq >/dev/null || need_apt+=(jq)
if [ ${#need_apt[@]} -gt 0 ]; then
  phase "apt-get install ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Python and npm packages download while the code compiles (they need the network, not the CPU).
mkdir -p target/test-logs
logs=target/test-logs
install_python() {
  local stamp=.venv/.requirements.sha256 want
  want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
  if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    echo "$want" > "$stamp"
  fi
}
install_node() {
  local lock_sum
  lock_sum=$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)
  if [ "$(cat tests/browser/node_modules/.lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
    (cd tests/browser && npm ci --no-audit --no-fund --silent)
    echo "$lock_sum" > tests/browser/node_modules/.lock.sha256
  fi
}
phase "python packages (.venv) and browser packages (tests/browser/node_modules), in the background"
install_python > "$logs/python-packages.log" 2>&1 & python_pid=$!
install_node > "$logs/node-packages.log" 2>&1 & node_pid=$!

phase "supply chain: cargo deny (licences, bans, sources; deny.toml)"
command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny
cargo deny --log-level error check licenses bans sources

phase "cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# The ci profile is the release profile without link-time optimisation (Cargo.toml): the unit
# tests and the binary every test below drives compile once, with the dependencies shared.
PROFILE=ci
phase "unit tests"
cargo test --profile "$PROFILE" --workspace --quiet

phase "build the binary"
cargo build --profile "$PROFILE" --quiet
BIN="$PWD/target/$PROFILE/latchkey"
export LATCHKEY_CARGO_PROFILE="$PROFILE"

for job in python:$python_pid node:$node_pid; do
  if ! wait "${job#*:}"; then
    cat "$logs/${job%%:*}-packages.log"
    echo "installing the ${job%%:*} packages failed" >&2
    exit 1
  fi
done

# CI must not skip the PostgreSQL run silently.
if [ "${CI:-}" = "true" ]; then export LATCHKEY_REQUIRE_POSTGRES=1; fi

# The rest runs side by side: it waits on the network and on the servers more than it computes.
# Each pytest run hands out ports from a range of its own (below the kernel's ephemeral range),
# so that no two servers are ever given the same port.
phase "side by side: fuzzing, browser tests, and the integration and interop tests on PostgreSQL and on SQLite"
declare -A jobs
# Every parser of outside input, a few seconds each (scripts/fuzz.sh). Unoptimised, the targets
# build in about half the time and still run tens of thousands of inputs a second; longer runs
# use the release profile (docs/security.md).
FUZZ_PROFILE=dev FUZZ_SECONDS="${FUZZ_SECONDS:-3}" scripts/fuzz.sh > "$logs/fuzzing.log" 2>&1 & jobs[fuzzing]=$!
# Chromium, keycloak-js, oidc-client-ts.
LATCHKEY_BIN="$BIN" node --test tests/browser/ > "$logs/browser.log" 2>&1 & jobs[browser]=$!
# Store-agnostic tests (README, gateway, the admin API fuzz) run once, in the SQLite pass.
LATCHKEY_TEST_PORTS=26000-31999 LATCHKEY_TEST_STORE=postgres LATCHKEY_BIN="$BIN" \
  .venv/bin/python -m pytest tests -q -rs -p no:cacheprovider -m "not once_per_suite" "$@" \
  > "$logs/postgresql.log" 2>&1 & jobs[postgresql]=$!
LATCHKEY_TEST_PORTS=20000-25999 LATCHKEY_BIN="$BIN" \
  .venv/bin/python -m pytest tests -q -rs -p no:cacheprovider "$@" \
  > "$logs/sqlite.log" 2>&1 & jobs[sqlite]=$!

failed=()
for name in fuzzing browser postgresql sqlite; do
  if wait "${jobs[$name]}"; then status=passed; else status=FAILED; failed+=("$name"); fi
  phase "$name: $status"
  cat "$logs/$name.log"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (logs in $logs/)" >&2
  exit 1
fi
phase "done"
