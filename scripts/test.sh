#!/usr/bin/env bash
# `make test`: install what the tests need, start the test servers (PostgreSQL, ClickHouse,
# Apache Kafka; those already up are reused), run every Go test, and stop the servers
# (KEEP_STACK=1 leaves them running). A test that needs a server fails when the server is
# missing; none skips.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh

bash scripts/install.sh
go build -o bin/steller ./cmd/steller

stop_stack() {
	if [ "${KEEP_STACK:-0}" != 1 ]; then
		bin/steller stack down --profile test || true
	fi
}
trap stop_stack EXIT
bin/steller stack up --profile test

set -a
# shellcheck disable=SC1091
. .local/test/stack.env
set +a

# The browser tests keep their screenshots here (README.md, "The developer portal").
export STELLER_SCREENSHOT_DIR="${STELLER_SCREENSHOT_DIR:-$PWD/.local/test/screenshots}"
mkdir -p "$STELLER_SCREENSHOT_DIR"

go test -race -count=1 -timeout 20m ./...
