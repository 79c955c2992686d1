#!/usr/bin/env python3
"""Masking secrets in the API's error texts: what a call with long secrets
costs, beside the same call with short secrets and a plain error in the same
run (the baseline, ratio 1).  The stand-in server (test/nicelogin_server.py,
started here on BENCH_API_PORT) answers with a plain error, or echoes each
request body in its error text (as it is, JSON-escaped twice, or shortened to
fragments), as an API that repeats its input does, so every form of every
secret is looked for in up to 16 kB of text.  Cases: passwords and reset token at the longest accepted
(1024, 1024 and 4096 bytes), the same made of one repeated character (the worst
case of a matcher that tries every start position in the secret), 200,000-byte
passwords (refused before any request since 1.2; 1.1 sent and masked them), and
a 200,000-byte nicelogin.api_secret (a superuser's SET) echoed by
nicelogin_deactivate.  Needs a running server with nicelogin installed
(PGHOST/PGPORT, a superuser); bench/run.sh masking starts one.  Prints medians
of ROUNDS runs.  Not a test: nothing here fails on a figure."""
import os
import statistics
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import fresh_database, psql as _psql  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
DB = os.environ.get("BENCH_DB", "nicelogin_bench_masking")
PORT = int(os.environ.get("BENCH_API_PORT", "18189"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
URL = "http://127.0.0.1:%d" % PORT


def psql(sql, db=None):
    return _psql(sql, db or DB)


def ctl(*args):
    subprocess.run([sys.executable, os.path.join(ROOT, "test", "nicelogin_ctl.py")] + list(args),
                   check=True, env=dict(os.environ, NICELOGIN_API_URL=URL))


def start_server():
    server = subprocess.Popen([sys.executable, os.path.join(ROOT, "test", "nicelogin_server.py"),
                               "--host", "127.0.0.1", "--port", str(PORT)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(URL + "/.well-known/jwks/x", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.1)
    return server


# name, SQL that returns the milliseconds per call, calls per round
SETUP = """
SET nicelogin.base_url = '%s';
SET nicelogin.api_key = 'test-api-key';
SET nicelogin.api_secret = 'test-api-secret';
""" % URL


def reset_case(n, email, cur, new, tok):
    return """SELECT bench_reset(%d, %s, %s, %s, %s);""" % (n, email, cur, new, tok)


CASES = [
    # name, the server's mode (nicelogin_ctl.py mode ...), SQL giving ms per call
    ("short, plain 401 (baseline)", ("normal",),
     reset_case(20, "'alice@acme.example'", "'Correct-Horse-1'", "'Staple-Battery-9'", "'forged'")),
    ("short, echoed", ("echo_error", "0", "raw"),
     reset_case(20, "'alice@acme.example'", "'Correct-Horse-1'", "'Staple-Battery-9'", "'some-token'")),
    ("1 kB, plain 401", ("normal",),
     reset_case(5, "'alice@acme.example'", "bench_text('cur', 1024)", "bench_text('new', 1024)",
                "bench_text('tok', 4096)")),
    ("1 kB, echoed", ("echo_error", "0", "raw"),
     reset_case(5, "'alice@acme.example'", "bench_text('cur', 1024)", "bench_text('new', 1024)",
                "bench_text('tok', 4096)")),
    ("1 kB, echoed twice", ("echo_error", "0", "twice"),
     reset_case(5, "'alice@acme.example'", "bench_text('cur', 1024)", "bench_text('new', 1024)",
                "bench_text('tok', 4096)")),
    ("1 kB, echoed shortened", ("echo_error", "0", "shortened"),
     reset_case(5, "'alice@acme.example'", "bench_text('cur', 1024)", "bench_text('new', 1024)",
                "bench_text('tok', 4096)")),
    ("1 kB one char, echoed", ("echo_error", "0", "raw"),
     reset_case(5, "'alice@acme.example'", "repeat('a', 1024)", "repeat('b', 1024)", "repeat('t', 4096)")),
    ("200 kB, plain 401", ("normal",),
     reset_case(1, "'alice@acme.example'", "bench_text('cur', 200000)", "bench_text('new', 200000)",
                "'forged'")),
    ("200 kB api_secret, echoed", ("echo_error", "0", "raw"),
     "SELECT set_config('nicelogin.api_secret', bench_text('sec', 200000), false) IS NULL;"
     " SELECT bench_deactivate(1);"),
]


def main():
    print("nicelogin masking benchmark: an API that echoes each request in its error, "
          "%d rounds (median)" % ROUNDS)
    server = start_server()
    try:
        fresh_database(DB)
        psql("""
            CREATE FUNCTION bench_text(seed text, len int) RETURNS text LANGUAGE sql AS
              $$SELECT left(string_agg(md5(seed || g), '' ORDER BY g), len)
                  FROM generate_series(1, len / 32 + 1) g$$;
            CREATE FUNCTION bench_reset(n int, email text, cur text, new text, tok text)
            RETURNS float8 LANGUAGE plpgsql AS $$
            DECLARE t0 timestamptz := clock_timestamp();
            BEGIN
                FOR i IN 1 .. n LOOP
                    BEGIN
                        PERFORM nicelogin_reset_password(email, cur, new, tok);
                    EXCEPTION WHEN OTHERS THEN NULL;
                    END;
                END LOOP;
                RETURN extract(epoch FROM clock_timestamp() - t0) * 1000 / n;
            END $$;
            CREATE FUNCTION bench_deactivate(n int) RETURNS float8 LANGUAGE plpgsql AS $$
            DECLARE t0 timestamptz := clock_timestamp();
            BEGIN
                FOR i IN 1 .. n LOOP
                    BEGIN
                        PERFORM nicelogin_deactivate('22222222-2222-4222-8222-222222222222');
                    EXCEPTION WHEN OTHERS THEN NULL;
                    END;
                END LOOP;
                RETURN extract(epoch FROM clock_timestamp() - t0) * 1000 / n;
            END $$;
        """)
        times = {name: [] for name, _, _ in CASES}
        for _ in range(ROUNDS):
            for name, mode, sql in CASES:
                ctl("mode", *mode)
                out = psql(SETUP + sql).split()
                times[name].append(float(out[-1]))
        med = {k: statistics.median(v) for k, v in times.items()}
        base = med[CASES[0][0]]
        print("\n%-30s %12s %8s" % ("secrets, API answer", "ms per call", "ratio"))
        for name, _, _ in CASES:
            print("%-30s %12.2f %8.2f" % (name, med[name], med[name] / base))
        print("\n1 kB: passwords of 1024 bytes and a reset token of 4096, the longest accepted;"
              "\n200 kB passwords are refused before any request since 1.2 (the figure is the refusal)")
        psql("DROP DATABASE %s;" % DB, db="postgres")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
