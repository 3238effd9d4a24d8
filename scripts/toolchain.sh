# Sourced by every script that runs go: the Go toolchain is the one go.mod's go line names
# (go1.27.3), which the go command takes from the Go module proxy on first use. A machine
# ships its own Go with GOTOOLCHAIN=local, which ignores go.mod, so the choice is exported.
GOTOOLCHAIN="go$(sed -n 's/^go //p' "$(dirname "${BASH_SOURCE[0]}")/../go.mod")"
export GOTOOLCHAIN
