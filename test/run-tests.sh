#!/usr/bin/env bash
# test/run-tests.sh -- the test command: build warning-free, install, run every test suite.
#
#   bash test/run-tests.sh              all suites on PostgreSQL 15 (host), 17, 18 and 19 (chroots)
#   bash test/run-tests.sh --pg 17      one major only (or a list: --pg 15,18)
#   bash test/run-tests.sh --valgrind   the pg_regress suite with the postmaster under valgrind
#   bash test/run-tests.sh --keep       keep the staged tree (logs, results/) even when all pass
#   bash test/run-tests.sh --only 'regress:setup,limits tap:004_privilege script:none'
#                                       a developer's quick loop: only the named tests of each
#                                       suite (regress, isolation, tap, script); a suite not
#                                       named runs nothing; 'none' runs nothing of that suite
#
# Run as root (it installs packages and the extension; PostgreSQL itself runs as postgres), from
# any folder.  With several majors it runs itself once per major, in order: 15 on the host, each
# other one through test/chroot.sh (a Debian chroot with that major's packages, built and cached
# on first use; a chroot that cannot be built counts as a failure), passing the dump made on 15
# (test/scripts/dump_across_majors.sh) on to the later majors; it prints each major's summary and
# time, then the total.  For one major, steps:
#   1. apt-get install the build and test dependencies (skipped when all are installed);
#   2. copy the repo to /tmp/nicelogin.XXXXXX (owned by postgres; pg_regress writes there),
#      build it with `make -j2` (any compiler warning fails the run) and `make install`; in a
#      chroot that also has an older major (19's has 18), build and install it for that one too,
#      for t/013_pg_upgrade.pl's pg_upgrade across majors (NL_UPGRADE_FROM_BINDIR);
#   3. start a cluster (unix socket in the staged tree, port 5499) and the stand-in NiceLogin
#      server (test/nicelogin_server.py, 127.0.0.1:18089);
#   4. as postgres, the Makefile's suites one by one (see its first lines): `make installcheck`'s
#      REGRESS (pg_regress), each test module's (nicelogin_test/), `make installcheck-api`'s
#      REGRESS_API; then installcheck's ISOLATION (pg_isolation_regress) and installcheck-api's
#      ISOLATION_API; then each TAP file t/*.pl (prove; they start their own clusters);
#   5. each executable test/scripts/*.sh, as root, in the staged tree, with PGHOST, PGPORT,
#      PGUSER, PGDATABASE, NICELOGIN_VECTORS, NICELOGIN_API_URL, NL_STAGE exported and the
#      stand-in server reset before each (see test/scripts/README.md).
# It prints the diffs of failed tests and ends with one line: "N passed, M failed" (each
# pg_regress test, isolation test, TAP file and script counts as one, per major, named
# pgMAJOR/suite/test: suites regress (REGRESS and the test modules'), regress-api, isolation,
# isolation-api, tap, script; a failed build or a compiler warning counts as one failure;
# --only names count the tests of every suite of theirs, regress:setup both setups).  Exit status 0
# only when nothing failed.
#
# Environment: NICELOGIN_VECTORS (folder of the Wycheproof JSON files; default
# <repo>/../shared/vectors/wycheproof, then /work/shared/vectors/wycheproof), NL_PGPORT (5499),
# NL_API_PORT (18089), NL_SCRIPT_TIMEOUT (seconds per script, 900).
# shellcheck disable=SC2317  # functions run from traps
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# The majors CI tests, in the order they run (15 first: later majors restore its dump).
NL_CI_MAJORS="15 17 18 19"

MODE=all
ONLY=
MAJORS=$NL_CI_MAJORS
PASS_ARGS=()
while [ $# -gt 0 ]; do
	case $1 in
	--valgrind) MODE=valgrind; PASS_ARGS+=("$1") ;;
	--keep) export NL_KEEP_STAGE=1; PASS_ARGS+=("$1") ;;  # exported: test/chroot.sh passes it in
	--only) [ $# -ge 2 ] || nl_die "--only needs a list"; ONLY=$2; PASS_ARGS+=("$1" "$2"); shift ;;
	--pg) [ $# -ge 2 ] || nl_die "--pg needs a major (15, 17, 18, 19) or a list"; MAJORS=${2//,/ }; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; nl_die "unknown option: $1" ;;
	esac
	shift
done

# With --only: the space-separated names given for SUITE (regress, isolation, tap, script),
# or "none".  Without --only: "all".
only_list() {
	local suite=$1 item out=""
	[ -n "$ONLY" ] || { echo all; return; }
	for item in $ONLY; do
		case $item in
		"$suite":*) out+=" ${item#*:}" ;;
		esac
	done
	out=${out//,/ }
	out=${out# }  # "regress:none" must give "none", not " none" (a test named none)
	echo "${out:-none}"
}
# Is NAME selected in SUITE?
only_has() {
	local list
	list=$(only_list "$1")
	[ "$list" = all ] && return 0
	case " $list " in *" $2 "*) return 0 ;; esac
	return 1
}

# shellcheck disable=SC2206  # words
MAJORS=($MAJORS)
for m in "${MAJORS[@]}"; do
	case $m in
	15 | 17 | 18 | 19) ;;
	16) nl_die "PostgreSQL 16 has no Debian package, so it cannot be tested here (see the README, \"PostgreSQL versions\")" ;;
	*) nl_die "--pg: unknown major '$m' (15, 17, 18, 19)" ;;
	esac
done

PGPORT_TEST=${NL_PGPORT:-5499}
API_PORT=${NL_API_PORT:-18089}
SCRIPT_TIMEOUT=${NL_SCRIPT_TIMEOUT:-900}

PASSED=0
FAILED=0
FAILED_NAMES=()
# test names carry the major: pg17/regress/setup
NAME_PREFIX=
pass() { PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$NAME_PREFIX$1"; }
fail() { FAILED=$((FAILED + 1)); FAILED_NAMES+=("$NAME_PREFIX$1"); printf 'FAIL  %s\n' "$NAME_PREFIX$1"; }

# Print the summary after everything is stopped, so it is the last line, and exit.
FINISHED=0
finish() {
	set +e
	exec 1>&7 2>&8
	FINISHED=1
	if [ "$FAILED" -gt 0 ]; then
		NL_KEEP_STAGE=1
		nl_heading "failed"
		printf '  %s\n' "${FAILED_NAMES[@]}"
		[ -n "${NL_STAGE:-}" ] && printf 'logs and results kept in %s\n' "$NL_STAGE"
	fi
	nl_cleanup >/dev/null 2>&1
	printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
	[ "$FAILED" -eq 0 ]
	exit $?
}
# A step that stops the script (nl_die, set -e) still ends with the summary line.
_rt_exit() {
	local rc=$?
	[ "$FINISHED" = 1 ] && exit "$rc"
	fail "run-tests.sh stopped early (exit status $rc; see the messages above)"
	finish
}
trap _rt_exit EXIT

# Print a file, at most N lines of it.
show_file() {
	local f=$1 max=${2:-1500} n
	[ -s "$f" ] || return 0
	n=$(wc -l <"$f")
	printf -- '----- %s (%s lines) -----\n' "$f" "$n"
	head -n "$max" "$f"
	[ "$n" -le "$max" ] || printf -- '----- ... %s more lines in %s\n' "$((n - max))" "$f"
}

# The value of a variable of the Makefile (REGRESS, ISOLATION) in DIR (default: the staged
# tree's top), as make sees it.
make_var() {
	# shellcheck disable=SC2016  # $(VAR) is for make
	printf 'nl-print-var:\n\t@echo $(%s)\n' "$1" |
		make -s --no-print-directory -C "${2:-$NL_STAGE}" -f Makefile -f - nl-print-var PG_CONFIG="$NL_PGBIN/pg_config"
}

# The names of LIST (a suite's tests, in order) that --only selects for SUITE, in the order
# --only gives them; all of LIST without --only.
only_filter() {
	local suite=$1 list=$2 sel name out=""
	sel=$(only_list "$suite")
	[ "$sel" = all ] && { echo "$list"; return; }
	for name in $sel; do
		case " $list " in *" $name "*) out+=" $name" ;; esac
	done
	echo "${out# }"
}

# Count the result lines of a pg_regress / pg_isolation_regress log; every test named in the
# Makefile that has no result line (pg_regress stopped early) counts as failed.  PostgreSQL 15
# prints
#   test setup                        ... ok           12 ms
#   test verify                       ... FAILED       10 ms
#   test claims                       ... FAILED (test process exited with exit code 2)  5 ms
#   test keys                         ... failed (ignored)   8 ms
#   test wycheproof                   ... diff: .../expected/wycheproof.out: No such file or directory
# (tests of a parallel schedule group start with spaces instead of "test"); 16 and later print TAP
#   ok 1         - setup                                      12 ms
#   not ok 2     - verify                                     10 ms
# ("+" instead of "-" in a parallel group; diagnostics on lines starting with "# ").
count_pg_regress() {
	local suite=$1 log=$2 rc=$3 expected=$4 line name status nfail=0 seen=" "
	local tap_re='^(not )?ok +[0-9]+ +[-+] +([^ ]+)'
	while IFS= read -r line; do
		if [[ $line =~ $tap_re ]]; then
			name=${BASH_REMATCH[2]}
			if [ -z "${BASH_REMATCH[1]}" ]; then status=ok; else status=FAILED; fi
		else
			name=$(sed -E 's/^(test +| +)([^ ]+) +\.\.\. .*/\2/' <<<"$line")
			status=$(sed -E 's/^[^.]* \.\.\. +//' <<<"$line")
		fi
		seen+="$name "
		case $status in
		ok* | "failed (ignored)"*) pass "$suite/$name" ;;
		*) fail "$suite/$name"; nfail=$((nfail + 1)) ;;
		esac
	done < <(grep -E '^test +[^ ]+ +\.\.\. |^ +[^ ]+ +\.\.\. +(ok|FAILED|failed)|^(not )?ok +[0-9]+ +[-+] ' "$log" || true)
	for name in $expected; do
		case $seen in
		*" $name "*) ;;
		*) fail "$suite/$name (not run)"; nfail=$((nfail + 1)) ;;
		esac
	done
	# pg_regress failed outside any test (no connection, ...).
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		fail "$suite (make installcheck exited with status $rc)"
	fi
}

# Run `make TARGET` (installcheck, installcheck-api) as postgres in DIR of the staged tree; extra
# make arguments select the suite (NL_CHECK_MODULES= always: each test module's suite runs on its
# own).  Output goes to the terminal and to LOG; returns make's status.
installcheck() {
	local dir=$1 target=$2 log=$3
	shift 3
	local rc=0
	nl_as_pg make -C "$dir" "$target" PG_CONFIG="$NL_PGBIN/pg_config" NL_CHECK_MODULES= "$@" 2>&1 |
		tee "$log" || rc=$?
	return "$rc"
}

# run_suite SUITE DIR TARGET VAR OTHER...: the tests of the Makefile variable VAR of DIR that --only
# selects (of regress or isolation, SUITE's kind), run by `make TARGET VAR=... OTHER...` in DIR,
# counted as SUITE/test; shows the diffs when one failed.  REGRESS_API's setup alone is not run
# (--only regress:setup means the first suite's).
SELECTED=" "
run_suite() {
	local suite=$1 dir=$2 target=$3 var=$4 list rc=0 log
	shift 4
	list=$(only_filter "${suite%-api}" "$(make_var "$var" "$dir")")
	SELECTED+="$list "
	[ -n "$list" ] || return 0
	[ "$suite $list" != "regress-api setup" ] || return 0
	log=${dir#"$NL_STAGE"}
	log=$LOGS/$suite${log//\//-}.log
	installcheck "$dir" "$target" "$log" "$@" "$var=$list" || rc=$?
	count_pg_regress "$suite" "$log" "$rc" "$list"
	if [ "$rc" -ne 0 ]; then
		case $suite in
		isolation*) show_file "$dir/output_iso/regression.diffs" ;;
		*) show_file "$dir/regression.diffs" ;;
		esac
	fi
}

# After the suites of KIND (regress, isolation): every name --only gave for it that no suite has.
only_unknown() {
	local kind=$1 name
	[ "$(only_list "$kind")" = all ] && return 0
	for name in $(only_list "$kind"); do
		[ "$name" = none ] && continue
		case $SELECTED in *" $name "*) ;; *) fail "$kind/$name (no such test)" ;; esac
	done
	SELECTED=" "
}

# ------------------------------------------------------------------ several majors

# Run the suites on each major of MAJORS in turn (the host's here, the others in their chroots),
# add up their counts, print each major's summary and wall time, and finish.  The host's run
# leaves a dump (test/scripts/dump_across_majors.sh) that the later majors restore.
run_majors() {
	local m log rc line t0 imp dumpdir times=() names=()
	dumpdir=$(mktemp -d /tmp/nicelogin-dump.XXXXXX)
	chmod 755 "$dumpdir"
	nl_on_exit "rm -rf '$dumpdir'"
	for m in "${MAJORS[@]}"; do
		nl_heading "PostgreSQL $m"
		log=$(mktemp "/tmp/nicelogin-run-pg$m.XXXXXX.log")
		nl_on_exit "rm -f '$log'"
		t0=$SECONDS
		rc=0
		if [ "$m" = "$NL_HOST_MAJOR" ]; then
			NL_DUMP_EXPORT=$dumpdir bash "${BASH_SOURCE[0]}" --pg "$m" "${PASS_ARGS[@]}" 2>&1 | tee "$log" || rc=$?
		else
			imp=
			[ -f "$dumpdir/contents.txt" ] && imp=$dumpdir
			NL_DUMP_IMPORT=$imp bash "$NL_REPO/test/chroot.sh" run "$m" "${PASS_ARGS[@]}" 2>&1 | tee "$log" || rc=$?
		fi
		# the last summary line (test/chroot.sh may say where it kept logs after it)
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1 || true)
		if [[ $line =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
			PASSED=$((PASSED + BASH_REMATCH[1]))
			FAILED=$((FAILED + BASH_REMATCH[2]))
			mapfile -t names < <(sed -n 's/^FAIL  //p' "$log")
			FAILED_NAMES+=("${names[@]}")
			[ "$rc" -eq 0 ] || [ "${BASH_REMATCH[2]}" -gt 0 ] || fail "pg$m (exit status $rc)"
		else
			fail "pg$m: the run stopped without a summary (exit status $rc)"
			line="stopped (exit status $rc)"
		fi
		times+=("$(printf 'PostgreSQL %s: %-24s %4d s' "$m" "$line" "$((SECONDS - t0))")")
	done
	nl_heading "majors"
	printf '  %s\n' "${times[@]}"
	finish
}

if [ ${#MAJORS[@]} -gt 1 ] || { [ "${MAJORS[0]}" != "$NL_HOST_MAJOR" ] && [ -z "${NL_IN_CHROOT:-}" ]; }; then
	run_majors
fi

# ------------------------------------------------------------------ one major: setup

nl_use_major "${MAJORS[0]}"
NAME_PREFIX=pg$NL_PG_MAJOR/
# for the scripts (test/lib.sh reads both)
export NL_PG_MAJOR NL_PGBIN
export PATH=$NL_PGBIN:$PATH

nl_heading "dependencies (PostgreSQL $NL_PG_MAJOR${NL_IN_CHROOT:+, in the $NL_IN_CHROOT chroot})"
nl_install_deps
[ -x "$NL_PGBIN/postgres" ] || nl_die "no PostgreSQL $NL_PG_MAJOR in $NL_PGBIN"

nl_heading "build"
nl_stage_tree
LOGS=$NL_STAGE/test-logs
mkdir -p "$LOGS"
nl_find_vectors "$NL_STAGE/test/vectors"
# For t/013_pg_upgrade.pl's pg_upgrade across majors: in a chroot, the newest major older than the
# one under test whose server and headers are installed beside it (19's chroot carries sid's 18,
# see test/chroot.sh) gets nicelogin too, built warning-free from its own copy of the tree; the
# test reads NL_UPGRADE_FROM_BINDIR.  Not on the host: its other majors' folders are not the
# run's to install into.
OLDER_MAJOR=
if [ -n "${NL_IN_CHROOT:-}" ]; then
	for d in /usr/lib/postgresql/*/bin/pg_config; do
		[ -x "$d" ] || continue
		m=${d#/usr/lib/postgresql/}
		m=${m%%/*}
		if [[ $m =~ ^[0-9]+$ ]] && [ "$m" -lt "$NL_PG_MAJOR" ] && [ "$m" -gt "${OLDER_MAJOR:-0}" ] &&
			[ -x "/usr/lib/postgresql/$m/bin/postgres" ] && [ -f "$("$d" --pgxs)" ]; then
			OLDER_MAJOR=$m
		fi
	done
fi
if [ -n "$OLDER_MAJOR" ]; then
	OLDER_STAGE=$NL_STAGE.pg$OLDER_MAJOR
	cp -a "$NL_STAGE" "$OLDER_STAGE"
	nl_on_exit "_nl_remove_stage '$OLDER_STAGE'"
fi
build_rc=0
nl_build_install "$NL_STAGE" "$LOGS/build.log" || build_rc=$?
case $build_rc in
0) ;;
2) fail "build: the compiler printed warnings (see above)" ;;
*) fail "build"; finish ;;
esac
if [ -n "$OLDER_MAJOR" ]; then
	build_rc=0
	nl_build_install "$OLDER_STAGE" "$LOGS/build-pg$OLDER_MAJOR.log" "/usr/lib/postgresql/$OLDER_MAJOR/bin" ||
		build_rc=$?
	case $build_rc in
	0) export NL_UPGRADE_FROM_BINDIR=/usr/lib/postgresql/$OLDER_MAJOR/bin ;;
	2) fail "build for PostgreSQL $OLDER_MAJOR: the compiler printed warnings (see above)" ;;
	*) fail "build for PostgreSQL $OLDER_MAJOR" ;;
	esac
fi
chown -R "$NL_PG_USER": "$NL_STAGE"

nl_heading "services"
if [ "$MODE" = valgrind ]; then
	# The postmaster and every backend run under memcheck.  Errors count toward valgrind's exit
	# status (a backend with errors exits 128, which the postmaster treats as a crash, so the
	# test that caused it fails too); leaks are reported but never change the exit status.
	cat >"$NL_STAGE/valgrind-postgres" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --trace-children=yes --error-exitcode=128 \\
	--track-origins=yes --num-callers=40 --fullpath-after= \\
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=none \\
	--suppressions="$NL_STAGE/test/valgrind.supp" --gen-suppressions=all \\
	--log-file="$LOGS/valgrind.%p.log" \\
	"$NL_PGBIN/postgres" "\$@"
EOF
	chmod 755 "$NL_STAGE/valgrind-postgres"
	chown "$NL_PG_USER": "$NL_STAGE/valgrind-postgres" "$LOGS"
	NL_PG_WRAPPER=$NL_STAGE/valgrind-postgres NL_START_TIMEOUT=600 NL_STOP_TIMEOUT=600 \
		nl_start_cluster "$NL_STAGE/test-cluster" "$PGPORT_TEST"
else
	nl_start_cluster "$NL_STAGE/test-cluster" "$PGPORT_TEST"
fi
export PGDATABASE=postgres
nl_start_api_server "$API_PORT" "$NL_STAGE"

# ------------------------------------------------------------------ suites

nl_heading "pg_regress (REGRESS, the test modules', REGRESS_API)"
run_suite regress "$NL_STAGE" installcheck REGRESS ISOLATION= TAP_TESTS=
for module in $(make_var NL_MODULES); do
	run_suite regress "$NL_STAGE/$module" installcheck REGRESS
done
run_suite regress-api "$NL_STAGE" installcheck-api REGRESS_API ISOLATION_API=
only_unknown regress

if [ "$MODE" = valgrind ]; then
	nl_heading "valgrind"
	# Stop the cluster so every backend has exited and written its leak report.
	NL_STOP_TIMEOUT=600 nl_stop_cluster "$NL_STAGE/test-cluster"
	report=$LOGS/valgrind-nicelogin.txt
	vrc=0
	python3 - "$LOGS" "$NL_STAGE/src" >"$report" <<'EOF' || vrc=$?
# Read valgrind's per-process logs; print every error or definite leak whose stack passes
# through nicelogin (its library, or a frame in one of its source files); exit 1 if any.
import glob, os, re, sys
logs, srcdir = sys.argv[1], sys.argv[2]
names = sorted(os.path.basename(p)[:-2] for p in glob.glob(os.path.join(srcdir, "**", "*.c"), recursive=True))
ours = re.compile(r"nicelogin|/src/(?:\w+/)*(%s)\.c:\d+" % "|".join(map(re.escape, names or ["nicelogin"])))
frame = re.compile(r"^\s+(at|by) 0x")
ours_n = other_n = 0
for path in sorted(glob.glob(os.path.join(logs, "valgrind.*.log"))):
    records, cur = [], []
    for line in open(path, errors="replace"):
        m = re.match(r"^==\d+== ?(.*)$", line.rstrip("\n"))
        if not m:
            continue
        text = m.group(1)
        if text.strip() == "":
            if cur:
                records.append(cur)
            cur = []
        else:
            cur.append(text)
    if cur:
        records.append(cur)
    for rec in records:
        if not any(frame.match(l) for l in rec[1:]):
            continue
        head = rec[0]
        if " lost in loss record " in head and "definitely lost" not in head:
            continue
        if any(ours.search(l) for l in rec):
            ours_n += 1
            print("%s:" % path)
            print("\n".join("    " + l for l in rec))
            print()
        else:
            other_n += 1
print("valgrind: %d error(s) or definite leak(s) in nicelogin code, %d elsewhere (PostgreSQL or "
      "libraries; see %s/valgrind.*.log)" % (ours_n, other_n, logs))
sys.exit(1 if ours_n else 0)
EOF
	show_file "$report" 400
	if [ "$vrc" -eq 0 ]; then pass "valgrind (memcheck)"; else fail "valgrind (memcheck): errors in nicelogin"; fi
	finish
fi

nl_heading "isolation (ISOLATION, ISOLATION_API)"
run_suite isolation "$NL_STAGE" installcheck ISOLATION REGRESS= TAP_TESTS=
run_suite isolation-api "$NL_STAGE" installcheck-api ISOLATION_API REGRESS_API=
only_unknown isolation

nl_heading "TAP (t/*.pl)"
shopt -s nullglob
tap_files=("$NL_STAGE"/t/*.pl)
[ ${#tap_files[@]} -gt 0 ] || echo "(no TAP tests)"
for f in "${tap_files[@]}"; do
	name=t/$(basename "$f")
	base=$(basename "$f" .pl)
	only_has tap "$base" || continue
	nl_api_reset >/dev/null 2>&1 || true
	rc=0
	installcheck "$NL_STAGE" installcheck "$LOGS/tap-$base.log" REGRESS= ISOLATION= PROVE_TESTS="$name" || rc=$?
	# prove_installcheck empties tmp_check for each run: keep this file's logs.
	if [ -d "$NL_STAGE/tmp_check/log" ]; then
		rm -rf "$LOGS/tap-$base"
		cp -r "$NL_STAGE/tmp_check/log" "$LOGS/tap-$base"
	fi
	if [ "$rc" -eq 0 ]; then
		pass "tap/$name"
	else
		fail "tap/$name"
		show_file "$LOGS/tap-$base/regress_log_$base" 300
	fi
done

nl_heading "scripts (test/scripts/*.sh)"
scripts=()
SKIPPED_SCRIPTS=()
for f in "$NL_STAGE"/test/scripts/*.sh; do
	[ -x "$f" ] && only_has script "$(basename "$f" .sh)" || continue
	# "# nl-run: host-major" in a script's first lines: it tests the application side (example
	# apps, a pooler, another JOSE library), not the server, so it runs on the host's major only
	if [ "$NL_PG_MAJOR" != "$NL_HOST_MAJOR" ] && head -n 20 "$f" | grep -q '^# nl-run: host-major'; then
		SKIPPED_SCRIPTS+=("test/scripts/$(basename "$f")")
		continue
	fi
	scripts+=("$f")
done
for f in ${SKIPPED_SCRIPTS[@]+"${SKIPPED_SCRIPTS[@]}"}; do
	printf 'SKIP  %s%s (runs on PostgreSQL %s only: nl-run: host-major)\n' "$NAME_PREFIX" "$f" "$NL_HOST_MAJOR"
done
[ ${#scripts[@]} -gt 0 ] || echo "(no executable scripts)"
for f in "${scripts[@]}"; do
	name=test/scripts/$(basename "$f")
	log=$LOGS/script-$(basename "$f" .sh).log
	if [ -n "$NL_API_PID" ] && ! kill -0 "$NL_API_PID" 2>/dev/null; then
		nl_log "the stand-in server died; restarting it"
		nl_start_api_server "$API_PORT" "$NL_STAGE"
	fi
	nl_api_reset >/dev/null 2>&1 || nl_log "WARNING: could not reset the stand-in server"
	rc=0
	(cd "$NL_STAGE" && timeout "$SCRIPT_TIMEOUT" "$f") </dev/null >"$log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		pass "$name"
		# a script that passed without testing everything says so in a SKIP: line
		grep '^SKIP: ' "$log" | sed 's/^/      /' || true
	else
		[ "$rc" -ne 124 ] || echo "(timed out after $SCRIPT_TIMEOUT s)" >>"$log"
		fail "$name (exit status $rc)"
		show_file "$log" 300
	fi
done

finish
