"""examples/apps/fastapi/app.py: the NiceLogin SDK's FastAPI integration, with the database
verifying the token (nicelogin) instead of the app.

Each request that carries `Authorization: Bearer <token>` runs in one transaction that starts with
`set_config('nicelogin.token', $1, true)` (a bind parameter, local to the transaction); the
table's row-level security policies then show and accept this tenant's rows only.  A token the
extension refuses becomes a 401 carrying `nicelogin_check()`'s reason.

Run (Debian 12: apt-get install python3-fastapi python3-uvicorn python3-psycopg python3-psycopg-pool):

    NOTES_DATABASE_URL='dbname=notes user=notes_app' \
    NOTES_ADMIN_DATABASE_URL='dbname=notes user=notes_admin' \
    NOTES_OUTBOX=/tmp/outbox /usr/bin/python3 -m uvicorn app:app --port 8000

Endpoints: see examples/README.md.
"""

import contextlib
import json
import logging
import os
import pathlib
import time

import psycopg
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import JSONResponse
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

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

app = FastAPI()

# SQLSTATEs of the extension's API errors and of RLS refusals -> HTTP status
HTTP_STATUS = {"22023": 400, "22P02": 400, "28000": 401, "42501": 403, "P0002": 404,
               "57014": 504, "08006": 502, "58000": 502}


@app.exception_handler(psycopg.Error)
def database_error(request, exc):
    status = HTTP_STATUS.get(exc.sqlstate)
    if status is None:
        raise exc
    return JSONResponse({"error": exc.diag.message_primary}, status_code=status)


@app.exception_handler(StarletteHTTPException)
def http_error(request, exc):
    body = exc.detail if isinstance(exc.detail, dict) else {"error": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def refused(reason):
    return HTTPException(401, {"error": "invalid token", "reason": reason},
                         headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


class Tenant:
    """The request's bearer token; transaction() runs the request's SQL as its tenant."""

    def __init__(self, token):
        self.token = token

    @contextlib.contextmanager
    def transaction(self):
        # The transaction commits when the block ends without an exception, before the response
        # is sent (the exit code of a yield dependency runs after it in FastAPI before 0.106).
        with pool.connection() as conn:
            row = conn.execute(
                "SELECT nicelogin.nicelogin_check(%(t)s) AS reason,"
                " set_config('nicelogin.token', %(t)s, true)", {"t": self.token}).fetchone()
            if row["reason"] != "valid":
                raise refused(row["reason"])
            yield conn


def tenant(authorization: str | None = Header(None)) -> Tenant:
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise refused("missing_token")
    return Tenant(token.strip())


class NewNote(BaseModel):
    body: str
    company_id: str | None = None


class ResetRequest(BaseModel):
    email: str


class ResetConfirm(BaseModel):
    email: str
    current_password: str
    new_password: str
    reset_token: str


@app.get("/me")
def me(t: Tenant = Depends(tenant)):
    with t.transaction() as conn:
        return conn.execute("SELECT nicelogin.nicelogin_user_id() AS user_id,"
                            " nicelogin.nicelogin_email() AS email,"
                            " nicelogin.nicelogin_company_id() AS company_id").fetchone()


@app.get("/notes")
def list_notes(t: Tenant = Depends(tenant)):
    with t.transaction() as conn:
        return conn.execute("SELECT id, company_id, author, body FROM notes ORDER BY id").fetchall()


@app.post("/notes", status_code=201)
def create_note(note: NewNote, t: Tenant = Depends(tenant)):
    with t.transaction() as conn:
        return conn.execute(
            "INSERT INTO notes (company_id, body)"
            " VALUES (coalesce(%s::uuid, nicelogin.nicelogin_company_id()), %s)"
            " RETURNING id, company_id, author, body", (note.company_id, note.body)).fetchone()


def send_email(to, subject, body):
    """Stands in for a mailer: writes the message to a file in NOTES_OUTBOX."""
    outbox = pathlib.Path(os.environ.get("NOTES_OUTBOX", "outbox"))
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / f"{time.time_ns()}.json").write_text(
        json.dumps({"to": to, "subject": subject, "body": body}))


@app.post("/reset-password", status_code=202)
def reset_password(req: ResetRequest):
    try:
        with api_pool.connection() as conn:
            conn.execute(API_STATEMENT_TIMEOUT)
            token = conn.execute("SELECT nicelogin.nicelogin_request_password_reset(%s) AS t",
                                 (req.email,)).fetchone()["t"]
    except psycopg.Error as exc:
        if exc.sqlstate != "P0002":  # NiceLogin's 404: no such user; the client is not told
            raise
        log.warning("password reset for an unknown email: %s", exc.diag.message_primary)
    else:
        send_email(req.email, "Password reset", f"Your password reset token: {token}")
    return RESET_ACCEPTED


@app.post("/reset-password/confirm")
def reset_password_confirm(req: ResetConfirm):
    # passwords as bind parameters: logs and pg_stat_statements see $n, not the password
    with api_pool.connection() as conn:
        conn.execute(API_STATEMENT_TIMEOUT)
        conn.execute("SELECT nicelogin.nicelogin_reset_password(%s, %s, %s, %s)",
                     (req.email, req.current_password, req.new_password, req.reset_token))
    return {"message": "password changed"}


def set_active(t: Tenant, user_id: str, active: bool):
    with t.transaction() as conn:
        row = conn.execute(
            "SELECT nicelogin.nicelogin_claims() -> 'user_data' ->> 'role' AS role,"
            " EXISTS (SELECT FROM members WHERE user_id = %s::uuid) AS same_company",
            (user_id,)).fetchone()
    if row["role"] != "admin":
        raise HTTPException(403, {"error": "admins only"})
    if not row["same_company"]:  # RLS shows members of the admin's own company only
        raise HTTPException(404, {"error": "no such user in your company"})
    # in a transaction of its own: NiceLogin's side cannot be rolled back
    with admin_pool.connection() as conn:
        conn.execute("SELECT nicelogin.nicelogin_activate(%s::uuid)" if active else
                     "SELECT nicelogin.nicelogin_deactivate(%s::uuid)", (user_id,))
    return {"user_id": user_id, "active": active}


@app.post("/admin/deactivate/{user_id}")
def deactivate(user_id: str, t: Tenant = Depends(tenant)):
    return set_active(t, user_id, False)


@app.post("/admin/activate/{user_id}")
def activate(user_id: str, t: Tenant = Depends(tenant)):
    return set_active(t, user_id, True)
