#!/usr/bin/env python3
"""Drive one example app (examples/apps/*) over HTTP and check what it answers.

    python3 test/scripts/example_apps_check.py NAME BASE_URL OUTBOX_DIR

Used by test/scripts/example_apps.sh.  Tokens come from test/fixtures/tokens.json, the stand-in
NiceLogin server is at $NICELOGIN_API_URL (its /_control endpoints show what it received).  Prints
one line per check; exits 1 after the first failed check.
"""

import glob
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request

NAME, BASE, OUTBOX = sys.argv[1:4]
API = os.environ["NICELOGIN_API_URL"]
HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "fixtures", "tokens.json")) as f:
    TOKENS = json.load(f)

ACME = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
GLOBEX = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
ALICE = "11111111-1111-4111-8111-111111111111"  # admin of Acme
BOB = "22222222-2222-4222-8222-222222222222"  # member of Globex
CAROL = "33333333-3333-4333-8333-333333333333"  # member of Acme (token "alice2")


def http(method, url, body=None, token=None, auth=None):
    """(status, parsed JSON body or text)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if auth is not None:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def app(method, path, body=None, token=None, auth=None):
    return http(method, BASE + path, body, token, auth)


def check(what, ok, detail=""):
    if not ok:
        print(f"FAIL [{NAME}] {what}: {detail}")
        sys.exit(1)
    print(f"ok   [{NAME}] {what}")


def companies(rows):
    return sorted({r["company_id"] for r in rows})


def expect_refused(what, token, reason, auth=None):
    st, body = app("GET", "/notes", token=token, auth=auth)
    check(f"{what}: 401 with reason {reason}",
          st == 401 and isinstance(body, dict) and body.get("reason") == reason, f"{st} {body}")


def api_users():
    return {u["email"]: u for u in http("GET", API + "/_control/users")[1]}


def api_requests(path):
    return [r for r in http("GET", API + "/_control/requests")[1] if r["path"] == path]


# ---- tenants see their own rows only
st, me = app("GET", "/me", token=TOKENS["rs256"])
check("GET /me as Alice", st == 200 and me.get("user_id") == ALICE and me.get("company_id") == ACME
      and me.get("email") == "alice@acme.example", f"{st} {me}")
st, alice_rows = app("GET", "/notes", token=TOKENS["rs256"])
check("Alice sees Acme's notes only", st == 200 and len(alice_rows) >= 2
      and companies(alice_rows) == [ACME], f"{st} {alice_rows}")
st, bob_rows = app("GET", "/notes", token=TOKENS["bob"])
check("Bob sees Globex's notes only", st == 200 and len(bob_rows) >= 1
      and companies(bob_rows) == [GLOBEX], f"{st} {bob_rows}")
st, carol_rows = app("GET", "/notes", token=TOKENS["alice2"])
check("Carol (Acme) sees what Alice sees", st == 200 and carol_rows == alice_rows, f"{st} {carol_rows}")
st, _ = app("GET", "/notes", auth="bearer  " + TOKENS["bob"] + " ")
check("the scheme is case-insensitive, spaces around the token are dropped", st == 200, st)

# ---- refused tokens: 401 with nicelogin_check()'s reason
st, body = app("GET", "/notes")
check("no Authorization header: 401 missing_token", st == 401 and body.get("reason") == "missing_token",
      f"{st} {body}")
expect_refused("Basic credentials", None, "missing_token", auth="Basic YWxpY2U6eA==")
expect_refused("forged (signed by another key)", TOKENS["rs256_wrong_key"], "bad_signature")
expect_refused("forged (attacker's key, Alice's claims)", TOKENS["forged_victim_jti"], "bad_signature")
expect_refused("a flipped signature byte", TOKENS["rs256_bad_sig"], "bad_signature")
expect_refused("expired", TOKENS["expired"], "expired")
expect_refused("alg none", TOKENS["alg_none"], "unsupported_alg")
expect_refused("unknown kid", TOKENS["unknown_kid"], "unknown_key")
expect_refused("not a JWT", "not-a-jwt", "malformed")

# ---- writes: own tenant accepted, another tenant's refused by the policy's WITH CHECK
st, note = app("POST", "/notes", {"body": f"{NAME}: from Alice"}, token=TOKENS["rs256"])
check("Alice creates a note: 201 in Acme", st == 201 and note.get("company_id") == ACME
      and note.get("author") == ALICE, f"{st} {note}")
st, rows = app("GET", "/notes", token=TOKENS["rs256"])
check("... Alice sees it", any(r["id"] == note["id"] for r in rows), rows)
st, rows = app("GET", "/notes", token=TOKENS["bob"])
check("... Bob does not", st == 200 and all(r["id"] != note["id"] for r in rows), rows)
st, body = app("POST", "/notes", {"body": f"{NAME}: into Globex", "company_id": GLOBEX},
               token=TOKENS["rs256"])
check("Alice writes into Globex: 403 (row-level security)",
      st == 403 and "row-level security" in str(body), f"{st} {body}")
st, rows = app("GET", "/notes", token=TOKENS["bob"])
check("... and Globex has no such note", st == 200 and rows == bob_rows, rows)
st, body = app("POST", "/notes", {"body": "x"}, token=TOKENS["expired"])
check("an expired token cannot write: 401 expired", st == 401 and body.get("reason") == "expired",
      f"{st} {body}")

# ---- password reset against the stand-in NiceLogin server
before = len(glob.glob(os.path.join(OUTBOX, "*")))
st, body = app("POST", "/reset-password", {"email": "alice@acme.example"})
check("POST /reset-password: 202", st == 202 and isinstance(body, dict) and "message" in body,
      f"{st} {body}")
known_answer = (st, body)
sent = api_requests("/request_password_reset")
check("... NiceLogin got the request with the API key",
      sent and sent[-1]["body"] == {"email": "alice@acme.example", "api_key": "test-api-key"}, sent)
mails = sorted(glob.glob(os.path.join(OUTBOX, "*")), key=os.path.getmtime)
check("... one email in the outbox", len(mails) == before + 1, mails)
with open(mails[-1]) as f:
    m = re.search(r"reset token: ([A-Za-z0-9_-]+)", f.read())
check("... holding the reset token", m is not None, mails[-1])
reset_token = m.group(1)
current = api_users()["alice@acme.example"]["password"]
new = f"New-{NAME}-Pass-1"
st, body = app("POST", "/reset-password/confirm", {"email": "alice@acme.example",
               "current_password": current, "new_password": new, "reset_token": reset_token})
check("POST /reset-password/confirm: 200", st == 200, f"{st} {body}")
check("... NiceLogin has the new password", api_users()["alice@acme.example"]["password"] == new,
      api_users()["alice@acme.example"])
st, body = app("POST", "/reset-password/confirm", {"email": "alice@acme.example",
               "current_password": new, "new_password": "Another-Pass-2", "reset_token": reset_token})
check("the used reset token again: 401", st == 401 and "reset token" in str(body), f"{st} {body}")
before = len(glob.glob(os.path.join(OUTBOX, "*")))
st, body = app("POST", "/reset-password", {"email": "nobody@acme.example"})
check("an unknown email: the same answer as a known one (no account enumeration)",
      (st, body) == known_answer, f"{st} {body}, a known email: {known_answer}")
sent = api_requests("/request_password_reset")
check("... NiceLogin got the request (it has no such user)",
      sent and sent[-1]["body"] == {"email": "nobody@acme.example", "api_key": "test-api-key"}, sent)
check("... no email in the outbox", len(glob.glob(os.path.join(OUTBOX, "*"))) == before,
      glob.glob(os.path.join(OUTBOX, "*")))

# a slow NiceLogin holds the api pool's connection for the app's statement_timeout (3 s) only
http("POST", API + "/_control/mode", {"mode": "slow", "delay_ms": 6000})
try:
    t0 = time.monotonic()
    st, body = app("POST", "/reset-password", {"email": "alice@acme.example"})
    took = time.monotonic() - t0
finally:
    http("POST", API + "/_control/mode", {"mode": "normal"})
check("a slow NiceLogin: 504 after the app's statement_timeout of 3 s",
      st == 504 and "statement timeout" in str(body) and 2.5 < took < 5.5, f"{st} {body} in {took:.1f} s")

# ---- admin deactivation: the user's token is refused at once
st, body = app("POST", f"/admin/deactivate/{CAROL}", token=TOKENS["bob"])
check("Bob (not an admin) deactivates Carol: 403", st == 403, f"{st} {body}")
st, body = app("POST", f"/admin/deactivate/{BOB}", token=TOKENS["rs256"])
check("Alice deactivates Bob of Globex: 404", st == 404, f"{st} {body}")
st, body = app("GET", "/notes", token=TOKENS["bob"])
check("... Bob is still in", st == 200, f"{st} {body}")
st, body = app("POST", f"/admin/deactivate/{CAROL}", token=TOKENS["rs256"])
check("Alice deactivates Carol: 200", st == 200 and body.get("active") is False, f"{st} {body}")
check("... NiceLogin has Carol inactive", api_users()["carol@acme.example"]["is_active"] is False,
      api_users()["carol@acme.example"])
expect_refused("Carol's token right after", TOKENS["alice2"], "user_deactivated")
st, _ = app("GET", "/notes", token=TOKENS["rs256"])
check("... Alice is still in", st == 200, st)
st, body = app("POST", f"/admin/activate/{CAROL}", token=TOKENS["rs256"])
check("Alice activates Carol again: 200", st == 200 and body.get("active") is True, f"{st} {body}")
st, rows = app("GET", "/notes", token=TOKENS["alice2"])
check("... Carol is back in", st == 200 and companies(rows) == [ACME], f"{st} {rows}")
print(f"[{NAME}] all checks passed")
