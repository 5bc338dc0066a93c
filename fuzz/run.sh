#!/usr/bin/env bash
# Runs the libFuzzer targets (docs/testing.md, "Fuzzing"), each for SECONDS (default 60), on a
# scratch copy of its committed corpus, so the tree stays clean. Fails on the first crash,
# panic, hang (-timeout) or runaway memory; the input that did it lands in fuzz/artifacts/.
#
#   fuzz/run.sh                  # every target, 60 s each, cargo-fuzz's optimised build
#   fuzz/run.sh 3600 whatsapp    # long: one target for an hour
#   FUZZ_BUILD=workspace fuzz/run.sh 30
#                                # CI: the targets built in the workspace's own target
#                                # directory on the dependencies `cargo test` compiled, only
#                                # Hafen and the targets instrumented (fuzz/instrument)
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(whatsapp messenger telegram signature api_bodies config envelope)
fi

if [ "${FUZZ_BUILD:-}" = workspace ]; then
  # Unoptimised, without AddressSanitizer (that needs a nightly compiler), coverage-guided.
  RUSTC_WORKSPACE_WRAPPER="$PWD/instrument" cargo build --quiet -p hafen-fuzz --bins
  target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  fuzz_run() {
    local target=$1
    shift
    mkdir -p "artifacts/$target"
    "$target_dir/debug/$target" -artifact_prefix="artifacts/$target/" "$@"
  }
else
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
  # libFuzzer with AddressSanitizer needs a nightly compiler; without one, run uninstrumented
  # for memory errors (coverage guidance still works) on the default toolchain. FUZZ_BUILD
  # overrides the build flags (e.g. "--dev -s none": unoptimised, a third of the build time).
  if rustup run nightly rustc --version >/dev/null 2>&1; then
    fuzz=(cargo +nightly fuzz)
    sanitizer=address
  else
    fuzz=(cargo fuzz)
    sanitizer=none
  fi
  read -r -a build <<<"${FUZZ_BUILD:--O -s $sanitizer}"

  "${fuzz[@]}" build "${build[@]}"
  fuzz_run() { local target=$1 corpus=$2; shift 2; "${fuzz[@]}" run "${build[@]}" "$target" "$corpus" -- "$@"; }
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  if [ -d "corpus/$target" ]; then cp -r "corpus/$target/." "$scratch/$target/"; fi
  log="$scratch/$target.log"
  if ! fuzz_run "$target" "$scratch/$target" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $target FAILED (the input is in fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  total=$((total + ${runs:-0}))
  echo "fuzz: $target: ${runs:-?} executions in ${seconds} s, no crash, no hang"
done
echo "fuzz: ${#targets[@]} targets, $total executions in all"
