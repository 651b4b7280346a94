"""Bad input gets a 4xx RFC 6749 JSON error: never a 5xx, never a hang, always `no-store`.

Most tests use the shared `server` and change no global state; the ones that need expired tokens
or a hammering fuzz loop start a server of their own.
"""
import base64
import http.client
import json
import random
import socket
import string
import time
from urllib.parse import quote

import pytest
import requests

from conftest import decode_jwt, header_jwt, write_realm

TIMEOUT = 10
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
LIMIT = 1024 * 1024  # the default body limit (CONTRACT)
# RFC 6749 §5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E only.
ERROR_CHARS = set(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


def check_error(r, status, error=None):
    """`r` is an RFC 6749 error: the status, a JSON object with `error`, and `no-store`."""
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = json.loads(r.content)
    assert isinstance(body, dict), body
    assert isinstance(body.get("error"), str) and body["error"], body
    if error is not None:
        assert body["error"] == error, body
    desc = body.get("error_description")
    if desc is not None:
        assert isinstance(desc, str)
        assert set(desc) <= ERROR_CHARS, f"error_description has characters RFC 6749 §5.2 forbids: {desc!r}"
    assert "no-store" in r.headers.get("Cache-Control", ""), r.headers
    return body


def token_url(server, realm="demo"):
    return server.oidc(realm) + "/token"


def post_raw(server, body, headers=None, realm="demo", url=None, **kw):
    h = dict(FORM)
    h.update(headers or {})
    return requests.post(url or token_url(server, realm), data=body, headers=h, timeout=TIMEOUT, **kw)


def basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


def b64url(obj) -> str:
    raw = json.dumps(obj, separators=(",", ":")).encode() if not isinstance(obj, bytes) else obj
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def tamper(token, part):
    """One base64url character in the middle of `part` changed (always changes the bytes)."""
    parts = token.split(".")
    seg = parts[part]
    i = len(seg) // 2
    parts[part] = seg[:i] + ("A" if seg[i] != "A" else "B") + seg[i + 1:]
    return ".".join(parts)


def raw_http(server, request: bytes, timeout=TIMEOUT):
    """Sends raw bytes, half-closes, and parses the one response (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as s:
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


@pytest.fixture(scope="module")
def alice(server):
    """A fresh login of alice with the public client spa (a session on the shared server)."""
    return server.password_login(client_id="spa", scope="openid")


# --- malformed form bodies -------------------------------------------------------------------

# A body the parser may read leniently (WHATWG: a bad escape stays literal, bad UTF-8 becomes
# U+FFFD) or refuse outright; either way it is a 4xx JSON error. Each case lists the answer of the
# lenient reading, and STRICT, the answer of a parser that refuses the body.
STRICT = (400, "invalid_request")


@pytest.mark.parametrize(
    "body,expected",
    [
        pytest.param(b"\x00\x01\x02\xff\xfe\xfd garbage \x80\x81", [STRICT], id="garbage-bytes"),
        pytest.param(b"&&&===&=&%%%", [STRICT], id="only-separators"),
        pytest.param(b"=password", [STRICT], id="empty-name"),
        pytest.param(b"grant_type", [STRICT], id="name-without-value"),
        pytest.param(b"grant_type=%zz", [(400, "unsupported_grant_type"), STRICT], id="bad-percent-in-value"),
        pytest.param(b"grant_type=password%", [(400, "unsupported_grant_type"), STRICT], id="truncated-percent"),
        pytest.param(b"grant%zztype=password&client_id=spa", [STRICT], id="bad-percent-in-name"),
        pytest.param(b"grant_type=password&client_id=sp%a&username=alice&password=x",
                     [(401, "invalid_client"), STRICT], id="bad-percent-in-client-id"),
        pytest.param(b"grant_type=pass\xffword&client_id=spa", [(400, "unsupported_grant_type"), STRICT],
                     id="non-utf8-grant"),
        pytest.param(b"grant_type=%FF%FE&client_id=spa", [(400, "unsupported_grant_type"), STRICT],
                     id="non-utf8-escaped-grant"),
        pytest.param(b"grant_type=password&client_id=\xc3\x28&username=alice&password=x",
                     [(401, "invalid_client"), STRICT], id="non-utf8-client-id"),
        pytest.param(b"grant_type=password&client_id=spa&username=al\xffice&password=x",
                     [(401, "invalid_grant"), STRICT], id="non-utf8-username"),
        pytest.param(b"grant_type=password&client_id=spa&username=%ED%A0%80&password=%C0%AF",
                     [(401, "invalid_grant"), STRICT], id="surrogate-and-overlong-utf8"),
        pytest.param(b"grant_type=password\x00&client_id=spa", [(400, "unsupported_grant_type"), STRICT],
                     id="nul-in-value"),
        pytest.param(("grant_type=" + "x" * 100_000).encode(), [(400, "unsupported_grant_type")], id="huge-value"),
        pytest.param(b"&".join(b"p%d=v" % i for i in range(20_000)), [STRICT], id="many-params"),
    ],
)
def test_malformed_form_bodies(server, body, expected):
    r = post_raw(server, body)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    got = (r.status_code, check_error(r, r.status_code)["error"])
    assert got in expected, (got, r.text[:300])


def test_truncated_body_is_a_4xx(server):
    # Content-Length promises more than arrives before the client half-closes.
    req = (b"POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
           b"grant_type=password")
    status, headers, body = raw_http(server, req)
    assert 400 <= status < 500, (status, body)
    assert "error" in json.loads(body)
    assert "no-store" in headers.get("cache-control", "")


@pytest.mark.parametrize(
    "framing",
    [
        pytest.param(b"Content-Length: 100\r\n\r\ngrant_type=password", id="truncated-content-length"),
        pytest.param(b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", id="bad-chunk-size"),
        pytest.param(b"Transfer-Encoding: chunked\r\n\r\n13\r\ngrant_type=password\r\n", id="chunked-no-last-chunk"),
    ],
)
def test_broken_body_framing_is_400_not_413(server, framing):
    req = (b"POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n" + framing)
    status, headers, body = raw_http(server, req)
    assert status == 400, (status, body)
    assert json.loads(body)["error"] == "invalid_request"
    assert "no-store" in headers.get("cache-control", "")


def test_unparseable_content_length_is_a_400_without_a_hang(server):
    # Rejected by the HTTP layer before routing: a bare 400 (no JSON is possible there).
    req = (b"POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: abc\r\n\r\n"
           b"grant_type=password")
    status, _, _ = raw_http(server, req)
    assert status == 400


# --- body size -------------------------------------------------------------------------------

def test_body_at_the_limit_is_read(server):
    body = b"a=" + b"x" * (LIMIT - 2)
    assert len(body) == LIMIT
    check_error(post_raw(server, body), 400, "invalid_request")  # read, then: no grant_type


def test_oversized_body_with_content_length_is_413(server):
    body = b"grant_type=password&a=" + b"x" * LIMIT
    r = post_raw(server, body)
    assert r.request.headers["Content-Length"] == str(len(body))
    check_error(r, 413)


def test_body_one_byte_over_the_limit_is_413(server):
    check_error(post_raw(server, b"a=" + b"x" * (LIMIT - 1)), 413)


def test_announced_oversized_body_is_refused_before_it_is_sent(server):
    # Only the headers: the server must answer from Content-Length alone, without waiting.
    req = (b"POST /realms/demo/protocol/openid-connect/token HTTP/1.1\r\nHost: x\r\n"
           b"Content-Type: application/x-www-form-urlencoded\r\n"
           b"Content-Length: " + str(50 * LIMIT).encode() + b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
        s.sendall(req)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        assert resp.status == 413
        assert "no-store" in (resp.getheader("Cache-Control") or "")
        assert "error" in json.loads(resp.read())


def chunks(total, size=64 * 1024):
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield b"x" * n
        sent += n


def test_oversized_chunked_body_is_413(server):
    def body():
        yield b"grant_type=password&a="
        yield from chunks(2 * LIMIT)

    r = post_raw(server, body())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in r.request.headers
    check_error(r, 413)


def test_chunked_body_at_the_limit_is_read(server):
    def body():
        yield b"a="
        yield from chunks(LIMIT - 2)

    r = post_raw(server, body())
    assert r.request.headers.get("Transfer-Encoding") == "chunked"
    check_error(r, 400, "invalid_request")


def test_chunked_body_one_byte_over_the_limit_is_413(server):
    def body():
        yield b"a="
        yield from chunks(LIMIT - 1)

    check_error(post_raw(server, body()), 413)


# --- duplicated and missing parameters -------------------------------------------------------

@pytest.mark.parametrize(
    "body",
    [
        pytest.param("grant_type=password&grant_type=password&client_id=spa&username=alice&password=alice-password",
                     id="grant_type-twice-same"),
        pytest.param("grant_type=password&grant_type=client_credentials&client_id=spa&username=alice&password=x",
                     id="grant_type-twice-different"),
        pytest.param("grant_type=password&grant_type=&client_id=spa&username=alice&password=alice-password",
                     id="grant_type-twice-one-empty"),
        pytest.param("grant_type=password&client_id=spa&client_id=spa&username=alice&password=alice-password",
                     id="client_id-twice-same"),
        pytest.param("grant_type=password&client_id=spa&client_id=web&username=alice&password=alice-password",
                     id="client_id-twice-different"),
        pytest.param("grant_type=password&client_id=spa&username=alice&username=bob&password=alice-password",
                     id="username-twice"),
        pytest.param("grant_type=refresh_token&client_id=spa&refresh_token=a&refresh_token=b",
                     id="refresh_token-twice"),
        pytest.param("grant_type=client_credentials&client_id=svc&client_secret=svc-secret&client_secret=svc-secret",
                     id="client_secret-twice"),
    ],
)
def test_duplicated_parameters(server, body):
    check_error(post_raw(server, body), 400, "invalid_request")


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"client_id": "spa", "username": "alice", "password": "alice-password"}, id="no-grant_type"),
        pytest.param({"grant_type": "", "client_id": "spa"}, id="empty-grant_type"),
        pytest.param({"grant_type": "password", "client_id": "spa", "password": "alice-password"}, id="no-username"),
        pytest.param({"grant_type": "password", "client_id": "spa", "username": "alice"}, id="no-password"),
        pytest.param({"grant_type": "password", "client_id": "spa"}, id="no-username-no-password"),
        pytest.param({"grant_type": "password", "client_id": "spa", "username": "", "password": "x"}, id="empty-username"),
        pytest.param({"grant_type": "refresh_token", "client_id": "spa"}, id="no-refresh_token"),
        pytest.param({"grant_type": "refresh_token", "client_id": "spa", "refresh_token": ""}, id="empty-refresh_token"),
    ],
)
def test_missing_parameters(server, form):
    check_error(requests.post(token_url(server), data=form, timeout=TIMEOUT), 400, "invalid_request")


def test_no_client_at_all_is_invalid_client(server):
    r = requests.post(token_url(server), data={"grant_type": "password", "username": "alice", "password": "x"},
                      timeout=TIMEOUT)
    check_error(r, 400, "invalid_client")


@pytest.mark.parametrize("grant", ["magic", "PASSWORD", "password ", "urn:ietf:params:oauth:grant-type:nope",
                                   "implicit", "é"])
def test_unknown_grant_type(server, grant):
    r = requests.post(token_url(server), data={"grant_type": grant, "client_id": "spa"}, timeout=TIMEOUT)
    check_error(r, 400, "unsupported_grant_type")


# --- methods and content types ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_on_token_is_405_json(server, method):
    r = requests.request(method, token_url(server), data={"grant_type": "password"}, timeout=TIMEOUT)
    check_error(r, 405)
    assert "POST" in r.headers.get("Allow", "")


@pytest.mark.parametrize("method,path", [("PUT", "userinfo"), ("DELETE", "userinfo"), ("POST", "certs")])
def test_wrong_method_on_other_endpoints_is_405_json(server, method, path):
    check_error(requests.request(method, server.oidc("demo") + "/" + path, timeout=TIMEOUT), 405)


LOGIN = "grant_type=password&client_id=spa&username=alice&password=alice-password"


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"json": {"grant_type": "password", "client_id": "spa", "username": "alice",
                               "password": "alice-password"}}, id="application-json"),
        pytest.param({"data": LOGIN, "headers": {"Content-Type": "text/plain"}}, id="text-plain"),
        pytest.param({"data": LOGIN.encode()}, id="no-content-type"),
        pytest.param({"files": {"grant_type": (None, "password"), "client_id": (None, "spa"),
                                "username": (None, "alice"), "password": (None, "alice-password")}}, id="multipart"),
        pytest.param({"data": LOGIN, "headers": {"Content-Type": "application/x-www-form-urlencodedX"}},
                     id="form-prefix-lookalike"),
        pytest.param({"data": LOGIN, "headers": {"Content-Type": "application/xml"}}, id="application-xml"),
    ],
)
def test_wrong_content_type(server, kwargs):
    r = requests.post(token_url(server), timeout=TIMEOUT, **kwargs)
    check_error(r, 400, "invalid_request")


def test_form_content_type_with_charset_is_accepted(server):
    # The positive control for the content-type check: parameters are allowed.
    r = requests.post(token_url(server), data=LOGIN,
                      headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text


# --- client authentication -------------------------------------------------------------------

@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param(basic(b"web"), id="no-colon"),
        pytest.param(basic(b":web-secret"), id="empty-id"),
        pytest.param(basic(b":"), id="only-colon"),
        pytest.param(basic(b"w\xe9b:web-secret"), id="decodes-to-non-utf8"),
        pytest.param(basic("wéb:web-secret".encode()), id="non-ascii-unknown-client"),
        pytest.param(basic(b"nobody:secret"), id="unknown-client"),
        pytest.param(basic(b"web:wrong-secret"), id="wrong-secret"),
        pytest.param(basic(b"web:"), id="empty-secret"),
    ],
)
def test_broken_basic_header_is_401_invalid_client(server, authorization):
    r = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                      headers={"Authorization": authorization}, timeout=TIMEOUT)
    check_error(r, 401, "invalid_client")
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), r.headers


def test_basic_header_with_raw_non_ascii_bytes_is_401_invalid_client(server):
    r = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                      headers={"Authorization": b"Basic \xff\xfe\xe9t\xe9"}, timeout=TIMEOUT)
    check_error(r, 401, "invalid_client")
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), r.headers


def test_basic_header_with_raw_non_ascii_bytes_is_a_4xx(server):
    r = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                      headers={"Authorization": b"Basic \xff\xfe\xe9t\xe9"}, timeout=TIMEOUT)
    assert 400 <= r.status_code < 500
    check_error(r, r.status_code)


def test_basic_header_without_credentials_is_401_invalid_client(server):
    r = requests.post(token_url(server), data={"grant_type": "client_credentials"},
                      headers={"Authorization": "Basic"}, timeout=TIMEOUT)
    check_error(r, 401, "invalid_client")
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("basic"), r.headers


def test_basic_and_client_secret_in_body_is_invalid_request(server):
    r = requests.post(token_url(server), auth=("svc", "svc-secret"),
                      data={"grant_type": "client_credentials", "client_secret": "svc-secret"}, timeout=TIMEOUT)
    check_error(r, 400, "invalid_request")


@pytest.mark.parametrize(
    "query,kwargs",
    [
        pytest.param("client_secret=svc-secret", {"data": {"grant_type": "client_credentials", "client_id": "svc"}},
                     id="secret-only-in-query"),
        pytest.param("client_id=svc&client_secret=svc-secret", {"data": {"grant_type": "client_credentials"}},
                     id="id-and-secret-in-query"),
        pytest.param("client_secret=svc-secret",
                     {"data": {"grant_type": "client_credentials"}, "auth": ("svc", "svc-secret")},
                     id="secret-in-query-with-basic"),
        pytest.param("client_secret=svc-secret",
                     {"data": {"grant_type": "client_credentials", "client_id": "svc", "client_secret": "svc-secret"}},
                     id="secret-in-query-and-body"),
    ],
)
def test_client_secret_in_the_query_string_is_refused(server, query, kwargs):
    r = requests.post(token_url(server) + "?" + query, timeout=TIMEOUT, **kwargs)
    check_error(r, 400, "invalid_request")


def test_the_same_requests_without_the_query_succeed(server):
    # Control for the test above: the credentials are right, only their place is wrong.
    r = requests.post(token_url(server), data={"grant_type": "client_credentials", "client_id": "svc",
                                                "client_secret": "svc-secret"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text


# --- garbage refresh tokens ------------------------------------------------------------------

def refresh(server, rt, client_id="spa", auth=None, realm="demo"):
    form = {"grant_type": "refresh_token", "refresh_token": rt}
    if auth is None:
        form["client_id"] = client_id
    return requests.post(token_url(server, realm), data=form, auth=auth, timeout=TIMEOUT)


def forged_refresh_tokens(alice):
    rt = alice["refresh_token"]
    h, p, _sig = rt.split(".")
    hdr = header_jwt(rt)
    return {
        "abc": "abc",
        "a.b.c": "a.b.c",
        "four-parts": "a.b.c.d",
        "dots": "..",
        "alg-none": b64url({"alg": "none", "typ": "JWT"}) + "." + p + ".",
        "alg-none-with-kid": b64url({"alg": "none", "typ": "JWT", "kid": hdr.get("kid", "")}) + "." + p + ".",
        "alg-none-toy": "eyJhbGciOiJub25lIn0.eyJ0eXAiOiJSZWZyZXNoIn0.",
        "no-signature": f"{h}.{p}.",
        "access-token": alice["access_token"],
        "id-token": alice["id_token"],
        "payload-altered": tamper(rt, 1),
        "signature-altered": tamper(rt, 2),
        "header-altered": tamper(rt, 0),
        "not-json-payload": f"{h}.{b64url(b'not json')}.{_sig}",
        "payload-array": f"{h}.{b64url([1, 2, 3])}.{_sig}",
    }


@pytest.mark.parametrize(
    "name",
    ["abc", "a.b.c", "four-parts", "dots", "alg-none", "alg-none-with-kid", "alg-none-toy", "no-signature",
     "access-token", "id-token", "payload-altered", "signature-altered", "header-altered", "not-json-payload",
     "payload-array"],
)
def test_garbage_refresh_token_is_invalid_grant(server, alice, name):
    rt = forged_refresh_tokens(alice)[name]
    check_error(refresh(server, rt), 400, "invalid_grant")


def test_the_untampered_refresh_token_still_works(server):
    # Control for the forgeries: the real token (of a login of its own) refreshes.
    tok = server.password_login(client_id="spa", scope="openid")
    r = refresh(server, tok["refresh_token"])
    assert r.status_code == 200, r.text


def test_refresh_token_of_another_realm_is_invalid_grant(server):
    master = server.password_login(client_id="admin-cli", username="admin", password="admin-password",
                                   realm="master")
    assert decode_jwt(master["refresh_token"])["iss"] == server.realm("master")
    # admin-cli exists in both realms, so only the realm check can refuse it.
    check_error(refresh(server, master["refresh_token"], client_id="admin-cli"), 400, "invalid_grant")
    check_error(refresh(server, master["refresh_token"], client_id="spa"), 400, "invalid_grant")


def test_refresh_token_of_another_client_is_invalid_grant(server):
    tok = server.password_login(client_id="spa")
    check_error(refresh(server, tok["refresh_token"], auth=("web", "web-secret")), 400, "invalid_grant")


def test_demo_refresh_token_sent_to_master_is_invalid_grant(server):
    tok = server.password_login(client_id="admin-cli")
    check_error(refresh(server, tok["refresh_token"], client_id="admin-cli", realm="master"), 400, "invalid_grant")


# --- unknown realm ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/realms/no-such-realm/protocol/openid-connect/token"),
        ("GET", "/realms/no-such-realm/protocol/openid-connect/userinfo"),
        ("GET", "/realms/no-such-realm/protocol/openid-connect/certs"),
        ("GET", "/realms/no-such-realm/.well-known/openid-configuration"),
        ("POST", "/realms/%00/protocol/openid-connect/token"),
        ("POST", "/realms/%C3%A9%E2%80%AE/protocol/openid-connect/token"),
        ("POST", "/realms/" + "r" * 5000 + "/protocol/openid-connect/token"),
    ],
)
def test_unknown_realm_is_404_json(server, method, path):
    r = requests.request(method, server.base + path, data={"grant_type": "password", "client_id": "spa"},
                         timeout=TIMEOUT)
    check_error(r, 404)


@pytest.mark.parametrize(
    "method,path",
    [
        ("POST", "/realms/%ff/protocol/openid-connect/token"),
        ("GET", "/realms/%C3%28/protocol/openid-connect/userinfo"),
        ("GET", "/realms/%ff/protocol/openid-connect/certs"),
        ("GET", "/realms/%ff/.well-known/openid-configuration"),
    ],
)
def test_non_utf8_realm_is_a_json_error(server, method, path):
    r = requests.request(method, server.base + path, data={"grant_type": "password", "client_id": "spa"},
                         timeout=TIMEOUT)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    check_error(r, r.status_code)


# --- userinfo with bad bearer tokens ---------------------------------------------------------

def userinfo(server, token, realm="demo"):
    return requests.get(server.oidc(realm) + "/userinfo", headers={"Authorization": f"Bearer {token}"},
                        timeout=TIMEOUT)


def check_invalid_token(r):
    check_error(r, 401, "invalid_token")
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), r.headers
    assert 'error="invalid_token"' in challenge, challenge


def forged_access_tokens(server, alice):
    at = alice["access_token"]
    h, p, sig = at.split(".")
    hdr = header_jwt(at)
    jwks = requests.get(server.oidc("demo") + "/certs", timeout=TIMEOUT).json()
    rsa = next(k for k in jwks["keys"] if k["kid"] == hdr["kid"])
    # Algorithm confusion: HS256 "signed" with the public key material as the HMAC secret.
    import hashlib
    import hmac
    conf_h = b64url({"alg": "HS256", "typ": "JWT", "kid": hdr["kid"]})
    conf_sig = hmac.new(json.dumps(rsa).encode(), f"{conf_h}.{p}".encode(), hashlib.sha256).digest()
    return {
        "abc": "abc",
        "a.b.c": "a.b.c",
        "alg-none": b64url({"alg": "none", "typ": "JWT"}) + "." + p + ".",
        "alg-none-with-kid": b64url({"alg": "none", "typ": "JWT", "kid": hdr["kid"]}) + "." + p + ".",
        "no-signature": f"{h}.{p}.",
        "payload-altered": tamper(at, 1),
        "signature-altered": tamper(at, 2),
        "alg-confusion-hs256": f"{conf_h}.{p}.{b64url(conf_sig)}",
        "refresh-token": alice["refresh_token"],
        "id-token": alice["id_token"],
        "unknown-kid": b64url({"alg": "RS256", "typ": "JWT", "kid": "nope"}) + "." + p + "." + sig,
    }


@pytest.mark.parametrize(
    "name",
    ["abc", "a.b.c", "alg-none", "alg-none-with-kid", "no-signature", "payload-altered", "signature-altered",
     "alg-confusion-hs256", "refresh-token", "id-token", "unknown-kid"],
)
def test_bad_bearer_at_userinfo_is_401_invalid_token(server, alice, name):
    check_invalid_token(userinfo(server, forged_access_tokens(server, alice)[name]))


def test_the_untampered_access_token_works_at_userinfo(server, alice):
    r = userinfo(server, alice["access_token"])
    assert r.status_code == 200, r.text
    assert r.json()["sub"] == decode_jwt(alice["access_token"])["sub"]


def test_bad_bearer_in_a_userinfo_post_form_is_401(server):
    r = requests.post(server.oidc("demo") + "/userinfo", data={"access_token": "a.b.c"}, timeout=TIMEOUT)
    check_invalid_token(r)


def test_access_token_of_another_realm_at_userinfo_is_401(server):
    master = server.password_login(client_id="admin-cli", username="admin", password="admin-password",
                                   realm="master")
    check_invalid_token(userinfo(server, master["access_token"], realm="demo"))


def test_userinfo_without_a_token_is_401_with_a_bearer_challenge(server):
    r = requests.get(server.oidc("demo") + "/userinfo", timeout=TIMEOUT)
    check_error(r, 401)
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), r.headers
    # RFC 6750 §3.1: no error code when the request carried no token at all.
    assert "error=" not in challenge, challenge


@pytest.mark.parametrize("authorization", ["Basic d2ViOndlYi1zZWNyZXQ=", "Token abc", "Bearerabc"])
def test_userinfo_with_a_non_bearer_authorization_is_401(server, authorization):
    r = requests.get(server.oidc("demo") + "/userinfo", headers={"Authorization": authorization}, timeout=TIMEOUT)
    check_error(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers


SHORT = {
    "realm": "short",
    "enabled": True,
    "clients": [
        {
            "clientId": "short-spa",
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "attributes": {"access.token.lifespan": "1"},
        }
    ],
    "users": [
        {"username": "carol", "enabled": True, "credentials": [{"type": "password", "value": "carol-password"}]}
    ],
}


def test_expired_bearer_at_userinfo_is_401_invalid_token(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, SHORT))
    s.start()
    # Token times are whole seconds: a 1 s token issued late in a second lives only the rest of
    # that second. Log in just after a second begins so "valid before expiry" has ~1 s to run.
    time.sleep(1.02 - time.time() % 1)
    tok = s.password_login(client_id="short-spa", username="carol", password="carol-password", realm="short")
    exp = decode_jwt(tok["access_token"])["exp"]
    assert exp - decode_jwt(tok["access_token"])["iat"] == 1
    # Valid before expiry (so the 401 below is about expiry, not about the token).
    assert userinfo(s, tok["access_token"], realm="short").status_code == 200
    time.sleep(max(0.0, exp + 0.05 - time.time()))
    r = userinfo(s, tok["access_token"], realm="short")
    check_invalid_token(r)
    assert "expired" in r.json()["error_description"]


# --- randomized fuzz of the token endpoint ---------------------------------------------------

FUZZ_KEYS = ["grant_type", "client_id", "client_secret", "username", "password", "refresh_token", "scope",
             "code", "redirect_uri", "code_verifier", "client_assertion", "audience"]
FUZZ_VALUES = ["password", "client_credentials", "refresh_token", "authorization_code", "implicit",
               "spa", "web", "svc", "admin-cli", "alice", "carol", "openid", "offline_access", "openid profile",
               "a.b.c", "eyJhbGciOiJub25lIn0.eyJ0eXAiOiJSZWZyZXNoIn0.", "%", "%zz", "%00", "%FF%FE", "+", "&", "=",
               "é", "\u202e", "\U0001F600", "null", "[]", "{}", "-1", "0" * 300]
FUZZ_CONTENT_TYPES = ["application/x-www-form-urlencoded"] * 8 + [
    "application/x-www-form-urlencoded; charset=ISO-8859-1", "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/json", "text/plain", "multipart/form-data; boundary=x", "", "application/x-www-form-urlencoded;;;",
]


def fuzz_value(rng):
    roll = rng.random()
    if roll < 0.45:
        v = rng.choice(FUZZ_VALUES)
        return quote(v, safe="") if rng.random() < 0.7 else v
    if roll < 0.7:
        return "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))
    if roll < 0.85:
        return rng.randbytes(rng.randint(0, 40))
    if roll < 0.95:
        return "".join(rng.choice(string.ascii_letters + "-_.") for _ in range(rng.randint(0, 3000)))
    return ""


def to_bytes(v):
    return v if isinstance(v, bytes) else v.encode("utf-8")


def fuzz_body(rng):
    fields = []
    if rng.random() < 0.7:
        # Mostly well-formed requests with a plausible grant and client, so that the fuzz gets
        # past the first checks into client authentication and the grants.
        grant = rng.choice(["password", "client_credentials", "refresh_token"])
        fields.append((b"grant_type", grant.encode()))
        if grant == "password" and rng.random() < 0.7:
            fields.append((b"username", to_bytes(rng.choice(["alice", fuzz_value(rng)]))))
            fields.append((b"password", to_bytes(fuzz_value(rng))))
        if grant == "refresh_token" and rng.random() < 0.7:
            fields.append((b"refresh_token", to_bytes(fuzz_value(rng))))
        if rng.random() < 0.85:
            fields.append((b"client_id", to_bytes(rng.choice(["spa", "web", "svc", "admin-cli"])
                                                  if rng.random() < 0.8 else fuzz_value(rng))))
    for _ in range(rng.randint(0, 6)):
        key = to_bytes(rng.choice(FUZZ_KEYS) if rng.random() < 0.85 else fuzz_value(rng))
        if any(k == key for k, _ in fields) and rng.random() < 0.85:
            continue  # some duplicates, not so many that they hide everything else
        fields.append((key, None if rng.random() < 0.05 else to_bytes(fuzz_value(rng))))
    rng.shuffle(fields)
    parts = [k if v is None else k + b"=" + v for k, v in fields]
    sep = b"&" if rng.random() < 0.9 else rng.choice([b"&&", b";", b"&=&", b"\n"])
    return sep.join(parts)


def fuzz_headers(rng):
    h = {}
    ct = rng.choice(FUZZ_CONTENT_TYPES)
    if ct:
        h["Content-Type"] = ct
    roll = rng.random()
    if roll < 0.15:
        h["Authorization"] = basic(to_bytes(fuzz_value(rng)) + b":" + to_bytes(fuzz_value(rng)))
    elif roll < 0.2:
        h["Authorization"] = "Basic " + "".join(rng.choice(string.printable.strip()) for _ in range(rng.randint(0, 30)))
    elif roll < 0.23:
        h["Authorization"] = b"Basic " + bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 10)))
    elif roll < 0.26:
        h["Authorization"] = "Bearer " + b64url(to_bytes(fuzz_value(rng))) if rng.random() < 0.5 else "Digest x"
    return h


def test_fuzz_token_endpoint(fresh_server):
    # A server of its own: hammering it with failed logins must not touch the shared one.
    s = fresh_server()
    s.start()
    rng = random.Random(20240531)
    session = requests.Session()
    realms = ["demo"] * 9 + ["master", "nope"]
    seen = {}
    for i in range(300):
        realm = rng.choice(realms)
        body = fuzz_body(rng)
        headers = fuzz_headers(rng)
        query = "" if rng.random() < 0.9 else "?" + quote(body[:200], safe="=&%")
        url = token_url(s, realm) + query
        req = requests.Request("POST", url, data=body, headers=headers).prepare()
        if "Content-Type" not in headers:
            req.headers.pop("Content-Type", None)
        # One connection per request: when latchkey refuses a request before reading its body it
        # closes the connection after the answer (without `Connection: close`), and a pooled
        # connection reused in that instant fails at the transport level, not in latchkey's answer.
        req.headers["Connection"] = "close"
        try:
            r = session.send(req, timeout=TIMEOUT)
        except requests.RequestException as e:
            pytest.fail(f"request {i} failed at the transport level ({e!r}): {url} {headers} {body!r}")
        assert 400 <= r.status_code < 500, (i, r.status_code, r.text[:300], url, headers, body)
        try:
            error = check_error(r, r.status_code)["error"]
        except AssertionError as e:
            raise AssertionError(f"request {i}: {url} {headers} {body!r}") from e
        seen[(r.status_code, error)] = seen.get((r.status_code, error), 0) + 1
    # The generator reached the interesting checks, not just the first one.
    errors = {e for _, e in seen}
    assert {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
            "not_found"} <= errors, seen
    assert s.proc.poll() is None, "the server died during the fuzz run"
    assert requests.get(s.base + "/health/live", timeout=TIMEOUT).status_code == 200
