#!/usr/bin/env python3
"""Per-row cost of an RLS policy when the token comes from PostgREST's
request.headers, at 1, 8 and 48 kB of headers, against the nicelogin.token
path in the same run (target: <= 1.2x at 48 kB).  Then the cost of a call of
nicelogin_token() itself (a view or policy that calls it per row), with the
token in nicelogin.token and in 1 kB and 72 kB of request.headers, over
BENCH_CALLS rows (the headers are parsed once per change of the setting, not
at every call: target <= 1.2x at 72 kB).

Needs a running server with nicelogin installed (PGHOST/PGPORT/PGUSER, a
superuser); bench/run.sh starts a throwaway one.  A serial scan of ROWS rows
under a policy on nicelogin_company_id(), as an unprivileged role, ROUNDS
times each, interleaved; executor times (EXPLAIN ANALYZE, TIMING OFF).
"""
import json
import os
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import fresh_database, lit, psql as _psql  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_headers")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
TOKEN = json.load(open(os.path.join(FIXTURES, "tokens.json")))["rs256"]
SIZES = (1024, 8 * 1024, 48 * 1024)
CALLS = int(os.environ.get("BENCH_CALLS", "20000"))
CALL_SIZES = (1024, 72 * 1024)






def psql(sql, db=None):
    return _psql(sql, db or DB)


def headers(size):
    h = {"authorization": "Bearer " + TOKEN, "accept": "application/json", "cookie": ""}
    h["cookie"] = "x" * max(0, size - len(json.dumps(h)))
    return json.dumps(h)


def setup():
    fresh_database(DB)
    psql("""
        DO $$ BEGIN CREATE ROLE bench_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        CREATE TABLE bench_rows (company_id uuid NOT NULL, id bigint NOT NULL);
        INSERT INTO bench_rows
            SELECT CASE WHEN g %% 100 = 0 THEN 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'::uuid
                        ELSE md5(g::text)::uuid END, g
              FROM generate_series(1, %d) g;
        VACUUM (FREEZE, ANALYZE) bench_rows;
        ALTER TABLE bench_rows ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON bench_rows TO bench_app USING (company_id = nicelogin_company_id());
        GRANT SELECT ON bench_rows TO bench_app;
        CREATE TABLE bench_calls (id bigint NOT NULL);
        INSERT INTO bench_calls SELECT g FROM generate_series(1, %d) g;
        VACUUM (FREEZE, ANALYZE) bench_calls;
        GRANT SELECT ON bench_calls TO bench_app;
    """ % (ROWS, CALLS))


def timed(setting, value, query="SELECT count(*) FROM bench_rows"):
    out = psql("""
        SET max_parallel_workers_per_gather = 0;
        SET jit = off;
        SET ROLE bench_app;
        SELECT set_config(%s, %s, false) IS NOT NULL;
        %s;
        EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;
    """ % (lit(setting), lit(value), query, query))
    plan = json.loads(out[out.index("["):])
    return plan[0]["Execution Time"]


def main():
    print("nicelogin request.headers benchmark: %d rows, serial seq scan, %d rounds (median)"
          % (ROWS, ROUNDS))
    setup()
    variants = [("token", "nicelogin.token", TOKEN)] + \
               [("headers %d kB" % (s // 1024), "request.headers", headers(s)) for s in SIZES]
    times = {name: [] for name, _, _ in variants}
    for _ in range(ROUNDS):
        for name, setting, value in variants:
            times[name].append(timed(setting, value))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["token"]
    print("\n%-15s %10s %12s %8s" % ("token from", "median ms", "ns per row", "ratio"))
    for name, _, _ in variants:
        print("%-15s %10.1f %12.1f %8.2f" % (name, med[name], med[name] * 1e6 / ROWS, med[name] / base))
    print("\ntarget: headers 48 kB / token <= 1.2")

    query = "SELECT count(nicelogin_token()) FROM bench_calls"
    variants = [("token", "nicelogin.token", TOKEN)] + \
               [("headers %d kB" % (s // 1024), "request.headers", headers(s)) for s in CALL_SIZES]
    times = {name: [] for name, _, _ in variants}
    for _ in range(ROUNDS):
        for name, setting, value in variants:
            times[name].append(timed(setting, value, query))
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["token"]
    print("\nnicelogin_token() per call, %d calls, %d rounds (median)" % (CALLS, ROUNDS))
    print("%-15s %10s %12s %8s" % ("token from", "median ms", "us per call", "ratio"))
    for name, _, _ in variants:
        print("%-15s %10.1f %12.2f %8.2f" % (name, med[name], med[name] * 1e3 / CALLS, med[name] / base))
    print("\ntarget: headers 72 kB / token <= 1.2")
    psql("DROP DATABASE %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
