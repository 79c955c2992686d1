"""examples/apps/flask/app.py: the NiceLogin SDK's Flask integration, with the database verifying
the token (nicelogin) instead of the app.

The @require_auth decorator runs the view in one transaction that starts with
`set_config('nicelogin.token', $1, true)` (a bind parameter, local to the transaction); the
tables' row-level security policies then show and accept this tenant's rows only.  A token the
extension refuses becomes a 401 carrying `nicelogin_check()`'s reason.

Run (Debian 12: apt-get install python3-flask python3-psycopg python3-psycopg-pool):

    NOTES_DATABASE_URL='dbname=notes user=notes_app' \
    NOTES_ADMIN_DATABASE_URL='dbname=notes user=notes_admin' \
    NOTES_OUTBOX=/tmp/outbox /usr/bin/python3 app.py --port 8000

Endpoints: see examples/README.md.
"""

import argparse
import functools
import json
import logging
import os
import pathlib
import time

import psycopg
from flask import Flask, abort, g, jsonify, make_response, request
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

# notes_app: RLS applies to it.  notes_admin: may call nicelogin_deactivate()/activate().
# prepare_threshold None: no server-side prepared statements, so that the app also works behind
# PgBouncer in transaction mode (before PgBouncer 1.21's max_prepared_statements).
pool = ConnectionPool(os.environ["NOTES_DATABASE_URL"], min_size=1, max_size=4,
                      kwargs={"row_factory": dict_row, "prepare_threshold": None})
admin_pool = ConnectionPool(os.environ["NOTES_ADMIN_DATABASE_URL"], min_size=1, max_size=2,
                            kwargs={"autocommit": True, "prepare_threshold": None})
# The password endpoints need no login and wait, inside the database, for NiceLogin's answer (up to
# nicelogin.http_timeout, which only a superuser sets): a pool of their own, so that slow or many
# such requests cannot take the connections of the tenants' requests, and statement_timeout (which
# the app may set) to stop a call sooner.
api_pool = ConnectionPool(os.environ["NOTES_DATABASE_URL"], min_size=0, max_size=2,
                          kwargs={"row_factory": dict_row, "prepare_threshold": None})
API_STATEMENT_TIMEOUT = "SET LOCAL statement_timeout = '3s'"
# POST /reset-password answers the same whether the email has an account or not
RESET_ACCEPTED = {"message": "if the email has an account, a reset email is on its way"}
log = logging.getLogger("notes")

app = Flask(__name__)

# SQLSTATEs of the extension's API errors and of RLS refusals -> HTTP status
HTTP_STATUS = {"22023": 400, "22P02": 400, "28000": 401, "42501": 403, "P0002": 404,
               "57014": 504, "08006": 502, "58000": 502}


@app.errorhandler(psycopg.Error)
def database_error(exc):
    status = HTTP_STATUS.get(exc.sqlstate)
    if status is None:
        raise exc
    return jsonify(error=exc.diag.message_primary), status


def refused(reason):
    response = make_response(jsonify(error="invalid token", reason=reason), 401)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def require_auth(view):
    """Runs the view in a transaction as the bearer token's tenant (g.db is its connection)."""

    @functools.wraps(view)
    def decorated(*args, **kwargs):
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return refused("missing_token")
        # commits when the view returns, rolls back when it raises
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT nicelogin.nicelogin_check(%(t)s) AS reason,"
                " set_config('nicelogin.token', %(t)s, true)", {"t": token}).fetchone()
            if row["reason"] != "valid":
                return refused(row["reason"])
            g.db = conn
            return view(*args, **kwargs)

    return decorated


@app.get("/me")
@require_auth
def me():
    return jsonify(g.db.execute("SELECT nicelogin.nicelogin_user_id() AS user_id,"
                                " nicelogin.nicelogin_email() AS email,"
                                " nicelogin.nicelogin_company_id() AS company_id").fetchone())


@app.get("/notes")
@require_auth
def list_notes():
    return jsonify(g.db.execute("SELECT id, company_id, author, body FROM notes ORDER BY id").fetchall())


@app.post("/notes")
@require_auth
def create_note():
    data = request.get_json(force=True)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        abort(400)
    row = g.db.execute(
        "INSERT INTO notes (company_id, body)"
        " VALUES (coalesce(%s::uuid, nicelogin.nicelogin_company_id()), %s)"
        " RETURNING id, company_id, author, body", (data.get("company_id"), data["body"])).fetchone()
    return jsonify(row), 201


def send_email(to, subject, body):
    """Stands in for a mailer: writes the message to a file in NOTES_OUTBOX."""
    outbox = pathlib.Path(os.environ.get("NOTES_OUTBOX", "outbox"))
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / f"{time.time_ns()}.json").write_text(
        json.dumps({"to": to, "subject": subject, "body": body}))


@app.post("/reset-password")
def reset_password():
    email = request.get_json(force=True)["email"]
    try:
        with api_pool.connection() as conn:
            conn.execute(API_STATEMENT_TIMEOUT)
            token = conn.execute("SELECT nicelogin.nicelogin_request_password_reset(%s) AS t",
                                 (email,)).fetchone()["t"]
    except psycopg.Error as exc:
        if exc.sqlstate != "P0002":  # NiceLogin's 404: no such user; the client is not told
            raise
        log.warning("password reset for an unknown email: %s", exc.diag.message_primary)
    else:
        send_email(email, "Password reset", f"Your password reset token: {token}")
    return jsonify(RESET_ACCEPTED), 202


@app.post("/reset-password/confirm")
def reset_password_confirm():
    d = request.get_json(force=True)
    # passwords as bind parameters: logs and pg_stat_statements see $n, not the password
    with api_pool.connection() as conn:
        conn.execute(API_STATEMENT_TIMEOUT)
        conn.execute("SELECT nicelogin.nicelogin_reset_password(%s, %s, %s, %s)",
                     (d["email"], d["current_password"], d["new_password"], d["reset_token"]))
    return jsonify(message="password changed")


def set_active(user_id, active):
    row = g.db.execute(
        "SELECT nicelogin.nicelogin_claims() -> 'user_data' ->> 'role' AS role,"
        " EXISTS (SELECT FROM members WHERE user_id = %s::uuid) AS same_company",
        (user_id,)).fetchone()
    if row["role"] != "admin":
        return jsonify(error="admins only"), 403
    if not row["same_company"]:  # RLS shows members of the admin's own company only
        return jsonify(error="no such user in your company"), 404
    # in a transaction of its own: NiceLogin's side cannot be rolled back
    with admin_pool.connection() as conn:
        conn.execute("SELECT nicelogin.nicelogin_activate(%s::uuid)" if active else
                     "SELECT nicelogin.nicelogin_deactivate(%s::uuid)", (user_id,))
    return jsonify(user_id=user_id, active=active)


@app.post("/admin/deactivate/<user_id>")
@require_auth
def deactivate(user_id):
    return set_active(user_id, False)


@app.post("/admin/activate/<user_id>")
@require_auth
def activate(user_id):
    return set_active(user_id, True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    app.run(host=args.host, port=args.port, threaded=True)
