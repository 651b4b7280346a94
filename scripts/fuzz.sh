#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that takes outside input (fuzz/fuzz_targets/*), with
# libFuzzer on the stable toolchain: the targets are built with the coverage instrumentation
# cargo-fuzz uses (into target/fuzz), then each runs for FUZZ_SECONDS from its seed corpus in
# fuzz/corpus/<target> (new inputs go to a scratch copy, not into the repository).
#
#   scripts/fuzz.sh                       # every target, FUZZ_SECONDS (default 5) each
#   FUZZ_SECONDS=600 scripts/fuzz.sh jws  # a longer run of one target
#   FUZZ_PROFILE=dev scripts/fuzz.sh      # unoptimised: builds faster, runs slower (the test command)
#
# A crash stops the run with the input saved under target/fuzz/artifacts/<target>/; turn it into
# a regression test and add it to the seed corpus. Prints the executions of each target.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-5}
export CARGO_TARGET_DIR="$PWD/target/fuzz"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
# With an explicit --target, RUSTFLAGS reach the fuzzed code but not build scripts and proc
# macros (which run on the host and must not be instrumented), as cargo-fuzz does it.
host=$(rustc -vV | sed -n 's/^host: //p')
profile=${FUZZ_PROFILE:-release}
cargo build --profile "$profile" --quiet --manifest-path fuzz/Cargo.toml --bins --target "$host"
bin="$CARGO_TARGET_DIR/$host/$([ "$profile" = dev ] && echo debug || echo "$profile")"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "target/fuzz/artifacts/$t"
  cp -r "fuzz/corpus/$t/." "$scratch/$t/" 2>/dev/null || true
  log="$scratch/$t.log"
  if ! "$bin/$t" "$scratch/$t" -max_total_time="$seconds" -max_len=65536 \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="target/fuzz/artifacts/$t/" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: target $t FAILED; the input is in target/fuzz/artifacts/$t/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  printf 'fuzz: %-24s %9s executions in %ss, coverage %s\n' "$t" "${runs:-0}" "$seconds" "${cov:-?}"
  total=$((total + ${runs:-0}))
done
echo "fuzz: ${#targets[@]} targets, $total executions, no crash"
