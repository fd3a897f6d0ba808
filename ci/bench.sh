#!/bin/sh
# Runs the report benchmarks: each measures TQUIC and a peer in the same run
# and prints BENCH and RATIO lines (higher RATIO is better for TQUIC).
set -eu
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench '^BenchmarkReport' -benchtime 1x ./... >"$out" 2>&1 || { cat "$out"; exit 1; }
grep -E '^(BENCH|RATIO) ' "$out"
