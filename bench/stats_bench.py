#!/usr/bin/env python3
"""Cost of counting for nicelogin_stats, against the same work with counting
off (nicelogin.track_stats = off) in the same run.

Needs a running server with nicelogin in shared_preload_libraries (PGHOST/
PGPORT/PGUSER, a superuser); bench/run.sh starts one.  Three workloads,
each timed ROUNDS times with counting on and off, interleaved:

  rls       serial seq scan of ROWS rows under company_id = nicelogin_company_id()
            (the per-row path: the helpers' memo, no token cache lookup per row)
  verify    nicelogin_verify(t) of one cached token, ROWS calls in one statement
            (a token cache hit and one count per call: the hottest counted path)
  xacts     a procedure committing TXNS transactions, each with one
            nicelogin_verify(t) (a cache hit), so each flushes one count to
            shared memory at its end

rls and verify are executor times (EXPLAIN ANALYZE, TIMING OFF); xacts is
the procedure's own clock.  Prints medians and the best runs.  With counting off the code still tests the
setting: the difference is the increments and the flushes.
"""
import json
import os
import statistics
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import fresh_database, lit, psql as _psql  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
TXNS = int(os.environ.get("BENCH_TXNS", "200000"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_stats")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
COMPANY = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"   # the fixture token's company_id
TOKEN = json.load(open(os.path.join(FIXTURES, "tokens.json")))["rs256"]


def psql(sql, db=None):
    return _psql(sql, db or DB)


def setup():
    fresh_database(DB)
    psql("""
        DO $$ BEGIN CREATE ROLE bench_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        CREATE TABLE bench_rows (company_id uuid NOT NULL, id bigint NOT NULL);
        INSERT INTO bench_rows
            SELECT CASE WHEN g %% 100 = 0 THEN '%s'::uuid ELSE gen_random_uuid() END, g
              FROM generate_series(1, %d) g;
        VACUUM (FREEZE, ANALYZE) bench_rows;
        ALTER TABLE bench_rows ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON bench_rows FOR SELECT TO bench_app
            USING (company_id = nicelogin_company_id());
        GRANT SELECT ON bench_rows TO bench_app;
        CREATE TABLE one_token (token text);
        INSERT INTO one_token VALUES (%s);
        GRANT SELECT ON one_token TO bench_app;
        CREATE PROCEDURE bench_xacts(n int, INOUT ms float8 DEFAULT NULL)
        LANGUAGE plpgsql AS $p$
        DECLARE
            t text := (SELECT token FROM one_token);
            start timestamptz := clock_timestamp();
        BEGIN
            FOR i IN 1 .. n LOOP
                PERFORM nicelogin_verify(t);
                COMMIT;
            END LOOP;
            ms := extract(epoch FROM clock_timestamp() - start) * 1000;
        END
        $p$;
    """ % (COMPANY, ROWS, lit(TOKEN)))


def settings(track):
    return """
        SET max_parallel_workers_per_gather = 0;
        SET jit = off;
        SET nicelogin.track_stats = %s;
        SET nicelogin.token = %s;
    """ % ("on" if track else "off", lit(TOKEN))


def explain_ms(query, track):
    """Executor time in ms of one run as bench_app, after one warm-up run."""
    out = psql(settings(track) + """
        SET ROLE bench_app;
        %s;
        EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;
    """ % (query, query))
    return json.loads(out[out.index("["):])[0]["Execution Time"]


def xacts_ms(track):
    out = psql(settings(track) + "CALL bench_xacts(100); CALL bench_xacts(%d);" % TXNS)
    return float(out.split()[-1])


WORKLOADS = {
    "rls": (lambda tr: explain_ms("SELECT count(*) FROM bench_rows", tr), ROWS, "row"),
    "verify": (lambda tr: explain_ms(
        "SELECT count(*) FILTER (WHERE nicelogin_verify(t.token)) "
        "FROM generate_series(1, %d) g, one_token t" % ROWS, tr), ROWS, "call"),
    "xacts": (xacts_ms, TXNS, "xact"),
}


def main():
    print("nicelogin stats benchmark: %d rows, %d transactions, %d rounds (median), "
          "counting on vs nicelogin.track_stats = off" % (ROWS, TXNS, ROUNDS))
    if "nicelogin" not in psql("SHOW shared_preload_libraries;", db="postgres"):
        sys.exit("nicelogin is not in shared_preload_libraries: counts would stay in the session")
    setup()
    times = {(w, tr): [] for w in WORKLOADS for tr in (True, False)}
    for r in range(ROUNDS):
        for w, (fn, _, _) in WORKLOADS.items():
            # alternate which goes first, so that neither always runs warmer
            for tr in ((True, False) if r % 2 == 0 else (False, True)):
                times[(w, tr)].append(fn(tr))
    counted = psql("SELECT sum(cached) FROM nicelogin_stats WHERE datname = current_database();").strip()
    # the median, and the best run (on a shared machine, the run least disturbed)
    for label, pick in (("median", statistics.median), ("best", min)):
        print("\n%-8s %12s %12s %8s %14s   (%s)" % ("workload", "on ms", "off ms", "on/off",
                                                  "cost per unit", label))
        for w, (_, n, unit) in WORKLOADS.items():
            on = pick(times[(w, True)])
            off = pick(times[(w, False)])
            print("%-8s %12.1f %12.1f %8.3f %11.1f ns/%s"
                  % (w, on, off, on / off, (on - off) * 1e6 / n, unit))
    spread = {w: (max(times[(w, False)]) - min(times[(w, False)])) / statistics.median(times[(w, False)])
              for w in WORKLOADS}
    print("\nspread of the off runs (max - min) / median: %s"
          % ", ".join("%s %.1f%%" % (w, 100 * s) for w, s in spread.items()))
    print("token cache answers counted in this database during the run: %s" % counted)
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    return 0


if __name__ == "__main__":
    sys.exit(main())
