#!/usr/bin/env bash
# test/scripts/readme_snippets.sh -- every fenced block of README.md and doc/*.md is tested: its SQL runs as
# printed (bind parameters and elided values filled in) and its effect is checked, or it says
# which test covers it (test/readme_snippets.py).
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# the pgTAP snippet says SKIP where Debian has no pgTAP for the major (test/lib.sh)
NL_PGTAP_PACKAGE=$NL_PGTAP_PACKAGE python3 test/readme_snippets.py README.md doc/*.md
