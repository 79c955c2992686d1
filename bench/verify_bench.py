#!/usr/bin/env python3
"""Full verifications per second (token cache off) for RS256, ES256 and EdDSA,
beside `openssl speed` for the same signature on the same machine, in the
same run.  Needs a running server with nicelogin installed (PGHOST/PGPORT,
a superuser); bench/run.sh starts one.  Prints medians of ROUNDS runs."""
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






def psql(sql, db=None):
    return _psql(sql, db or DB)


def nicelogin_rate(token):
    q = ("SELECT count(*) FILTER (WHERE nicelogin_verify(t.token)) "
         "FROM generate_series(1, %d) g, (SELECT %s::text AS token OFFSET 0) t" % (N, lit(token)))
    out = psql("SET nicelogin.token_cache_size = 0; SET max_parallel_workers_per_gather = 0;\n"
               "%s;\nEXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;" % (q, q))
    ms = json.loads(out[out.index("["):])[0]["Execution Time"]
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
    print("full verifications per second (token cache off), one backend, median of %d" % ROUNDS)
    print("%-6s %14s %16s %8s" % ("alg", "nicelogin/s", "openssl speed/s", "ratio"))
    for alg, name, algs, pattern in CASES:
        ours = statistics.median(nicelogin_rate(TOKENS[name]) for _ in range(ROUNDS))
        theirs = statistics.median(openssl_rate(algs, pattern) for _ in range(3))
        print("%-6s %14.0f %16.0f %8.2f" % (alg, ours, theirs, ours / theirs))
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
