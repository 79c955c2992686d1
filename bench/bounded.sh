#!/usr/bin/env bash
# bench/bounded.sh: builds and installs nicelogin, starts a throwaway cluster and
# runs bench/bounded.py against it (the cost of hostile key sets and tokens, and
# how fast a cancel ends the slowest call left).  Not part of the test suite.
#   bash bench/bounded.sh
#   BENCH_ROUNDS=3 bash bench/bounded.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

nl_install_deps
nl_build_install "$NL_REPO" /tmp/nicelogin-bench-build.log
dir=$(mktemp -d /tmp/nicelogin-bench.XXXXXX)
chmod 755 "$dir"
nl_on_exit "rm -rf '$dir'"
nl_start_cluster "$dir/pg" "${BENCH_PORT:-5496}"
nl_heading "machine"
echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "$(postgres --version 2>/dev/null || "$NL_PGBIN/postgres" --version)"
nl_heading "bounded work on hostile input"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/bounded.py"
