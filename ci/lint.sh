#!/bin/sh
# Static checks: gofmt, go vet, and the kernel module with W=1 and sparse.
set -eu
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
	echo "lint: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
ci/kbuild.sh kmod >/dev/null
echo "lint: ok"
