#!/usr/bin/env python3
"""The form of a policy: a constant, nicelogin's function in a scalar subquery,
and the bare call, with and without an index on company_id, in one run.

  constant  company_id = 'aaaaaaaa-…'::uuid                              (the floor)
  subquery  company_id = (SELECT nicelogin.nicelogin_company_id())       (an InitPlan: once a statement)
  bare      company_id = nicelogin.nicelogin_company_id()                (a filter: once a row)

Needs a running server with nicelogin installed (PGHOST/PGPORT/PGUSER, a
superuser); bench/run.sh starts a throwaway one.  The extension goes into
schema nicelogin, as the README recommends.  A table of ROWS rows over 100
tenants; as an unprivileged role, a serial count(*) under each policy,
interleaved, ROUNDS times each (executor time, EXPLAIN ANALYZE with TIMING
OFF, after a warm-up run): first without an index (a sequential scan), then
with an index on company_id (the tenant's 1% of the rows through the index).
Prints medians, the ratio of each to the constant in the same phase, how the
policy's condition was planned, and how many times the function was called
per statement (pg_stat_get_xact_function_calls, track_functions = all).
"""
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import JWKS, lit, psql as _psql  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_policy_form")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
COMPANY = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"   # the fixture token's company_id
TOKEN = json.load(open(os.path.join(FIXTURES, "tokens.json")))["rs256"]
FUNC = "nicelogin.nicelogin_company_id()"
IDX_REPS = 20   # runs per timing with the index (each well under a millisecond to a few)

POLICIES = {
    "constant": "company_id = '%s'::uuid" % COMPANY,
    "subquery": "company_id = (SELECT %s)" % FUNC,
    "bare": "company_id = %s" % FUNC,
}
QUERY = "SELECT count(*) FROM bench_rows"


def psql(sql, db=None):
    return _psql(sql, db or DB)


def setup():
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("""
        CREATE SCHEMA nicelogin;
        CREATE EXTENSION nicelogin SCHEMA nicelogin;
        SELECT nicelogin.nicelogin_set_jwks(%s);
        DO $$ BEGIN CREATE ROLE bench_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        GRANT USAGE ON SCHEMA nicelogin TO bench_app;
        CREATE TABLE tenants AS
            SELECT CASE WHEN i = 1 THEN '%s'::uuid ELSE gen_random_uuid() END AS id
              FROM generate_series(1, 100) i;
        CREATE TABLE bench_rows (company_id uuid NOT NULL, id bigint NOT NULL, amount int NOT NULL);
        INSERT INTO bench_rows
            SELECT t.id, g, g %% 1000
              FROM generate_series(1, %d) g
              JOIN (SELECT id, row_number() OVER () - 1 AS n FROM tenants) t ON t.n = g %% 100;
        VACUUM (FREEZE, ANALYZE) bench_rows;
        GRANT SELECT ON bench_rows TO bench_app;
        ALTER TABLE bench_rows ENABLE ROW LEVEL SECURITY;
    """ % (lit(JWKS), COMPANY, ROWS))


def set_policy(name):
    psql("DROP POLICY IF EXISTS p ON bench_rows;\n"
         "CREATE POLICY p ON bench_rows FOR SELECT TO bench_app USING (%s);\n" % POLICIES[name])


def as_app(body, track=False):
    return """
        SET max_parallel_workers_per_gather = 0;
        SET jit = off;
        %sSET ROLE bench_app;
        SET nicelogin.token = %s;
        %s
    """ % ("SET track_functions = 'all';\n" if track else "", lit(TOKEN), body)


def timed(reps):
    """Executor time in ms of one run as bench_app: the mean of reps runs after a warm-up run."""
    explain = "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;\n" % QUERY
    out = psql(as_app("%s;\n%s" % (QUERY, explain * reps)))
    dec, pos, ms = json.JSONDecoder(), out.index("["), []
    while len(ms) < reps:
        plan, pos = dec.raw_decode(out, out.index("[", pos))
        ms.append(plan[0]["Execution Time"])
    return statistics.mean(ms)


def plan_and_calls():
    """(the scan node and its condition, rows counted, calls of the function by one statement)"""
    out = psql(as_app("""
        EXPLAIN (COSTS OFF) %s;
        BEGIN;
        SELECT 'count=' || count(*) FROM bench_rows;
        SELECT 'calls=' || coalesce(pg_stat_get_xact_function_calls('%s'::regprocedure), 0);
        COMMIT;
    """ % (QUERY, FUNC), track=True))
    lines = out.splitlines()
    scan = [l.strip().lstrip("-> ").strip() for l in lines
            if "Scan" in l or "Filter:" in l or "Cond:" in l]
    count = [l[6:] for l in lines if l.startswith("count=")][0]
    calls = [l[6:] for l in lines if l.startswith("calls=")][0]
    return "; ".join(scan), count, calls


def phase(title, reps):
    times = {k: [] for k in POLICIES}
    for _ in range(ROUNDS):
        for name in POLICIES:
            set_policy(name)
            times[name].append(timed(reps))
    med = {k: statistics.median(v) for k, v in times.items()}
    print("\n%s" % title)
    print("%-9s %10s %9s %6s %6s   %s" % ("policy", "median ms", "/constant", "rows", "calls", "plan"))
    counts = set()
    for name in POLICIES:
        set_policy(name)
        plan, count, calls = plan_and_calls()
        counts.add(count)
        print("%-9s %10.2f %9.2f %6s %6s   %s"
              % (name, med[name], med[name] / med["constant"], count, calls, plan))
    print("  runs (ms): " + "; ".join("%s %s" % (k, " ".join("%.2f" % t for t in v)) for k, v in times.items()))
    return med, len(counts) == 1


def main():
    print("policy forms: %d rows, 100 tenants, serial count(*) as an unprivileged role, "
          "%d rounds (median), nicelogin in schema nicelogin" % (ROWS, ROUNDS))
    for name, expr in POLICIES.items():
        print("  %-9s USING (%s)" % (name, expr))
    setup()
    seq, ok1 = phase("without an index (sequential scan)", 1)
    psql("CREATE INDEX ON bench_rows (company_id); ANALYZE bench_rows;")
    idx, ok2 = phase("with an index on company_id (ms: the mean of %d runs)" % IDX_REPS, IDX_REPS)
    print("\nsubquery / constant: %.2f (seq scan), %.2f (index); bare / constant: %.2f (seq scan), %.2f (index)"
          % (seq["subquery"] / seq["constant"], idx["subquery"] / idx["constant"],
             seq["bare"] / seq["constant"], idx["bare"] / idx["constant"]))
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    if not (ok1 and ok2):
        print("row counts differ between policies")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
