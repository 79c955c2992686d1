#!/usr/bin/env python3
"""test/readme_snippets.py -- run the README's snippets as a reader would copy them.

Every fenced block of README.md and of doc/*.md (in that order: a test may use a snippet of an
earlier file) must follow a line

    <!-- test: NAME -->

naming how it is tested: NAME is a test below (its SQL runs exactly as printed, with the
substitutions the test names, against a server, and its effect is checked), or one of
"output" (a sample of output, not something to run), "covered-by PATH" (run by that test
file of the repository, which must exist) and "not-run REASON" (printed as a SKIP line).  A block without such a line, or naming no test,
fails: a new snippet gets a test or says which test covers it.

Substitutions, the only changes made to a snippet before it runs:
  $1, $2 ...       bind parameters: psql variables :'p1', :'p2' ... given by the test
  '…'-literals     a single-quoted literal holding "…" (an elided value): the psql variable the
                   test names (the fixture key set, say)

A psql snippet that takes a token in `\set token '…'` gets a fixture token there (with_token).

It also checks the links between the pages (README.md, CHANGELOG.md, examples/README.md, doc/*.md):
every relative link names a file of the tree and, with an anchor, a heading of that page
(GitHub's anchors); no table row stands alone after a paragraph; every README section that
examples/README.md names in quotes exists.

Every snippet installs and calls the extension as the README recommends (schema nicelogin, names
schema-qualified): the test databases have the extension in schema nicelogin and NOT on the
search_path, so an unqualified call fails.

Usage (test/scripts/readme_snippets.sh runs it against the suite's cluster):
    python3 test/readme_snippets.py [FILE.md ...]     (default: README.md doc/*.md)
Needs PGHOST/PGPORT/PGUSER of a superuser, NICELOGIN_API_URL (the stand-in server) and the
fixtures in test/fixtures.  Each test uses a database of its own, dropped at the end.
"""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "test", "fixtures")
TOKENS = json.load(open(os.path.join(FIX, "tokens.json")))
JWKS = open(os.path.join(FIX, "jwks.json")).read()
ACME = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
GLOBEX = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
API = os.environ.get("NICELOGIN_API_URL", "http://127.0.0.1:18089")


class Failure(Exception):
    pass


class Skip(Exception):
    """A test that cannot run on this server (printed as a "SKIP: " line, not counted)."""


def psql_cmd(db):
    cmd = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", os.environ.get("NL_PG_USER", "postgres"), "--"] + cmd
    return cmd


def psql(db, sql, variables=None, expect_error=None, cwd="/"):
    """Run sql in db; return stdout.  expect_error: a regex the error output must match.
    cwd: the folder psql runs in (a snippet's `cat FILE`)."""
    cmd = psql_cmd(db)
    for k, v in (variables or {}).items():
        cmd += ["-v", "%s=%s" % (k, v)]
    p = subprocess.run(cmd, input=sql, capture_output=True, text=True, cwd=cwd)
    if expect_error is not None:
        if p.returncode == 0 or not re.search(expect_error, p.stderr):
            raise Failure("expected an error matching %r, got status %d:\n%s%s"
                          % (expect_error, p.returncode, p.stdout, p.stderr))
        return p.stdout + p.stderr
    if p.returncode != 0:
        raise Failure("psql failed (status %d):\n--- SQL ---\n%s\n--- output ---\n%s%s"
                      % (p.returncode, sql, p.stdout, p.stderr))
    return p.stdout


def one(db, sql, variables=None):
    return psql(db, sql, variables).strip()


def check(cond, what):
    if not cond:
        raise Failure(what)


def fresh_db(name):
    psql("postgres", "SET client_min_messages = warning;\nDROP DATABASE IF EXISTS %s;\n" % name)
    psql("postgres", "CREATE DATABASE %s;\n" % name)


def drop_db(name):
    psql("postgres", "SET client_min_messages = warning;\nDROP DATABASE IF EXISTS %s WITH (FORCE);\n" % name)


def ensure_role(name, login=False):
    psql("postgres", "DO $$ BEGIN CREATE ROLE %s %s; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"
         % (name, "LOGIN" if login else "NOLOGIN"))


def drop_role(name):
    """Drop a role the snippet created, if it exists (its objects went with the test database)."""
    psql("postgres", "SET client_min_messages = warning;\nDROP ROLE IF EXISTS %s;\n" % name)


def substitute(sql, ellipsis_var=None):
    out = re.sub(r"\$(\d+)", lambda m: ":'p%s'" % m.group(1), sql)
    if ellipsis_var:
        out, n = re.subn(r"'(?:[^']|'')*…(?:[^']|'')*'", ":'%s'" % ellipsis_var, out)
        check(n > 0, "the snippet has no '…' literal to fill in")
    return out


PSQL_TOKEN = re.compile(r"^\\set token '…'$", re.M)


def with_token(sql, tok):
    """A psql snippet's `\set token '…'` line (exactly one) with a real token in place of '…'."""
    check(len(PSQL_TOKEN.findall(sql)) == 1, "the snippet has no single line \\set token '…'")
    return PSQL_TOKEN.sub(lambda m: "\\set token '%s'" % tok, sql)


def rows_of(out, bars):
    """The output lines with that many '|' (rows of that many columns)."""
    return [l for l in out.splitlines() if l.count("|") == bars]


def split_at(sql, marker):
    i = sql.find(marker)
    check(i >= 0, "the snippet lost its line %r" % marker)
    return sql[:i], sql[i:]


# A database where the extension is installed as the README installs it (schema nicelogin, not on
# the search_path: the snippets call it schema-qualified), with the fixture key set.
INSTALL = "CREATE SCHEMA nicelogin;\nCREATE EXTENSION nicelogin SCHEMA nicelogin;\n"


def schema_db(name, keys=True):
    fresh_db(name)
    psql(name, INSTALL)
    if keys:
        psql(name, "SELECT nicelogin.nicelogin_set_jwks(:'jwks');\n", {"jwks": JWKS})


class moved_role:
    """A role the snippet creates itself (CREATE ROLE app): one of that name left by an earlier
    test (grants in other databases keep it from being dropped) is renamed out of the way for the
    test, the snippet's one dropped after it, and the old one given its name back."""

    def __init__(self, name):
        self.name, self.saved = name, "nl_readme_saved_" + name

    def __enter__(self):
        drop_role(self.saved)
        psql("postgres", "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                         "ALTER ROLE %s RENAME TO %s; END IF; END $$;\n" % (self.name, self.name, self.saved))

    def __exit__(self, *exc):
        drop_role(self.name)
        psql("postgres", "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '%s') THEN "
                         "ALTER ROLE %s RENAME TO %s; END IF; END $$;\n" % (self.saved, self.saved, self.name))


# The text of every block with a test directive read so far, by name: a test runs the README's
# own setup (an earlier snippet) rather than one of its own, so that a grant missing from the
# README fails the test.
SNIPPETS = {}


def snippet(name):
    check(name in SNIPPETS, "no snippet %r before this one in the README" % name)
    return SNIPPETS[name]


def as_role(role, body):
    return "BEGIN;\nSET LOCAL ROLE %s;\n%s\nCOMMIT;\n" % (role, body)


# ---------------------------------------------------------------- the tests, by name

FIXTURE_TOKEN = re.compile(r"^\\set token '([^']*)'$", re.M)


def t_opening(sql):
    """Runs as printed in a fresh database (it creates the schema, the role app, the table, the
    policy; the key and token are the fixtures it says): Alice of Acme sees Acme's row only, and
    nothing once the transaction ended; then with other tokens in place of the fixture."""
    db = "nl_readme_opening"
    fresh_db(db)
    m = FIXTURE_TOKEN.search(sql)
    check(m is not None and m.group(1) == TOKENS["eddsa"], "the snippet's token is not the fixture eddsa")
    check(json.loads(JWKS)["keys"][-1]["x"] in sql, "the snippet's key is not the fixture ed1")
    with moved_role("app"):
        try:
            out = psql(db, sql)
            rows = [l for l in out.strip().splitlines() if "|" in l]
            check(rows == ["1|%s|Initech" % ACME], "as printed, app sees %r, want Acme's row only" % rows)
            check(one(db, "SELECT relrowsecurity FROM pg_class WHERE relname = 'invoices';") == "t",
                  "RLS is not enabled on invoices")
            # the request part again, with other tokens: forged, of an unknown key, none
            request = sql[sql.index("SET ROLE app;"):]
            for tok in (TOKENS["eddsa_bad_sig"], TOKENS["bob"], TOKENS["expired"], ""):
                out = psql(db, "\\set token '%s'\n%s" % (tok, request))
                rows = [l for l in out.strip().splitlines() if "|" in l]
                check(rows == [], "with token %r… app sees %r, want nothing" % (tok[:20], rows))
        finally:
            drop_db(db)


def t_install(sql):
    """As printed, on a cluster where the role app does not exist yet: it makes app, a login role
    that owns nothing and that RLS applies to, which can verify tokens."""
    db = "nl_readme_install"
    fresh_db(db)
    with moved_role("app"):
        try:
            install_checks(db, sql)
        finally:
            drop_db(db)


def install_checks(db, sql):
    psql(db, sql)
    check(one(db, "SELECT rolcanlogin AND NOT rolsuper AND NOT rolbypassrls FROM pg_roles WHERE rolname = 'app';")
          == "t", "app is not a login role that RLS applies to")
    check(one(db, "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'nicelogin';")
          == "nicelogin", "the extension is not in schema nicelogin")
    check(one(db, "SELECT has_schema_privilege('app', 'nicelogin', 'USAGE');") == "t",
          "app has no USAGE on the schema")
    psql(db, "SELECT nicelogin.nicelogin_set_jwks(:'jwks');\n", {"jwks": JWKS})
    out = one(db, "SET ROLE app;\nSELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["rs256"]})
    check(out == "valid", "app cannot verify a token: %r" % out)


def t_getting_started_keys(sql):
    db = "nl_readme_gs_keys"
    schema_db(db, keys=False)
    try:
        psql(db, "ALTER DATABASE %s SET nicelogin.base_url = '%s';\n" % (db, API))
        out = psql(db, substitute(sql, "key"), {"key": "test-api-key"}).split()
        check(out == ["11"], "the refresh returned %r, want 11 (the stand-in's key set)" % out)
        check(one(db, "SELECT count(*) FROM nicelogin.nicelogin_keys;") == "11", "the keys are not stored")
    finally:
        drop_db(db)


def t_getting_started_policy(sql):
    """The policy as printed after the README's install (which makes app); what it does is checked
    by the request snippets that follow.  Where app does not exist, it fails and leaves nothing
    (no table with RLS on and no policy)."""
    db = "nl_readme_gs_policy"
    fresh_db(db)
    with moved_role("app"):
        try:
            psql(db, INSTALL)
            psql(db, sql, expect_error='role "app" does not exist')
            check(one(db, "SELECT count(*) FROM pg_class WHERE relname = 'invoices';") == "0",
                  "the failed snippet left the table invoices behind")
            drop_db(db)
            fresh_db(db)
            psql(db, snippet("install"))
            psql(db, sql)
            check(one(db, "SELECT relrowsecurity FROM pg_class WHERE relname = 'invoices';") == "t",
                  "RLS is not enabled on invoices")
            check(one(db, "SELECT relowner::regrole FROM pg_class WHERE relname = 'invoices';") != "app",
                  "app owns the table")
            check(one(db, "SELECT count(*) FROM pg_policy WHERE polrelid = 'invoices'::regclass;") == "1",
                  "no policy on invoices")
        finally:
            drop_db(db)


def t_multitenant_excerpt(sql):
    text = open(os.path.join(ROOT, "examples", "multitenant.sql")).read()
    norm = lambda s: re.sub(r"\s+", " ", s).strip()
    for stmt in (s for s in sql.split(";") if s.strip()):
        check(norm(stmt) in norm(text), "not in examples/multitenant.sql (which sql/rls_example.sql "
              "tests): %s" % norm(stmt)[:120])


def t_request(sql):
    """The README's install, key and policy, then the request as app: Acme's rows only, an insert
    into Acme, and no token after the transaction."""
    db = "nl_readme_request"
    with moved_role("app"):
        try:
            getting_started_db(db)
            request_checks(db, sql)
        finally:
            drop_db(db)


def request_checks(db, sql):
    out = psql(db, "SET ROLE app;\n" + substitute(sql), {"p1": TOKENS["rs256"]})
    rows = [l.split("|")[2] for l in out.splitlines() if l.count("|") == 3]
    check(rows == ["acme 1"], "app saw %r, want Acme's invoice only" % rows)
    check(one(db, "SELECT company_id FROM invoices WHERE customer = 'Initech';") == ACME,
          "the insert did not land in the token's tenant")
    out = psql(db, "SET ROLE app;\n" + substitute(sql) + "SELECT count(*) AS after FROM invoices;\n",
               {"p1": TOKENS["bob"]})
    check(out.strip().splitlines()[-1] == "0", "the token outlived its transaction: %r" % out)
    psql(db, "SET ROLE app;\n" + substitute(sql), {"p1": TOKENS["rs256_bad_sig"]},
         expect_error="violates row-level security policy")


def getting_started_db(db):
    """A new database after Installation and Getting started as printed (the install snippet makes
    app: run it inside moved_role("app")), the fixture keys
    in place of NiceLogin's, and an invoice of each tenant."""
    fresh_db(db)
    psql(db, snippet("install"))
    psql(db, "SELECT nicelogin.nicelogin_set_jwks(:'jwks');\n", {"jwks": JWKS})
    psql(db, snippet("getting-started-policy"))
    psql(db, "INSERT INTO invoices (company_id, customer, amount) VALUES ('%s', 'acme 1', 1), ('%s', 'globex 1', 2);\n"
             % (ACME, GLOBEX))


def t_request_psql(sql):
    """The psql form as printed, with a fixture token for '…': it runs as app, inserts into the
    token's tenant and sees that tenant's rows only; with a forged token it can insert nothing."""
    db = "nl_readme_request_psql"
    with moved_role("app"):
        try:
            getting_started_db(db)
            request_psql_checks(db, sql)
        finally:
            drop_db(db)


def request_psql_checks(db, sql):
    out = psql(db, with_token(sql, TOKENS["rs256"]))
    rows = sorted(l.split("|")[2] for l in rows_of(out, 3))
    check(rows == ["Initech", "acme 1"], "the psql request saw %r, want Acme's invoices only" % rows)
    check(one(db, "SELECT company_id FROM invoices WHERE customer = 'Initech';") == ACME,
          "the insert did not land in the token's tenant")
    psql(db, with_token(sql, TOKENS["rs256_bad_sig"]), expect_error="violates row-level security policy")


def t_why_no_rows(sql):
    db = "nl_readme_why_no_rows"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO app;\n")
        for tok, want in ((TOKENS["rs256"], "t|valid|" + ACME), (TOKENS["expired"], "t|expired|"),
                          (TOKENS["rs256_bad_sig"], "t|bad_signature|"), ("", "f||")):
            out = psql(db, "SET ROLE app;\n" + substitute(sql), {"p1": tok})
            rows = [l for l in out.splitlines() if "|" in l]
            check(rows == [want], "with %r…: %r, want %r" % (tok[:20], rows, want))
    finally:
        drop_db(db)


def t_why_no_rows_psql(sql):
    db = "nl_readme_why_no_rows_psql"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO app;\n")
        for tok, want in ((TOKENS["rs256"], "t|valid|" + ACME), (TOKENS["expired"], "t|expired|"),
                          (TOKENS["rs256_bad_sig"], "t|bad_signature|"), ("", "f||")):
            rows = rows_of(psql(db, with_token(sql, tok)), 2)
            check(rows == [want], "with %r…: %r, want %r" % (tok[:20], rows, want))
    finally:
        drop_db(db)


def t_logout_psql(sql):
    """After the logout snippet's GRANT: the psql form, as printed, revokes its token's session."""
    db = "nl_readme_logout_psql"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO app;\n")
        psql(db, split_at(snippet("logout"), "-- the API layer")[0])
        out = psql(db, with_token(sql, TOKENS["bob"]))
        check(out.strip().splitlines()[-1] == "t", "logout did not return true: %r" % out)
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["bob"]}) == "revoked",
              "the logged-out token is not revoked")
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["rs256"]}) == "valid",
              "another user's token was revoked too")
    finally:
        drop_db(db)


def t_set_jwks_file(sql):
    """Run in a folder holding the fixture key set as jwks.json: stores it."""
    import shutil
    import tempfile
    db = "nl_readme_set_jwks_file"
    schema_db(db, keys=False)
    tmp = tempfile.mkdtemp(prefix="nl_readme_")
    try:
        os.chmod(tmp, 0o755)
        shutil.copy(os.path.join(FIX, "jwks.json"), os.path.join(tmp, "jwks.json"))
        os.chmod(os.path.join(tmp, "jwks.json"), 0o644)
        out = psql(db, sql, cwd=tmp).split()
        check(out == ["11"], "nicelogin_set_jwks returned %r, want 11 (the fixture key set)" % out)
        check(one(db, "SELECT count(*) FROM nicelogin.nicelogin_keys;") == "11", "the keys are not stored")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        drop_db(db)


STAND_IN = {}


def t_stand_in_server(text):
    """The command as printed (another port in place of 18089, so as not to meet the suite's own
    server), from the tree's root: it answers; the settings snippet that follows is run against it."""
    import socket
    import time
    cmd = text.split("#")[0].split()
    check(cmd[:2] == ["python3", "test/nicelogin_server.py"] and "18089" in cmd,
          "the command is not python3 test/nicelogin_server.py --port 18089 …: %r" % cmd)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [str(port) if a == "18089" else a for a in cmd]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    STAND_IN["proc"], STAND_IN["port"] = proc, port
    line = proc.stdout.readline()
    check(line.strip() == "ready", "the stand-in server did not print ready: %r" % line)


def t_stand_in_settings(sql):
    """Against the server the previous snippet started: the refresh stores its key set, the
    password reset gives a token, the activation is true."""
    check("proc" in STAND_IN, "no stand-in-server block before this one")
    db = "nl_readme_stand_in"
    schema_db(db, keys=False)
    try:
        check(sql.count("'http://127.0.0.1:18089'") == 1, "the snippet does not set the base_url of the command above")
        out = psql(db, sql.replace("'http://127.0.0.1:18089'", "'http://127.0.0.1:%d'" % STAND_IN["port"])).split()
        check(len(out) == 3 and out[0] == "11" and len(out[1]) >= 16 and out[2] == "t",
              "the calls gave %r, want 11, a reset token, t" % out)
        check(one(db, "SELECT count(*) FROM nicelogin.nicelogin_keys;") == "11", "the keys are not stored")
    finally:
        drop_db(db)
        STAND_IN["proc"].terminate()
        STAND_IN["proc"].wait()


def t_text_company(sql):
    db = "nl_readme_text_company"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO app;\n")
        psql(db, sql)
        psql(db, "GRANT SELECT, INSERT ON documents TO app;\n"
                 "INSERT INTO documents SELECT g, CASE WHEN g % 2 = 0 THEN '" + ACME + "' ELSE '" + GLOBEX +
                 "' END, 'doc ' || g FROM generate_series(1, 2000) g;\n"
                 "INSERT INTO documents VALUES (5000, 'tenant-x', 'not a uuid');\nANALYZE documents;\n")
        n = one(db, as_role("app", "SELECT set_config('nicelogin.token', :'p1', true) IS NULL;\n"
                                   "SELECT count(*) FROM documents;"), {"p1": TOKENS["rs256"]})
        check(n.splitlines()[-1] == "1000", "Alice counts %r documents, want 1000" % n)
        plan = one(db, as_role("app", "SELECT set_config('nicelogin.token', :'p1', true) IS NULL;\n"
                                      "EXPLAIN (COSTS OFF) SELECT * FROM documents;"), {"p1": TOKENS["rs256"]})
        check("documents_company_id_idx" in plan and "Index Cond" in plan,
              "the policy is not an index condition:\n" + plan)
        psql(db, as_role("app", "SELECT set_config('nicelogin.token', :'p1', true) IS NULL;\n"
                                "INSERT INTO documents VALUES (9000, '" + GLOBEX + "', 'sneaky');"),
             {"p1": TOKENS["rs256"]}, expect_error="violates row-level security policy")
    finally:
        drop_db(db)


# A request as PostgREST makes it: logged in as authenticator, the role (db-anon-role, web) and
# the headers set for the transaction, then the db-pre-request function called as that role.
def pgrst_request(pre_request):
    return ("SET SESSION AUTHORIZATION authenticator;\nBEGIN;\n"
            "SELECT set_config('role', 'web', true) IS NULL, set_config('request.headers', :'h', true) IS NULL;\n"
            "SELECT %s();\nSELECT 'as=' || current_user;\nCOMMIT;\n" % pre_request)


def bearer(tok):
    return json.dumps({"authorization": "Bearer " + tok})


def t_postgrest(sql):
    db = "nl_readme_postgrest"
    drop_pgrst_roles()
    schema_db(db)
    try:
        # the README's setup of the roles and the schema postgrest, then this snippet
        psql(db, snippet("postgrest-pre-config"))
        psql(db, sql)
        request = pgrst_request("postgrest.check_token")
        out = psql(db, request, {"h": bearer(TOKENS["rs256"])})
        check("as=web" in out, "a valid token's request does not go on as web: %r" % out)
        out = psql(db, request, {"h": json.dumps({"accept": "*/*"})})
        check("as=web" in out, "a request without a token does not go on as web: %r" % out)
        psql(db, request, {"h": bearer(TOKENS["rs256_bad_sig"])},
             expect_error=r"invalid token(.|\n)*DETAIL:\s+bad_signature")
        psql(db, request, {"h": bearer(TOKENS["expired"])},
             expect_error=r"invalid token(.|\n)*DETAIL:\s+expired")
    finally:
        drop_db(db)
        drop_pgrst_roles()


# PostgREST's own query for its in-database settings (src/PostgREST/Config/Database.hs,
# queryDbSettings, with a db-pre-config function), as PostgREST runs it: as the role it logs in
# as, in a read-only transaction.  Prints key|value rows.
PGRST_SETTINGS = """SET SESSION AUTHORIZATION authenticator;
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
WITH
role_setting AS (
  SELECT setdatabase as database, unnest(setconfig) as setting
  FROM pg_catalog.pg_db_role_setting
  WHERE setrole = CURRENT_USER::regrole::oid
    AND setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = CURRENT_CATALOG))
),
kv_settings AS (
  SELECT database, substr(setting, 1, strpos(setting, '=') - 1) as k,
         substr(setting, strpos(setting, '=') + 1) as v
  FROM role_setting
  UNION
  SELECT null as database, x as k, current_setting(x, true) as v
  FROM unnest(ARRAY['pgrst.db_anon_role', 'pgrst.jwt_secret', 'pgrst.jwt_aud']) x
  JOIN postgrest.pre_config() _ ON TRUE
)
SELECT DISTINCT ON (key) replace(k, 'pgrst.', '') AS key, v AS value
FROM kv_settings
WHERE k = ANY(ARRAY['pgrst.db_anon_role', 'pgrst.jwt_secret', 'pgrst.jwt_aud']) AND v IS NOT NULL
ORDER BY key, database DESC NULLS LAST;
COMMIT;
"""


def pgrst_settings(db):
    out = {}
    for line in psql(db, PGRST_SETTINGS).splitlines():
        if "|" in line:
            k, v = line.split("|", 1)
            out[k] = v
    return out


def drop_pgrst_roles():
    for r in ("web_admin", "web", "authenticator"):
        drop_role(r)


def t_postgrest_pre_config(sql):
    db = "nl_readme_pgrst_config"
    drop_pgrst_roles()
    schema_db(db)
    try:
        psql(db, sql)
        got = pgrst_settings(db)
        check(set(got) == {"jwt_secret"}, "PostgREST would read the settings %r" % sorted(got))
        secret = json.loads(got["jwt_secret"])
        public = json.loads(one(db, "SELECT nicelogin.nicelogin_public_jwks();"))
        check(secret == public, "pgrst.jwt_secret is not nicelogin_public_jwks()")
        stored = sorted(json.dumps(k, sort_keys=True) for k in json.loads(JWKS)["keys"])
        check(sorted(json.dumps(k, sort_keys=True) for k in secret["keys"]) == stored,
              "pgrst.jwt_secret is not the stored key set")
        # an HS256 set: nothing set, PostgREST keeps the secret of its own configuration
        psql(db, "SELECT nicelogin.nicelogin_set_jwks(:'jwks');\n",
             {"jwks": open(os.path.join(FIX, "jwks_hs.json")).read()})
        got = pgrst_settings(db)
        check(got == {}, "with an HS256 set PostgREST would read %r" % sorted(got))
    finally:
        drop_db(db)
        drop_pgrst_roles()


def t_postgrest_role_map(sql):
    db = "nl_readme_pgrst_roles"
    drop_pgrst_roles()
    schema_db(db)
    try:
        # the README's setup of the roles and the schema postgrest, then this snippet
        psql(db, snippet("postgrest-pre-config"))
        psql(db, sql)
        request = pgrst_request("postgrest.pre_request")
        hdr = bearer

        def runs_as(headers):
            out = psql(db, request, {"h": headers})
            m = re.search(r"as=(\w+)", out)
            check(m is not None, "no current_user in %r" % out)
            return m.group(1)
        check(runs_as(hdr(TOKENS["rs256"])) == "web_admin", "the mapped user does not run as web_admin")
        check(runs_as(hdr(TOKENS["bob"])) == "web", "another user does not run as web")
        check(runs_as(json.dumps({"accept": "*/*"})) == "web", "a request without a token does not run as web")
        psql(db, request, {"h": hdr(TOKENS["rs256_bad_sig"])},
             expect_error=r"invalid token(.|\n)*DETAIL:\s+bad_signature")
        # the switch lasts for the request's transaction only
        out = psql(db, request + "SELECT 'after=' || current_user;\n", {"h": hdr(TOKENS["rs256"])})
        check("after=authenticator" in out, "the role outlived the request: %r" % out)
        # only the roles the table allows
        psql(db, "INSERT INTO postgrest.user_roles VALUES (gen_random_uuid(), 'postgres');\n",
             expect_error="check constraint")
        # the request's role cannot read the mapping
        psql(db, "SET ROLE web;\nSELECT count(*) FROM postgrest.user_roles;\n",
             expect_error="permission denied")
    finally:
        drop_db(db)
        drop_pgrst_roles()


PUBLISHED = ["nicelogin_deactivated_users", "nicelogin_jwks_fetch", "nicelogin_keys", "nicelogin_revocations"]


def t_logical_replication(sql):
    """The publisher's part runs as printed (the extension in schema nicelogin); the role it makes
    can read what the initial copy reads.  The subscriber's part, which needs a second cluster,
    is run by t/012_logical_replication.pl."""
    db = "nl_readme_logical"
    drop_role("replicator")
    schema_db(db)
    try:
        publisher, subscriber = split_at(sql, "-- on the subscriber")
        psql(db, "SET client_min_messages = error;\n" + substitute(publisher, "pw"), {"pw": "secret"})
        got = one(db, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_publication_tables "
                      "WHERE pubname = 'nicelogin_pub';")
        check(got == ",".join(PUBLISHED), "the publication has %r, want the four tables" % got)
        check(one(db, "SELECT rolreplication AND rolcanlogin FROM pg_roles WHERE rolname = 'replicator';") == "t",
              "replicator cannot log in for replication")
        # what the table synchronisation runs on the publisher, as the subscription's role
        out = psql(db, "SET ROLE replicator;\n" + "".join(
            "COPY (SELECT * FROM nicelogin.%s) TO STDOUT;\nSELECT '%s=ok';\n" % (t, t) for t in PUBLISHED))
        for t in PUBLISHED:
            check("%s=ok" % t in out, "replicator cannot copy %s: %r" % (t, out))
        check("user=replicator" in subscriber and "PUBLICATION nicelogin_pub" in subscriber,
              "the subscription does not connect as replicator to nicelogin_pub")
    finally:
        drop_db(db)
        drop_role("replicator")


def t_logout(sql):
    db = "nl_readme_logout"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO app;\n")
        grant, request = split_at(sql, "-- the API layer")
        psql(db, grant)
        out = psql(db, "SET ROLE app;\n" + substitute(request), {"p1": TOKENS["bob"]})
        check(out.strip().splitlines()[-1] == "t", "logout did not return true: %r" % out)
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["bob"]}) == "revoked",
              "the logged-out token is not revoked")
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["rs256"]}) == "valid",
              "another user's token was revoked too")
    finally:
        drop_db(db)


def t_privileges(sql):
    db = "nl_readme_privileges"
    schema_db(db)
    ensure_role("app")
    try:
        drop_role("nicelogin_admin")
        psql(db, sql)
        # the admin role can do what the snippet grants it, with no privilege on the tables
        out = psql(db, as_role("nicelogin_admin",
                               "SELECT nicelogin.nicelogin_revoke_jti('readme-jti');\n"
                               "SELECT nicelogin.nicelogin_unrevoke_jti('readme-jti');\n"
                               "SELECT nicelogin.nicelogin_purge_revocations(10) >= 0;\n"
                               "SELECT count(*) FROM nicelogin.nicelogin_key_list;\n"
                               "SELECT count(*) >= 0 FROM nicelogin.nicelogin_jwks_state;\n"))
        check(out.split() == ["t", "t", "11", "t"], "the admin role's calls gave %r" % out)
        psql(db, as_role("nicelogin_admin", "SELECT nicelogin.nicelogin_set_jwks(:'jwks');"), {"jwks": JWKS},
             expect_error="permission denied")
        psql(db, as_role("nicelogin_admin", "SELECT count(*) FROM nicelogin.nicelogin_keys;"),
             expect_error="permission denied")
        for f in ("nicelogin_request_password_reset(text)", "nicelogin_reset_password(text, text, text, text)",
                  "nicelogin_change_password(text, text, text)"):
            check(one(db, "SELECT has_function_privilege('app', 'nicelogin.%s', 'EXECUTE');" % f) == "t",
                  "app cannot execute " + f)
        check(one(db, "SELECT has_function_privilege('app', 'nicelogin.nicelogin_deactivate(uuid)', 'EXECUTE');") == "f",
              "app may deactivate users")
    finally:
        drop_db(db)
        drop_role("nicelogin_admin")


def t_worker_role(sql):
    db = "nl_readme_worker_role"
    schema_db(db, keys=False)
    try:
        drop_role("nicelogin_worker")
        psql(db, sql)
        out = psql(db, as_role("nicelogin_worker",
                               "SELECT count(*) FROM nicelogin.nicelogin_keys;\n"
                               "SELECT nicelogin.nicelogin_purge_revocations() >= 0;\n"))
        check(out.split() == ["0", "t"], "the worker role's grants do not suffice: %r" % out)
    finally:
        drop_db(db)
        drop_role("nicelogin_worker")


def t_refresh(sql):
    db = "nl_readme_refresh"
    schema_db(db)
    try:
        psql(db, "ALTER DATABASE %s SET nicelogin.base_url = '%s';\n"
                 "ALTER DATABASE %s SET nicelogin.api_key = 'test-api-key';\n" % (db, API, db))
        psql(db, "DELETE FROM nicelogin.nicelogin_keys;\n")
        out = one(db, sql)
        check(out == "11", "nicelogin_refresh_jwks() returned %r, want 11 (the stand-in's key set)" % out)
    finally:
        drop_db(db)


def t_admin_lists(sql):
    db = "nl_readme_admin_lists"
    schema_db(db)
    try:
        psql(db, "SELECT nicelogin.nicelogin_revoke_sid('sid-bob-1');\n")
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["bob"]}) == "revoked", "setup: bob not revoked")
        out = psql(db, substitute(sql, "sid"), {"sid": "sid-bob-1"})
        check(re.search(r"^sid\|sid-bob-1\|", out, re.M), "the list does not show the revocation: %r" % out)
        check(out.strip().splitlines()[-1] == "t", "unrevoke did not return true: %r" % out)
        check(one(db, "SELECT nicelogin.nicelogin_check(:'t');", {"t": TOKENS["bob"]}) == "valid",
              "the session is still revoked after unrevoke")
    finally:
        drop_db(db)


def t_stats_query(sql):
    db = "nl_readme_stats_query"
    schema_db(db)
    try:
        body = ("SET client_min_messages = warning;\n"
                "SELECT nicelogin.nicelogin_check(:'a'), nicelogin.nicelogin_check(:'a'), nicelogin.nicelogin_check(:'b');\n" + sql)
        out = psql(db, body, {"a": TOKENS["rs256"], "b": TOKENS["rs256_bad_sig"]})
        check(re.search(r"^%s\|valid\|1\|1\|0$" % db, out, re.M) and re.search(r"^%s\|bad_signature\|1\|0\|0$" % db, out, re.M),
              "the statistics query does not show this session's counts: %r" % out)
    finally:
        drop_db(db)


EXPORTER_METRICS = set()
REASONS = ("valid malformed too_long unsupported_alg unknown_key bad_signature missing_exp expired "
           "not_yet_valid wrong_issuer wrong_audience user_deactivated revoked no_keys").split()


def t_exporter_queries(text):
    """postgres_exporter's queries.yaml: each query runs as a pg_monitor member with USAGE on the
    extension's schema, returns the columns its metrics name; metric names are query_column."""
    db = "nl_readme_exporter"
    schema_db(db)
    ensure_role("nl_readme_exporter", login=True)
    try:
        psql("postgres", "GRANT pg_monitor TO nl_readme_exporter;\n")
        psql(db, "GRANT USAGE ON SCHEMA nicelogin TO nl_readme_exporter;\n")
        entries = re.findall(r'^(\w+):\n  query: "(.*)"\n(?:  master: true\n)?  metrics:\n((?:    .*\n)+)', text, re.M)
        check(len(entries) == 2, "expected 2 queries, found %d" % len(entries))
        for name, query, metrics in entries:
            cols = re.findall(r"^    - (\w+):", metrics, re.M)
            usage = dict(zip(cols, re.findall(r'usage: "(\w+)"', metrics)))
            out = psql(db, "SET ROLE nl_readme_exporter;\nSELECT nicelogin.nicelogin_check(:'a');\n"
                           "\\pset tuples_only off\n%s;\n" % query, {"a": TOKENS["rs256"]})
            header = [l for l in out.splitlines() if "|" in l][0].split("|")
            check(header == cols, "%s: the query's columns %r are not the metrics %r" % (name, header, cols))
            for c in cols:
                check(usage.get(c) in ("LABEL", "COUNTER"), "%s.%s: usage %r" % (name, c, usage.get(c)))
                if usage[c] == "COUNTER":
                    EXPORTER_METRICS.add("%s_%s" % (name, c))
    finally:
        drop_db(db)
        drop_role("nl_readme_exporter")


def t_alert_rules(text):
    """The alert rules name only metrics the exporter queries above define, and real reasons."""
    check(EXPORTER_METRICS, "no exporter-queries block before the rules")
    for m in set(re.findall(r"\b(nicelogin_\w+)\{", text)):
        check(m in EXPORTER_METRICS, "the rules use %s, which the exporter queries do not define (%s)"
              % (m, ", ".join(sorted(EXPORTER_METRICS))))
    for alt in re.findall(r'reason=~"([^"]+)"', text):
        for r in alt.split("|"):
            check(r in REASONS, "the rules name a reason %r that nicelogin_check never gives" % r)


def multitenant_db(name):
    """A database with examples/multitenant.sql loaded (it installs nicelogin in schema nicelogin)
    and its key set."""
    fresh_db(name)
    psql(name, "SET client_min_messages = warning;\n" + open(os.path.join(ROOT, "examples", "multitenant.sql")).read())
    psql(name, "SELECT nicelogin.nicelogin_set_jwks(:'jwks');\n", {"jwks": JWKS})


def t_nicelogin_test_intro(sql):
    db = "nl_readme_test_intro"
    multitenant_db(db)
    try:
        psql(db, "INSERT INTO companies VALUES ('%s', 'Acme'), ('%s', 'Globex');\n"
                 "INSERT INTO invoices (company_id, customer, amount) VALUES ('%s', 'acme 1', 1), ('%s', 'globex 1', 2);\n"
                 % (ACME, GLOBEX, ACME, GLOBEX))
        keys = "SELECT string_agg(kid || ':' || jwk::text, ',' ORDER BY kid) FROM nicelogin.nicelogin_keys;"
        before = one(db, keys)
        out = psql(db, sql)
        check("acme 1" in out and "globex 1" not in out, "the test user does not see Acme's rows only: %r" % out)
        check(one(db, keys) == before, "the snippet left the test key in place of the stored keys")
    finally:
        drop_db(db)


def t_nicelogin_test_negative(sql):
    db = "nl_readme_test_negative"
    schema_db(db)
    try:
        psql(db, "CREATE EXTENSION nicelogin_test;\n")
        out = psql(db, sql).split()
        want = ["t", "valid", "expired", "unsupported_alg", "unknown_key", "bad_signature"]
        check(out[-6:] == want, "the negative tokens gave %r, want %r" % (out[-6:], want))
    finally:
        drop_db(db)


def t_pgtap_snippet(sql):
    # test/lib.sh's NL_PGTAP_PACKAGE: empty where Debian has no pgTAP for the major (19)
    if os.environ.get("NL_PGTAP_PACKAGE", "pgtap") == "":
        raise Skip("Debian has no pgTAP package for this PostgreSQL major yet")
    db = "nl_readme_pgtap"
    multitenant_db(db)
    try:
        psql(db, "CREATE EXTENSION pgtap;\nCREATE EXTENSION nicelogin_test;\n")
        out = psql(db, sql)
        oks = re.findall(r"^(not ok|ok) (\d+)", out, re.M)
        check(re.search(r"^1\.\.4$", out, re.M) and [o for o, _ in oks] == ["ok"] * 4,
              "the pgTAP snippet did not pass its 4 tests:\n" + out)
    finally:
        drop_db(db)


def t_shared_cache_info(sql):
    db = "nl_readme_shared_cache_info"
    schema_db(db)
    try:
        out = psql(db, "\\pset tuples_only off\n" + sql)
        header = [l for l in out.splitlines() if "|" in l][0]
        comment = [l for l in sql.splitlines() if l.startswith("-- capacity")][0]
        check(header.split("|") == [c.strip() for c in comment[3:].split("|")],
              "the columns %r are not the ones the comment names" % header)
    finally:
        drop_db(db)


def t_policy_audit(sql):
    db = "nl_readme_policy_audit"
    schema_db(db)
    try:
        psql(db, "CREATE TABLE good (company_id uuid);\nCREATE TABLE bad (company_id uuid);\n"
                 "CREATE POLICY tenant ON good USING (company_id = nicelogin.nicelogin_company_id());\n"
                 "CREATE FUNCTION public.nicelogin_company_id() RETURNS uuid LANGUAGE sql STABLE\n"
                 "    AS $$SELECT current_setting('x.cid', true)::uuid$$;\n"
                 "SET search_path = public, nicelogin;\n"
                 "CREATE POLICY tenant ON bad USING (company_id = nicelogin_company_id());\n")
        out = psql(db, sql).strip()
        check(out == "bad|tenant|public|nicelogin_company_id",
              "the audit should list exactly the hijacked policy, got %r" % out)
        psql(db, "DROP POLICY tenant ON bad;\n")
        check(psql(db, sql).strip() == "", "the audit lists a policy that calls nicelogin's own function")
    finally:
        drop_db(db)


def t_rls_audit(sql):
    db = "nl_readme_rls_audit"
    schema_db(db)
    ensure_role("app")
    try:
        psql(db, "CREATE TABLE invoices (company_id uuid);\nALTER TABLE invoices OWNER TO app;\n"
                 "ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;\n"
                 "CREATE POLICY tenant ON invoices USING (company_id = nicelogin.nicelogin_company_id());\n")
        out = psql(db, sql).strip()
        check(out.startswith("owner_not_forced|public.invoices|ALTER TABLE public.invoices FORCE ROW LEVEL SECURITY;")
              and len(out.splitlines()) == 1,
              "the audit should find app's own table, RLS not forced: got %r" % out)
        psql(db, "ALTER TABLE invoices FORCE ROW LEVEL SECURITY;\n")
        check(psql(db, sql).strip() == "", "the audit finds something in a clean setup")
    finally:
        drop_db(db)


TESTS = {
    "opening": t_opening,
    "install": t_install,
    "getting-started-keys": t_getting_started_keys,
    "getting-started-policy": t_getting_started_policy,
    "why-no-rows": t_why_no_rows,
    "policy-audit": t_policy_audit,
    "rls-audit": t_rls_audit,
    "multitenant-excerpt": t_multitenant_excerpt,
    "request": t_request,
    "request-psql": t_request_psql,
    "why-no-rows-psql": t_why_no_rows_psql,
    "logout-psql": t_logout_psql,
    "set-jwks-file": t_set_jwks_file,
    "stand-in-server": (t_stand_in_server, "sh"),
    "stand-in-settings": t_stand_in_settings,
    "text-company-id": t_text_company,
    "postgrest": t_postgrest,
    "postgrest-pre-config": t_postgrest_pre_config,
    "postgrest-role-map": t_postgrest_role_map,
    "logical-replication": t_logical_replication,
    "logout": t_logout,
    "privileges": t_privileges,
    "worker-role": t_worker_role,
    "refresh": t_refresh,
    "admin-lists": t_admin_lists,
    "stats-query": t_stats_query,
    "exporter-queries": (t_exporter_queries, "yaml"),
    "alert-rules": (t_alert_rules, "yaml"),
    "nicelogin-test-intro": t_nicelogin_test_intro,
    "nicelogin-test-negative": t_nicelogin_test_negative,
    "pgtap-snippet": t_pgtap_snippet,
    "shared-cache-info": t_shared_cache_info,
}


# ---------------------------------------------------------------- links between the pages

LINKED_PAGES = ["README.md", "CHANGELOG.md", "examples/README.md"]  # and doc/*.md


def without_code(text):
    """The text with fenced blocks blanked (their lines kept, empty) and inline code spans removed."""
    out, fenced = [], False
    for line in text.split("\n"):
        if re.match(r"^\s*```", line):
            fenced = not fenced
            out.append("")
            continue
        out.append("" if fenced else re.sub(r"`[^`]*`", "", line))
    return "\n".join(out)


def anchors(path):
    """GitHub's anchors of a page's headings: lower case, the text of links and code kept, other
    punctuation dropped, spaces to hyphens; a repeated one gets -1, -2 ..."""
    seen, out, fenced = {}, set(), False
    for line in open(path).read().split("\n"):
        if re.match(r"^\s*```", line):
            fenced = not fenced
        m = None if fenced else re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
        a = re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")
        n = seen.get(a, 0)
        seen[a] = n + 1
        out.add(a if n == 0 else "%s-%d" % (a, n))
    return out


def headings(path):
    return {re.sub(r"^#+\s+", "", l).strip() for l in without_code(open(path).read()).split("\n")
            if re.match(r"^#{1,6}\s", l)}


def link_problems(paths):
    """Every relative link of the pages names a file of the tree and, where it has one, an anchor
    of that page; no table row stands alone after a paragraph; every README section that
    examples/README.md names in quotes exists."""
    bad = []
    for path in paths:
        rel = os.path.relpath(path, ROOT)
        text = without_code(open(path).read())
        for m in re.finditer(r"\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)", text):
            target = m.group(1)
            if re.match(r"^[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file)) if file else path
            if not os.path.exists(dest):
                bad.append("%s: link to %s: no such file" % (rel, target))
            elif anchor and dest.endswith(".md") and anchor not in anchors(dest):
                bad.append("%s: link to %s: no such section in %s" % (rel, target, os.path.relpath(dest, ROOT)))
        lines = text.split("\n")
        for i, line in enumerate(lines):
            # a table row after prose, not a table's header (no delimiter row next): printed as text
            if (line.startswith("|") and i > 0 and lines[i - 1].strip() and not lines[i - 1].startswith("|")
                    and not (i + 1 < len(lines) and re.match(r"^\|[\s:|-]+\|\s*$", lines[i + 1]))):
                bad.append("%s:%d: a table row that is not in a table" % (rel, i + 1))
        if rel == os.path.join("examples", "README.md"):
            readme = headings(os.path.join(ROOT, "README.md"))
            for m in re.finditer(r"main README(?:'s|,)\s+\"([^\"]+)\"", open(path).read()):
                name = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("\n", " ")
                if name not in readme:
                    bad.append("%s: names the README's section \"%s\", which does not exist" % (rel, name))
    return bad


def blocks(path):
    """Yield (line number, directive or None, language, text) for each fenced block."""
    lines = open(path).read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, lang = m.group(1), m.group(2)
        start = i
        j = start - 1
        while j >= 0 and lines[j].strip() == "":
            j -= 1
        d = re.match(r"^\s*<!-- test: (.+?) -->\s*$", lines[j]) if j >= 0 else None
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
            i += 1
        yield start + 1, d.group(1) if d else None, lang, "\n".join(body) + "\n"
        i += 1


def main():
    paths = sys.argv[1:] or [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "doc", f) for f in os.listdir(os.path.join(ROOT, "doc")) if f.endswith(".md"))
    failed = passed = 0
    used = set()
    for path in paths:
        for line, directive, lang, text in blocks(path):
            where = "%s:%d (```%s)" % (os.path.relpath(path, ROOT), line, lang)
            try:
                if directive is None:
                    raise Failure("no <!-- test: … --> line before this block")
                if directive == "output":
                    print("ok    %s: output sample" % where)
                    continue
                if directive.startswith("not-run "):
                    print("SKIP  %s: not run: %s" % (where, directive[len("not-run "):]))
                    continue
                m = re.match(r"^covered-by (\S+)$", directive)
                if m:
                    check(os.path.exists(os.path.join(ROOT, m.group(1))), "no file " + m.group(1))
                    print("ok    %s: covered by %s" % (where, m.group(1)))
                    continue
                test = TESTS.get(directive)
                check(test is not None, "no test named %r in test/readme_snippets.py" % directive)
                test, want = test if isinstance(test, tuple) else (test, "sql")
                check(directive not in used, "a second block names the test %r" % directive)
                SNIPPETS[directive] = text
                check(lang == want, "test %r reads ```%s, but the block is ```%s" % (directive, want, lang))
                used.add(directive)
                try:
                    test(text)
                except Skip as e:
                    print("SKIP: %s: %s not run: %s" % (where, directive, e))
                    continue
                passed += 1
                print("ok    %s: %s" % (where, directive))
            except Failure as e:
                failed += 1
                print("FAIL  %s: %s\n%s" % (where, directive, e))
    if "proc" in STAND_IN and STAND_IN["proc"].poll() is None:
        STAND_IN["proc"].terminate()
        STAND_IN["proc"].wait()
    pages = [os.path.join(ROOT, p) for p in LINKED_PAGES] + sorted(
        os.path.join(ROOT, "doc", f) for f in os.listdir(os.path.join(ROOT, "doc")) if f.endswith(".md"))
    bad = link_problems(pages)
    if bad:
        failed += 1
        print("FAIL  links: %d broken\n%s" % (len(bad), "\n".join(bad)))
    else:
        passed += 1
        print("ok    links: every relative link of %d pages resolves" % len(pages))
    for name in sorted(set(TESTS) - used):
        failed += 1
        print("FAIL  test %r matches no block of %s (a snippet was removed or renamed?)"
              % (name, ", ".join(os.path.relpath(p, ROOT) for p in paths)))
    print("%d snippet tests passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
