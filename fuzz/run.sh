#!/usr/bin/env bash
# Runs the libFuzzer targets (docs/testing.md, "Fuzzing"), each for SECONDS (default 60), on a
# scratch copy of its committed corpus, so the tree stays clean. Fails on the first crash,
# panic, hang (-timeout) or runaway memory; the input that did it lands in fuzz/artifacts/.
#
#   fuzz/run.sh                  # every target, 60 s each (CI: 45 s, FUZZ_BUILD="--dev -s none")
#   fuzz/run.sh 3600 whatsapp    # long: one target for an hour
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(whatsapp messenger telegram signature api_bodies config envelope)
fi

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
# libFuzzer with AddressSanitizer needs a nightly compiler; without one, run uninstrumented
# for memory errors (coverage guidance still works) on the default toolchain. FUZZ_BUILD
# overrides the build flags (CI: "--dev -s none", which builds in a third of the time).
if rustup run nightly rustc --version >/dev/null 2>&1; then
  fuzz=(cargo +nightly fuzz)
  sanitizer=address
else
  fuzz=(cargo fuzz)
  sanitizer=none
fi
read -r -a build <<<"${FUZZ_BUILD:--O -s $sanitizer}"

"${fuzz[@]}" build "${build[@]}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
total=0
for target in "${targets[@]}"; do
  mkdir -p "$scratch/$target"
  if [ -d "corpus/$target" ]; then cp -r "corpus/$target/." "$scratch/$target/"; fi
  log="$scratch/$target.log"
  if ! "${fuzz[@]}" run "${build[@]}" "$target" "$scratch/$target" -- \
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
