#!/usr/bin/env python3
"""Bounded work on hostile input: what the calls an attacker can build cost now,
beside a plain nicelogin_jws_verify with the fixture JWKS in the same run, and
how long a call takes to end after pg_cancel_backend.  Needs a running server
with nicelogin installed (PGHOST/PGPORT, a superuser); bench/run.sh bounded starts
one.  Prints medians of ROUNDS runs.  Not a test: nothing here fails on a
figure."""
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import lit, psql as _psql  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_bounded")
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
TOKENS = json.load(open(os.path.join(FIXTURES, "tokens.json")))
JWKS = json.load(open(os.path.join(FIXTURES, "jwks.json")))
SLOW = json.loads(re.search(r"^\\set jwks_slow '(.*)'$",
                            open(os.path.join(FIXTURES, "tokens.sql")).read(), re.M).group(1))


def psql(sql, db=None):
    return _psql(sql, db or DB)


def b64url(b):
    import base64
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()






def odd_modulus(bits, rng):
    """A random odd number of `bits` bits with no factor below 1000 (no key: refused or
    never verifying, which is all these cases need)."""
    small = [p for p in range(3, 1000, 2) if all(p % q for q in range(3, int(p ** 0.5) + 1, 2))]
    n = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    while any(n % p == 0 for p in small):
        n += 2
    return n


def to_b64(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def build_sets():
    rng = random.Random(42)
    sets = {"fixture": JWKS}
    sets["oct100000"] = None    # built in SQL
    # the reported case: RSA-3072 keys with e = n - 2, and a token without kid
    big_e = []
    for i in range(200):
        n = odd_modulus(3072, rng)
        big_e.append({"kty": "RSA", "alg": "RS256", "n": to_b64(n), "e": to_b64(n - 2)})
    sets["big_e200"] = {"keys": big_e}
    sets["big_e64"] = {"keys": big_e[:64]}
    # the slowest set still accepted: 64 keys of 8192 bits, e = 2^32 - 1, no kid
    slow = SLOW["keys"][0]
    sets["rsa8192x64"] = {"keys": [dict(slow, kid="s%d" % i, e=b64url(b"\xff\xff\xff\xff"))
                                   for i in range(64)]}
    sets["slow64"] = {"keys": [dict(slow, kid="s%d" % i) for i in range(64)]}
    return sets, int.from_bytes(__import__("base64").urlsafe_b64decode(slow["n"] + "=="), "big")


def per_call_ms(token, name, calls):
    q = ("SELECT count(*) FILTER (WHERE nicelogin_jws_verify(%s, b.ks)) "
         "FROM generate_series(1, %d) g, b WHERE b.name = %s" % (lit(token), calls, lit(name)))
    out = psql("SET max_parallel_workers_per_gather = 0;\n"
               "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) %s;" % q)
    return json.loads(out[out.index("["):])[0]["Execution Time"] / calls


def cancel_latency_ms(sql):
    """Starts sql in one session, cancels it from another once it runs, and returns the
    time from sending the cancel to the first session's end, and the error it got."""
    victim = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DB, "-c", sql],
                              env=dict(os.environ, PGAPPNAME="bench_victim"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ctl = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-d", DB], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, bufsize=1)
    pid = ""
    while not pid:
        ctl.stdin.write("SELECT coalesce(max(pid)::text, '-') FROM pg_stat_activity "
                        "WHERE application_name = 'bench_victim' AND state = 'active';\n")
        pid = ctl.stdout.readline().strip()
        if pid == "-":
            pid = ""
            time.sleep(0.05)
    time.sleep(0.3)             # well inside the call
    t0 = time.monotonic()
    ctl.stdin.write("SELECT pg_cancel_backend(%s);\n" % pid)
    ctl.stdout.readline()
    while victim.poll() is None:
        time.sleep(0.001)
    t1 = time.monotonic()
    ctl.stdin.close()
    ctl.wait()
    err = victim.stderr.read().strip().splitlines()
    return (t1 - t0) * 1000.0, err[0] if err else "(no error: the call ended first)"


def main():
    sets, slow_n = build_sets()
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")
    psql("CREATE DATABASE %s;" % DB, db="postgres")
    psql("CREATE EXTENSION nicelogin; CREATE TABLE b (name text PRIMARY KEY, ks jsonb);")
    for name, ks in sets.items():
        if ks is not None:
            psql("INSERT INTO b VALUES (%s, %s);" % (lit(name), lit(json.dumps(ks))))
    psql("INSERT INTO b SELECT 'oct100000', jsonb_build_object('keys', jsonb_agg("
         "jsonb_build_object('kty', 'oct', 'kid', 'h' || i, 'k', 'AAAA'))) "
         "FROM generate_series(1, 100000) AS i;")
    # a kid-less RS256 token with a 1024-byte signature below n: 4 RSA-8192 checks
    rng = random.Random(7)
    head = b64url(b'{"alg":"RS256"}') + "." + b64url(b'{"sub":"x"}')
    slow_token = head + "." + b64url((rng.getrandbits(8192) % slow_n).to_bytes(1024, "big"))

    cases = [("baseline: rs256, fixture JWKS (11 keys)", TOKENS["rs256"], "fixture", 200),
             ("100000 oct keys (refused: over 64)", TOKENS["rs256"], "oct100000", 5),
             ("200 RSA-3072 keys, e = n - 2, no kid", TOKENS["rs256_nokid"], "big_e200", 20),
             ("64 of those keys (refused: e > 32 bits)", TOKENS["rs256_nokid"], "big_e64", 20),
             ("64 RSA-8192 keys, e = 2^32-1, no kid", slow_token, "rsa8192x64", 20)]
    print("nicelogin_jws_verify, ms per call (detoasting the set included), median of %d"
          % ROUNDS)
    print("%-44s %10s %8s" % ("case", "ms/call", "ratio"))
    base = None
    for label, token, name, calls in cases:
        ms = statistics.median(per_call_ms(token, name, calls) for _ in range(ROUNDS))
        base = base or ms
        print("%-44s %10.3f %8.1f" % (label, ms, ms / base))

    print("\nslowest calls left, and pg_cancel_backend: ms from the cancel to the call's end")
    t = []
    for _ in range(3):
        t0 = time.monotonic()
        psql("SELECT nicelogin_set_jwks(ks) FROM b WHERE name = 'slow64';")
        t.append((time.monotonic() - t0) * 1000.0)
    print("nicelogin_set_jwks, 64 RSA-8192 keys (admin only): %.0f ms uncancelled" %
          statistics.median(t))
    lat = []
    for _ in range(ROUNDS):
        ms, err = cancel_latency_ms("SELECT nicelogin_set_jwks(ks) FROM b WHERE name = 'slow64'")
        lat.append(ms)
    print("  cancel -> end: median %.0f ms, max %.0f ms (%s)" % (statistics.median(lat), max(lat), err))
    psql("DROP DATABASE IF EXISTS %s;" % DB, db="postgres")


if __name__ == "__main__":
    main()
