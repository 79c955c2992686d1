#!/usr/bin/env python3
"""Concurrent clients of two tenants, and clients without a token, through PgBouncer in
transaction pooling mode; does a tenant's token ever reach another client?

    python3 test/scripts/pgbouncer_pooling.py CONNINFO SCOPE SECONDS
    python3 test/scripts/pgbouncer_pooling.py --http BASE_URL SECONDS

SCOPE is "local" (set_config('nicelogin.token', $1, true): the advice) or "session"
(set_config(..., false), which is what a plain SET does: the control).  Used by
test/scripts/pgbouncer_pooling.sh.  Prints one summary line:

    scope=local transactions=N anonymous=N leaks=N errors=N backends=N

leaks: transactions that saw a row of another tenant, or (without a token of their own) any row
or a token at all.  backends: distinct server processes the clients were served by.  Exits 0.

With --http, the same clients are HTTP clients of an example app (examples/apps) that sits behind
PgBouncer: GET /notes as Alice, as Bob, and without a token (401); leaks counts answers with
another tenant's rows, errors the answers that are neither.
"""

import json
import os
import sys
import threading
import time

import urllib.error
import urllib.request

import psycopg

HTTP = sys.argv[1] == "--http"
if HTTP:
    BASE, SECONDS = sys.argv[2], float(sys.argv[3])
    SCOPE = "http"
else:
    CONNINFO, SCOPE, SECONDS = sys.argv[1], sys.argv[2], float(sys.argv[3])
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "fixtures", "tokens.json")) as f:
    TOKENS = json.load(f)
ACME = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
GLOBEX = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
TENANT_CLIENTS = 12  # half Alice (Acme), half Bob (Globex)
ANONYMOUS_CLIENTS = 4
LOCAL = SCOPE == "local"

lock = threading.Lock()
stats = {"transactions": 0, "anonymous": 0, "leaks": 0, "errors": 0}
backends = set()
examples = []


def add(key, n=1, example=None):
    with lock:
        stats[key] += n
        if example and len(examples) < 5:
            examples.append(example)


def connect():
    # autocommit: each statement outside "with conn.transaction()" is a transaction of its own;
    # prepare_threshold None: no server-side prepared statements (PgBouncer before 1.21)
    return psycopg.connect(CONNINFO, autocommit=True, prepare_threshold=None)


def tenant(i, deadline):
    token, own = (TOKENS["rs256"], ACME) if i % 2 == 0 else (TOKENS["bob"], GLOBEX)
    try:
        with connect() as conn:
            while time.monotonic() < deadline:
                with conn.transaction():
                    conn.execute("SELECT set_config('nicelogin.token', %s, %s)", (token, LOCAL))
                    pid, seen = conn.execute(
                        "SELECT pg_backend_pid(), array(SELECT DISTINCT company_id::text FROM notes)"
                    ).fetchone()
                with lock:
                    backends.add(pid)
                if seen != [own]:
                    add("leaks", example=f"tenant {own} saw {seen} in its own transaction")
                add("transactions")
                # the next transaction of this client, without a token: nothing
                n, tok = conn.execute(
                    "SELECT (SELECT count(*) FROM notes), current_setting('nicelogin.token', true)"
                ).fetchone()
                if n != 0 or tok:
                    add("leaks", example=f"tenant {own}'s next transaction saw {n} rows, a token: {bool(tok)}")
    except psycopg.Error as e:
        add("errors", example=f"tenant client {i}: {e}")


def anonymous(i, deadline):
    try:
        with connect() as conn:
            while time.monotonic() < deadline:
                pid, n, tok = conn.execute(
                    "SELECT pg_backend_pid(), (SELECT count(*) FROM notes),"
                    " current_setting('nicelogin.token', true)").fetchone()
                with lock:
                    backends.add(pid)
                if n != 0 or tok:
                    add("leaks", example=f"a client without a token saw {n} rows, a token: {bool(tok)}")
                add("anonymous")
    except psycopg.Error as e:
        add("errors", example=f"anonymous client {i}: {e}")


def get_notes(token):
    req = urllib.request.Request(BASE + "/notes")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def http_tenant(i, deadline):
    token, own = (TOKENS["rs256"], ACME) if i % 2 == 0 else (TOKENS["bob"], GLOBEX)
    try:
        while time.monotonic() < deadline:
            status, rows = get_notes(token)
            if status != 200:
                add("errors", example=f"tenant {own}: HTTP {status} {rows}")
            elif sorted({r["company_id"] for r in rows}) != [own]:
                add("leaks", example=f"tenant {own} was answered {rows}")
            add("transactions")
    except (OSError, ValueError) as e:
        add("errors", example=f"tenant client {i}: {e!r}")


def http_anonymous(i, deadline):
    try:
        while time.monotonic() < deadline:
            status, body = get_notes(None)
            if status != 401:
                add("leaks" if status == 200 else "errors", example=f"no token: HTTP {status} {body}")
            add("anonymous")
    except (OSError, ValueError) as e:
        add("errors", example=f"anonymous client {i}: {e!r}")


if HTTP:
    tenant, anonymous = http_tenant, http_anonymous
deadline = time.monotonic() + SECONDS
threads = [threading.Thread(target=tenant, args=(i, deadline)) for i in range(TENANT_CLIENTS)]
threads += [threading.Thread(target=anonymous, args=(i, deadline)) for i in range(ANONYMOUS_CLIENTS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"scope={SCOPE} clients={len(threads)} transactions={stats['transactions']}"
      f" anonymous={stats['anonymous']} leaks={stats['leaks']} errors={stats['errors']}"
      f" backends={len(backends)}")
for e in examples:
    print(f"  e.g. {e}")
