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

phase "supply chain: cargo deny (licences, bans, sources; deny.toml)"
command -v cargo-deny >/dev/null || cargo install --locked --quiet cargo-deny
cargo deny --log-level error check licenses bans sources

phase "cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

# Unit tests in the release profile: the dependencies compile once, for them and for the
# binary that the README's run command (`cargo run --release -- serve`) and every test below use.
phase "unit tests"
cargo test --release --workspace --quiet

phase "fuzzing: every parser of outside input, a few seconds each (scripts/fuzz.sh)"
# Unoptimised, the targets build in about half the time and still run tens of thousands of
# inputs a second; longer runs use the release profile (docs/security.md).
FUZZ_PROFILE=dev FUZZ_SECONDS="${FUZZ_SECONDS:-3}" scripts/fuzz.sh

phase "build the release binary"
cargo build --release --quiet
BIN="$PWD/target/release/latchkey"

phase "python packages (.venv)"
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
  echo "$want" > "$stamp"
fi

phase "browser packages (tests/browser/node_modules)"
lock_sum=$(sha256sum tests/browser/package-lock.json | cut -d' ' -f1)
if [ "$(cat tests/browser/node_modules/.lock.sha256 2>/dev/null)" != "$lock_sum" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --silent)
  echo "$lock_sum" > tests/browser/node_modules/.lock.sha256
fi

phase "browser end-to-end tests (Chromium, keycloak-js, oidc-client-ts)"
LATCHKEY_BIN="$BIN" node --test tests/browser/

# CI must not skip the PostgreSQL run silently.
if [ "${CI:-}" = "true" ]; then export LATCHKEY_REQUIRE_POSTGRES=1; fi

phase "integration and interop tests on PostgreSQL (real binary over HTTP)"
# Store-agnostic tests (README, gateway) run once, in the SQLite pass.
LATCHKEY_TEST_STORE=postgres LATCHKEY_BIN="$BIN" .venv/bin/python -m pytest tests -q -rs -p no:cacheprovider -m "not once_per_suite" "$@"

phase "integration and interop tests on SQLite (real binary over HTTP)"
LATCHKEY_BIN="$BIN" .venv/bin/python -m pytest tests -q -rs -p no:cacheprovider "$@"
phase "done"
