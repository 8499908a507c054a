# cacheproof: `make loadtest` runs the baseline scenario against a Redis the
# tool starts itself; `make test` runs vet and the race-enabled test suite.
GO       ?= go
BIN      := bin/cacheproof
SCENARIO ?= scenarios/baseline.yaml
ARGS     ?=
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build loadtest test vet fmt bench fuzz clean ensure-redis

all: build

build:
	$(GO) build -o $(BIN) ./cmd/cacheproof

ensure-redis:
	@scripts/ensure-redis-server.sh

# The main job: exit code 0 when every target holds, 1 when one is missed,
# 4 when one is not decided with confidence. --repeat auto adds runs (each
# with its own Redis and prefill) only while a target is inconclusive, and
# starts none that would end past REPEAT_BUDGET.
REPEAT        ?= auto
REPEAT_BUDGET ?= 6m
loadtest: ensure-redis build
	./$(BIN) run --scenario $(SCENARIO) --repeat $(REPEAT) --repeat-budget $(REPEAT_BUDGET) $(ARGS)

test: ensure-redis
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) test -race -timeout 20m ./...
	$(MAKE) --no-print-directory fuzz

# Bounded fuzzing of the two parsers that read user input (run by `make test`).
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./scenarios/
	$(GO) test -run '^$$' -fuzz '^FuzzParseExpr$$' -fuzztime $(FUZZTIME) ./result/

# Go benchmarks, then cacheproof's raw mode side by side with redis-benchmark
# on one redis-server, then the scenario driver's own CPU per Redis command
# beside redis-server's in one baseline run; then the tool's RSS slope per
# hour over a 10-minute baseline (scripts/rss-slope.sh); then size's predictions
# against real runs (the baseline, and the sizing corpus: 7 caches x 3
# sizes x 3 runs, about 40 minutes); then compare's false alarms on
# A/A pairs and detections of a 1 ms network slowdown, from 8 + 4 short
# baseline runs (about 9 minutes); then the verdict's spread over 5 baseline
# runs alone and 5 with --repeat auto (about 20 minutes; figures in
# docs/performance.md); then the profiler's round trip: two loads profiled
# while they run, recovered against what they were, and size on the
# profiled scenarios against the runs' hit rates (about 3 minutes).
bench: ensure-redis build
	$(GO) test -run '^$$' -bench . -benchmem ./workload/ ./report/ ./pool/ ./harness/ ./engine/ ./selfmeasure/ ./bots/ ./result/
	BIN=$(BIN) scripts/bench-compare.sh
	BIN=$(BIN) scripts/scenario-cost.sh 10000 60s
	BIN=$(BIN) scripts/scenario-cost.sh 20000 60s
	BIN=$(BIN) scripts/rss-slope.sh 10m 15 baseline
	BIN=$(BIN) scripts/size-validate.sh baseline 64 128 256
	BIN=$(BIN) scripts/size-corpus.py --runs 3 sizing/testdata/corpus
	BIN=$(BIN) OUT=results/compare-noise-$$(date -u +%Y%m%dT%H%M%SZ) scripts/compare-noise.sh 8 4
	BIN=$(BIN) scripts/verdict-spread.sh 5 10000 60s
	BIN=$(BIN) scripts/profile-roundtrip.sh 300 30s

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin results/*/
