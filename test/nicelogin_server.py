#!/usr/bin/env python3
"""Stand-in NiceLogin API server for nicelogin's tests (python3 standard library only).

    python3 test/nicelogin_server.py --host 127.0.0.1 --port 18089 [--jwks test/fixtures/jwks.json]

Prints "ready" on stdout once it listens.  It speaks the NiceLogin wire format:

    POST  /request_password_reset   {"email", "api_key"}                   -> {"reset_token"}
    POST  /reset_password           {"email", "current_password", "new_password",
                                     "confirm_password", "api_key", "reset_token"} -> {"success": true}
    PATCH /toggle_user_status       {"api_secret", "user_id", "is_active"} -> {"user_id", "is_active"}
    GET   /.well-known/jwks/{api_key}                                      -> the JWKS

Every request must carry "Content-Type: application/json" (else 415).  Failures answer
{"error": "message"}: 400 invalid data (bad JSON, missing field, bad email, weak password of
fewer than 8 characters, confirmation mismatch, bad user_id), 401 invalid credentials (api_key,
api_secret, password, reset token), 404 unknown user or api key, 405 wrong method.  Reset
tokens are single-use.  API key "test-api-key", API secret "test-api-secret"; users:

    11111111-1111-4111-8111-111111111111  alice@acme.example   Correct-Horse-1   active
    22222222-2222-4222-8222-222222222222  bob@globex.example   Battery-Staple-2  active
    33333333-3333-4333-8333-333333333333  carol@acme.example   Carol-Pass-3      active

The JWKS served for test-api-key is the --jwks file (read at start and on reset; {"keys": []}
when it does not exist).

Control endpoints (never recorded, never affected by the mode):

    POST /_control/mode      {"mode": M, "delay_ms": N, "form": F}   how API requests are answered:
                             normal; slow (sleep delay_ms, then answer normally); slow_body
                             (answer normally, but pause delay_ms after half the body); error500
                             (500 {"error": "internal server error"}); empty500 (500, empty
                             body); garbage (200, a body that is not JSON); hang (answer
                             nothing until the mode changes, at most 60 s, then answer as the
                             new mode says); toggle_ignored (toggle_user_status answers 200
                             with the user's unchanged is_active); echo_error (400 whose
                             error text repeats the request body, as a careless server might);
                             huge (200 with a 2 MB JSON body and no
                             Content-Length)
    POST /_control/jwks      body: the JWKS to serve (must be JSON)
    POST /_control/reset     back to the initial state (users, tokens, mode, JWKS, request log)
    GET  /_control/requests  the last 50 API requests, oldest first:
                             [{"method", "path", "body", "content_type", "user_agent"}]
                             (body is the parsed JSON, or the raw text when it is not JSON)
    GET  /_control/users     [{"id", "email", "password", "is_active"}]

test/nicelogin_ctl.py is a small command-line client for the control endpoints.
"""

import argparse
import collections
import copy
import json
import re
import secrets
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote_plus, unquote, urlencode, urlsplit

API_KEY = "test-api-key"
API_SECRET = "test-api-secret"

INITIAL_USERS = [
    {"id": "11111111-1111-4111-8111-111111111111", "email": "alice@acme.example",
     "password": "Correct-Horse-1", "is_active": True},
    {"id": "22222222-2222-4222-8222-222222222222", "email": "bob@globex.example",
     "password": "Battery-Staple-2", "is_active": True},
    {"id": "33333333-3333-4333-8333-333333333333", "email": "carol@acme.example",
     "password": "Carol-Pass-3", "is_active": True},
]

MODES = ("normal", "slow", "slow_body", "error500", "empty500", "garbage", "hang", "toggle_ignored",
         "echo_error", "huge")
ECHO_FORMS = ("raw", "ascii", "ascii_upper", "slash", "twice", "values", "url", "url_lower",
              "truncated", "shortened")
SECRET_FIELDS = ("api_secret", "current_password", "new_password", "reset_token")
MAX_BODY = 1024 * 1024
HANG_SECONDS = 60
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class State:
    """Everything the server remembers; guarded by one condition variable."""

    def __init__(self, jwks_path):
        self.cond = threading.Condition()
        self.jwks_path = jwks_path
        self.reset()

    def _load_jwks(self):
        if self.jwks_path:
            try:
                with open(self.jwks_path, "rb") as f:
                    return f.read()
            except FileNotFoundError:
                pass
        return b'{"keys":[]}'

    def reset(self):
        with self.cond:
            self.users = copy.deepcopy(INITIAL_USERS)
            self.tokens = {}
            self.mode = "normal"
            self.delay_ms = 0
            self.form = "raw"
            self.requests = collections.deque(maxlen=50)
            self.jwks = self._load_jwks()
            self.cond.notify_all()

    def user_by_email(self, email):
        for u in self.users:
            if u["email"].lower() == email.lower():
                return u
        return None

    def user_by_id(self, user_id):
        for u in self.users:
            if u["id"] == user_id:
                return u
        return None


def echo_text(body, form):
    """The request body as a careless server repeats it in an error text."""
    text = body.decode("utf-8", "replace")
    if form == "raw":
        return text
    try:
        data = json.loads(text)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if form == "ascii":
        return json.dumps(data)
    if form == "ascii_upper":
        return re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), json.dumps(data))
    if form == "slash":
        return json.dumps(data).replace("/", "\\/")
    if form == "twice":
        return json.dumps(json.dumps(data))
    strings = [(k, v) for k, v in data.items() if isinstance(v, str)]
    if form == "values":
        return " ".join(v for _, v in strings)
    if form == "url":
        return urlencode(strings, quote_via=quote_plus)
    if form == "url_lower":
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(),
                      urlencode(strings, quote_via=quote_plus))
    if form == "truncated":
        for k, v in strings:
            if k in SECRET_FIELDS:
                return "%s: %s..." % (k, v[:max(3, len(v) * 2 // 3)])
        return text
    if form == "shortened":
        # as pydantic shortens a long input in its errors: start...end, then more text
        parts = []
        for k, v in strings:
            if k in SECRET_FIELDS:
                n = max(4, len(v) * 2 // 5)
                parts.append("[type=string_too_long, input_value='%s...%s', input_type=str]"
                             % (v[:n], v[-n:]))
        return " ".join(parts) if parts else text
    return text


def require_str(data, name):
    value = data.get(name)
    if not isinstance(value, str):
        raise ApiError(400, "missing or invalid field: %s" % name)
    return value


def require_email(data):
    email = require_str(data, "email")
    if not EMAIL_RE.match(email):
        raise ApiError(400, "invalid email address")
    return email


class Handler(BaseHTTPRequestHandler):
    server_version = "NiceLoginStandIn/1.0"
    protocol_version = "HTTP/1.0"

    # ------------------------------------------------------------ plumbing

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s %s\n" % (self.log_date_time_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def send(self, status, payload=None, raw=None, content_type="application/json"):
        if raw is None:
            raw = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if raw:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "close")
        self.end_headers()
        if raw and self.command != "HEAD":
            stall = getattr(self, "stall_ms", 0)
            if stall:
                # slow_body: the status, the headers and half the body, then a pause
                self.wfile.write(raw[:len(raw) // 2])
                self.wfile.flush()
                time.sleep(stall / 1000.0)
                self.wfile.write(raw[len(raw) // 2:])
            else:
                self.wfile.write(raw)

    def read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ApiError(400, "invalid Content-Length")
        if n < 0 or n > MAX_BODY:
            raise ApiError(400, "request body too large")
        return self.rfile.read(n)

    def dispatch(self):
        try:
            path = urlsplit(self.path).path
            body = self.read_body()
            if path.startswith("/_control/"):
                self.control(path, body)
            else:
                self.api(path, body)
        except ApiError as e:
            self.send_safely(e.status, {"error": e.message})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client went away (timeout or cancel): nothing to answer

    def send_safely(self, status, payload):
        try:
            self.send(status, payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    # ------------------------------------------------------------ control

    def control(self, path, body):
        st = self.state
        if path == "/_control/reset" and self.command == "POST":
            st.reset()
            return self.send(200, {"ok": True})
        if path == "/_control/mode" and self.command == "POST":
            data = self.json_object(body)
            mode = data.get("mode")
            delay = data.get("delay_ms", 0)
            if mode not in MODES:
                raise ApiError(400, "mode must be one of %s" % ", ".join(MODES))
            if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
                raise ApiError(400, "delay_ms must be a non-negative integer")
            form = data.get("form", "raw")
            if form not in ECHO_FORMS:
                raise ApiError(400, "form must be one of %s" % ", ".join(ECHO_FORMS))
            with st.cond:
                st.mode = mode
                st.delay_ms = delay
                st.form = form
                st.cond.notify_all()
            return self.send(200, {"mode": mode, "delay_ms": delay})
        if path == "/_control/jwks" and self.command == "POST":
            try:
                json.loads(body.decode("utf-8"))
            except RecursionError:
                pass  # deeply nested but well-formed: serve it (tests use it)
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "the JWKS must be JSON")
            with st.cond:
                st.jwks = body
            return self.send(200, {"ok": True})
        if path == "/_control/requests" and self.command == "GET":
            with st.cond:
                reqs = list(st.requests)
            return self.send(200, reqs)
        if path == "/_control/users" and self.command == "GET":
            with st.cond:
                users = copy.deepcopy(st.users)
            return self.send(200, users)
        raise ApiError(404, "no such control endpoint")

    # ------------------------------------------------------------ API

    def json_object(self, body):
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "invalid JSON body")
        if not isinstance(data, dict):
            raise ApiError(400, "the body must be a JSON object")
        return data

    def record(self, path, body):
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            parsed = body.decode("utf-8", "replace")
        with self.state.cond:
            self.state.requests.append({
                "method": self.command,
                "path": path,
                "body": parsed,
                "content_type": self.headers.get("Content-Type"),
                "user_agent": self.headers.get("User-Agent"),
            })

    def api(self, path, body):
        st = self.state
        self.record(path, body)

        with st.cond:
            mode, delay, form = st.mode, st.delay_ms, st.form
        if mode == "hang":
            deadline = time.monotonic() + HANG_SECONDS
            with st.cond:
                st.cond.wait_for(lambda: st.mode != "hang" or time.monotonic() >= deadline,
                                 timeout=HANG_SECONDS)
                mode, delay = st.mode, st.delay_ms
        if mode == "slow":
            time.sleep(delay / 1000.0)
        elif mode == "slow_body":
            self.stall_ms = delay
        elif mode == "error500":
            return self.send(500, {"error": "internal server error"})
        elif mode == "empty500":
            return self.send(500, raw=b"")
        elif mode == "garbage":
            return self.send(200, raw=b"<html><body>this is not JSON</body></html>",
                             content_type="text/html")
        elif mode == "echo_error":
            return self.send(400, {"error": "cannot accept " + echo_text(body, form)})
        elif mode == "huge":
            # No Content-Length: the client sees the size only while reading.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"keys": [], "padding": "' + b"x" * (2 * 1024 * 1024) + b'"}')
            return

        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise ApiError(415, "Content-Type must be application/json")

        routes = {
            "/request_password_reset": ("POST", self.request_password_reset),
            "/reset_password": ("POST", self.reset_password),
            "/toggle_user_status": ("PATCH", self.toggle_user_status),
        }
        if path in routes:
            method, fn = routes[path]
            if self.command != method:
                raise ApiError(405, "method not allowed")
            return fn(self.json_object(body), mode)
        if path.startswith("/.well-known/jwks/"):
            if self.command != "GET":
                raise ApiError(405, "method not allowed")
            key = unquote(path[len("/.well-known/jwks/"):])
            if key != API_KEY:
                raise ApiError(404, "unknown api key")
            with st.cond:
                jwks = st.jwks
            return self.send(200, raw=jwks)
        raise ApiError(404, "not found")

    def request_password_reset(self, data, mode):
        st = self.state
        api_key = require_str(data, "api_key")
        if api_key != API_KEY:
            raise ApiError(401, "invalid api key")
        email = require_email(data)
        with st.cond:
            user = st.user_by_email(email)
            if user is None:
                raise ApiError(404, "user not found")
            token = secrets.token_urlsafe(24)
            st.tokens[token] = user["id"]
        self.send(200, {"reset_token": token})

    def reset_password(self, data, mode):
        st = self.state
        api_key = require_str(data, "api_key")
        if api_key != API_KEY:
            raise ApiError(401, "invalid api key")
        email = require_email(data)
        current = require_str(data, "current_password")
        new = require_str(data, "new_password")
        confirm = require_str(data, "confirm_password")
        token = require_str(data, "reset_token")
        if new != confirm:
            raise ApiError(400, "new password and confirmation do not match")
        if len(new) < MIN_PASSWORD:
            raise ApiError(400, "password must be at least %d characters" % MIN_PASSWORD)
        with st.cond:
            user = st.user_by_email(email)
            if user is None:
                raise ApiError(404, "user not found")
            if st.tokens.get(token) != user["id"]:
                raise ApiError(401, "invalid or expired reset token")
            if current != user["password"]:
                raise ApiError(401, "invalid credentials")
            del st.tokens[token]
            user["password"] = new
        self.send(200, {"success": True})

    def toggle_user_status(self, data, mode):
        st = self.state
        secret = require_str(data, "api_secret")
        if secret != API_SECRET:
            raise ApiError(401, "invalid api secret")
        user_id = require_str(data, "user_id")
        try:
            uuid.UUID(user_id)
        except ValueError:
            raise ApiError(400, "invalid user_id")
        is_active = data.get("is_active")
        if not isinstance(is_active, bool):
            raise ApiError(400, "missing or invalid field: is_active")
        with st.cond:
            user = st.user_by_id(user_id.lower())
            if user is None:
                raise ApiError(404, "user not found")
            if mode != "toggle_ignored":
                user["is_active"] = is_active
            answer = {"user_id": user["id"], "is_active": user["is_active"]}
        self.send(200, answer)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description="Stand-in NiceLogin API server for tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=18089)
    ap.add_argument("--jwks", help="JWKS file served for test-api-key")
    ap.add_argument("--verbose", action="store_true", help="log each request on stderr")
    args = ap.parse_args()

    server = Server((args.host, args.port), Handler)
    server.state = State(args.jwks)
    server.verbose = args.verbose
    print("ready", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
