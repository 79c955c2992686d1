#!/usr/bin/env bash
# test/scripts/libfuzzer.sh -- coverage-guided fuzzing of the JOSE core, built outside the
# server (test/fuzz: the token splitter and decoder, the header and claims parser, the key-set
# parser and a full verification against the fixtures' keys), about 15 seconds a target with the
# seed corpus from the fixtures and Wycheproof.  Fails on any crash, leak, timeout or
# out-of-memory.  The long run is test/fuzz/run-long.sh.
# nl-run: host-major
#
# Run by test/run-tests.sh (see test/scripts/README.md).  NL_LIBFUZZER_SECONDS: per target (15).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v clang >/dev/null || ! command -v pg_config >/dev/null; then
	echo "SKIP: clang or pg_config missing: libFuzzer targets not run"
	exit 0
fi
export PG_CONFIG=${NL_PGBIN:+$NL_PGBIN/pg_config}
PG_CONFIG=${PG_CONFIG:-pg_config}
# build products outside the staged tree
export NL_FUZZ_BUILD=${NL_FUZZ_BUILD:-$(mktemp -d /tmp/nl-libfuzzer.XXXXXX)}
bash test/fuzz/run.sh "${NL_LIBFUZZER_SECONDS:-15}"
