#!/bin/sh
# Regenerates pkg/tquicdpb from proto/ (make proto). The generated code is
# checked in; this installs protoc and the Go plugins it needs.
set -eu
cd "$(dirname "$0")/.."
command -v protoc >/dev/null || {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends protobuf-compiler
}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
GOBIN=$bin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$bin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
PATH=$bin:$PATH protoc -I proto \
	--go_out=. --go_opt=module=github.com/tquic/tquic \
	--go-grpc_out=. --go-grpc_opt=module=github.com/tquic/tquic \
	proto/tquic/v1/tquicd.proto
