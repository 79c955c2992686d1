#!/usr/bin/env python3
"""Request throughput with many active tokens: the per-backend token cache
alone against the cache shared by all backends, each against an unverified
baseline measured in the same run; and the cost of a shared hit.

Needs a running server with nicelogin installed (PGHOST/PGPORT/PGUSER, a
superuser), its data directory in BENCH_PGDATA (the server is restarted with
shared_preload_libraries = nicelogin and nicelogin.shared_token_cache_size 0,
then SHARED_SIZE) and pgbench; bench/run.sh
starts a throwaway one.  Signs up to 5,000 RS256 tokens (fixture key rsa1,
openssl command), 100 tenants, a 100,000-row table with an index on
company_id.  pgbench, CLIENTS clients, SECONDS per run: each transaction picks
one of N active tokens at random, sets it with set_config('nicelogin.token',
..., true) and counts its tenant's rows through the index, as a role under the
policy company_id = nicelogin_company_id(); the baseline transaction sets the
token's company with set_config('app.company', ..., true) under the policy
company_id = current_setting('app.company')::uuid.  For N = 1, 200, 5,000
(BENCH_TOKENS) and both configurations, ROUNDS rounds of a baseline and a nicelogin
run (in turn first); prints TPS medians and the ratio nicelogin / baseline (target with
the shared cache at 5,000 tokens: >= 0.97), and the same ratio of the server's
CPU time per transaction (its processes' utime + stime from /proc, sampled
during the run), which other load on a shared machine disturbs less.

Then, in one backend, the time per call of nicelogin_check() over the
distinct tokens: all per-backend hits (token_cache_size 8192), all shared hits
(token_cache_size 0), and shared hits each copied into a per-backend cache
that holds one token (token_cache_size 1, so every call is a miss there).
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "test"))
from benchlib import fresh_database, lit, psql as _psql  # noqa: E402
import nljwt  # noqa: E402

DB = os.environ.get("BENCH_DB", "nicelogin_bench_shared")
PGDATA = os.environ.get("BENCH_PGDATA")
COUNTS = [int(x) for x in os.environ.get("BENCH_TOKENS", "1,200,5000").split(",")]
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SHARED_SIZE = int(os.environ.get("BENCH_SHARED_SIZE", "10000"))
TENANTS = 100
ROWS = 100000
KEY = os.path.join(HERE, "..", "test", "fixtures", "keys", "rs256.pem")


def psql(sql, db=None):
    return _psql(sql, db or DB)


def company(i):
    return "%08x-aaaa-4aaa-8aaa-%012x" % (i % TENANTS, i % TENANTS)


def sign(n):
    out = []
    for i in range(n):
        payload = {"sub": "%08x-1111-4111-8111-%012x" % (i, i), "company_id": company(i),
                   "email": "user%d@example.com" % i, "exp": 4102444800, "iat": 1767225600,
                   "jti": "bench-jti-%d" % i, "sid": "bench-sid-%d" % i}
        out.append(nljwt.sign({"alg": "RS256", "kid": "rsa1", "typ": "JWT"}, payload, "RS256", KEY))
    return out


def restart(shared_size):
    """Restarts the server with nicelogin preloaded and this shared cache size
    (settings in BENCH_PGDATA/nicelogin_bench.conf, included by postgresql.conf)."""
    conf = os.path.join(PGDATA, "postgresql.conf")
    if "nicelogin_bench.conf" not in open(conf).read():
        with open(conf, "a") as f:
            f.write("\ninclude_if_exists = 'nicelogin_bench.conf'\n")
    with open(os.path.join(PGDATA, "nicelogin_bench.conf"), "w") as f:
        f.write("shared_preload_libraries = 'nicelogin'\n"
                "nicelogin.shared_token_cache_size = %d\n"
                "nicelogin.jwks_refresh_interval = '24h'\n" % shared_size)
    subprocess.run(["pg_ctl", "-D", PGDATA, "-w", "-l", os.path.join(PGDATA, "..", "postgres.log"),
                    "restart", "-m", "fast"], check=True, stdout=subprocess.DEVNULL)
    got = psql("SHOW nicelogin.shared_token_cache_size;", db="postgres").strip()
    print("server restarted: nicelogin preloaded, nicelogin.shared_token_cache_size %s" % got, flush=True)


def setup(toks):
    fresh_database(DB)
    psql("""
        DO $$ BEGIN CREATE ROLE bench_nl NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        DO $$ BEGIN CREATE ROLE bench_cs NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        CREATE TABLE docs (company_id uuid NOT NULL, id int NOT NULL);
        INSERT INTO docs SELECT format('%%s-aaaa-4aaa-8aaa-%%s', lpad(to_hex(g %% %d), 8, '0'),
                                       lpad(to_hex(g %% %d), 12, '0'))::uuid, g
          FROM generate_series(1, %d) g;
        CREATE INDEX ON docs (company_id);
        VACUUM ANALYZE docs;
        ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
        CREATE POLICY verified ON docs TO bench_nl USING (company_id = nicelogin_company_id());
        CREATE POLICY unverified ON docs TO bench_cs
            USING (company_id = current_setting('app.company')::uuid);
        GRANT SELECT ON docs TO bench_nl, bench_cs;
        CREATE TABLE toks (i int PRIMARY KEY, t text NOT NULL, c text NOT NULL);
        GRANT SELECT ON toks TO bench_nl, bench_cs;
    """ % (TENANTS, TENANTS, ROWS))
    psql("INSERT INTO toks VALUES " +
         ",".join("(%d, %s, %s)" % (i, lit(t), lit(company(i))) for i, t in enumerate(toks)) + ";"
         "VACUUM ANALYZE toks;")


def plans(tok):
    """The two policies' plans (both should use the index on company_id)."""
    for role, setting, value in (("bench_cs", "app.company", company(0)), ("bench_nl", "nicelogin.token", tok)):
        out = psql("BEGIN; SET LOCAL ROLE %s; SELECT set_config('%s', %s, true) IS NOT NULL;"
                   " EXPLAIN (COSTS OFF) SELECT count(*) FROM docs; COMMIT;" % (role, setting, lit(value)))
        print("  plan as %s: %s" % (role, " / ".join(l.strip() for l in out.strip().splitlines()[1:])))


def server_cpu():
    """CPU seconds used so far by the server's processes (the postmaster's children)."""
    postmaster = int(open(os.path.join(PGDATA, "postmaster.pid")).readline())
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[1] is the parent pid; 11, 12 utime, stime (of the fields after the command)
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def pgbench(kind, n):
    if kind == "nicelogin":
        body = ("SET LOCAL ROLE bench_nl;\n"
                "SELECT set_config('nicelogin.token', (SELECT t FROM toks WHERE i = :i), true);\n")
    else:
        body = ("SET LOCAL ROLE bench_cs;\n"
                "SELECT set_config('app.company', (SELECT c FROM toks WHERE i = :i), true);\n")
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("\\set i random(0, %d)\nBEGIN;\n%sSELECT count(*) FROM docs;\nCOMMIT;\n" % (n - 1, body))
    script.close()
    # the run's backends exit with it: sample the server's CPU while they live
    proc = subprocess.Popen(["pgbench", "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS),
                             "-f", script.name, DB], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    cpu0 = server_cpu()
    last = cpu0
    while proc.poll() is None:
        last = max(last, server_cpu())
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    os.unlink(script.name)
    if proc.returncode != 0:
        sys.exit("pgbench failed:\n%s" % stderr)
    tps = ntx = None
    for line in stdout.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split()[2])
        if line.startswith("number of transactions actually processed"):
            ntx = int(line.split(":")[1].split("/")[0])
    if tps is None or not ntx:
        sys.exit("no tps in pgbench output:\n%s" % stdout)
    return tps, (last - cpu0) * 1e6 / ntx


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def throughput(config, results):
    for n in COUNTS:
        base, nl = [], []
        for r in range(ROUNDS):
            # alternate which runs first, so that a drift in load favours neither
            if r % 2 == 0:
                base.append(pgbench("baseline", n))
                nl.append(pgbench("nicelogin", n))
            else:
                nl.append(pgbench("nicelogin", n))
                base.append(pgbench("baseline", n))
            print("  %-11s %5d tokens, round %d: baseline %6.0f TPS %4.0f µs CPU/tx, nicelogin %6.0f TPS"
                  " %4.0f µs CPU/tx; TPS ratio %.3f, CPU ratio %.3f (load %s)"
                  % (config, n, r + 1, base[-1][0], base[-1][1], nl[-1][0], nl[-1][1],
                     nl[-1][0] / base[-1][0], base[-1][1] / nl[-1][1], loadavg()), flush=True)
        results[(config, n)] = (statistics.median(b[0] for b in base),
                                statistics.median(v[0] for v in nl),
                                statistics.median(v[0] / b[0] for b, v in zip(base, nl)),
                                statistics.median(b[1] for b in base),
                                statistics.median(v[1] for v in nl),
                                statistics.median(b[1] / v[1] for b, v in zip(base, nl)))


def per_request_us(ntoks, config):
    """µs per request in one backend: set the token, ask nicelogin_company_id(); against
    setting app.company and reading current_setting('app.company')::uuid.  The tokens come in
    a fixed order that visits all NTOKS before any comes back (so the per-backend cache of 128
    misses, as behind a pool); both loops run twice, interleaved, the second time counts."""
    sql = """
        CREATE FUNCTION pg_temp.req(nicelogin boolean, n int, m int) RETURNS float8 LANGUAGE plpgsql AS $$
        DECLARE t0 timestamptz; ts text[]; cs text[]; j int;
        BEGIN
            SELECT array_agg(t ORDER BY i), array_agg(c ORDER BY i) INTO ts, cs FROM toks WHERE i < m;
            t0 := clock_timestamp();
            FOR k IN 1..n LOOP
                j := 1 + (k * 7919) %% m;
                IF nicelogin THEN
                    PERFORM set_config('nicelogin.token', ts[j], true);
                    PERFORM nicelogin_company_id();
                ELSE
                    PERFORM set_config('app.company', cs[j], true);
                    PERFORM current_setting('app.company')::uuid;
                END IF;
            END LOOP;
            RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6 / n;
        END $$;
        SELECT pg_temp.req(false, %(n)d, %(m)d), pg_temp.req(true, %(n)d, %(m)d);
        SELECT pg_temp.req(false, %(n)d, %(m)d), pg_temp.req(true, %(n)d, %(m)d);
    """ % {"n": 4 * ntoks, "m": ntoks}
    base, nl = (float(x) for x in psql(sql).strip().splitlines()[-1].split("|"))
    print("  %-11s %d tokens: %.2f µs per request with nicelogin, %.2f µs with current_setting():"
          " %.2f µs more" % (config, ntoks, nl, base, nl - base), flush=True)
    return nl - base


def per_call_us(ntoks):
    """µs per nicelogin_check() over the distinct tokens, for three cache set-ups."""
    sql = """
        CREATE OR REPLACE FUNCTION pg_temp.t(q text, n int) RETURNS float8 LANGUAGE plpgsql AS $$
        DECLARE t0 timestamptz;
        BEGIN
            t0 := clock_timestamp();
            FOR k IN 1..n LOOP EXECUTE q; END LOOP;
            RETURN extract(epoch FROM clock_timestamp() - t0) * 1e6;
        END $$;
        SET nicelogin.token_cache_size = %d;
        SELECT count(nicelogin_check(t)) FROM toks;   -- warm: every token in the caches
        SELECT count(nicelogin_check(t)) FROM toks;
        SELECT pg_temp.t('SELECT count(octet_length(t)) FROM toks', 2),
               pg_temp.t('SELECT count(nicelogin_check(t)) FROM toks', 2);
        SELECT pg_temp.t('SELECT count(octet_length(t)) FROM toks', %d),
               pg_temp.t('SELECT count(nicelogin_check(t)) FROM toks', %d),
               (SELECT count(*) FROM toks);
    """
    out = {}
    for name, size in (("per-backend hit", 8192), ("shared hit, no per-backend cache", 0),
                       ("shared hit + per-backend insert", 1)):
        before = psql("SELECT hits FROM nicelogin_shared_cache_info();").strip()
        reps = max(5, 50000 // ntoks)
        scan, check, n = psql(sql % (size, reps, reps)).strip().splitlines()[-1].split("|")
        after = psql("SELECT hits FROM nicelogin_shared_cache_info();").strip()
        out[name] = (float(check) - float(scan)) / (reps * int(n))
        print("  %-34s %.2f µs per call (shared hits during it: %d)"
              % (name, out[name], int(after) - int(before)))
    return out


def main():
    if not PGDATA:
        sys.exit("BENCH_PGDATA must name the server's data directory (bench/run.sh sets it)")
    n = max(COUNTS)
    print("nicelogin shared token cache: %s active RS256 tokens, %d clients, %d s per run, "
          "%d rounds (median), %d tenants, %d rows" % (",".join(map(str, COUNTS)), CLIENTS, SECONDS,
                                                       ROUNDS, TENANTS, ROWS))
    t0 = time.time()
    toks = sign(n)
    print("signed %d tokens in %.0f s" % (n, time.time() - t0))
    restart(0)
    setup(toks)
    plans(toks[0])
    results = {}
    throughput("per-backend", results)
    print("\nper request, one backend, no pgbench:")
    req_local = per_request_us(n, "per-backend")
    restart(SHARED_SIZE)
    throughput("shared", results)
    print("\nper request, one backend, no pgbench (the shared cache filled by the runs above):")
    req_shared = per_request_us(n, "shared")
    print("\nmicro benchmark (one backend, shared cache on, %d distinct tokens, time per call"
          " over a scan of them, less the same scan calling octet_length()):" % n)
    per_call = per_call_us(n)
    psql("SELECT * FROM nicelogin_shared_cache_info();")

    print("\n| active tokens | token cache | baseline TPS | nicelogin TPS | TPS ratio | baseline µs CPU/tx |"
          " nicelogin µs CPU/tx | CPU ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for config, label in (("per-backend", "128 per backend, shared 0"),
                          ("shared", "128 per backend + %d shared" % SHARED_SIZE)):
        for n in COUNTS:
            print("| %d | %s | %.0f | %.0f | %.3f | %.0f | %.0f | %.3f |" % ((n, label) + results[(config, n)]))
    res = results[("shared", max(COUNTS))]
    print("\n(ratios: medians of the rounds' nicelogin/baseline TPS, and baseline/nicelogin server CPU"
          " per transaction, which other load on the machine disturbs less)")
    print("shared cache at %d tokens: %.3f x baseline TPS, %.3f by CPU per transaction (target >= 0.97)"
          % (max(COUNTS), res[2], res[5]))
    print("shared hit over per-backend hit: %.2f µs (copied into the per-backend cache: %.2f µs; "
          "target: about 1 µs)" % (per_call["shared hit, no per-backend cache"] - per_call["per-backend hit"],
                                   per_call["shared hit + per-backend insert"] - per_call["per-backend hit"]))
    print("a request with %d active tokens costs %.2f µs more than with current_setting() with the"
          " per-backend cache only, %.2f µs with the shared cache" % (n, req_local, req_shared))
    info = psql("SELECT capacity, entries, entry_bytes, hits, misses, inserts, evictions "
                "FROM nicelogin_shared_cache_info();").strip()
    print("nicelogin_shared_cache_info(): capacity|entries|entry_bytes|hits|misses|inserts|evictions = %s"
          % info)
    os.unlink(os.path.join(PGDATA, "nicelogin_bench.conf"))   # back to the plain settings at the next start
    psql("DROP DATABASE %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
