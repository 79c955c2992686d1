#!/usr/bin/env bash
# test/fuzz/run-long.sh [SECONDS_EACH] -- the long run of the libFuzzer targets (not in the
# suite): each target for SECONDS_EACH (default 150, 10 minutes for the four), the corpus it grows
# kept in BUILD/work-TARGET for the next run (BUILD: NL_FUZZ_BUILD, default test/fuzz/build).  Prints executions, coverage (cov, ft)
# and findings per target; reproducers in BUILD/findings/.  Exit status 1 on a finding.
#
#   bash test/fuzz/run-long.sh 150
#   test/fuzz/build/fuzz_json test/fuzz/build/findings/json-crash-...   # replay one finding
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/run.sh" "${1:-150}"
