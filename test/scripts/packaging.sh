#!/usr/bin/env bash
# test/scripts/packaging.sh -- what a PGXN user expects at the root: META.json valid against the
# PGXN Meta Spec and true to the tree (test/check_meta.py: the spec's required keys and types,
# SemVer versions, provides' versions equal to nicelogin.control's and nicelogin_test.control's
# default_version, their install scripts present), LICENSE the PostgreSQL License, CHANGELOG.md with
# a heading for the control's version.  Then the check itself is checked: META.json with each kind
# of fault (a required key missing, a version that is not SemVer, a version other than the
# control's, an unknown key, a license that is no License String, an extension left out, broken
# JSON) must be refused, with the fault named.  Needs no server.
# nl-run: host-major
#
# Run by test/run-tests.sh (see test/scripts/README.md); by hand: bash test/scripts/packaging.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

python3 test/check_meta.py . || fail "META.json does not pass test/check_meta.py"

head -n 1 LICENSE | grep -qx 'PostgreSQL License' || fail "LICENSE does not start with 'PostgreSQL License'"
grep -q '^Copyright (c) [0-9]\{4\}, nicelogin contributors$' LICENSE || fail "LICENSE names no copyright holder"
grep -q 'Permission to use, copy, modify, and distribute this software and its' LICENSE ||
	fail "LICENSE lacks the PostgreSQL License's grant"
python3 - <<'PY' || fail "META.json's license is not the PostgreSQL License"
import json
lic = json.load(open("META.json"))["license"]
assert lic == {"PostgreSQL": "https://www.postgresql.org/about/licence"} or lic in ("postgresql", ["postgresql"]), lic
PY

# each fault must be refused, and named
work=$(mktemp -d /tmp/nicelogin-packaging.XXXXXX)
trap 'rm -rf "$work"' EXIT
refused() {  # refused NAME EXPECTED-TEXT PYTHON-EDIT-OF-m (or RAW:text for a file as given)
	local name=$1 want=$2 edit=$3 out rc=0
	if [[ $edit == RAW:* ]]; then
		printf '%s' "${edit#RAW:}" >"$work/$name.json"
	else
		python3 -c 'import json, sys
m = json.load(open("META.json"))
exec(sys.argv[1])
json.dump(m, open(sys.argv[2], "w"), indent=1)' "$edit" "$work/$name.json"
	fi
	out=$(python3 test/check_meta.py --meta "$work/$name.json" .) || rc=$?
	[ "$rc" -ne 0 ] || fail "META.json with $name passed the check"
	grep -qF -- "$want" <<<"$out" || fail "META.json with $name: the check did not say '$want', it said: $out"
	echo "refused as it should be: $name"
}
refused no-provides "missing required key 'provides'" 'del m["provides"]'
refused no-meta-spec "missing required key 'meta-spec'" 'del m["meta-spec"]'
refused two-part-version "is not a SemVer version" 'm["version"] = "1.3"'
refused other-version "default_version" 'm["version"] = m["provides"]["nicelogin"]["version"] = "9.9.9"'
refused test-version "provides.nicelogin_test.version" 'm["provides"]["nicelogin_test"]["version"] = "1.1.0"'
refused unknown-key "unknown key 'homepage'" 'm["homepage"] = "https://example.com/"'
refused bad-license "is not a License String" 'm["license"] = ["PostgreSQL"]'
refused missing-extension "the tree's control files" 'del m["provides"]["nicelogin_test"]'
refused absolute-file "is not a relative unix path" 'm["provides"]["nicelogin"]["file"] = "/" + m["provides"]["nicelogin"]["file"]'
refused bad-json "META.json is invalid" 'RAW:{"name": "nicelogin",'
echo "packaging: ok"
