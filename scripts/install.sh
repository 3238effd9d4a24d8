#!/usr/bin/env bash
# Installs what Steller's local stack and tests need on a Debian machine. Idempotent: a
# second run installs nothing. Parts (default: all):
#   servers  PostgreSQL and ClickHouse from Debian's packages, Java for Kafka
#   kafka    Apache Kafka jars from Maven Central into .cache/kafka/libs (needs Maven)
#   tools    deck (validates kong/kong.yml) from Debian's packages, and what runs the webhooks
#            guide's verification samples in the tests: python3, nodejs, openssl and curl
#   go       the Go module cache (go mod download)
#   python   a virtualenv in .cache/venv (the machine's python3) with the pinned Python tools of
#            scripts/python/requirements.txt from PyPI: chdb (current ClickHouse in process),
#            schemathesis, standardwebhooks
#   browser  Chromium from Debian's packages, which the portal's browser tests drive headless
#   web      the npm packages of package.json, exactly as package-lock.json pins them (npm ci),
#            and Swagger UI's files from them into control-plane/api/docsassets/vendor, which
#            the binary embeds for /docs (go:embed cannot reach node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/toolchain.sh
. scripts/toolchain.sh

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(servers kafka tools go python browser web)

log() { printf '[install] %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
	local missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ "$apt_updated" -eq 0 ]; then
		log "apt-get update"
		as_root apt-get update -qq
		apt_updated=1
	fi
	log "apt-get install ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

install_servers() {
	apt_install postgresql postgresql-contrib clickhouse-server clickhouse-client
	command -v java >/dev/null || apt_install default-jre-headless
}

install_kafka() {
	local lib=.cache/kafka/libs
	local stamp
	stamp=$(sha256sum scripts/kafka/pom.xml | cut -d' ' -f1)
	if [ -f "$lib/.pom-sha256" ] && [ "$(cat "$lib/.pom-sha256")" = "$stamp" ]; then
		return 0
	fi
	command -v mvn >/dev/null || apt_install maven
	command -v java >/dev/null || apt_install default-jre-headless
	log "resolving Apache Kafka and its dependencies (scripts/kafka/pom.xml) with Maven into $lib"
	rm -rf "$lib.tmp"
	mvn -B -q -f scripts/kafka/pom.xml dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$PWD/$lib.tmp"
	echo "$stamp" >"$lib.tmp/.pom-sha256"
	rm -rf "$lib"
	mv "$lib.tmp" "$lib"
}

install_tools() {
	apt_install deck
	# The samples need only the programs, which may come from elsewhere than Debian (pyenv).
	command -v python3 >/dev/null || apt_install python3
	command -v node >/dev/null || apt_install nodejs
	command -v openssl >/dev/null || apt_install openssl
	command -v curl >/dev/null || apt_install curl
}

install_browser() {
	apt_install chromium
}

install_go() {
	go mod download
}

# A venv is not relocatable (its scripts name its absolute path), so it is built in place
# and the stamp written last: an interrupted install has no stamp and is redone.
install_python() {
	local venv=.cache/venv req=scripts/python/requirements.txt
	local stamp
	stamp=$(sha256sum "$req" | cut -d' ' -f1)
	if [ -f "$venv/.requirements-sha256" ] && [ "$(cat "$venv/.requirements-sha256")" = "$stamp" ] &&
		"$venv/bin/python" -c '' 2>/dev/null; then
		return 0
	fi
	command -v python3 >/dev/null || apt_install python3
	# Debian's python3 has venv without ensurepip unless python3-venv is installed.
	python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
	log "creating $venv with $(python3 --version) and installing $req"
	rm -rf "$venv"
	python3 -m venv "$venv"
	"$venv/bin/python" -m pip install --quiet --requirement "$req"
	echo "$stamp" >"$venv/.requirements-sha256"
}

# stamped DIR STAMP: DIR was built from the package.json and package-lock.json hashed as STAMP.
stamped() { [ -f "$1/.lock-sha256" ] && [ "$(cat "$1/.lock-sha256")" = "$2" ]; }

# npm ci starts by deleting node_modules, so it runs only when package.json or
# package-lock.json changed since the last one (or node_modules was lost). The vendor
# directory is built aside and moved into place with its stamp, so the binary never embeds
# half a copy; go:embed skips dot files, so neither the stamp nor .vendor.tmp is embedded.
install_web() {
	local modules=node_modules dist=node_modules/swagger-ui-dist
	local vendor=control-plane/api/docsassets/vendor tmp=control-plane/api/docsassets/.vendor.tmp
	# The files of swagger-ui-dist that /docs serves, with its licence and notice.
	local files=(swagger-ui-bundle.js swagger-ui-standalone-preset.js swagger-ui.css LICENSE NOTICE)
	local stamp f
	stamp=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
	if stamped "$vendor" "$stamp"; then
		return 0
	fi
	if ! stamped "$modules" "$stamp"; then
		command -v npm >/dev/null || apt_install nodejs npm
		log "npm ci: the packages of package-lock.json into $modules"
		npm ci --no-audit --no-fund --loglevel=error
		echo "$stamp" >"$modules/.lock-sha256"
	fi
	log "copying Swagger UI $(node -p "require('./$dist/package.json').version") from $dist into $vendor"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	for f in "${files[@]}"; do cp "$dist/$f" "$tmp/"; done
	echo "$stamp" >"$tmp/.lock-sha256"
	rm -rf "$vendor"
	mv "$tmp" "$vendor"
}

for part in "${parts[@]}"; do
	case "$part" in
	servers) install_servers ;;
	kafka) install_kafka ;;
	tools) install_tools ;;
	go) install_go ;;
	python) install_python ;;
	browser) install_browser ;;
	web) install_web ;;
	*) log "unknown part: $part (servers, kafka, tools, go, python, browser, web)"; exit 2 ;;
	esac
done
