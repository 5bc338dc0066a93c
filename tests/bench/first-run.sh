#!/usr/bin/env bash
# The first run, measured: a clean clone of this repository (no target directory, a fresh
# CARGO_TARGET_DIR) to the first answered request of the README's first command,
# `cargo run --release -- serve`. Crates already downloaded to ~/.cargo are reused (a first-time
# user downloads them too; that is the network's time, not the build's). Prints the seconds to
# the first `/readyz` 200 and the build's own time, for docs/benchmarks.md ("The first run").
#
#   tests/bench/first-run.sh            # this checkout's HEAD
#   tests/bench/first-run.sh <commit>   # another commit (compare before/after)
set -euo pipefail
cd "$(dirname "$0")/../.."
rev=${1:-HEAD}
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
git clone -q . "$work/hafen"
git -C "$work/hafen" checkout -q "$rev"
cargo fetch --locked --manifest-path "$work/hafen/Cargo.toml" >/dev/null 2>&1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "first-run: $(git -C "$work/hafen" log --oneline -1), $(nproc) cores"
start=$(date +%s)
(cd "$work/hafen" && CARGO_TARGET_DIR="$work/target" HAFEN_LISTEN="127.0.0.1:$port" \
   exec cargo run --release --locked -- serve >"$work/run.log" 2>&1) &
server=$!
built=
while :; do
  if [ -z "$built" ] && grep -q "Running \`" "$work/run.log" 2>/dev/null; then
    built=$(( $(date +%s) - start ))
  fi
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$server" 2>/dev/null || { tail -n 30 "$work/run.log"; echo "first-run: the server exited" >&2; exit 1; }
  sleep 1
done
answered=$(( $(date +%s) - start ))
echo "first-run: build ${built:-?} s, first answered request after ${answered} s ($(( answered / 60 )) min $(( answered % 60 )) s)"
