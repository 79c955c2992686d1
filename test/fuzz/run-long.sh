#!/usr/bin/env bash
# test/fuzz/run-long.sh [SECONDS_EACH] -- the long run of the libFuzzer targets (not in the
# suite): each target for SECONDS_EACH (default 150, 10 minutes for the four), the corpus it grows
# kept in test/fuzz/build/work-TARGET for the next run.  Prints executions, coverage (cov, ft)
# and findings per target; reproducers in test/fuzz/build/findings/.  Exit status 1 on a finding.
#
#   bash test/fuzz/run-long.sh 150
#   test/fuzz/build/fuzz_json test/fuzz/build/findings/json-crash-...   # replay one finding
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" "${1:-150}"
