#!/usr/bin/env bash
# What a change costs in release build time, binary size and crates: builds two commits from
# fresh clones, one after the other, and prints a line per commit.
#   bash docs/measure-build.sh 82597dd 9327bc0
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
for rev in "$@"; do
  dir=$(mktemp -d)
  git clone -q "$repo" "$dir" && git -C "$dir" checkout -q "$rev"
  (cd "$dir" && cargo fetch -q)
  start=$(date +%s)
  (cd "$dir" && cargo build --release -q)
  end=$(date +%s)
  crates=$(cd "$dir" && cargo tree -e normal --prefix none | sort -u | wc -l)
  echo "$rev build_seconds=$((end - start)) binary_bytes=$(stat -c %s "$dir/target/release/hafen") crates=$crates"
  rm -rf "$dir"
done
