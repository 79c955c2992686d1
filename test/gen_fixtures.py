#!/usr/bin/env python3
"""Generates test/fixtures/: keys (kept when present), JWKS files, tokens.json,
tokens.sql (psql \\set lines) and README.md.  Run: python3 test/gen_fixtures.py

Signatures are made with the openssl command (see nljwt.py).  A token whose
header and payload did not change and whose old signature still verifies with
its key is kept, so reruns do not churn the randomized ES*/PS* signatures.
Every token meant to be valid is verified again with openssl against the key
as published in jwks.json; the generator fails loudly otherwise.
"""
import base64
import copy
import hashlib
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nljwt  # noqa: E402
from nljwt import b64url, b64url_decode, to_bytes  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
KEYS = os.path.join(FIX, "keys")

KEYGEN = {  # file -> openssl genpkey arguments
    "rs256.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rs256b.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rs384.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rs512.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ps256.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ps384.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "ps512.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "es256.pem": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "es384.pem": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "es512.pem": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    "ed25519.pem": ["-algorithm", "ED25519"],
    "attacker.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    "rsa1024.pem": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"],
}


def key(name):
    return os.path.join(KEYS, name)


def hs_secret(label, n):
    return hashlib.sha512(("nicelogin test " + label).encode()).digest()[:n]


HS = {"HS256": ("hs256", hs_secret("hs256", 32)),
      "HS384": ("hs384", hs_secret("hs384", 48)),
      "HS512": ("hs512", hs_secret("hs512", 64))}

ALICE = {"sub": "11111111-1111-4111-8111-111111111111", "email": "alice@acme.example",
         "company_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "iat": 1767225600,
         "exp": 4102444800, "jti": "jti-alice-1", "sid": "sid-alice-1",
         "user_data": {"role": "admin"}}
BOB = {"sub": "22222222-2222-4222-8222-222222222222", "email": "bob@globex.example",
       "company_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "iat": 1767225600,
       "exp": 4102444800, "jti": "jti-bob-1", "sid": "sid-bob-1",
       "user_data": {"role": "member"}}


def claims(base=ALICE, drop=(), **changes):
    c = copy.deepcopy(base)
    for k in drop:
        del c[k]
    c.update(changes)
    return c


def hdr(alg, kid="rsa1", **extra):
    """The default header {"alg","kid","typ"}; kid=None leaves kid out."""
    h = {"alg": alg, "kid": kid, "typ": "JWT"}
    if kid is None:
        del h["kid"]
    h.update(extra)
    return h


def raw_alice(exp_text):
    """ALICE as compact JSON with exp written as exp_text (not a Python number)."""
    return to_bytes(ALICE).replace(b'"exp":4102444800', b'"exp":' + exp_text.encode())


class Gen:
    def __init__(self):
        self.tokens = {}      # name -> token
        self.notes = {}       # name -> (verdict, description)
        self.checks = []      # (name, alg, public key pem / secret) for valid tokens
        path = os.path.join(FIX, "tokens.json")
        self.old = json.load(open(path)) if os.path.exists(path) else {}

    def add(self, name, token, verdict, what):
        assert name not in self.tokens, name
        self.tokens[name] = token
        self.notes[name] = (verdict, what)
        return token

    def sign(self, name, header, payload, alg, keyfile_or_secret, verdict, what, der_sig=False):
        k = key(keyfile_or_secret) if isinstance(keyfile_or_secret, str) else keyfile_or_secret
        si = b64url(to_bytes(header)) + "." + b64url(to_bytes(payload))
        old = self.old.get(name)
        if old and old.rsplit(".", 1)[0] == si and nljwt.verify(old, alg, k, der_sig):
            token = old
        else:
            token = nljwt.sign(header, payload, alg, k, der_sig)
        return self.add(name, token, verdict, what)


def ensure_keys():
    os.makedirs(KEYS, exist_ok=True)
    for f, args in KEYGEN.items():
        if not os.path.exists(key(f)):
            nljwt.openssl("genpkey", *args, "-out", key(f))
    cert = key("attacker_cert.der")
    if not os.path.exists(cert):
        nljwt.openssl("req", "-x509", "-new", "-key", key("attacker.pem"), "-subj", "/CN=attacker",
                      "-days", "36500", "-outform", "DER", "-out", cert)
    return open(cert, "rb").read()


def slow_modulus(bits=8192):
    """A fixed odd number of `bits` bits with no prime factor below 2000: OpenSSL's check of a
    stored RSA key (gcd with small primes, then a Miller-Rabin round) spends its full time on
    it.  Nobody has a private key for it: the set built from it (jwks_slow) is for limits and
    cancel tests only, never to verify a token."""
    stream = b""
    i = 0
    while len(stream) * 8 < bits:
        stream += hashlib.sha512(b"nicelogin slow modulus %d" % i).digest()
        i += 1
    n = int.from_bytes(stream[:bits // 8], "big") | (1 << (bits - 1)) | 1
    small = [p for p in range(3, 2000, 2) if all(p % q for q in range(3, int(p ** 0.5) + 1, 2))]
    while any(n % p == 0 for p in small):
        n += 2
    assert n.bit_length() == bits
    return n


def flip(token, index=None):
    """The token with one signature byte flipped (middle byte by default)."""
    h, p, s = token.split(".")
    sig = bytearray(b64url_decode(s))
    i = len(sig) // 2 if index is None else index
    sig[i] ^= 0x01
    return h + "." + p + "." + b64url(bytes(sig))


def make_tokens(g, cert_der):
    V = "valid"
    # -- one valid token per algorithm
    for f, kid, alg in nljwt.FIXTURE_KEYS:
        if f == "rs256b.pem":
            continue
        name = "eddsa" if alg == "EdDSA" else alg.lower()
        g.sign(name, hdr(alg, kid), ALICE, alg, f, V, "ALICE, %s, kid %s (jwks)" % (alg, kid))
    for alg, (kid, secret) in HS.items():
        g.sign(alg.lower(), hdr(alg, kid), ALICE, alg, secret, V,
               "ALICE, %s, kid %s (valid against jwks_hs only)" % (alg, kid))
    g.sign("bob", hdr("RS256"), BOB, "RS256", "rs256.pem", V, "BOB, RS256, kid rsa1")
    g.sign("rs256_nokid", hdr("RS256", None), ALICE, "RS256", "rs256.pem", V,
           "no kid in the header: every RS256 key is tried")
    g.sign("rs256_kid2", hdr("RS256", "rsa2"), ALICE, "RS256", "rs256b.pem", V,
           "second RSA key, kid rsa2")
    g.sign("rs256_wrong_key", hdr("RS256"), ALICE, "RS256", "rs256b.pem", "bad_signature",
           "kid rsa1 but signed with rsa2's key")
    g.sign("unknown_kid", hdr("RS256", "nope"), ALICE, "RS256", "rs256.pem", "unknown_key",
           "kid nope is in no set")

    # -- claims
    rs = lambda name, payload, verdict, what: g.sign(name, hdr("RS256"), payload, "RS256",
                                                     "rs256.pem", verdict, what)
    rs("expired", claims(exp=1000000000), "expired", "exp 1000000000 (2001)")
    rs("not_yet_valid", claims(nbf=4000000000), "not_yet_valid", "nbf 4000000000 (2096)")
    rs("missing_exp", claims(drop=["exp"]), "missing_exp", "no exp claim")
    rs("exp_string", claims(exp="4102444800"), "malformed", 'exp is the string "4102444800"')
    rs("exp_huge", raw_alice("1e300"), "malformed", "exp 1e300: out of range for a timestamp")
    rs("exp_bignum", raw_alice("1e999999"), "malformed",
       "exp 1e999999: a JSON number no double holds")
    rs("exp_fraction", claims(exp=4102444800.5), V, "exp 4102444800.5 (fractions are allowed)")
    rs("iat_string", claims(iat="x"), "malformed", 'iat is the string "x"')
    rs("with_iss", claims(iss="https://issuer.example"), V,
       "iss https://issuer.example; wrong_issuer when nicelogin.issuer is set to another value")
    rs("aud_string", claims(aud="app1"), V,
       'aud "app1"; wrong_audience when nicelogin.audience is not app1')
    rs("aud_array", claims(aud=["app2", "app1"]), V,
       'aud ["app2","app1"]; wrong_audience when nicelogin.audience is neither')
    # the ends of timestamptz's range (9224318016000 is 294277-01-01, not included; -210866803200
    # is 4714-11-24 BC): exp + leeway and now + leeway must saturate, never wrap
    rs("exp_max", claims(exp=9224318015999), V,
       "exp 9224318015999, the last second timestamptz holds: valid for any leeway")
    rs("exp_min", claims(exp=-210866803200), "expired",
       "exp -210866803200, the first second timestamptz holds: expired for any leeway")
    rs("nbf_max", claims(nbf=9224318015999), "not_yet_valid",
       "nbf 9224318015999: not_yet_valid for any leeway")
    rs("nbf_min", claims(nbf=-210866803200), V, "nbf -210866803200: valid for any leeway")

    # -- alg none and unknown algorithms
    for name, alg in (("alg_none", "none"), ("alg_None", "None"), ("alg_NONE", "NONE")):
        t = b64url(to_bytes({"alg": alg, "typ": "JWT"})) + "." + b64url(to_bytes(ALICE)) + "."
        g.add(name, t, "unsupported_alg", 'alg "%s", empty signature' % alg)
    g.add("alg_none_sig", g.tokens["alg_none"] + "AAAA", "unsupported_alg",
          'alg "none" with signature segment AAAA')
    g.sign("alg_unknown", hdr("RS1", "rsa1"), ALICE, "RS256", "rs256.pem", "unsupported_alg",
           'alg "RS1" (signed RS256 with rsa1\'s key)')

    # -- key confusion and attacker-supplied keys
    pem = nljwt.public_pem(key("rs256.pem"))
    spki = nljwt.public_der(key("rs256.pem"))
    g.sign("hs256_confusion_pem", {"alg": "HS256", "kid": "rsa1"}, ALICE, "HS256", pem,
           "unknown_key", "HS256 keyed with rsa1's public key PEM text, kid rsa1 (never valid)")
    g.sign("hs256_confusion_der", {"alg": "HS256", "kid": "rsa1"}, ALICE, "HS256", spki,
           "unknown_key", "HS256 keyed with rsa1's public key DER (SPKI), kid rsa1")
    g.sign("hs256_confusion_nokid", {"alg": "HS256"}, ALICE, "HS256", pem, "unknown_key",
           "HS256 keyed with rsa1's public key PEM text, no kid")
    attacker_jwk = nljwt.public_jwk(key("attacker.pem"), use=None)
    g.sign("embedded_jwk", {"alg": "RS256", "jwk": attacker_jwk}, ALICE, "RS256", "attacker.pem",
           "bad_signature", "header jwk with the attacker's key, signed by it, no kid")
    g.sign("embedded_jwk_kid", {"alg": "RS256", "kid": "attacker", "jwk": attacker_jwk}, ALICE,
           "RS256", "attacker.pem", "unknown_key", "header jwk + kid attacker, signed by attacker")
    g.sign("jku", {"alg": "RS256", "kid": "attacker", "jku": "http://127.0.0.1:1/jwks.json"},
           ALICE, "RS256", "attacker.pem", "unknown_key", "header jku (never fetched), kid attacker")
    g.sign("x5u", {"alg": "RS256", "kid": "attacker", "x5u": "http://127.0.0.1:1/cert.pem"},
           ALICE, "RS256", "attacker.pem", "unknown_key", "header x5u (never fetched), kid attacker")
    g.sign("x5c", {"alg": "RS256", "x5c": [base64.b64encode(cert_der).decode()]}, ALICE,
           "RS256", "attacker.pem", "bad_signature",
           "header x5c with a self-signed attacker certificate, no kid")

    # -- header members that change the meaning
    rs_h = lambda name, header, verdict, what: g.sign(name, header, ALICE, "RS256", "rs256.pem",
                                                      verdict, what)
    rs_h("crit", {"alg": "RS256", "kid": "rsa1", "crit": ["exp"], "exp": 4102444800},
         "malformed", 'crit ["exp"]: an extension nicelogin does not understand')
    rs_h("b64_false", {"alg": "RS256", "kid": "rsa1", "b64": False, "crit": ["b64"]},
         "malformed", "b64 false with crit (RFC 7797 unencoded payload)")
    rs_h("b64_false_nocrit", {"alg": "RS256", "kid": "rsa1", "b64": False}, "malformed",
         "b64 false without crit")

    # -- JSON edge cases
    rs_h("dup_header", '{"alg":"RS256","kid":"rsa1","alg":"RS256"}', "malformed",
         "header with alg twice")
    rs("dup_payload", b'{"sub":"' + BOB["sub"].encode() + b'",' + to_bytes(ALICE)[1:],
       "malformed", "payload with sub twice (Bob's id first, Alice's second)")
    rs("dup_nested", to_bytes(claims(user_data={"a": 1})).replace(b'"a":1', b'"a":1,"a":2'),
       "malformed", 'user_data {"a":1,"a":2}')
    rs_h("header_array", "[1]", "malformed", "header is the JSON array [1]")
    rs_h("header_kid_number", {"alg": "RS256", "kid": 5}, "malformed", "kid is the number 5")
    rs("payload_array", "[1,2,3]", "malformed", "payload is a JSON array")
    rs("payload_not_json", "foo", "malformed", "payload is not JSON")
    rs("payload_deep", '{"x":' + "[" * 100000 + "]" * 100000 + ',"exp":4102444800}',
       "malformed", "arrays nested 100000 deep; too_long unless nicelogin.max_token_length is raised")
    rs("payload_bad_utf8", b'{"sub":"\xff\xfe","exp":4102444800}', "malformed",
       "payload is not valid UTF-8")
    rs("payload_nul_escape", '{"sub":"a\\u0000b","exp":4102444800}', "malformed",
       "payload string with a \\u0000 escape")
    rs("payload_unicode", claims(email="jörg@example.com", user_data={"name": "Jörg 🚀"}), V,
       "non-ASCII email and user_data (UTF-8)")
    g.sign("es256_der", hdr("ES256", "ec256"), ALICE, "ES256", "es256.pem", "bad_signature",
           "ES256 with an ASN.1 DER signature instead of r||s", der_sig=True)
    rs("company_not_uuid", claims(company_id="acme"), V,
       "company_id acme (valid; nicelogin_company_id() is NULL)")
    rs("sub_not_uuid", claims(sub="alice"), V, "sub alice (valid; nicelogin_user_id() is NULL)")
    rs("big_payload", claims(user_data={"blob": "x" * 20000}), "too_long",
       "20000-character claim: too_long by default, valid with a larger nicelogin.max_token_length")

    # -- damaged signatures
    g.add("eddsa_bad_sig", flip(g.tokens["eddsa"]), "bad_signature",
          "eddsa with one signature byte flipped")
    g.add("rs256_bad_sig", flip(g.tokens["rs256"]), "bad_signature",
          "rs256 with one signature byte flipped")
    h, p, s = g.tokens["rs256"].split(".")
    g.add("rs256_short_sig", h + "." + p + "." + b64url(b64url_decode(s)[1:]), "bad_signature",
          "rs256 with the first signature byte removed (255 bytes)")

    # -- functions that act on a token (nicelogin_revoke_token)
    g.sign("forged_victim_jti", hdr("RS256"), claims(exp=9999999999), "RS256", "attacker.pem",
           "bad_signature", "ALICE's jti (jti-alice-1), exp 9999999999, kid rsa1, signed by "
           "the attacker's key: must never revoke Alice's token")
    g.sign("forged_victim_jti_nokid", hdr("RS256", None), claims(drop=["exp"]), "RS256",
           "attacker.pem", "bad_signature",
           "ALICE's jti without exp and without kid, signed by the attacker's key")
    rs("exp_word", raw_alice('"soon"'), "malformed", 'exp is the string "soon"')
    rs("exp_1e400", raw_alice("1e400"), "malformed", "exp 1e400: beyond any double")
    rs("no_jti", claims(drop=["jti"], sid="sid-nojti-1"), V, "ALICE without a jti claim")
    rs("no_sid", claims(drop=["sid"], jti="jti-nosid-1"), V, "ALICE without a sid claim")

    # -- row-level security
    rs("alice2", claims(sub="33333333-3333-4333-8333-333333333333", email="carol@acme.example",
                        jti="jti-carol-1", sid="sid-carol-1"), V,
       "Carol: a second user of company aaaaaaaa-... (RLS tests)")
    rs("bob_expired", claims(BOB, exp=1000000000), "expired", "BOB with exp 1000000000")


def self_check(g, jwks, jwks_hs):
    """Checks every signed token with openssl against the keys as published in the
    JWKS files: the signature must verify exactly when the verdict is not
    bad_signature / unknown_key / unsupported_alg.  Exits on any failure."""
    failures = []
    with tempfile.TemporaryDirectory() as d:
        keys = {}  # kid -> (alg, key, pubin)
        for jwk in jwks["keys"]:
            path = os.path.join(d, jwk["kid"] + ".pem")
            nljwt.jwk_to_pem(jwk, path)
            keys[jwk["kid"]] = (jwk["alg"], path, True)
        for jwk in jwks_hs["keys"]:
            keys[jwk["kid"]] = (jwk["alg"], b64url_decode(jwk["k"]), False)
        for name, (verdict, _) in g.notes.items():
            token = g.tokens[name]
            try:
                h = json.loads(b64url_decode(token.split(".")[0]))
            except ValueError:
                continue
            if not isinstance(h, dict) or not isinstance(h.get("kid", ""), str):
                continue
            kid = h.get("kid")
            cands = [keys[kid]] if kid in keys else ([] if kid is not None else keys.values())
            ok = any(alg == h["alg"] and nljwt.verify(token, alg, k, pubin=p)
                     for alg, k, p in cands)
            if ok != (verdict not in ("bad_signature", "unknown_key", "unsupported_alg")):
                failures.append("%s (%s): signature %s" %
                                (name, verdict, "verifies" if ok else "does not verify"))
    if failures:
        sys.exit("SELF-CHECK FAILED:\n  " + "\n  ".join(failures))


def write_outputs(g, jwks, jwks_hs, jwks_weak, jwks_slow):
    def compact(obj):
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

    with open(os.path.join(FIX, "jwks.json"), "w") as f:
        json.dump(jwks, f, indent=2)
        f.write("\n")
    with open(os.path.join(FIX, "jwks_hs.json"), "w") as f:
        json.dump(jwks_hs, f, indent=2)
        f.write("\n")
    with open(os.path.join(FIX, "jwks_weak.json"), "w") as f:
        json.dump(jwks_weak, f, indent=2)
        f.write("\n")
    with open(os.path.join(FIX, "tokens.json"), "w") as f:
        json.dump(g.tokens, f, indent=1)
        f.write("\n")

    lines = ["-- Generated by test/gen_fixtures.py; do not edit.  Rerun it to regenerate.",
             "-- Test fixtures for psql: use as :'rs256', :'jwks' etc.  See test/fixtures/README.md."]
    for name, value in [("jwks", compact(jwks)), ("jwks_hs", compact(jwks_hs)),
                        ("jwks_weak", compact(jwks_weak)), ("jwks_slow", compact(jwks_slow))] + \
            list(g.tokens.items()):
        assert name.isidentifier() and "'" not in value and "\\" not in value, name
        assert all(0x21 <= ord(c) < 0x7F for c in value), name
        lines.append("\\set %s '%s'" % (name, value))
    with open(os.path.join(FIX, "tokens.sql"), "w") as f:
        f.write("\n".join(lines) + "\n")

    rows = ["| %s | %s | %d | %s |" % (n, v, len(g.tokens[n]), w.replace("|", "\\|"))
            for n, (v, w) in g.notes.items()]
    readme = README_HEAD + "\n".join(rows) + "\n" + README_TAIL
    with open(os.path.join(FIX, "README.md"), "w") as f:
        f.write(readme)


README_HEAD = """# Test fixtures

Generated by `python3 test/gen_fixtures.py` (python3 and the `openssl` command only); do not
edit by hand. The private keys in `keys/` are test keys, kept across reruns; delete one to get a
new one (and regenerate). `test/nljwt.py` signs tokens and prints JWKs.

| file | what |
| --- | --- |
| `keys/*.pem` | private keys: rs256 (kid rsa1), rs256b (rsa2), rs384 (rsa384), rs512 (rsa512), ps256/ps384/ps512 (ps256/ps384/ps512), es256 (ec256, P-256), es384 (ec384, P-384), es512 (ec521, P-521), ed25519 (ed1), attacker (in no set), rsa1024 (kid weak, only in `jwks_weak.json`) |
| `keys/attacker_cert.der` | self-signed certificate of the attacker key (for the `x5c` token) |
| `jwks.json` | public JWKS of every asymmetric key above but attacker and rsa1024 (kid, alg, use sig) |
| `jwks_hs.json` | three oct keys: hs256 (32 bytes), hs384 (48), hs512 (64) |
| `jwks_weak.json` | rsa1 and the 1024-bit key `weak`: a set nicelogin must refuse |
| `tokens.json` | `{name: token}` |
| `tokens.sql` | `\\set NAME 'TOKEN'` per token plus `jwks`, `jwks_hs`, `jwks_weak`, `jwks_slow`; `\\i` it, then use `:'rs256'` |
| `jwks_slow` (in `tokens.sql` only) | one RSA key (kid slow, RS256, e 65537) whose `n` is a fixed 8192-bit odd number without small factors and without private key: storing it costs OpenSSL's full public key check (limits and cancel tests) |

Claims: ALICE = sub 11111111-1111-4111-8111-111111111111, email alice@acme.example, company_id
aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa, iat 1767225600, exp 4102444800 (2100-01-01), jti
jti-alice-1, sid sid-alice-1, user_data {"role":"admin"}. BOB = sub
22222222-2222-4222-8222-222222222222, email bob@globex.example, company_id
bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb, jti jti-bob-1, sid sid-bob-1, user_data {"role":"member"}.
Header: {"alg":ALG,"kid":KID,"typ":"JWT"} unless said otherwise; RS256 tokens use rsa1.

Verdict = what `nicelogin_check(token)` returns with the keys of `jwks.json` stored (the HS
tokens: with `jwks_hs.json` stored) and default settings.

| token | verdict | length | what |
| --- | --- | --- | --- |
"""

README_TAIL = """
Notes:
- `payload_deep` and `big_payload` are longer than the default `nicelogin.max_token_length`
  (too_long); raise it to get the verdicts shown (`payload_deep` malformed, `big_payload` valid).
- ES*/PS* signatures are randomized: a rerun keeps a token when its header and payload are
  unchanged and its signature still verifies, so rerunning does not churn the files.
"""


def main():
    cert = ensure_keys()
    jwks = nljwt.fixture_jwks(KEYS)
    jwks_hs = {"keys": [nljwt.oct_jwk(secret, kid, alg) for alg, (kid, secret) in HS.items()]}
    jwks_weak = {"keys": [jwks["keys"][0], nljwt.public_jwk(key("rsa1024.pem"), "weak", "RS256")]}
    n = slow_modulus()
    jwks_slow = {"keys": [{"kty": "RSA", "kid": "slow", "alg": "RS256", "use": "sig",
                           "n": b64url(n.to_bytes(n.bit_length() // 8, "big")), "e": "AQAB"}]}
    g = Gen()
    make_tokens(g, cert)
    self_check(g, jwks, jwks_hs)
    write_outputs(g, jwks, jwks_hs, jwks_weak, jwks_slow)
    print("wrote %d tokens to %s" % (len(g.tokens), FIX))


if __name__ == "__main__":
    main()
