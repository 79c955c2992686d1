#!/usr/bin/env python3
"""Command-line client for the control endpoints of test/nicelogin_server.py.

    python3 test/nicelogin_ctl.py reset
    python3 test/nicelogin_ctl.py mode MODE [DELAY_MS] [FORM]
    python3 test/nicelogin_ctl.py jwks FILE|JSON
    python3 test/nicelogin_ctl.py requests [--b64]
    python3 test/nicelogin_ctl.py users [--b64]

reset, mode and jwks print nothing on success (psql's \\! output is not ordered with query
output).  requests and users print one JSON object per line; with --b64 each line is base64,
ready for psql's  \\copy t FROM PROGRAM '...'  followed by
convert_from(decode(line, 'base64'), 'UTF8')::jsonb.  The server is $NICELOGIN_API_URL, else
http://127.0.0.1:$NICELOGIN_API_PORT, else http://127.0.0.1:18089.  Exit status 1 on failure.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.request


def base_url():
    url = os.environ.get("NICELOGIN_API_URL")
    if url:
        return url.rstrip("/")
    return "http://127.0.0.1:%s" % os.environ.get("NICELOGIN_API_PORT", "18089")


def call(method, path, body=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base_url() + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit("nicelogin_ctl: %s %s: HTTP %d %s" % (method, path, e.code, e.read().decode(errors="replace")))
    except OSError as e:
        sys.exit("nicelogin_ctl: %s %s: %s" % (method, path, e))


def print_lines(items, b64):
    for item in items:
        line = json.dumps(item, sort_keys=True)
        if b64:
            line = base64.b64encode(line.encode()).decode()
        print(line)


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    b64 = "--b64" in args
    args = [a for a in args if a != "--b64"]
    if cmd == "reset" and not args:
        call("POST", "/_control/reset", {})
    elif cmd == "mode" and 1 <= len(args) <= 3:
        # FORM (for echo_error) may come without DELAY_MS
        rest = args[1:]
        delay = int(rest.pop(0)) if rest and rest[0].isdigit() else 0
        body = {"mode": args[0], "delay_ms": delay}
        if rest:
            body["form"] = rest.pop(0)
        if rest:
            sys.exit(__doc__)
        call("POST", "/_control/mode", body)
    elif cmd == "jwks" and len(args) == 1:
        if args[0].lstrip().startswith("{"):
            call("POST", "/_control/jwks", args[0].encode())
        else:
            with open(args[0], "rb") as f:
                call("POST", "/_control/jwks", f.read())
    elif cmd == "requests" and not args:
        print_lines(call("GET", "/_control/requests"), b64)
    elif cmd == "users" and not args:
        print_lines(call("GET", "/_control/users"), b64)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
