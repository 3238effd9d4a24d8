# Steller's two commands are `make dev` and `make test`; the rest are helpers.
SHELL := /bin/bash
GO    ?= go
# The Go toolchain go.mod names, taken from the Go module proxy (see scripts/toolchain.sh).
export GOTOOLCHAIN := go$(shell sed -n 's/^go //p' go.mod)
BIN   := bin/steller

.PHONY: dev test build install services-up services-down bench lint vulncheck fmt clean

## dev: install the local servers if needed, build, and run the whole platform (Ctrl-C stops it)
dev: build
	bash scripts/install.sh servers
	$(BIN) dev

## test: install what the tests need, start the test servers, run every test, stop the servers
test:
	bash scripts/test.sh

## build: compile the steller binary into bin/, installing the web assets it embeds first (install.sh web)
build:
	bash scripts/install.sh web
	$(GO) build -o $(BIN) ./cmd/steller

## install: install PostgreSQL, ClickHouse, Kafka jars, deck, Go modules, the Python tools and the web assets (idempotent)
install:
	bash scripts/install.sh

## services-up: start the test servers in the background, for `go test ./...` by hand
services-up: install build
	$(BIN) stack up --profile test

## services-down: stop the test servers
services-down: build
	$(BIN) stack down --profile test

## bench: run every benchmark (servers must be up for those that need them)
bench: services-up
	$(GO) test -run '^$$' -bench . -benchmem ./...

## lint: gofmt, go vet, staticcheck and govulncheck (scripts/vulncheck.sh)
lint:
	bash scripts/install.sh web
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
	bash scripts/vulncheck.sh

## vulncheck: govulncheck against an offline Go vulnerability database built from the Go module proxy
vulncheck:
	bash scripts/vulncheck.sh

## clean: remove built binaries (not the local server data in .local)
clean:
	rm -rf bin
