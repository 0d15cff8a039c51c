# Shared by the shell test scripts: a temporary folder $T removed on exit,
# pass/fail counting, and the closing "N passed, N failed" line.
# Source it after `set -uo pipefail`; end the script with `finish`.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; failed=0
ok() { echo "ok   - $1"; pass=$((pass+1)); }
bad() { echo "FAIL - $1"; failed=$((failed+1)); }
# check NAME CMD...: passes when CMD succeeds.
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
finish() {
  echo "$pass passed, $failed failed"
  [ "$failed" -eq 0 ]
}
