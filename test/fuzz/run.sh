#!/usr/bin/env bash
# test/fuzz/run.sh SECONDS [TARGET...] -- builds the libFuzzer targets of test/fuzz and the seed
# corpus, then runs each target for SECONDS with the corpus; prints per target its executions,
# coverage (libFuzzer's cov: edges, ft: features), corpus size and findings.  Exit status 1 on
# any crash, leak, timeout or out-of-memory (the reproducer is kept in BUILD/findings/).
#
# Used by test/scripts/libfuzzer.sh (a short run in the suite) and test/fuzz/run-long.sh.
# Needs clang with libFuzzer (clang -fsanitize=fuzzer), pg_config (PG_CONFIG), libpgcommon.a.
set -euo pipefail
FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SECONDS_EACH=${1:?usage: run.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(token json keyset verify)
# NL_FUZZ_BUILD: where the targets, corpus and findings go (default test/fuzz/build)
BUILD=${NL_FUZZ_BUILD:-$FUZZ/build}

make -s -C "$FUZZ" PG_CONFIG="${PG_CONFIG:-pg_config}" BUILD="$BUILD" all >/dev/null
rm -rf "$BUILD/corpus"
python3 "$FUZZ/make_corpus.py" "$BUILD/corpus"
mkdir -p "$BUILD/findings"

export UBSAN_OPTIONS="print_stacktrace=1"

failed=0
for t in "${TARGETS[@]}"; do
	work="$BUILD/work-$t"           # what the run adds; the seeds stay as made
	mkdir -p "$work"
	log="$BUILD/$t.log"
	rc=0
	# -timeout: one input over 10 s is a finding; -rss_limit_mb: so is a run over 2 GB
	"$BUILD/fuzz_$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$BUILD/findings/$t-" \
		"$work" "$BUILD/corpus/$t" >"$log" 2>&1 || rc=$?
	done_line=$(grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | tail -n 1 || true)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(printf '%s' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(printf '%s' "$done_line" | sed -n 's/.*corp: \([^ ]*\).*/\1/p')
	if [ "$rc" = 0 ]; then
		printf 'fuzz_%-7s ok      executions %s, cov %s, ft %s, corpus %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}"
	else
		failed=1
		printf 'fuzz_%-7s FAILED  (exit %s) executions %s\n' "$t" "$rc" "${execs:-?}"
		grep -E 'ERROR: |SUMMARY: |Test unit written|runtime error' "$log" | head -n 8 | sed 's/^/    /'
		grep -A 12 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" | head -n 30 | sed 's/^/    /'
	fi
done
exit "$failed"
