"""Issue 20, defect 5: input the probe found accepted that must not be."""
import json

import pytest
import requests

from test_admin_api import ADMIN_ENV, api, assert_error, master_token


@pytest.fixture
def srv(fresh_server):
    return fresh_server(env=ADMIN_ENV).start()


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_realm_names_of_dots_alone_are_refused(srv, name):
    t = master_token(srv)
    assert_error(api(srv, "POST", "/admin/realms", t, {"realm": name, "enabled": True}), 400, "not a valid realm name")
    assert requests.get(f"{srv.base}/realms/{name}/.well-known/openid-configuration", timeout=10).status_code == 404


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_admin_bodies_not_declared_json_are_415(srv, content_type):
    t = master_token(srv)
    headers = {"Authorization": f"Bearer {t}"}
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps({"username": "plain", "enabled": True})
    r = requests.post(srv.base + "/admin/realms/demo/users", data=body, headers=headers, timeout=10)
    assert_error(r, 415, "application/json")
    assert api(srv, "GET", "/admin/realms/demo/users?username=plain&exact=true", t).json() == [], "nothing created"
    # Declared JSON, with a charset or as a +json type: accepted.
    for ct in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = requests.post(srv.base + "/admin/realms/demo/users", data=json.dumps({"username": f"u{len(ct)}"}),
                          headers={**headers, "Content-Type": ct}, timeout=10)
        assert r.status_code == 201, (ct, r.text)


# ---------------------------------------------------------------------------------------------
# Limits: a request's head, a slow client, connections, rates, and whose proxy headers count.

import socket
import time

from conftest import FIXTURES


def raw(srv, data, timeout=5):
    """Sends raw bytes and returns (status, body) of the answer, or None when closed silently."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as s:
        s.sendall(data)
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            if b"\r\n\r\n" in buf:
                head, _, body = buf.partition(b"\r\n\r\n")
                length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
                if length and len(body) >= length[0]:
                    break
    if not buf:
        return None
    head, _, body = buf.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_oversized_heads_are_answered_in_json(srv):
    r = requests.get(srv.oidc() + "/certs?x=" + "a" * 9000, timeout=10)
    assert r.status_code == 414 and r.json()["error"] == "invalid_request", r.text
    assert "8192" in r.json()["error_description"]
    r = requests.get(srv.oidc() + "/certs", headers={"X-Big": "b" * 40_000}, timeout=10)
    assert r.status_code == 431 and "header fields are" in r.json()["error_description"], r.text
    many = {f"X-H{i}": "1" for i in range(150)}
    r = requests.get(srv.oidc() + "/certs", headers=many, timeout=10)
    assert r.status_code == 431 and "150" in r.json()["error_description"] or "header fields" in r.text, r.text
    # Far beyond: hyper's own parser limit answers, bare; the server goes on.
    status, _ = raw(srv, b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Huge: " + b"h" * 600_000 + b"\r\n\r\n")
    assert status == 431
    assert requests.get(srv.base + "/health/live", timeout=10).status_code == 200


def test_a_slow_client_is_cut_off(fresh_server):
    s = fresh_server(import_realm=FIXTURES / "demo-realm.json", args=["--header-read-timeout", "1"]).start()
    t0 = time.time()
    got = raw(s, b"GET /health/live HTTP/1.1\r\nHost: x\r\n", timeout=10)
    waited = time.time() - t0
    assert waited < 5, f"the connection was held {waited:.1f} s"
    assert got is None or got[0] == 408, got
    assert requests.get(s.base + "/health/live", timeout=10).status_code == 200


def test_connections_over_the_limit_wait_their_turn(fresh_server):
    s = fresh_server(import_realm=FIXTURES / "demo-realm.json",
                     args=["--max-connections", "2", "--header-read-timeout", "2"]).start()
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
    try:
        time.sleep(0.3)
        t0 = time.time()
        r = requests.get(s.base + "/health/live", timeout=15)
        waited = time.time() - t0
        assert r.status_code == 200
        assert waited > 1.0, f"served after {waited:.2f} s: the two idle connections did not hold the slots"
    finally:
        for c in idle:
            c.close()


def test_token_endpoint_rates_per_client_answer_429_with_retry_after(fresh_server):
    s = fresh_server(import_realm=FIXTURES / "demo-realm.json", args=["--token-rate-per-client", "3"]).start()
    codes = [s.token(auth=("svc", "svc-secret"), grant_type="client_credentials") for _ in range(8)]
    limited = [r for r in codes if r.status_code == 429]
    assert limited and any(r.status_code == 200 for r in codes), [r.status_code for r in codes]
    r = limited[0]
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "invalid_request" and "client 'demo/svc'" in r.json()["error_description"]
    # Another client has its own allowance.
    assert s.password_login()["access_token"]


@pytest.mark.parametrize("trusted, expect_separate", [("127.0.0.1", True), ("10.0.0.0/8", False)])
def test_forwarded_addresses_count_only_from_trusted_proxies(fresh_server, trusted, expect_separate):
    s = fresh_server(import_realm=FIXTURES / "demo-realm.json",
                     args=["--token-rate-per-address", "2", "--proxy-headers", "xforwarded",
                           "--proxy-trusted-addresses", trusted]).start()

    def from_(ip):
        return requests.post(s.oidc() + "/token", data={"grant_type": "client_credentials"},
                             auth=("svc", "svc-secret"), headers={"X-Forwarded-For": ip}, timeout=10).status_code
    first = [from_("198.51.100.1") for _ in range(5)]
    assert 429 in first, first
    other = from_("198.51.100.2")
    assert (other == 200) == expect_separate, (first, other)


def test_proxy_headers_without_trusted_proxies_refuse_to_start(tmp_path):
    import subprocess
    from conftest import BIN
    out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0", "--db", f"sqlite://{tmp_path}/x.db",
                          "--proxy-headers", "forwarded"], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "--proxy-trusted-addresses" in out.stderr, out.stderr


def test_look_alike_usernames_are_one_account(srv):
    t = master_token(srv)
    assert_error(api(srv, "POST", "/admin/realms/demo/users", t, {"username": "ａｌｉｃｅ"}), 409)
    assert_error(api(srv, "POST", "/admin/realms/demo/users", t, {"username": "ALICE"}), 409)
    nfc, nfd = "zo\u00eb", "zoe\u0308"
    assert api(srv, "POST", "/admin/realms/demo/users", t, {"username": nfc, "enabled": True,
               "credentials": [{"type": "password", "value": "zoe-password"}]}).status_code == 201
    assert_error(api(srv, "POST", "/admin/realms/demo/users", t, {"username": nfd}), 409)
    # Signing in with any spelling reaches the one account.
    assert srv.password_login(username="ＡＬＩＣＥ")["access_token"]
    assert srv.password_login(username=nfd, password="zoe-password")["access_token"]
    found = api(srv, "GET", f"/admin/realms/demo/users?username={nfd}&exact=true", t).json()
    assert [u["username"] for u in found] == [nfc]
