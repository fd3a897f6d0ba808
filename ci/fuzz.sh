#!/bin/sh
# Runs every Go fuzz target of the tree for FUZZTIME each (default 10m) and
# prints the executions each reached.
set -eu
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10m}
targets=0
for pkg in $(go list ./...); do
	for fn in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		targets=$((targets + 1))
		echo "fuzz: $pkg $fn ($fuzztime)"
		# A finding fails the run (a pipe into tail would hide the status).
		if ! out=$(go test -run '^$' -fuzz "^$fn\$" -fuzztime "$fuzztime" -parallel 2 "$pkg" 2>&1); then
			# Go 1.26's coordinator can report its own -fuzztime deadline
			# as a failure when a worker is mid-call (go.dev/issue/75804,
			# fixed in 1.27): no input written, nothing else failed.  A
			# finding always writes its input.
			if echo "$out" | grep -q '^    context deadline exceeded$' &&
			   ! echo "$out" | grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:'; then
				echo "$out" | tail -n 3
				echo "fuzz: $pkg $fn: the -fuzztime shutdown race of go.dev/issue/75804, no finding"
				continue
			fi
			echo "$out" | tail -n 40
			echo "fuzz: $pkg $fn failed; the input is in that package's testdata/fuzz/$fn" >&2
			exit 1
		fi
		echo "$out" | tail -n 3
	done
done
echo "fuzz: $targets targets ran for $fuzztime each"
