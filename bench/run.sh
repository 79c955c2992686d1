#!/usr/bin/env bash
# bench/run.sh: builds and installs nicelogin, starts a throwaway cluster and
# runs the benchmarks in bench/ against it.  Not part of the test suite: a
# benchmark's ratios depend on the machine, and they are printed, not timed
# against a limit in CI.
#   bash bench/run.sh            # 1M rows, 5 rounds
#   BENCH_ROWS=200000 BENCH_ROUNDS=3 bash bench/run.sh
#   bash bench/run.sh headers revocations   # only these (rls policy verify headers revocations shared bounded masking stats)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../test/lib.sh"

nl_install_deps
nl_build_install "$NL_REPO" /tmp/nicelogin-bench-build.log
dir=$(mktemp -d /tmp/nicelogin-bench.XXXXXX)
chmod 755 "$dir"
nl_on_exit "rm -rf '$dir'"
# preloaded, as in production: nicelogin_stats counts in shared memory (the
# refresh worker idles: nicelogin.database has no nicelogin)
NL_EXTRA_CONF="shared_preload_libraries = 'nicelogin'"
nl_start_cluster "$dir/pg" "${BENCH_PORT:-5496}"
want() { [ $# -eq 0 ] || [ ${#BENCH_SELECTED[@]} -eq 0 ] || [[ " ${BENCH_SELECTED[*]} " == *" $1 "* ]]; }
BENCH_SELECTED=("$@")
nl_heading "machine"
echo "$(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "$(postgres --version 2>/dev/null || "$NL_PGBIN/postgres" --version)"
if want rls; then
nl_heading "row-level security and repeated verification"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/rls_bench.py"
fi
if want policy; then
nl_heading "the form of a policy: constant, (SELECT nicelogin_company_id()), bare call"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/policy_form.py"
fi
if want verify; then
nl_heading "signature verification: nicelogin vs openssl speed"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/verify_bench.py"
fi
if want headers; then
nl_heading "request.headers of any size against nicelogin.token"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/headers.py"
fi
if want revocations; then
nl_heading "revocations at scale: churn against steady"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PATH="$NL_PGBIN:$PATH" \
	python3 "$NL_REPO/bench/revocations.py"
fi
if want shared; then
nl_heading "many active tokens: per-backend cache against the shared cache"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PATH="$NL_PGBIN:$PATH" \
	BENCH_PGDATA="$dir/pg/data" python3 "$NL_REPO/bench/shared_cache.py"
fi
if want bounded; then
nl_heading "bounded work on hostile input"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/bounded.py"
fi
if want masking; then
nl_heading "masking secrets in the API's error texts"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/masking.py"
fi
if want stats; then
nl_heading "cost of counting for nicelogin_stats"
nl_as_pg env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
	python3 "$NL_REPO/bench/stats_bench.py"
fi
