"""examples/apps/django/app.py: the NiceLogin SDK's Django integration, with the database verifying
the token (nicelogin) instead of the app.  One file: settings, middleware, views and URLs.

NiceLoginMiddleware runs each request in one psycopg 3 transaction; when the request carries
`Authorization: Bearer <token>` the transaction starts with
`set_config('nicelogin.token', $1, true)` (a bind parameter, local to the transaction) and the
tables' row-level security policies show and accept this tenant's rows only.  Views marked
@token_required answer a token the extension refuses with a 401 carrying `nicelogin_check()`'s
reason.  (psycopg 3 directly, not Django's ORM: Debian 12's Django 3.2 only speaks psycopg2.)

Run (Debian 12: apt-get install python3-django python3-psycopg python3-psycopg-pool):

    NOTES_DATABASE_URL='dbname=notes user=notes_app' \
    NOTES_ADMIN_DATABASE_URL='dbname=notes user=notes_admin' \
    NOTES_OUTBOX=/tmp/outbox /usr/bin/python3 app.py runserver --noreload 127.0.0.1:8000

Endpoints: see examples/README.md.
"""

import functools
import json
import logging
import os
import secrets
import sys

import psycopg
from django.conf import settings
from django.core.mail import send_mail
from django.http import JsonResponse
from django.urls import Resolver404, path, resolve
from django.views.decorators.http import require_GET, require_POST
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or secrets.token_urlsafe(32),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    # a bearer-token API: no sessions, no cookies, so no CSRF middleware
    MIDDLEWARE=[__name__ + ".NiceLoginMiddleware"],
    # the file backend stands in for a mailer: one file per message in NOTES_OUTBOX
    EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
    EMAIL_FILE_PATH=os.environ.get("NOTES_OUTBOX", "outbox"),
)

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

# SQLSTATEs of the extension's API errors and of RLS refusals -> HTTP status
HTTP_STATUS = {"22023": 400, "22P02": 400, "28000": 401, "42501": 403, "P0002": 404,
               "57014": 504, "08006": 502, "58000": 502}


def refused(reason):
    response = JsonResponse({"error": "invalid token", "reason": reason}, status=401)
    response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


class NiceLoginMiddleware:
    """request.db: the request's connection, in a transaction as the bearer token's tenant;
    request.token_reason: nicelogin_check()'s verdict ("missing_token" without a token)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
        token = token.strip()
        try:
            view = resolve(request.path_info).func
        except Resolver404:
            view = None
        if getattr(view, "own_connection", False):
            # the view takes a connection of api_pool itself, none of pool is held meanwhile
            request.db, request.token_reason = None, "missing_token"
            return self.get_response(request)
        # commits before the response leaves (process_exception rolls back a failed view)
        with pool.connection() as conn:
            request.db = conn
            request.token_reason = "missing_token"
            if scheme.lower() == "bearer" and token:
                request.token_reason = conn.execute(
                    "SELECT nicelogin.nicelogin_check(%(t)s) AS reason,"
                    " set_config('nicelogin.token', %(t)s, true)", {"t": token}).fetchone()["reason"]
            return self.get_response(request)

    def process_exception(self, request, exc):
        """A database error in a view: roll back, answer with the status it maps to."""
        status = HTTP_STATUS.get(getattr(exc, "sqlstate", None))
        if not isinstance(exc, psycopg.Error) or status is None:
            return None
        if request.db is not None:
            request.db.rollback()
        return JsonResponse({"error": exc.diag.message_primary}, status=status)


def own_connection(view):
    """Marks a view that NiceLoginMiddleware gives no connection (request.db is None)."""
    view.own_connection = True
    return view


def token_required(view):
    @functools.wraps(view)
    def decorated(request, *args, **kwargs):
        if request.token_reason != "valid":
            return refused(request.token_reason)
        return view(request, *args, **kwargs)

    return decorated


@require_GET
@token_required
def me(request):
    return JsonResponse(request.db.execute(
        "SELECT nicelogin.nicelogin_user_id() AS user_id, nicelogin.nicelogin_email() AS email,"
        " nicelogin.nicelogin_company_id() AS company_id").fetchone())


@token_required
def notes(request):
    if request.method == "GET":
        return JsonResponse(request.db.execute(
            "SELECT id, company_id, author, body FROM notes ORDER BY id").fetchall(), safe=False)
    if request.method != "POST":
        return JsonResponse({"error": "method not allowed"}, status=405)
    data = json.loads(request.body)
    if not isinstance(data, dict) or not isinstance(data.get("body"), str):
        return JsonResponse({"error": "body must be a string"}, status=400)
    return JsonResponse(request.db.execute(
        "INSERT INTO notes (company_id, body)"
        " VALUES (coalesce(%s::uuid, nicelogin.nicelogin_company_id()), %s)"
        " RETURNING id, company_id, author, body", (data.get("company_id"), data["body"])).fetchone(),
        status=201)


@require_POST
@own_connection
def reset_password(request):
    email = json.loads(request.body)["email"]
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
        send_mail("Password reset", f"Your password reset token: {token}", None, [email])
    return JsonResponse(RESET_ACCEPTED, status=202)


@require_POST
@own_connection
def reset_password_confirm(request):
    d = json.loads(request.body)
    # passwords as bind parameters: logs and pg_stat_statements see $n, not the password
    with api_pool.connection() as conn:
        conn.execute(API_STATEMENT_TIMEOUT)
        conn.execute("SELECT nicelogin.nicelogin_reset_password(%s, %s, %s, %s)",
                     (d["email"], d["current_password"], d["new_password"], d["reset_token"]))
    return JsonResponse({"message": "password changed"})


def set_active(active):
    @require_POST
    @token_required
    def view(request, user_id):
        row = request.db.execute(
            "SELECT nicelogin.nicelogin_claims() -> 'user_data' ->> 'role' AS role,"
            " EXISTS (SELECT FROM members WHERE user_id = %s::uuid) AS same_company",
            (user_id,)).fetchone()
        if row["role"] != "admin":
            return JsonResponse({"error": "admins only"}, status=403)
        if not row["same_company"]:  # RLS shows members of the admin's own company only
            return JsonResponse({"error": "no such user in your company"}, status=404)
        # in a transaction of its own: NiceLogin's side cannot be rolled back
        with admin_pool.connection() as conn:
            conn.execute("SELECT nicelogin.nicelogin_activate(%s::uuid)" if active else
                         "SELECT nicelogin.nicelogin_deactivate(%s::uuid)", (user_id,))
        return JsonResponse({"user_id": user_id, "active": active})

    return view


urlpatterns = [
    path("me", me),
    path("notes", notes),
    path("reset-password", reset_password),
    path("reset-password/confirm", reset_password_confirm),
    path("admin/deactivate/<str:user_id>", set_active(False)),
    path("admin/activate/<str:user_id>", set_active(True)),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
