#!/usr/bin/env bash
# `make vulncheck`: govulncheck against an offline copy of the Go vulnerability database.
# The database comes from the Go module proxy like any module: golang.org/x/vulndb carries
# the OSV reports (data/osv), and its own cmd/indexdb turns them into the database layout
# govulncheck reads (-db file://...). The copy is rebuilt when VULNDB below changes; bump
# it to take newer reports.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh

VULNDB=golang.org/x/vulndb@v0.0.0-20261105234957-e22db6528018
GOVULNCHECK=golang.org/x/vuln/cmd/govulncheck@v1.1.4
db=.cache/vulndb

if [ "$(cat "$db/.version" 2>/dev/null)" != "$VULNDB" ]; then
	src=$(go mod download -json "$VULNDB" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	rm -rf "$db"
	mkdir -p "$(dirname "$db")"
	echo "[vulncheck] building the vulnerability database from $VULNDB" >&2
	GOFLAGS=-mod=mod go run "${VULNDB%@*}/cmd/indexdb@${VULNDB#*@}" -vulns "$src/data/osv" -out "$db"
	echo "$VULNDB" >"$db/.version"
fi
go run "$GOVULNCHECK" -db "file://$PWD/$db" ./...
