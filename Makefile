# TQUIC: the two commands a new user types are `make demo` and `make test`;
# both install what they need first (make deps).
SHELL := /bin/bash
export PATH := /usr/local/go/bin:$(PATH)
GO ?= go
# The Go build cache does not hash the kmod/core sources bridge/ includes
# from outside its directory: their hash in CGO_CFLAGS makes a change there
# rebuild (and retest) the bridge.
export CGO_CFLAGS := -O2 -g -DTQUIC_CORE_SRC_$(shell cat kmod/core/*.[ch] | sha256sum | cut -c1-16)
# Fuzzing time per target: `make fuzz` runs long, `make test` briefly.
FUZZTIME ?= 10m
TEST_FUZZTIME ?= 2s

.PHONY: all deps build kmod go-build test demo vm-shell bench fuzz dkms lint asan generate proto sim clean

all: build

deps:
	ci/timed.sh deps ci/deps.sh

# The module (W=1, sparse, zero warnings) and the Go programs.
build: deps kmod go-build

kmod:
	ci/timed.sh kmod ci/kbuild.sh kmod

go-build:
	ci/timed.sh go-build $(GO) build -o bin/ ./cmd/...

generate:
	$(GO) generate ./...

# Regenerate the checked-in gRPC code of tquicd from proto/.
proto:
	ci/proto.sh

lint:
	ci/timed.sh lint ci/lint.sh

dkms: deps
	ci/timed.sh dkms ci/dkms.sh

# Everything: lint, host tests (engine, protocol layers, interop), VM tests
# (the module in a real kernel), and a short run of every fuzz target.
test: build dkms lint
	ci/timed.sh host-tests $(GO) test -p 2 -timeout 20m $$($(GO) list ./... | grep -v /test/)
	ci/timed.sh vm-tests $(GO) test -p 2 -timeout 30m ./test/...
	FUZZTIME=$(TEST_FUZZTIME) ci/timed.sh fuzz ci/fuzz.sh

demo: build
	bin/tquic-vm run test/demo.sh

vm-shell: build
	bin/tquic-vm --timeout 24h shell 'export PATH=$(CURDIR)/bin:$$PATH; test/vm/load-tquic.sh && tquicctl show'

bench: build
	ci/bench.sh

fuzz: deps
	FUZZTIME=$(FUZZTIME) ci/fuzz.sh

asan: deps
	ci/asan.sh

# Deterministic simulation of two engines in virtual time; SIM_SEEDS in all
# (make test runs 500). A failing seed prints its replay command.
SIM_SEEDS ?= 10000
sim: deps
	ci/timed.sh sim $(GO) test -count=1 -timeout 60m -run '^TestConnSimulation$$' ./bridge -conn.seeds $(SIM_SEEDS)

clean:
	$(MAKE) -C /lib/modules/$$(ci/kver.sh)/build M=$(CURDIR)/kmod clean
	rm -rf bin
