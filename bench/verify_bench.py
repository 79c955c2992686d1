#!/usr/bin/env python3
"""Verifications per second of one backend, at each level, for RS256, ES256
and EdDSA, beside `openssl speed` for the same signature on the same machine,
in the same run.  Needs a running server with nicelogin installed and
preloaded (PGHOST/PGPORT, a superuser); bench/run.sh starts one.  Each figure
is the executor's time (EXPLAIN ANALYZE, TIMING OFF) of N calls of
nicelogin_verify(token) on one fixture token, median of ROUNDS runs:

  warm    the per-backend token cache answers (nicelogin.token_cache_size
          at its default): the same token call after call
  shared  nicelogin.token_cache_size = 0: every call is a lookup in the
          shared cache (SHA-256 of the token, a partition lock, a copy),
          with nicelogin preloaded
  cold    a full verification on every call (signature, claims rules, the
          deactivated users and revocations probed with a fresh snapshot):
          nicelogin.token_cache_size = 0 inside a transaction that has a
          transaction id, which neither reads nor fills the shared cache
          (sharedcache.c); so the same token bypasses both levels, on a
          server with or without preloading

and `openssl speed`'s verifications per second, with the cold time over
openssl's time (target about 1.1: the rest is decoding, JSON, the claims
and three index probes).  The per-row cost under an RLS policy is
rls_bench.py's."""
import json
import os
import re
import statistics
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import lit, psql as _psql  # noqa: E402

N = int(os.environ.get("BENCH_VERIFY_N", "20000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_verify")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
TOKENS = json.load(open(os.path.join(FIXTURES, "tokens.json")))
JWKS = open(os.path.join(FIXTURES, "jwks.json")).read()
CASES = [("RS256", "rs256", ["rsa2048"], r"^rsa 2048 bits\s+\S+\s+\S+\s+\S+\s+([\d.]+)"),
         ("ES256", "es256", ["ecdsap256"], r"^\s*256 bits ecdsa \(nistp256\)\s+\S+\s+\S+\s+\S+\s+([\d.]+)"),
         ("EdDSA", "eddsa", ["ed25519"], r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+\s+\S+\s+\S+\s+([\d.]+)")]
LEVELS = {
    "warm": ("", ""),
    "shared": ("SET nicelogin.token_cache_size = 0;", ""),
    # an xid: no shared level (sharedcache.c), no per-backend cache
    "cold": ("BEGIN; SELECT pg_current_xact_id() IS NOT NULL; SET LOCAL nicelogin.token_cache_size = 0;",
             "ROLLBACK;"),
}


def psql(sql, db=None):
    return _psql(sql, db or DB)


def nicelogin_rate(token, level):
    before, after = LEVELS[level]
    q = ("SELECT count(*) FILTER (WHERE nicelogin_verify(t.token)) "
         "FROM generate_series(1, %d) g, (SELECT %s::text AS token OFFSET 0) t" % (N, lit(token)))
    out = psql("SET max_parallel_workers_per_gather = 0;\n%s\n%s;\n"
               "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;\n%s"
               % (before, q, q, after))
    ms = json.loads(out[out.index("["):out.rindex("]") + 1])[0]["Execution Time"]
    return N / (ms / 1000.0)


def openssl_rate(algs, pattern):
    out = subprocess.run(["openssl", "speed", "-seconds", "2"] + algs,
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.search(pattern, line)
        if m:
            return float(m.group(1))
    sys.exit("could not read openssl speed output:\n" + out)


def main():
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("CREATE EXTENSION nicelogin; SELECT nicelogin_set_jwks(%s);" % lit(JWKS))
    preloaded = psql("SELECT capacity > 0 FROM nicelogin_shared_cache_info();").strip() == "t"
    print("verifications per second, one backend, median of %d runs of %d calls%s"
          % (ROUNDS, N, "" if preloaded else " (not preloaded: no shared figure)"))
    print("%-6s %12s %12s %12s %14s %10s" % ("alg", "warm/s", "shared/s", "cold/s",
                                             "openssl/s", "cold time"))
    for alg, name, algs, pattern in CASES:
        rates = {}
        for level in LEVELS:
            if level == "shared" and not preloaded:
                continue
            rates[level] = statistics.median(nicelogin_rate(TOKENS[name], level)
                                             for _ in range(ROUNDS))
        theirs = statistics.median(openssl_rate(algs, pattern) for _ in range(3))
        print("%-6s %12.0f %12s %12.0f %14.0f %9.2fx"
              % (alg, rates["warm"], "%.0f" % rates["shared"] if "shared" in rates else "-",
                 rates["cold"], theirs, theirs / rates["cold"]), flush=True)
    print("cold time: a full verification's time over openssl's verify (1.00 = openssl alone)")
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
