#!/usr/bin/env python3
"""Seed corpus for the libFuzzer targets of test/fuzz, from the test fixtures and Wycheproof.

    python3 test/fuzz/make_corpus.py OUT_DIR [VECTORS_DIR]

OUT_DIR gets one folder per target (token, json, keyset, verify), one file per seed, named by
the seed's SHA-1 (as libFuzzer names its own), with the inputs of past findings
(test/fuzz/regress/TARGET/: each must run clean, or the run fails).  VECTORS_DIR: the Wycheproof JOSE vectors
(default $NICELOGIN_VECTORS, else test/vectors/wycheproof); read as test/wycheproof_ref.py
reads them: each test group's key set ("public", else "private") and each test's "jws".
"""
import base64
import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def write(folder, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def tokens_of(obj):
    """Every string in obj that looks like a compact JWS."""
    if isinstance(obj, str):
        if obj.count(".") == 2:
            yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tokens_of(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from tokens_of(v)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    vdir = sys.argv[2] if len(sys.argv) > 2 else os.environ.get(
        "NICELOGIN_VECTORS", os.path.join(HERE, "..", "vectors", "wycheproof"))

    tokens, keysets = [], []
    tokens += tokens_of(json.load(open(os.path.join(FIXTURES, "tokens.json"))))
    for path in sorted(glob.glob(os.path.join(FIXTURES, "jwks*.json"))):
        text = open(path).read()
        keysets.append(text)
        for key in json.loads(text).get("keys", []):
            keysets.append(json.dumps(key))                  # a single JWK
            keysets.append(json.dumps({"keys": [key]}))      # a set of one
    for name in ("json_web_signature_test.json", "json_web_key_test.json"):
        path = os.path.join(vdir, name)
        if not os.path.exists(path):
            print("SKIP: no Wycheproof vectors at %s" % vdir)
            continue
        for group in json.load(open(path))["testGroups"]:
            key_set = group.get("public", group.get("private"))
            if key_set is not None:
                keysets.append(json.dumps(key_set))
            for test in group["tests"]:
                if isinstance(test.get("jws"), str):
                    tokens.append(test["jws"])

    counts = {}
    for t in tokens:
        write(os.path.join(out, "token"), t)
        write(os.path.join(out, "verify"), t)
        for seg in t.split(".")[:2]:
            try:
                write(os.path.join(out, "json"), b64url_decode(seg))
            except ValueError:
                pass
    for k in keysets:
        write(os.path.join(out, "keyset"), k)
        write(os.path.join(out, "json"), k)
    # inputs of past findings, each kept as a file of its own (test/fuzz/regress/TARGET/)
    for path in sorted(glob.glob(os.path.join(HERE, "regress", "*", "*"))):
        write(os.path.join(out, os.path.basename(os.path.dirname(path))), open(path, "rb").read())
    for d in sorted(os.listdir(out)):
        counts[d] = len(os.listdir(os.path.join(out, d)))
    print("corpus in %s: %s" % (out, ", ".join("%s %d" % kv for kv in counts.items())))


if __name__ == "__main__":
    main()
