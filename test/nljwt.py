#!/usr/bin/env python3
"""nljwt: make JWS/JWT test tokens and JWKs for nicelogin's tests.

Python standard library plus the openssl command (OpenSSL 3): every
asymmetric signature is made by `openssl`, HMAC by python's hmac module.

    python3 test/nljwt.py sign --alg RS256 --key test/fixtures/keys/rs256.pem \
        --kid rsa1 --claims '{"sub":"..."}'
    python3 test/nljwt.py jwks            # public JWKS of the fixture keys
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
KEYDIR = os.path.join(HERE, "fixtures", "keys")

# (file, kid, alg) of the asymmetric keys in test/fixtures/jwks.json, in order.
FIXTURE_KEYS = [
    ("rs256.pem", "rsa1", "RS256"), ("rs256b.pem", "rsa2", "RS256"),
    ("rs384.pem", "rsa384", "RS384"), ("rs512.pem", "rsa512", "RS512"),
    ("ps256.pem", "ps256", "PS256"), ("ps384.pem", "ps384", "PS384"),
    ("ps512.pem", "ps512", "PS512"),
    ("es256.pem", "ec256", "ES256"), ("es384.pem", "ec384", "ES384"),
    ("es512.pem", "ec521", "ES512"),
    ("ed25519.pem", "ed1", "EdDSA"),
]

HASHES = {"256": "sha256", "384": "sha384", "512": "sha512"}
EC_SIZES = {"ES256": 32, "ES384": 48, "ES512": 66}
# DER of the curve OIDs in an EC SubjectPublicKeyInfo
EC_CURVES = {
    "2a8648ce3d030107": ("P-256", 32),  # 1.2.840.10045.3.1.7
    "2b81040022": ("P-384", 48),        # 1.3.132.0.34
    "2b81040023": ("P-521", 66),        # 1.3.132.0.35
}
OID_RSA = "2a864886f70d010101"          # 1.2.840.113549.1.1.1
OID_EC = "2a8648ce3d0201"               # 1.2.840.10045.2.1
OID_ED25519 = "2b6570"                  # 1.3.101.112


# ---------- encoding ----------

def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def to_bytes(part):
    """dict -> compact UTF-8 JSON; str/bytes are used raw."""
    if isinstance(part, dict) or isinstance(part, list):
        return json.dumps(part, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if isinstance(part, str):
        return part.encode("utf-8")
    return bytes(part)


def openssl(*args, data=None):
    r = subprocess.run(["openssl", *args], input=data, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


# ---------- a tiny DER reader / writer ----------

def der_read(buf, pos=0):
    """Returns (tag, content, next_pos) of the DER element at pos."""
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    return tag, buf[pos:pos + n], pos + n


def der_children(content):
    out, pos = [], 0
    while pos < len(content):
        tag, val, pos = der_read(content, pos)
        out.append((tag, val))
    return out


def der(tag, content):
    n = len(content)
    if n < 0x80:
        head = bytes([n])
    else:
        nb = n.to_bytes((n.bit_length() + 7) // 8, "big")
        head = bytes([0x80 | len(nb)]) + nb
    return bytes([tag]) + head + content


def der_int(value):
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


# ---------- signatures ----------

def ecdsa_der_to_raw(sig, size):
    (tag, seq, _) = der_read(sig)
    r, s = [int.from_bytes(v, "big") for _, v in der_children(seq)]
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def ecdsa_raw_to_der(sig):
    half = len(sig) // 2
    r, s = int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")
    return der(0x30, der_int(r) + der_int(s))


def _rsa_args(alg):
    md = HASHES[alg[2:]]
    args = ["-" + md]
    if alg.startswith("PS"):
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest",
                 "-sigopt", "rsa_mgf1_md:" + md]
    return args


def raw_sign(data, alg, key, der_sig=False):
    """Signature bytes over data. key: PEM path (asymmetric) or secret bytes (HS*)."""
    if alg.startswith("HS"):
        return hmac.new(key, data, HASHES[alg[2:]]).digest()
    if alg.startswith(("RS", "PS")):
        return openssl("dgst", *_rsa_args(alg), "-sign", key, data=data)
    if alg.startswith("ES"):
        sig = openssl("dgst", "-" + HASHES[alg[2:]], "-sign", key, data=data)
        return sig if der_sig else ecdsa_der_to_raw(sig, EC_SIZES[alg])
    if alg == "EdDSA":
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return openssl("pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", f.name)
    raise ValueError("unsupported alg " + alg)


def raw_verify(data, sig, alg, key, der_sig=False, pubin=False):
    """True when sig verifies; key is a PEM path (private, or public with pubin)."""
    if alg.startswith("HS"):
        return hmac.compare_digest(raw_sign(data, alg, key), sig)
    if alg.startswith("ES") and not der_sig:
        sig = ecdsa_raw_to_der(sig)
    with tempfile.TemporaryDirectory() as d:
        fd, fs = os.path.join(d, "data"), os.path.join(d, "sig")
        open(fd, "wb").write(data)
        open(fs, "wb").write(sig)
        keyargs = ["-pubin", "-inkey", key] if pubin else ["-inkey", key]
        if alg == "EdDSA":
            cmd = ["pkeyutl", "-verify", *keyargs, "-rawin", "-in", fd, "-sigfile", fs]
        elif alg.startswith(("RS", "PS")):
            cmd = ["dgst", *_rsa_args(alg), "-verify" if pubin else "-prverify", key,
                   "-signature", fs, fd]
        else:
            cmd = ["dgst", "-" + HASHES[alg[2:]], "-verify" if pubin else "-prverify", key,
                   "-signature", fs, fd]
        r = subprocess.run(["openssl", *cmd], capture_output=True)
        return r.returncode == 0


def sign(header, payload, alg, key, der_sig=False):
    """Compact JWS.  header/payload: dict (compact JSON) or str/bytes used raw.
    alg: the algorithm used to sign (the header is taken as given).
    key: PEM path, or HMAC secret bytes."""
    signing_input = (b64url(to_bytes(header)) + "." + b64url(to_bytes(payload))).encode("ascii")
    sig = raw_sign(signing_input, alg, key, der_sig)
    return signing_input.decode("ascii") + "." + b64url(sig)


def verify(token, alg, key, der_sig=False, pubin=False):
    h, p, s = token.split(".")
    return raw_verify((h + "." + p).encode("ascii"), b64url_decode(s), alg, key, der_sig, pubin)


# ---------- JWKs ----------

def public_der(pem_path):
    return openssl("pkey", "-in", pem_path, "-pubout", "-outform", "DER")


def public_pem(pem_path):
    return openssl("pkey", "-in", pem_path, "-pubout")


def _spki(pem_path):
    _, spki, _ = der_read(public_der(pem_path))
    (_, algid), (_, bits) = der_children(spki)
    oids = [v.hex() for t, v in der_children(algid) if t == 0x06]
    return oids, bits[1:]  # skip the BIT STRING's unused-bits byte


def public_jwk(pem_path, kid=None, alg=None, use="sig"):
    """Public JWK of a key file; kid/alg/use are left out when None."""
    oids, key = _spki(pem_path)
    if oids[0] == OID_RSA:
        _, seq, _ = der_read(key)
        n, e = [int.from_bytes(v, "big") for _, v in der_children(seq)]
        jwk = {"kty": "RSA", "n": b64url(n.to_bytes((n.bit_length() + 7) // 8, "big")),
               "e": b64url(e.to_bytes((e.bit_length() + 7) // 8, "big"))}
    elif oids[0] == OID_EC:
        crv, size = EC_CURVES[oids[1]]
        assert key[0] == 4 and len(key) == 1 + 2 * size
        jwk = {"kty": "EC", "crv": crv, "x": b64url(key[1:1 + size]), "y": b64url(key[1 + size:])}
    elif oids[0] == OID_ED25519:
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(key)}
    else:
        raise ValueError("unsupported key type in " + pem_path)
    for name, value in (("kid", kid), ("alg", alg), ("use", use)):
        if value is not None:
            jwk[name] = value
    return jwk


def oct_jwk(secret, kid, alg, use="sig"):
    return {"kty": "oct", "k": b64url(secret), "kid": kid, "alg": alg, "use": use}


def jwk_to_pem(jwk, path):
    """Writes the public key of an RSA/EC/OKP JWK as a PEM file (for checks)."""
    def num(name):
        return int.from_bytes(b64url_decode(jwk[name]), "big")
    oid = lambda hexstr: der(0x06, bytes.fromhex(hexstr))
    if jwk["kty"] == "RSA":
        algid = der(0x30, oid(OID_RSA) + b"\x05\x00")
        key = der(0x30, der_int(num("n")) + der_int(num("e")))
    elif jwk["kty"] == "EC":
        curve = [h for h, (c, _) in EC_CURVES.items() if c == jwk["crv"]][0]
        algid = der(0x30, oid(OID_EC) + oid(curve))
        key = b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
    else:
        algid = der(0x30, oid(OID_ED25519))
        key = b64url_decode(jwk["x"])
    spki = der(0x30, algid + der(0x03, b"\x00" + key))
    pem = openssl("pkey", "-pubin", "-inform", "DER", "-outform", "PEM", data=spki)
    open(path, "wb").write(pem)


def fixture_jwks(keydir=KEYDIR):
    return {"keys": [public_jwk(os.path.join(keydir, f), kid, alg) for f, kid, alg in FIXTURE_KEYS]}


# ---------- CLI ----------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign", help="print a signed token")
    s.add_argument("--alg", required=True)
    s.add_argument("--key", help="PEM private key (RS*/PS*/ES*/EdDSA)")
    s.add_argument("--secret", help="HMAC secret, base64url (HS*)")
    s.add_argument("--kid")
    s.add_argument("--claims", default="{}", help="payload JSON (used as given)")
    s.add_argument("--header", help="header JSON (used as given); overrides --alg/--kid header")
    s.add_argument("--der", action="store_true", help="ES*: keep the DER signature")
    j = sub.add_parser("jwks", help="print the public JWKS of the fixture keys")
    j.add_argument("--keydir", default=KEYDIR)
    pj = sub.add_parser("jwk", help="print the public JWK of a PEM key")
    pj.add_argument("pem")
    pj.add_argument("--kid")
    pj.add_argument("--alg")
    a = ap.parse_args(argv)

    if a.cmd == "sign":
        if a.header is not None:
            header = a.header
        else:
            header = {"alg": a.alg, **({"kid": a.kid} if a.kid else {}), "typ": "JWT"}
        key = b64url_decode(a.secret) if a.alg.startswith("HS") else a.key
        if key is None:
            ap.error("--key or --secret is required")
        print(sign(header, a.claims, a.alg, key, a.der))
    elif a.cmd == "jwks":
        print(json.dumps(fixture_jwks(a.keydir), separators=(",", ":")))
    else:
        print(json.dumps(public_jwk(a.pem, a.kid, a.alg), separators=(",", ":")))


if __name__ == "__main__":
    main()
