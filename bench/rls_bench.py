#!/usr/bin/env python3
"""Per-row cost of RLS policies on verified claims, against baselines measured
in the same run.

Needs a running server with nicelogin installed (PGHOST/PGPORT/PGUSER, a
superuser); bench/run.sh starts a throwaway one.  Builds a table of ROWS rows
over 100 tenants, then, as an unprivileged role, times a serial sequential
scan (count(*)) under four policies, interleaved, ROUNDS times each, and
prints medians and ratios:

  none      no policy at all
  setting   company_id = current_setting('app.company')::uuid   (unverified)
  jsonb     company_id = (current_setting('request.jwt.claims', true)::jsonb ->> 'company_id')::uuid
  nicelogin company_id = nicelogin_company_id()                  (verified)

and a repeated nicelogin_verify(t) of one token against length(t).
Times are the executor's (EXPLAIN ANALYZE, TIMING OFF).
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
DB = os.environ.get("BENCH_DB", "nicelogin_bench")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
COMPANY = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"   # the fixture token's company_id

TOKENS = json.load(open(os.path.join(FIXTURES, "tokens.json")))
TOKEN = TOKENS["rs256"]
# what PostgREST puts in request.jwt.claims: the token's whole payload
CLAIMS = __import__("base64").urlsafe_b64decode(TOKEN.split(".")[1] + "==").decode()

POLICIES = {
    "none": None,
    "setting": "company_id = current_setting('app.company')::uuid",
    "jsonb": "company_id = (current_setting('request.jwt.claims', true)::jsonb ->> 'company_id')::uuid",
    "nicelogin": "company_id = nicelogin_company_id()",
}






def psql(sql, db=None):
    return _psql(sql, db or DB)


def setup():
    fresh_database(DB)
    psql("""
        DO $$ BEGIN CREATE ROLE bench_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
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
        CREATE TABLE one_token (token text);
        INSERT INTO one_token VALUES (%s);
        GRANT SELECT ON one_token TO bench_app;
    """ % (COMPANY, ROWS, lit(TOKEN)))


def set_policy(name):
    expr = POLICIES[name]
    sql = "DROP POLICY IF EXISTS p ON bench_rows;\n"
    if expr is None:
        sql += "ALTER TABLE bench_rows DISABLE ROW LEVEL SECURITY;\n"
    else:
        sql += ("ALTER TABLE bench_rows ENABLE ROW LEVEL SECURITY;\n"
                "CREATE POLICY p ON bench_rows FOR SELECT TO bench_app USING (%s);\n" % expr)
    psql(sql)


def timed(query):
    """Executor time in ms of one run as bench_app, after one warm-up run."""
    sql = """
        SET max_parallel_workers_per_gather = 0;
        SET jit = off;
        SET ROLE bench_app;
        SET nicelogin.token = %s;
        SET app.company = %s;
        SET request.jwt.claims = %s;
        %s;
        EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;
    """ % (lit(TOKEN), lit(COMPANY), lit(CLAIMS), query, query)
    out = psql(sql)
    plan = json.loads(out[out.index("["):])
    return plan[0]["Execution Time"]


def main():
    print("nicelogin RLS benchmark: %d rows, 100 tenants, serial seq scan, %d rounds (median)"
          % (ROWS, ROUNDS))
    setup()
    times = {k: [] for k in list(POLICIES) + ["length", "verify"]}
    counts = {}
    for r in range(ROUNDS):
        for name in POLICIES:
            set_policy(name)
            times[name].append(timed("SELECT count(*) FROM bench_rows"))
        set_policy("none")
        times["length"].append(timed(
            "SELECT sum(length(t.token)) FROM generate_series(1, %d) g, one_token t" % ROWS))
        times["verify"].append(timed(
            "SELECT count(*) FILTER (WHERE nicelogin_verify(t.token)) FROM generate_series(1, %d) g, one_token t"
            % ROWS))
    for name in POLICIES:
        set_policy(name)
        counts[name] = psql("SET ROLE bench_app; SET nicelogin.token = %s; SET app.company = %s; "
                            "SET request.jwt.claims = %s; SELECT count(*) FROM bench_rows;"
                            % (lit(TOKEN), lit(COMPANY), lit(CLAIMS))).strip()
    set_policy("none")
    med = {k: statistics.median(v) for k, v in times.items()}

    print("\n%-10s %10s %12s %10s" % ("variant", "median ms", "ns per row", "rows seen"))
    for name in POLICIES:
        print("%-10s %10.1f %12.1f %10s" % (name, med[name], med[name] * 1e6 / ROWS, counts[name]))
    for name in ("length", "verify"):
        print("%-10s %10.1f %12.1f" % (name, med[name], med[name] * 1e6 / ROWS))
    extra = {k: (med[k] - med["none"]) * 1e6 / ROWS for k in ("setting", "jsonb", "nicelogin")}
    print("\nper-row cost over no policy: setting %.0f ns, jsonb %.0f ns, nicelogin %.0f ns"
          % (extra["setting"], extra["jsonb"], extra["nicelogin"]))

    checks = [
        ("nicelogin / setting", med["nicelogin"] / med["setting"], "<=", 0.5),
        ("jsonb / nicelogin", med["jsonb"] / med["nicelogin"], ">=", 10.0),
        ("nicelogin / none", med["nicelogin"] / med["none"], "<=", 2.0),
        ("verify / length", med["verify"] / med["length"], "<=", 2.0),
    ]
    print("\n%-22s %8s   target" % ("ratio", "value"))
    ok = True
    for label, value, op, target in checks:
        good = value <= target if op == "<=" else value >= target
        ok &= good
        print("%-22s %8.2f   %s %.1f  %s" % (label, value, op, target, "ok" if good else "MISSED"))
    if counts["nicelogin"] != counts["setting"] or counts["nicelogin"] != counts["jsonb"]:
        print("row counts differ between policies")
        ok = False
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
