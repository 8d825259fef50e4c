# The targets a newcomer needs: `make run` and `make test`.
GO ?= go
PKGS := ./...

FUZZTIME ?= 10s
FUZZ_TARGETS := ./cookie:FuzzParse ./encrypt:FuzzOpen ./store:FuzzParseReply ./store:FuzzParseRecord ./codec:FuzzDecode ./store:FuzzCommit

.PHONY: run test reliability bench lint fuzz

## run: the demo app (chi) on 127.0.0.1:8080 with an embedded in-process Redis.
run:
	@echo "redisession demo: http://127.0.0.1:8080/"
	COOKIE_SECURE=false $(GO) run ./examples/chi

## test: every test, with the race detector, against real redis-server processes the tests start.
test:
	$(GO) test -race -count=1 $(PKGS)

## reliability: the long fault-injection scenarios of docs/reliability.md (cluster, reshard, Sentinel
## failover, two app instances, soak) on top of the short ones, all against redis-server processes they
## start; figures go to RELIABILITY_OUT as JSON lines. RELIABILITY_SOAK sets the soak's length (30s).
RELIABILITY_OUT ?= $(CURDIR)/reliability-results.jsonl
RELIABILITY_SOAK ?= 30s
reliability:
	@rm -f $(RELIABILITY_OUT)
	RELIABILITY=1 RELIABILITY_OUT=$(RELIABILITY_OUT) RELIABILITY_SOAK=$(RELIABILITY_SOAK) \
	  $(GO) test -race -count=1 -timeout 10m ./internal/reliability/
	@echo "figures ($(RELIABILITY_OUT)):"; cat $(RELIABILITY_OUT)

## bench: benchmarks against peer libraries on a redis-server of its own (bench/ is a module of its own);
## writes bench/results/ and docs/benchmarks.{md,png}. BENCHFLAGS='-rounds 3' for steadier medians.
bench:
	cd bench && $(GO) run . $(BENCHFLAGS)

## lint: gofmt, go vet and staticcheck.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@latest $(PKGS)

## fuzz: each fuzz target for FUZZTIME (default 10s), on top of the seed corpora `make test` runs.
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; done
