#!/usr/bin/env python3
"""Request throughput with millions of revocations and constant churn, against
the same run without churn; and a backend's memory against empty tables.

Needs a running server with nicelogin installed (PGHOST/PGPORT/PGUSER, a
superuser) and pgbench; bench/run.sh starts a throwaway one.  Stores
REVOCATIONS revocations and DEACTIVATIONS deactivated users (none of them the
benchmark's users), signs TOKENS tokens (RS256, fixture key, openssl command),
and runs pgbench with CLIENTS clients: each transaction sets one random token
with set_config('nicelogin.token', ..., true) and counts a 20,000-row table
under an RLS policy on nicelogin_company_id().  Rounds alternate:

  steady   nothing else happens
  churn    another session commits CHURN revocations per second meanwhile

With more tokens than a backend's token cache holds (nicelogin.token_cache_size,
128 by default), each backend also answers from the shared cache (preloaded,
as bench/run.sh does), so a change of the lists is looked up again at both
levels.  Prints per-round TPS, medians, the churn/steady ratio (target:
>= 0.95), the
latency, and the memory of a backend's nicelogin contexts after one
verification, with the tables full and empty.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import fresh_database, lit, psql as _psql  # noqa: E402

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test"))
import nljwt  # noqa: E402

DB = os.environ.get("BENCH_DB", "nicelogin_bench_revocations")
REVOCATIONS = int(os.environ.get("BENCH_REVOCATIONS", "1000000"))
DEACTIVATIONS = int(os.environ.get("BENCH_DEACTIVATIONS", "100000"))
TOKENS = int(os.environ.get("BENCH_TOKENS", "200"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "8"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CHURN = float(os.environ.get("BENCH_CHURN", "10"))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
KEY = os.path.join(FIXTURES, "keys", "rs256.pem")






def psql(sql, db=None):
    return _psql(sql, db or DB)


def tokens():
    out = []
    for i in range(TOKENS):
        company = "%08x-aaaa-4aaa-8aaa-%012x" % (i % 20, i % 20)
        payload = {"sub": "%08x-1111-4111-8111-%012x" % (i, i), "company_id": company,
                   "email": "user%d@example.com" % i, "exp": 4102444800, "iat": 1767225600,
                   "jti": "bench-jti-%d" % i, "sid": "bench-sid-%d" % i}
        out.append(nljwt.sign({"alg": "RS256", "kid": "rsa1", "typ": "JWT"}, payload, "RS256", KEY))
    return out


def setup(toks):
    fresh_database(DB)
    psql("""
        DO $$ BEGIN CREATE ROLE bench_app NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
        CREATE TABLE docs (company_id uuid NOT NULL, id int NOT NULL);
        INSERT INTO docs SELECT format('%%s-aaaa-4aaa-8aaa-%%s', lpad(to_hex(g %% 20), 8, '0'),
                                       lpad(to_hex(g %% 20), 12, '0'))::uuid, g
          FROM generate_series(1, 20000) g;
        CREATE INDEX ON docs (company_id);
        VACUUM ANALYZE docs;
        ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
        CREATE POLICY tenant ON docs TO bench_app USING (company_id = nicelogin_company_id());
        GRANT SELECT ON docs TO bench_app;
        CREATE TABLE toks (i int PRIMARY KEY, t text NOT NULL);
        GRANT SELECT ON toks TO bench_app;
    """ % ())
    psql("INSERT INTO toks VALUES " + ",".join("(%d, %s)" % (i, lit(t)) for i, t in enumerate(toks)) + ";")


def fill(revocations, deactivations):
    psql("""
        TRUNCATE nicelogin_revocations, nicelogin_deactivated_users;
        INSERT INTO nicelogin_revocations (kind, value, expires_at)
            SELECT CASE WHEN g %% 2 = 0 THEN 'jti' ELSE 'sid' END, 'other-' || g, now() + interval '30 days'
              FROM generate_series(1, %d) g;
        INSERT INTO nicelogin_deactivated_users (user_id)
            SELECT md5('other' || g)::uuid FROM generate_series(1, %d) g;
        VACUUM ANALYZE nicelogin_revocations, nicelogin_deactivated_users;
    """ % (revocations, deactivations))


def pgbench():
    script = tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False)
    script.write("\\set i random(0, %d)\n"
                 "BEGIN;\n"
                 "SET LOCAL ROLE bench_app;\n"
                 "SELECT set_config('nicelogin.token', (SELECT t FROM toks WHERE i = :i), true);\n"
                 "SELECT count(*) FROM docs;\n"
                 "COMMIT;\n" % (TOKENS - 1))
    script.close()
    out = subprocess.run(["pgbench", "-n", "-c", str(CLIENTS), "-j", "2", "-T", str(SECONDS),
                          "-f", script.name, DB], capture_output=True, text=True)
    os.unlink(script.name)
    if out.returncode != 0:
        sys.exit("pgbench failed:\n%s" % out.stderr)
    tps = lat = None
    for line in out.stdout.splitlines():
        if line.startswith("tps ="):
            tps = float(line.split()[2])
        if line.startswith("latency average"):
            lat = float(line.split()[3])
    return tps, lat


def answers():
    """Full verifications, per-backend and shared cache answers so far (nicelogin_stats)."""
    out = psql("SELECT coalesce(sum(verified), 0), coalesce(sum(cached), 0), coalesce(sum(shared), 0)"
               " FROM nicelogin_stats WHERE datname = current_database();")
    return [int(x) for x in out.strip().split("|")]


def counted_pgbench():
    """pgbench, and the full verifications per 1,000 transactions it caused."""
    a0 = answers()
    tps, lat = pgbench()
    a1 = answers()
    return tps, lat, 1000.0 * (a1[0] - a0[0]) / max(1.0, tps * SECONDS)


def churner(stop, done):
    """Commits CHURN revocations per second (each its own transaction)."""
    proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DB, "-v", "ON_ERROR_STOP=1"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    n = 0
    t0 = time.time()
    while not stop.is_set():
        proc.stdin.write("SELECT nicelogin_revoke_jti('churn-%d-%f', now() + interval '1 hour');\n"
                         % (n, t0))
        proc.stdin.flush()
        n += 1
        time.sleep(max(0.0, t0 + n / CHURN - time.time()))
    proc.stdin.close()
    proc.wait()
    done.append(n / (time.time() - t0))


def backend_memory():
    return int(psql("SET ROLE bench_app;"
                    " SELECT set_config('nicelogin.token', (SELECT t FROM toks WHERE i = 0), false)"
                    " IS NOT NULL;"
                    " SELECT nicelogin_company_id() IS NOT NULL;"
                    " RESET ROLE;"
                    " SELECT sum(total_bytes) FROM pg_backend_memory_contexts"
                    " WHERE name LIKE 'nicelogin%';").split()[-1])


def main():
    print("nicelogin revocation scale: %d revocations, %d deactivations, %d tokens, %d clients, "
          "%d s per run, %d rounds (median), churn %.0f revocations/s"
          % (REVOCATIONS, DEACTIVATIONS, TOKENS, CLIENTS, SECONDS, ROUNDS, CHURN))
    setup(tokens())
    # the shared level matters only when a backend's own cache cannot hold every token
    cache = int(psql("SHOW nicelogin.token_cache_size;").strip())
    shared = psql("SELECT capacity FROM nicelogin_shared_cache_info();").strip()
    print("a backend's token cache holds %d tokens (%d in use: %s), the shared cache %s"
          % (cache, TOKENS, "the shared level answers the others" if TOKENS > cache
             else "WARNING: all fit, the shared level is not exercised", shared))
    fill(0, 0)
    mem_empty = backend_memory()
    fill(REVOCATIONS, DEACTIVATIONS)
    mem_full = backend_memory()
    res = {"steady": [], "churn": []}
    lats = {"steady": [], "churn": []}
    fulls = {"steady": [], "churn": []}
    rates = []
    for r in range(ROUNDS):
        tps, lat, full = counted_pgbench()
        res["steady"].append(tps)
        lats["steady"].append(lat)
        fulls["steady"].append(full)
        stop = threading.Event()
        th = threading.Thread(target=churner, args=(stop, rates))
        th.start()
        tps, lat, full = counted_pgbench()
        stop.set()
        th.join()
        res["churn"].append(tps)
        lats["churn"].append(lat)
        fulls["churn"].append(full)
        print("round %d: steady %.0f TPS (%.2f ms, %.1f full verifications per 1000 transactions), "
              "churn %.0f TPS (%.2f ms, %.1f) at %.1f revocations/s"
              % (r + 1, res["steady"][-1], lats["steady"][-1], fulls["steady"][-1],
                 res["churn"][-1], lats["churn"][-1], fulls["churn"][-1], rates[-1]))
    med = {k: statistics.median(v) for k, v in res.items()}
    print("\nmedian TPS: steady %.0f, churn %.0f; churn/steady = %.3f (target >= 0.95)"
          % (med["steady"], med["churn"], med["churn"] / med["steady"]))
    print("median latency: steady %.2f ms, churn %.2f ms"
          % (statistics.median(lats["steady"]), statistics.median(lats["churn"])))
    # TPS on a shared machine is noisy; this count is not: a change of the lists
    # should cost index probes, not signatures
    print("median full verifications per 1000 transactions: steady %.1f, churn %.1f"
          % (statistics.median(fulls["steady"]), statistics.median(fulls["churn"])))
    print("a backend's nicelogin memory after one verification: %.0f kB with empty tables, "
          "%.0f kB with %d revocations and %d deactivations (difference %.0f kB; target <= 1024)"
          % (mem_empty / 1024, mem_full / 1024, REVOCATIONS, DEACTIVATIONS,
             (mem_full - mem_empty) / 1024))
    psql("DROP DATABASE %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
