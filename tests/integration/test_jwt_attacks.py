"""JWT attack suite against the real binary: tokens forged from genuine ones (alg none, HMAC
keyed with the public key, algorithm switches, kid tricks, embedded keys, tampered payloads and
encodings, foreign issuers, wrong token types) sent to every endpoint that takes a token —
userinfo (header and form), introspection, revocation, the refresh grant, both logouts, the admin
API and the gateway's bearer auth.

Every forged token must be refused (no 2xx that means success; introspection says
{"active": false}), never answered with a 5xx, never hang, never be proxied by the gateway, and a
header's jku/x5u must never be fetched. The victim's genuine tokens keep working throughout.
Request counts per category go to /tmp/jwt-attack-counts.json at module teardown."""
import base64
import collections
import copy
import datetime
import hashlib
import hmac
import json
import string
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.x509.oid import NameOID

from conftest import FIXTURES, Gateway, Server, decode_jwt, header_jwt, write_realm

ADMIN_ENV = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}
TIMEOUT = 10
COUNTS_FILE = "/tmp/jwt-attack-counts.json"
COUNTS = collections.Counter()        # forged requests sent, per category
SINK_COUNTS = collections.Counter()   # forged requests sent, per endpoint


# ---------------------------------------------------------------------------------------------
# encoding and signing helpers

def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u_json(obj) -> str:
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


def jws(header, payload, signer=None) -> str:
    """A compact JWS of `header` and `payload` (dicts, or already-encoded strings), signed by
    `signer(signing_input) -> bytes` (no signer: an empty signature)."""
    h = header if isinstance(header, str) else b64u_json(header)
    p = payload if isinstance(payload, str) else b64u_json(payload)
    signing_input = f"{h}.{p}"
    return f"{signing_input}.{b64u(signer(signing_input.encode())) if signer else ''}"


HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
HMAC_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}


def rs_signer(key, bits="256"):
    return lambda data: key.sign(data, padding.PKCS1v15(), HASHES[bits]())


def es_signer(key, bits="256"):
    size = {"256": 32, "384": 48, "512": 66}[bits]

    def sign(data):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(HASHES[bits]())))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return sign


def ed_signer(key):
    return key.sign


def hs_signer(secret: bytes, bits="512"):
    return lambda data: hmac.new(secret, data, HMAC_HASHES[bits]).digest()


def public_key_of(jwk):
    if jwk["kty"] == "RSA":
        n, e = (int.from_bytes(unb64u(jwk[k]), "big") for k in ("n", "e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    if jwk["kty"] == "EC":
        x, y = (int.from_bytes(unb64u(jwk[k]), "big") for k in ("x", "y"))
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    return ed25519.Ed25519PublicKey.from_public_bytes(unb64u(jwk["x"]))


def jwk_of(public_key, kid):
    if isinstance(public_key, rsa.RSAPublicKey):
        n = public_key.public_numbers()
        return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "e": b64u(n.e.to_bytes(3, "big")),
                "n": b64u(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big"))}
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        n = public_key.public_numbers()
        return {"kty": "EC", "kid": kid, "alg": "ES256", "use": "sig", "crv": "P-256",
                "x": b64u(n.x.to_bytes(32, "big")), "y": b64u(n.y.to_bytes(32, "big"))}
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "kid": kid, "alg": "EdDSA", "use": "sig", "crv": "Ed25519", "x": b64u(raw)}


def self_signed_cert(key, cn="attacker.example"):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))


# The attacker's keys.
ATT_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATT_EC = ec.generate_private_key(ec.SECP256R1())
ATT_ED = ed25519.Ed25519PrivateKey.generate()
ATT_SECRET = b"attacker-chosen-hmac-secret-attacker-chosen-hmac-secret-0123456789"
ATT_RSA_CERT = self_signed_cert(ATT_RSA)
ATT_EC_CERT = self_signed_cert(ATT_EC)


def x5c(cert):
    return [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]


# ---------------------------------------------------------------------------------------------
# small HTTP servers of the test's own: the attacker's key host and the gateway's upstream

class CountingServer:
    """An HTTP server in a thread that counts every request; `routes` maps a path to
    (content type, body), anything else is answered with a JSON echo."""

    def __init__(self, routes=None):
        self.routes = routes or {}
        self.hits = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self):
                outer.hits.append((self.command, self.path))
                ctype, body = outer.routes.get(self.path.split("?")[0], ("application/json", None))
                if body is None:
                    body = json.dumps({"proxied": True, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------------
# the genuine material an attack starts from

@dataclass
class Base:
    """A genuine token to mutate, with what an attacker can learn about its realm."""
    token: str
    issuer: str
    other_issuer: str          # another realm of the same server
    jwks: dict
    refresh_kid: str           # the kid of the realm's HS512 refresh-token key
    other_sub: str             # another user's subject
    alts: dict                 # genuine ES256 / EdDSA tokens of the realm
    sibling: str               # another genuine token of the same kind and algorithm
    foreign: dict              # genuine tokens of other realms
    attacker_url: str

    def __post_init__(self):
        self.h, self.p, self.s = self.token.split(".")
        self.header, self.payload, self.sig = header_jwt(self.token), decode_jwt(self.token), unb64u(self.s)
        self.alg = self.header.get("alg")
        self.kid = self.header.get("kid")

    def key(self, kty):
        return next(k for k in self.jwks["keys"] if k["kty"] == kty)

    def kid_of(self, kty):
        return self.key(kty)["kid"]

    def pub(self, kty):
        return public_key_of(self.key(kty))

    def with_header(self, **changes):
        """The original header with `changes` (None deletes), encoded."""
        h = dict(self.header)
        for k, v in changes.items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        return h

    def keep_sig(self, header=None, payload=None, sig=None):
        """The token with a changed header and/or payload, and the original signature."""
        h = self.h if header is None else (header if isinstance(header, str) else b64u_json(header))
        p = self.p if payload is None else (payload if isinstance(payload, str) else b64u_json(payload))
        return f"{h}.{p}.{self.s if sig is None else sig}"

    def claims(self, **changes):
        c = copy.deepcopy(self.payload)
        for k, v in changes.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c


def relabel(token, **changes):
    """A genuine token with header members changed (None deletes), its signature kept."""
    h, p, s = token.split(".")
    header = header_jwt(token)
    for k, v in changes.items():
        if v is None:
            header.pop(k, None)
        else:
            header[k] = v
    return f"{b64u_json(header)}.{p}.{s}"


# ---------------------------------------------------------------------------------------------
# the attacks: name -> fn(Base) -> forged token (None: not applicable to this base)

NONE_SPELLINGS = ["none", "None", "NONE", "nOnE"]
CAT_NONE = {}
for _alg in NONE_SPELLINGS:
    CAT_NONE[f"{_alg}-empty-sig"] = lambda b, a=_alg: f"{b64u_json(b.with_header(alg=a))}.{b.p}."
    CAT_NONE[f"{_alg}-original-sig"] = lambda b, a=_alg: b.keep_sig(header=b.with_header(alg=a))
    CAT_NONE[f"{_alg}-no-trailing-dot"] = lambda b, a=_alg: f"{b64u_json(b.with_header(alg=a))}.{b.p}"
    CAT_NONE[f"{_alg}-bare-header"] = lambda b, a=_alg: f"{b64u_json({'alg': a})}.{b.p}."


def _pem(key, fmt):
    return key.public_bytes(serialization.Encoding.PEM, fmt)


def _der(key, fmt):
    return key.public_bytes(serialization.Encoding.DER, fmt)


SPKI, PKCS1 = serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1
HMAC_KEY_MATERIAL = {
    "rsa-pem-spki": lambda b: _pem(b.pub("RSA"), SPKI),
    "rsa-pem-spki-no-newline": lambda b: _pem(b.pub("RSA"), SPKI).rstrip(b"\n"),
    "rsa-pem-pkcs1": lambda b: _pem(b.pub("RSA"), PKCS1),
    "rsa-der-spki": lambda b: _der(b.pub("RSA"), SPKI),
    "rsa-der-pkcs1": lambda b: _der(b.pub("RSA"), PKCS1),
    "rsa-jwk-n-bytes": lambda b: unb64u(b.key("RSA")["n"]),
    "rsa-jwk-n-text": lambda b: b.key("RSA")["n"].encode(),
    "rsa-jwk-json": lambda b: json.dumps(b.key("RSA")).encode(),
    "ec-pem-spki": lambda b: _pem(b.pub("EC"), SPKI),
    "ec-der-spki": lambda b: _der(b.pub("EC"), SPKI),
    "ec-point": lambda b: b.pub("EC").public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint),
    "ed25519-raw": lambda b: unb64u(b.key("OKP")["x"]),
}
CAT_HMAC = {}
for _bits in ("256", "384", "512"):
    for _name, _material in HMAC_KEY_MATERIAL.items():
        CAT_HMAC[f"HS{_bits}-{_name}"] = lambda b, bits=_bits, m=_material: jws(
            b.with_header(alg=f"HS{bits}"), b.p, hs_signer(m(b), bits))


def _relabel_to(alg):
    return lambda b: None if alg == b.alg else b.keep_sig(header=b.with_header(alg=alg))


def _other_family(b):
    if b.alg == "HS512":
        return b.keep_sig(header=b.with_header(alg="RS256", kid=b.kid_of("RSA")))
    return b.keep_sig(header=b.with_header(alg="HS512", kid=b.refresh_kid))


def _es_der(b):
    h, p, s = b.alts["ES256"].split(".")
    raw = unb64u(s)
    return f"{h}.{p}.{b64u(encode_dss_signature(int.from_bytes(raw[:32], 'big'), int.from_bytes(raw[32:], 'big')))}"


CAT_SWITCH = {f"relabel-{a}": _relabel_to(a) for a in
              ["ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS384", "RS512", "EdDSA", "HS256", "HS384"]}
CAT_SWITCH.update({
    "relabel-other-family": _other_family,      # RS256 -> HS512 with the refresh kid, HS512 -> RS256
    "alg-lowercase": lambda b: b.keep_sig(header=b.with_header(alg=b.alg.lower())),
    "alg-trailing-space": lambda b: b.keep_sig(header=b.with_header(alg=b.alg + " ")),
    "alg-missing": lambda b: b.keep_sig(header=b.with_header(alg=None)),
    "alg-null": lambda b: b.keep_sig(header=dict(b.header, alg=None)),
    "alg-array": lambda b: b.keep_sig(header=dict(b.header, alg=[b.alg])),
    "es256-sig-as-rs256": lambda b: relabel(b.alts["ES256"], alg="RS256", kid=b.kid_of("RSA")),
    "es256-sig-as-hs512": lambda b: relabel(b.alts["ES256"], alg="HS512", kid=b.refresh_kid),
    "es256-sig-as-eddsa": lambda b: relabel(b.alts["ES256"], alg="EdDSA", kid=b.kid_of("OKP")),
    "eddsa-sig-as-rs256": lambda b: relabel(b.alts["EdDSA"], alg="RS256", kid=b.kid_of("RSA")),
    "eddsa-sig-as-es256": lambda b: relabel(b.alts["EdDSA"], alg="ES256", kid=b.kid_of("EC")),
    "es256-with-rsa-kid": lambda b: relabel(b.alts["ES256"], kid=b.kid_of("RSA")),
    "own-alg-with-ec-kid": lambda b: b.keep_sig(header=b.with_header(kid=b.kid_of("EC"))),
    "own-sig-as-eddsa-with-ed-kid": lambda b: b.keep_sig(header=b.with_header(alg="EdDSA", kid=b.kid_of("OKP"))),
    "es256-sig-der-encoded": _es_der,
})

EMPTY = b""
CAT_KID = {
    "dotdot-dev-null-hs256-empty-key": lambda b: jws(b.with_header(alg="HS256", kid="../../../../dev/null"), b.p, hs_signer(EMPTY, "256")),
    "dev-null-hs256-empty-key": lambda b: jws(b.with_header(alg="HS256", kid="/dev/null"), b.p, hs_signer(EMPTY, "256")),
    "dev-null-hs512-empty-key": lambda b: jws(b.with_header(alg="HS512", kid="/dev/null"), b.p, hs_signer(EMPTY, "512")),
    "dev-null-original-sig": lambda b: b.keep_sig(header=b.with_header(kid="/dev/null")),
    "sqli-hs256-empty-key": lambda b: jws(b.with_header(alg="HS256", kid="' OR 1=1 --"), b.p, hs_signer(EMPTY, "256")),
    "sqli-union-hs256": lambda b: jws(b.with_header(alg="HS256", kid="x' UNION SELECT 'attacker' --"), b.p, hs_signer(b"attacker", "256")),
    "sqli-original-sig": lambda b: b.keep_sig(header=b.with_header(kid="' OR 1=1 --")),
    "unknown-kid-original-sig": lambda b: b.keep_sig(header=b.with_header(kid="no-such-key")),
    "unknown-kid-attacker-rs256": lambda b: jws(b.with_header(alg="RS256", kid="no-such-key"), b.p, rs_signer(ATT_RSA)),
    "refresh-kid-hs512-attacker-secret": lambda b: jws(b.with_header(alg="HS512", kid=b.refresh_kid), b.p, hs_signer(ATT_SECRET)),
    "refresh-kid-hs512-empty-key": lambda b: jws(b.with_header(alg="HS512", kid=b.refresh_kid), b.p, hs_signer(EMPTY)),
    "refresh-kid-hs256-attacker-secret": lambda b: jws(b.with_header(alg="HS256", kid=b.refresh_kid), b.p, hs_signer(ATT_SECRET, "256")),
    "refresh-kid-hs512-keyed-with-kid": lambda b: jws(b.with_header(alg="HS512", kid=b.refresh_kid), b.p, hs_signer(b.refresh_kid.encode())),
    "empty-kid-original-sig": lambda b: b.keep_sig(header=b.with_header(kid="")),
    "empty-kid-attacker-rs256": lambda b: jws(b.with_header(alg="RS256", kid=""), b.p, rs_signer(ATT_RSA)),
    "empty-kid-hs512-empty-key": lambda b: jws(b.with_header(alg="HS512", kid=""), b.p, hs_signer(EMPTY)),
    "missing-kid-attacker-rs256": lambda b: jws(b.with_header(alg="RS256", kid=None), b.p, rs_signer(ATT_RSA)),
    "missing-kid-attacker-es256": lambda b: jws(b.with_header(alg="ES256", kid=None), b.p, es_signer(ATT_EC)),
    "nul-kid-attacker-rs256": lambda b: jws(b.with_header(alg="RS256", kid=b.kid + "\x00attacker"), b.p, rs_signer(ATT_RSA)),
    "nul-kid-original-sig": lambda b: b.keep_sig(header=b.with_header(kid=b.kid + "\x00")),
    "nul-only-kid-hs512-empty-key": lambda b: jws(b.with_header(alg="HS512", kid="\x00"), b.p, hs_signer(EMPTY)),
    "kid-number-original-sig": lambda b: b.keep_sig(header=dict(b.header, kid=0)),
    "kid-array-attacker-rs256": lambda b: jws(dict(b.header, alg="RS256", kid=[b.kid_of("RSA")]), b.p, rs_signer(ATT_RSA)),
    "kid-8k-attacker-rs256": lambda b: jws(b.with_header(alg="RS256", kid="k" * 8000), b.p, rs_signer(ATT_RSA)),
    "kid-is-attacker-url": lambda b: jws(b.with_header(alg="RS256", kid=b.attacker_url + "/jwks.json"), b.p, rs_signer(ATT_RSA)),
}

ATT_RSA_JWK = jwk_of(ATT_RSA.public_key(), "attacker-rsa")
ATT_EC_JWK = jwk_of(ATT_EC.public_key(), "attacker-ec")
ATT_ED_JWK = jwk_of(ATT_ED.public_key(), "attacker-ed")


def _embedded(alg, kid_from, signer, **members):
    def make(b):
        kid = {"attacker": None, "own": b.kid, "rsa": b.kid_of("RSA"), "ec": b.kid_of("EC"), "none": None}[kid_from]
        header = {"alg": alg, "typ": "JWT"}
        if kid_from == "attacker":
            kid = {"RS256": "attacker-rsa", "ES256": "attacker-ec", "EdDSA": "attacker-ed"}.get(alg, "attacker")
        if kid is not None:
            header["kid"] = kid
        for k, v in members.items():
            header[k] = v(b) if callable(v) else v
        return jws(header, b.p, signer)
    return make


CAT_EMBEDDED = {
    "jwk-rsa-attacker-kid": _embedded("RS256", "attacker", rs_signer(ATT_RSA), jwk=ATT_RSA_JWK),
    "jwk-rsa-realm-rsa-kid": _embedded("RS256", "rsa", rs_signer(ATT_RSA), jwk={k: v for k, v in ATT_RSA_JWK.items() if k != "kid"}),
    "jwk-rsa-own-kid": _embedded("RS256", "own", rs_signer(ATT_RSA), jwk=ATT_RSA_JWK),
    "jwk-rsa-no-kid": _embedded("RS256", "none", rs_signer(ATT_RSA), jwk=ATT_RSA_JWK),
    "jwk-ec-attacker-kid": _embedded("ES256", "attacker", es_signer(ATT_EC), jwk=ATT_EC_JWK),
    "jwk-ec-realm-ec-kid": _embedded("ES256", "ec", es_signer(ATT_EC), jwk=ATT_EC_JWK),
    "jwk-okp-attacker-kid": _embedded("EdDSA", "attacker", ed_signer(ATT_ED), jwk=ATT_ED_JWK),
    "jwk-oct-hs512-refresh-kid": lambda b: jws({"alg": "HS512", "typ": "JWT", "kid": b.refresh_kid,
                                               "jwk": {"kty": "oct", "k": b64u(ATT_SECRET)}}, b.p, hs_signer(ATT_SECRET)),
    "jku-attacker-kid": _embedded("RS256", "attacker", rs_signer(ATT_RSA), jku=lambda b: b.attacker_url + "/jwks.json"),
    "jku-realm-rsa-kid": _embedded("RS256", "rsa", rs_signer(ATT_RSA), jku=lambda b: b.attacker_url + "/jwks.json"),
    "jku-ec-attacker-kid": _embedded("ES256", "attacker", es_signer(ATT_EC), jku=lambda b: b.attacker_url + "/jwks.json"),
    "x5u-attacker-cert": _embedded("RS256", "attacker", rs_signer(ATT_RSA), x5u=lambda b: b.attacker_url + "/cert.pem"),
    "x5u-realm-rsa-kid": _embedded("RS256", "rsa", rs_signer(ATT_RSA), x5u=lambda b: b.attacker_url + "/cert.pem"),
    "x5c-rsa-self-signed": _embedded("RS256", "none", rs_signer(ATT_RSA), x5c=x5c(ATT_RSA_CERT)),
    "x5c-rsa-realm-rsa-kid": _embedded("RS256", "rsa", rs_signer(ATT_RSA), x5c=x5c(ATT_RSA_CERT)),
    "x5c-ec-self-signed": _embedded("ES256", "none", es_signer(ATT_EC), x5c=x5c(ATT_EC_CERT)),
}

TYP_FLIP = {"Bearer": "ID", "ID": "Bearer", "Refresh": "Offline", "Offline": "Refresh"}
B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def _bitflip(s, index):
    raw = bytearray(unb64u(s))
    raw[index] ^= 0x01
    return b64u(bytes(raw))


def _noncanonical_tail(s):
    """The same bytes with the unused low bits of the last base64 character set: a lenient
    decoder reads the genuine signature."""
    if len(unb64u(s)) % 3 == 0:
        return None
    return s[:-1] + B64URL[B64URL.index(s[-1]) | 1]


def _std_alphabet(b):
    t = b.token.translate(str.maketrans("-_", "+/"))
    return t if t != b.token else f"{b.h}.{b.p}.+{b.s[1:]}"


def _realm_roles(b):
    roles = list(b.payload.get("realm_access", {}).get("roles", [])) + ["admin", "create-realm"]
    return b.keep_sig(payload=b.claims(realm_access={"roles": roles}))


def _duplicate_sub(b):
    body = json.dumps(b.payload, separators=(",", ":"))
    return b.keep_sig(payload=b64u((body[:-1] + ',"sub":"' + b.other_sub + '"}').encode()))


CAT_TAMPER = {
    # claims changed, the original signature kept
    "sub-other-user": lambda b: b.keep_sig(payload=b.claims(sub=b.other_sub)),
    "sub-duplicate-key": _duplicate_sub,
    "exp-plus-one-year": lambda b: b.keep_sig(payload=b.claims(exp=int(time.time()) + 365 * 86400)),
    "exp-removed": lambda b: b.keep_sig(payload=b.claims(exp=None)),
    "exp-as-string": lambda b: b.keep_sig(payload=b.claims(exp=str(int(time.time()) + 86400))),
    "azp-web-or-spa": lambda b: b.keep_sig(payload=b.claims(azp="spa" if b.payload.get("azp") == "web" else "web")),
    "azp-changed": lambda b: b.keep_sig(payload=b.claims(azp="security-admin-console" if b.payload.get("azp") == "admin-cli" else "admin-cli")),
    "typ-flipped": lambda b: b.keep_sig(payload=b.claims(typ=TYP_FLIP.get(b.payload.get("typ"), "Bearer"))),
    "iss-other-realm": lambda b: b.keep_sig(payload=b.claims(iss=b.other_issuer)),
    "iss-trailing-slash": lambda b: b.keep_sig(payload=b.claims(iss=b.issuer + "/")),
    "realm-access-admin": _realm_roles,
    "scope-widened": lambda b: b.keep_sig(payload=b.claims(scope=(b.payload.get("scope", "") + " admin offline_access").strip())),
    "aud-added": lambda b: b.keep_sig(payload=b.claims(aud=["web", "realm-management", "master-realm"])),
    "sid-changed": lambda b: b.keep_sig(payload=b.claims(sid="00000000-0000-0000-0000-000000000000")),
    "jti-changed": lambda b: b.keep_sig(payload=b.claims(jti="00000000-0000-0000-0000-000000000000")),
    "payload-reserialized": lambda b: b.keep_sig(payload=b64u(json.dumps(b.payload, indent=1).encode())),
    "payload-from-sibling": lambda b: b.keep_sig(payload=b.sibling.split(".")[1]),
    # the signature mangled
    "sig-from-sibling": lambda b: b.keep_sig(sig=b.sibling.split(".")[2]),
    "sig-last-char-dropped": lambda b: b.keep_sig(sig=b.s[:-1]),
    "sig-truncated-half": lambda b: b.keep_sig(sig=b.s[: len(b.s) // 2]),
    "sig-truncated-one-byte": lambda b: b.keep_sig(sig=b64u(b.sig[:-1])),
    "sig-empty": lambda b: b.keep_sig(sig=""),
    "sig-bitflip-first-byte": lambda b: b.keep_sig(sig=_bitflip(b.s, 0)),
    "sig-bitflip-last-byte": lambda b: b.keep_sig(sig=_bitflip(b.s, -1)),
    "sig-all-zero": lambda b: b.keep_sig(sig=b64u(bytes(len(b.sig)))),
    "sig-doubled": lambda b: b.keep_sig(sig=b64u(b.sig + b.sig)),
    "sig-noncanonical-tail-bits": lambda b: b.keep_sig(sig=_noncanonical_tail(b.s)),
    # base64 and structure
    "sig-padding-one": lambda b: b.keep_sig(sig=b.s + "="),
    "sig-padding-two": lambda b: b.keep_sig(sig=b.s + "=="),
    "payload-padding": lambda b: f"{b.h}.{b.p}=.{b.s}",
    "header-padding": lambda b: f"{b.h}=.{b.p}.{b.s}",
    "standard-base64-alphabet": _std_alphabet,
    "star-in-sig": lambda b: b.keep_sig(sig=b.s[:10] + "*" + b.s[10:]),
    "bang-in-payload": lambda b: f"{b.h}.{b.p[:10]}!{b.p[10:]}.{b.s}",
    "percent-encoded-dot": lambda b: f"{b.h}%2E{b.p}.{b.s}",
    "four-parts": lambda b: b.token + ".AAAA",
    "four-parts-trailing-dot": lambda b: b.token + ".",
    "jwe-shaped-five-parts": lambda b: ".".join([b64u_json({"alg": "dir", "enc": "A256GCM", "kid": b.kid}), "",
                                                 b64u(b"0123456789ab"), b.p, b.s[:22]]),
    "five-parts-original": lambda b: f"{b.h}..{b.p}.{b.s}.",
    "two-parts": lambda b: f"{b.h}.{b.p}",
    "leading-dot": lambda b: "." + b.token,
    "empty-header": lambda b: f".{b.p}.{b.s}",
    "space-after-dot": lambda b: f"{b.h}. {b.p}.{b.s}",
    "tab-in-sig": lambda b: b.keep_sig(sig=b.s[:20] + "\t" + b.s[20:]),
    "space-in-payload": lambda b: f"{b.h}.{b.p[:15]} {b.p[15:]}.{b.s}",
}

CAT_FOREIGN = {
    "attacker-rs256-own-kid-our-iss": lambda b: jws({"alg": "RS256", "typ": "JWT", "kid": "attacker-rsa"},
                                                    b.claims(iss=b.issuer), rs_signer(ATT_RSA)),
    "attacker-rs256-realm-rsa-kid": lambda b: jws({"alg": "RS256", "typ": "JWT", "kid": b.kid_of("RSA")},
                                                  b.claims(iss=b.issuer), rs_signer(ATT_RSA)),
    "attacker-es256-realm-ec-kid": lambda b: jws({"alg": "ES256", "typ": "JWT", "kid": b.kid_of("EC")},
                                                 b.claims(iss=b.issuer), es_signer(ATT_EC)),
    "attacker-eddsa-realm-okp-kid": lambda b: jws({"alg": "EdDSA", "typ": "JWT", "kid": b.kid_of("OKP")},
                                                  b.claims(iss=b.issuer), ed_signer(ATT_ED)),
    "attacker-iss-unknown-realm": lambda b: jws({"alg": "RS256", "typ": "JWT", "kid": "attacker-rsa"},
                                                b.claims(iss=b.issuer.rsplit("/", 1)[0] + "/attacker"), rs_signer(ATT_RSA)),
    "iss-path-traversal": lambda b: b.keep_sig(payload=b.claims(iss=b.other_issuer + "/../" + b.issuer.rsplit("/", 1)[1])),
    "other-realm-genuine": lambda b: b.foreign["other"],
    "second-realm-genuine": lambda b: b.foreign["second"],
    "other-realm-iss-rewritten": lambda b: relabel_payload(b.foreign["other"], iss=b.issuer),
    "other-realm-kid-rewritten": lambda b: relabel(b.foreign["other"], kid=b.kid),
}


def relabel_payload(token, **changes):
    h, p, s = token.split(".")
    c = decode_jwt(token)
    c.update(changes)
    return f"{h}.{b64u_json(c)}.{s}"


# ---------------------------------------------------------------------------------------------
# the endpoints that take a token

SINKS = {  # name -> (token kind, realm)
    "userinfo-get": ("access", "demo"),
    "userinfo-post": ("access", "demo"),
    "introspect": ("access", "demo"),
    "revoke-access": ("access", "demo"),
    "gateway": ("access", "demo"),
    "admin": ("access", "master"),
    "refresh": ("refresh", "demo"),
    "introspect-refresh": ("refresh", "demo"),
    "revoke-refresh": ("refresh", "demo"),
    "logout-refresh": ("refresh", "demo"),
    "end-session": ("id", "demo"),
}
# Endpoints whose forged-token request could hurt the victim's login: after each attack the
# victim's genuine tokens must still work.
CHECK_VICTIM_AFTER = {"revoke-access", "revoke-refresh", "logout-refresh", "end-session", "refresh"}


class Victim:
    """alice's login at one client; her genuine tokens, kept current across refreshes."""

    def __init__(self, idp, client="spa", auth=None, scope="openid"):
        self.idp, self.client, self.auth, self.scope = idp, client, auth, scope
        self.login()

    def login(self):
        t = self.idp.password_login(client_id=self.client, auth=self.auth, scope=self.scope)
        self.access, self.refresh, self.id = t["access_token"], t["refresh_token"], t.get("id_token")

    def try_refresh(self):
        form = {"grant_type": "refresh_token", "refresh_token": self.refresh}
        if self.auth is None:
            form["client_id"] = self.client
        r = requests.post(self.idp.oidc() + "/token", data=form, auth=self.auth, timeout=TIMEOUT)
        if r.status_code == 200:
            t = r.json()
            self.access, self.refresh, self.id = t["access_token"], t["refresh_token"], t.get("id_token", self.id)
        return r

    def userinfo(self):
        return requests.get(self.idp.oidc() + "/userinfo", headers={"Authorization": f"Bearer {self.access}"},
                            timeout=TIMEOUT)

    def assert_alive(self, what):
        """The genuine access token still reads userinfo and the genuine refresh token still
        refreshes; on failure the victim logs in again so that later cases start clean."""
        u = self.userinfo()
        r = self.try_refresh()
        if u.status_code != 200 or r.status_code != 200:
            self.login()
            pytest.fail(f"VICTIM HURT after {what}: userinfo {u.status_code} {u.text[:200]}; "
                        f"refresh {r.status_code} {r.text[:300]}")


@dataclass
class Env:
    idp: Server
    gateway: Gateway
    upstream: CountingServer
    attacker: CountingServer
    victim: Victim
    web: Victim
    admin: dict
    bases: dict = field(default_factory=dict)   # (kind, realm, client) -> Base kwargs minus token
    wrong: dict = field(default_factory=dict)   # name -> token

    def base(self, sink):
        kind, realm = SINKS[sink]
        if sink == "introspect-refresh":
            token = self.web.refresh
        elif realm == "master":
            token = self.admin["access_token"]
        else:
            token = {"access": self.victim.access, "refresh": self.victim.refresh, "id": self.victim.id}[kind]
        return Base(token=token, **self.bases[(kind, realm)])


def send(env, sink, token):
    o = env.idp.oidc()
    bearer = {"Authorization": f"Bearer {token}"}
    if sink == "userinfo-get":
        return requests.get(o + "/userinfo", headers=bearer, timeout=TIMEOUT)
    if sink == "userinfo-post":
        return requests.post(o + "/userinfo", data={"access_token": token}, timeout=TIMEOUT)
    if sink in ("introspect", "introspect-refresh"):
        return requests.post(o + "/token/introspect", data={"token": token}, auth=("web", "web-secret"), timeout=TIMEOUT)
    if sink in ("revoke-access", "revoke-refresh"):
        return requests.post(o + "/revoke", data={"token": token, "client_id": "spa"}, timeout=TIMEOUT)
    if sink == "refresh":
        return requests.post(o + "/token", data={"grant_type": "refresh_token", "client_id": "spa",
                                                 "refresh_token": token}, timeout=TIMEOUT)
    if sink == "logout-refresh":
        return requests.post(o + "/logout", data={"client_id": "spa", "refresh_token": token}, timeout=TIMEOUT)
    if sink == "end-session":
        return requests.get(o + "/logout", params={"id_token_hint": token}, allow_redirects=False, timeout=TIMEOUT)
    if sink == "admin":
        return requests.get(env.idp.base + "/admin/realms", headers=bearer, timeout=TIMEOUT)
    if sink == "gateway":
        return requests.get(env.gateway.base + "/api/attack", headers=bearer, timeout=TIMEOUT)
    raise AssertionError(sink)


def assert_refused(sink, r, detail):
    """The endpoint's refusal of a forged token."""
    status = r.status_code
    assert status < 500, f"5xx: {detail}"
    if sink in ("introspect", "introspect-refresh"):
        assert status == 200 and r.json() == {"active": False}, f"ACCEPTED: {detail}"
    elif sink in ("revoke-access", "revoke-refresh"):
        assert status in (200, 400, 401), detail  # RFC 7009 §2.2: 200 for an invalid token
    elif sink in ("userinfo-get", "userinfo-post"):
        assert status in (400, 401) and '"sub"' not in r.text, f"ACCEPTED: {detail}"
    elif sink in ("refresh", "logout-refresh"):
        assert status in (400, 401) and "access_token" not in r.text, f"ACCEPTED: {detail}"
    elif sink == "end-session":
        assert status in (400, 414) and "signed out" not in r.text and "Location" not in r.headers, f"ACCEPTED: {detail}"
    elif sink == "admin":
        assert status in (401, 403), f"ACCEPTED: {detail}"
    elif sink == "gateway":
        assert status == 401, f"ACCEPTED: {detail}"
    else:
        raise AssertionError(sink)


def attempt(env, category, sink, name, token):
    """Sends one forged token to one endpoint and checks everything the suite promises."""
    proxied, fetched = len(env.upstream.hits), len(env.attacker.hits)
    COUNTS[category] += 1
    SINK_COUNTS[sink] += 1
    try:
        r = send(env, sink, token)
    except requests.Timeout:
        pytest.fail(f"HANG: {sink} {category}/{name} did not answer in {TIMEOUT} s; token={token[:300]}")
    detail = f"{sink} {category}/{name}: HTTP {r.status_code} {r.text[:300]!r} token={token[:400]}"
    assert_refused(sink, r, detail)
    assert len(env.upstream.hits) == proxied, f"PROXIED to the upstream: {detail}"
    assert len(env.attacker.hits) == fetched, f"FETCHED attacker URL {env.attacker.hits[fetched:]}: {detail}"
    if sink in CHECK_VICTIM_AFTER:
        env.victim.assert_alive(f"{sink} {category}/{name}")


def run_attack(env, category, sink, name, attacks):
    base = env.base(sink)
    token = attacks[name](base)
    if token is None:
        pytest.skip("not applicable to this token")
    assert token != base.token, "test bug: the attack left the genuine token unchanged"
    attempt(env, category, sink, name, token)


# ---------------------------------------------------------------------------------------------
# fixtures: one IdP (realm demo + two clients that sign with ES256 / EdDSA, bootstrap admin), a
# second realm made through the admin API, the attacker's key host, a gateway and its upstream

def _client(client_id, alg):
    return {"clientId": client_id, "publicClient": True, "directAccessGrantsEnabled": True,
            "redirectUris": ["http://localhost:3000/*"],
            "attributes": {"access.token.signed.response.alg": alg, "id.token.signed.response.alg": alg}}


OTHER_REALM = {"realm": "other", "enabled": True,
               "clients": [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True}],
               "users": [{"username": "alice", "enabled": True,
                          "credentials": [{"type": "password", "value": "alice-password"}]}]}


@pytest.fixture(scope="module", autouse=True)
def counts():
    COUNTS.clear()
    SINK_COUNTS.clear()
    started = time.time()
    yield
    report = {"by_category": dict(COUNTS), "by_endpoint": dict(SINK_COUNTS), "total": sum(COUNTS.values()),
              "seconds": round(time.time() - started, 1)}
    with open(COUNTS_FILE, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nJWT attack requests: {json.dumps(report)}")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jwt-attacks")
    realm = json.loads((FIXTURES / "demo-realm.json").read_text())
    realm["clients"] += [_client("spa-es", "ES256"), _client("spa-ed", "EdDSA")]
    idp = Server(tmp, import_realm=write_realm(tmp, realm), env=ADMIN_ENV).start()
    attacker = CountingServer().start()
    upstream = CountingServer().start()
    gateway = None
    try:
        # master: the admin's tokens, a sibling login, and ES256 / EdDSA admin tokens
        admin = idp.password_login(client_id="admin-cli", username="admin", password="admin-password",
                                   realm="master", scope="openid")
        admin2 = idp.password_login(client_id="admin-cli", username="admin", password="admin-password", realm="master")
        h = {"Authorization": f"Bearer {admin['access_token']}"}
        r = requests.post(idp.base + "/admin/realms", json=OTHER_REALM, headers=h, timeout=TIMEOUT)
        assert r.status_code == 201, r.text
        for cid, alg in (("es-cli", "ES256"), ("ed-cli", "EdDSA")):
            r = requests.post(idp.base + "/admin/realms/master/clients", json=_client(cid, alg), headers=h, timeout=TIMEOUT)
            assert r.status_code == 201, r.text
        admin_alt = {alg: idp.password_login(client_id=cid, username="admin", password="admin-password",
                                             realm="master")["access_token"]
                     for cid, alg in (("es-cli", "ES256"), ("ed-cli", "EdDSA"))}
        # demo: the victims, another user, ES256 / EdDSA logins, an offline token
        victim = Victim(idp)
        web = Victim(idp, client="web", auth=("web", "web-secret"))
        john = idp.password_login(username="john", password="doe", scope="openid")
        es = idp.password_login(client_id="spa-es", scope="openid")
        ed = idp.password_login(client_id="spa-ed", scope="openid")
        offline = idp.password_login(scope="openid offline_access")["refresh_token"]
        assert decode_jwt(offline)["typ"] == "Offline"
        other = idp.password_login(realm="other", scope="openid")

        jwks = {name: requests.get(idp.oidc(name) + "/certs", timeout=TIMEOUT).json() for name in ("demo", "master")}
        # The attacker's JWKS claims the realm's kids for the attacker's keys.
        fake = [ATT_RSA_JWK, ATT_EC_JWK, ATT_ED_JWK] + [jwk_of(ATT_RSA.public_key(), k["kid"])
                                                       for j in jwks.values() for k in j["keys"] if k["kty"] == "RSA"]
        attacker.routes.update({
            "/jwks.json": ("application/json", json.dumps({"keys": fake}).encode()),
            "/cert.pem": ("application/x-pem-file", ATT_RSA_CERT.public_bytes(serialization.Encoding.PEM)),
        })
        demo_ctx = dict(issuer=idp.realm("demo"), other_issuer=idp.realm("master"), jwks=jwks["demo"],
                        refresh_kid=header_jwt(victim.refresh)["kid"], other_sub=decode_jwt(john["access_token"])["sub"],
                        attacker_url=attacker.url)
        master_ctx = dict(issuer=idp.realm("master"), other_issuer=idp.realm("demo"), jwks=jwks["master"],
                          refresh_kid=header_jwt(admin["refresh_token"])["kid"],
                          other_sub=decode_jwt(other["access_token"])["sub"], attacker_url=attacker.url)
        access_alts = {"ES256": es["access_token"], "EdDSA": ed["access_token"]}
        bases = {
            ("access", "demo"): dict(demo_ctx, alts=access_alts, sibling=john["access_token"],
                                     foreign={"other": other["access_token"], "second": admin["access_token"]}),
            ("refresh", "demo"): dict(demo_ctx, alts=access_alts, sibling=john["refresh_token"],
                                      foreign={"other": other["refresh_token"], "second": admin["refresh_token"]}),
            ("id", "demo"): dict(demo_ctx, alts={"ES256": es["id_token"], "EdDSA": ed["id_token"]},
                                 sibling=john["id_token"], foreign={"other": other["id_token"], "second": admin["id_token"]}),
            ("access", "master"): dict(master_ctx, alts=admin_alt, sibling=admin2["access_token"],
                                       foreign={"other": other["access_token"], "second": victim.access}),
        }
        wrong = {"offline": offline, "master-refresh": admin["refresh_token"], "master-id": admin["id_token"]}

        gateway = Gateway(tmp, {
            "_format_version": "3.0",
            "services": [{"name": "protected", "url": upstream.url,
                          "routes": [{"name": "api", "paths": ["/api"]}],
                          "plugins": [{"name": "openid-connect", "config": {
                              "issuer": idp.realm("demo"), "client_id": ["gateway"],
                              "client_secret": ["gateway-secret"], "auth_methods": ["bearer"]}}]}],
        }).start()
        yield Env(idp=idp, gateway=gateway, upstream=upstream, attacker=attacker, victim=victim, web=web,
                  admin=admin, bases=bases, wrong=wrong)
    finally:
        if gateway:
            gateway.stop()
        upstream.stop()
        attacker.stop()
        idp.stop()


# ---------------------------------------------------------------------------------------------
# controls: each endpoint accepts the genuine token (so that its refusals below mean something)

def _throwaway(env):
    return env.idp.password_login(scope="openid")


def genuine_accepted(env, sink):
    o = env.idp.oidc()
    if sink in ("userinfo-get", "userinfo-post"):
        r = send(env, sink, env.victim.access)
        assert r.status_code == 200 and r.json()["preferred_username"] == "alice", r.text
    elif sink == "introspect":
        assert send(env, sink, env.victim.access).json()["active"] is True
    elif sink == "introspect-refresh":
        assert send(env, sink, env.web.refresh).json()["active"] is True
    elif sink == "gateway":
        before = len(env.upstream.hits)
        r = send(env, sink, env.victim.access)
        assert r.status_code == 200 and r.json()["proxied"] is True, r.text
        assert len(env.upstream.hits) == before + 1
    elif sink == "admin":
        r = send(env, sink, env.admin["access_token"])
        assert r.status_code == 200 and any(x["realm"] == "demo" for x in r.json()), r.text
    elif sink == "refresh":
        assert env.victim.try_refresh().status_code == 200
    elif sink == "revoke-access":
        t = _throwaway(env)
        assert send(env, sink, t["access_token"]).status_code == 200
        r = requests.get(o + "/userinfo", headers={"Authorization": f"Bearer {t['access_token']}"}, timeout=TIMEOUT)
        assert r.status_code == 401, r.text
    elif sink in ("revoke-refresh", "logout-refresh", "end-session"):
        t = _throwaway(env)
        token = t["id_token"] if sink == "end-session" else t["refresh_token"]
        r = send(env, sink, token)
        assert r.status_code in (200, 204), r.text
        r = requests.post(o + "/token", data={"grant_type": "refresh_token", "client_id": "spa",
                                              "refresh_token": t["refresh_token"]}, timeout=TIMEOUT)
        assert r.status_code == 400, r.text
    else:
        raise AssertionError(sink)


def test_control_attacker_host_counts_fetches(env):
    """The attacker's host answers and counts, so that its zero hits below mean something."""
    r = requests.get(env.attacker.url + "/jwks.json", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["keys"] and len(env.attacker.hits) == 1
    env.attacker.hits.clear()


@pytest.mark.parametrize("sink", SINKS)
def test_control_genuine_token_is_accepted(env, sink):
    genuine_accepted(env, sink)


# ---------------------------------------------------------------------------------------------
# the attacks, one test per category, over every endpoint

@pytest.mark.parametrize("attack", CAT_NONE)
@pytest.mark.parametrize("sink", SINKS)
def test_alg_none(env, sink, attack):
    run_attack(env, "1-alg-none", sink, attack, CAT_NONE)


@pytest.mark.parametrize("attack", CAT_HMAC)
@pytest.mark.parametrize("sink", SINKS)
def test_hmac_keyed_with_public_key(env, sink, attack):
    run_attack(env, "2-hmac-public-key", sink, attack, CAT_HMAC)


@pytest.mark.parametrize("attack", CAT_SWITCH)
@pytest.mark.parametrize("sink", SINKS)
def test_algorithm_switch(env, sink, attack):
    run_attack(env, "3-alg-switch", sink, attack, CAT_SWITCH)


@pytest.mark.parametrize("attack", CAT_KID)
@pytest.mark.parametrize("sink", SINKS)
def test_kid_attacks(env, sink, attack):
    run_attack(env, "4-kid", sink, attack, CAT_KID)


@pytest.mark.parametrize("attack", CAT_EMBEDDED)
@pytest.mark.parametrize("sink", SINKS)
def test_embedded_keys(env, sink, attack):
    run_attack(env, "5-embedded-keys", sink, attack, CAT_EMBEDDED)


@pytest.mark.parametrize("attack", CAT_TAMPER)
@pytest.mark.parametrize("sink", SINKS)
def test_tampered(env, sink, attack):
    run_attack(env, "6-tampered", sink, attack, CAT_TAMPER)


@pytest.mark.parametrize("attack", CAT_FOREIGN)
@pytest.mark.parametrize("sink", SINKS)
def test_foreign_issuer(env, sink, attack):
    run_attack(env, "7-foreign-issuer", sink, attack, CAT_FOREIGN)


WRONG_TYPES = [  # (endpoint, which genuine token of the wrong type)
    ("userinfo-get", "refresh"), ("userinfo-get", "id"), ("userinfo-get", "offline"),
    ("userinfo-post", "refresh"), ("userinfo-post", "id"), ("userinfo-post", "offline"),
    ("gateway", "refresh"), ("gateway", "id"), ("gateway", "offline"),
    ("introspect", "id"),
    ("admin", "master-refresh"), ("admin", "master-id"),
    ("refresh", "access"), ("refresh", "id"),
    ("revoke-refresh", "id"), ("revoke-access", "id"),
    ("logout-refresh", "access"), ("logout-refresh", "id"),
    ("end-session", "access"), ("end-session", "refresh"), ("end-session", "offline"),
]


@pytest.mark.parametrize("sink,kind", WRONG_TYPES)
def test_wrong_token_type(env, sink, kind):
    token = {"access": env.victim.access, "refresh": env.victim.refresh, "id": env.victim.id}.get(kind) or env.wrong[kind]
    attempt(env, "8-wrong-type", sink, kind, token)


# ---------------------------------------------------------------------------------------------
# afterwards: nothing fetched, nothing proxied that should not have been, genuine tokens work

def test_nothing_fetched_from_the_attacker(env):
    assert env.attacker.hits == [], env.attacker.hits


@pytest.mark.parametrize("sink", ["userinfo-get", "userinfo-post", "introspect", "introspect-refresh",
                                  "gateway", "admin", "refresh"])
def test_genuine_token_still_works_after_the_attacks(env, sink):
    genuine_accepted(env, sink)
