#!/usr/bin/env bash
# test/scripts/install_deps.sh -- nl_install_deps (test/lib.sh), as the demo and the test command
# run it on a fresh machine, against stand-ins for dpkg-query and apt-get: a retry that works says
# so, each run keeps its own log (the next run does not overwrite it), a first-try success leaves
# no log behind, and three failures stop with the log's path.
# nl-run: host-major
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

fake=$(mktemp -d /tmp/nl-install-deps.XXXXXX)
nl_on_exit "rm -rf '$fake'"
# dpkg-query: nothing is installed; apt-get: install fails while $fake/failures holds a count > 0
cat >"$fake/dpkg-query" <<'SH'
#!/bin/sh
exit 1
SH
cat >"$fake/apt-get" <<'SH'
#!/bin/sh
[ "$1" = update ] && { echo "update: fine"; exit 0; }
n=$(cat "$NL_FAKE/failures")
if [ "$n" -gt 0 ]; then
	echo $((n - 1)) >"$NL_FAKE/failures"
	echo "E: install failed ($n more)" >&2
	exit 100
fi
echo "install: fine"
SH
chmod +x "$fake/dpkg-query" "$fake/apt-get"
export NL_FAKE=$fake PATH="$fake:$PATH" NL_APT_RETRY_DELAY=0
NL_DEPS=(nl-fake-package)

logs_now() { ls /tmp/nicelogin-apt.*.log 2>/dev/null | sort || true; }
before=$(logs_now)
new_logs() { comm -13 <(printf '%s\n' "$before") <(logs_now) | sed '/^$/d'; }

# 1. the first try fails, the second works
echo 1 >"$fake/failures"
out=$( (nl_install_deps) 2>&1 ) || fail "a second try that works: nl_install_deps failed: $out"
log1=$(printf '%s\n' "$out" | sed -n 's/^apt-get failed (try 1); see \(.*\)$/\1/p')
[ -n "$log1" ] || fail "no 'apt-get failed (try 1); see LOG' line: $out"
printf '%s\n' "$out" | grep -qxF "apt-get succeeded (try 2); the failed tries are in $log1" ||
	fail "no line saying that try 2 worked: $out"
grep -q 'E: install failed (1 more)' "$log1" || fail "the log $log1 lacks the failure"
nl_on_exit "rm -f '$log1'"
echo "ok: a retry that works says so ($log1)"

# 2. another run that needs a retry: a log of its own, the first one untouched
cp "$log1" "$fake/log1.copy"
echo 1 >"$fake/failures"
out=$( (nl_install_deps) 2>&1 ) || fail "second run: $out"
log2=$(printf '%s\n' "$out" | sed -n 's/^apt-get failed (try 1); see \(.*\)$/\1/p')
nl_on_exit "rm -f '$log2'"
[ -n "$log2" ] && [ "$log2" != "$log1" ] || fail "the second run wrote to the same log: $log1 / $log2"
cmp -s "$log1" "$fake/log1.copy" || fail "the second run changed the first run's log"
echo "ok: each run its own log"

# 3. the first try works: no failure line, no log left behind
echo 0 >"$fake/failures"
out=$( (nl_install_deps) 2>&1 ) || fail "first-try success: $out"
printf '%s\n' "$out" | grep -q 'apt-get' && fail "a first-try success talks about apt-get: $out"
[ "$(new_logs | wc -l)" = 2 ] || fail "a first-try success left a log: $(new_logs)"
echo "ok: a first-try success leaves no log"

# 4. three failures: stop, with the log's path
echo 5 >"$fake/failures"
if out=$( (nl_install_deps) 2>&1 ); then fail "three failures did not stop: $out"; fi
log3=$(printf '%s\n' "$out" | sed -n 's/^apt-get failed (try 3); see \(.*\)$/\1/p')
nl_on_exit "rm -f '$log3'"
printf '%s\n' "$out" | grep -qxF "ERROR: could not install nl-fake-package (log: $log3)" ||
	fail "no final error naming the log: $out"
echo "ok: three failures stop with the log's path"
