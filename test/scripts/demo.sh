#!/usr/bin/env bash
# test/scripts/demo.sh -- the README's first quick-start command, test/demo.sh, runs to the end
# and shows what it says it shows: the verdicts of the test tokens, each company's own invoices
# only, the refused write into another company, the deactivated user and the logged-out session
# refused at once.
#
# Run by test/run-tests.sh (see test/scripts/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

dir=$(mktemp -d /tmp/nicelogin-demo-test.XXXXXX)
chmod 755 "$dir"   # test/demo.sh makes the cluster below it, as postgres
nl_on_exit "rm -rf '$dir'"
out=$dir/demo.out
rc=0
NICELOGIN_DEMO_DIR=$dir/cluster NICELOGIN_DEMO_PORT=5497 NICELOGIN_DEMO_API_PORT=18087 \
	bash test/demo.sh >"$out" 2>&1 || rc=$?
cat "$out"
[ "$rc" -eq 0 ] || { echo "FAILED: test/demo.sh exited with $rc"; exit 1; }

expect() {
	grep -qE -- "$1" "$out" || { echo "FAILED: the demo's output lacks: $2"; exit 1; }
}
expect '^ Alice at Acme +\| valid +\| alice@acme\.example' "Alice's token valid"
expect "^ Alice's, expired +\| expired " "the expired token refused as expired"
expect '^ unsigned \(alg: none\) +\| unsupported_alg' "alg: none refused"
expect "^ Alice's, signature tampered +\| bad_signature" "the tampered token refused"
expect '^  2 \| aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa \| Umbrella' "Alice's invoices"
expect '^ \(2 rows\)|^\(2 rows\)' "two rows for Alice"
expect '^\(3 rows\)' "three rows for Bob"
expect '^\(0 rows\)' "no rows for the tampered token"
expect 'new row violates row-level security policy for table "invoices"' "the refused cross-tenant insert"
expect '^ user_deactivated +\| +0$' "Carol refused after her deactivation"
expect '^ revoked +\| valid$' "Bob's session revoked, Alice still valid"
expect '^Next steps:' "the next steps"
# Bob's invoices are never shown with Alice's token, and the other way round
awk "/with :'alice'/,/with :'bob'/" "$out" | grep -q 'Hooli' && { echo "FAILED: Alice saw Globex's invoice"; exit 1; }
awk "/with :'bob'/,/with :'tampered'/" "$out" | grep -q 'Initech' && { echo "FAILED: Bob saw Acme's invoice"; exit 1; }
echo "demo: ok"
