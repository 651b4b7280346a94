"""latchkey gateway (issue 18): Kong's openid-connect plugin role in front of a real upstream,
with latchkey serve as the identity provider. Auth methods, error shapes, the seed how-to,
header hygiene, an unreachable IdP, --check."""
import base64
import json
import subprocess

import pytest
import requests

from conftest import BIN, ROOT, Gateway, Server, Upstream, decode_jwt, write_realm

# Store-agnostic: the test command runs them in its SQLite pass only (-m "not once_per_suite").
pytestmark = pytest.mark.once_per_suite

REALM = {
    "realm": "gw",
    "clients": [
        {"clientId": "gateway", "secret": "gateway-secret", "directAccessGrantsEnabled": True,
         "redirectUris": ["http://127.0.0.1:*"], "attributes": {"post.logout.redirect.uris": "+"}},
        {"clientId": "svc", "secret": "svc-secret", "serviceAccountsEnabled": True, "standardFlowEnabled": False},
        {"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True},
    ],
    "users": [{"username": "alice", "email": "alice@example.com", "firstName": "Alice",
               "credentials": [{"type": "password", "value": "alice-pw"}], "realmRoles": ["user"]}],
    "roles": {"realm": [{"name": "user"}, {"name": "admin"}]},
}


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gw-idp")
    s = Server(tmp, import_realm=write_realm(tmp, REALM)).start()
    s.name = "gw"
    yield s
    s.stop()


@pytest.fixture(scope="module")
def upstream():
    u = Upstream().start()
    yield u
    u.stop()


@pytest.fixture
def gateway(tmp_path, idp, upstream):
    started = []

    def make(plugin_config=None, route=None, service=None, raw=None, env=None):
        if raw is None:
            config = {"issuer": idp.realm("gw"), "client_id": ["gateway"], "client_secret": ["gateway-secret"]}
            config.update(plugin_config or {})
            raw = {
                "_format_version": "3.0",
                "services": [{"name": "echo", "url": upstream.url, **(service or {}),
                              "routes": [{"name": "api", "paths": ["/api"], **(route or {})}],
                              "plugins": [{"name": "openid-connect", "config": config}]}],
            }
        g = Gateway(tmp_path, raw, env=env).start()
        started.append(g)
        return g

    yield make
    for g in started:
        g.stop()


def token(idp, client="spa", **extra):
    form = {"grant_type": "password", "client_id": client, "username": "alice", "password": "alice-pw", **extra}
    r = requests.post(idp.oidc("gw") + "/token", data=form, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def echo(r):
    assert r.status_code == 200, (r.status_code, r.text, r.headers)
    return r.json()


def test_the_seed_how_to(tmp_path, idp, upstream):
    """examples/gateway/kong.yml, as the README runs it: password grant for a first refresh
    token, then requests with only the Refresh-Token header."""
    text = (ROOT / "examples" / "gateway" / "kong.yml").read_text()
    text = text.replace("http://127.0.0.1:9000", upstream.url).replace("http://127.0.0.1:8080/realms/demo", idp.realm("gw"))
    g = Gateway(tmp_path, text, env={"GATEWAY_CLIENT_SECRET": "gateway-secret"}).start()
    try:
        first = requests.get(g.base + "/anything", auth=("alice", "alice-pw"), timeout=10)
        seen = echo(first)
        assert seen["headers"]["authorization"].startswith("Bearer ")
        assert decode_jwt(seen["headers"]["authorization"][7:])["preferred_username"] == "alice"
        rt = seen["headers"]["refresh-token"]
        assert decode_jwt(rt)["typ"] == "Refresh"
        assert first.headers["refresh-token"] == rt, "downstream_refresh_token_header hands it to the client"
        second = requests.get(g.base + "/anything", headers={"Refresh-Token": rt}, timeout=10)
        seen = echo(second)
        assert "refresh-token" in seen["headers"] and seen["headers"]["authorization"].startswith("Bearer ")
        rotated = second.headers["refresh-token"]
        assert rotated != rt, "the IdP rotated the refresh token and the client got the new one"
        bad = requests.get(g.base + "/anything", headers={"Refresh-Token": "x" + rt}, timeout=10)
        assert bad.status_code == 401 and bad.json() == {"message": "Unauthorized"}
        assert bad.headers["WWW-Authenticate"] == 'Bearer realm="127.0.0.1", error="invalid_token"'
    finally:
        g.stop()


def test_bearer_verified_locally_and_remembered(gateway, idp):
    g = gateway({"auth_methods": ["bearer"]})
    at = token(idp)["access_token"]
    for _ in range(5):
        seen = echo(requests.get(g.base + "/api/x", headers={"Authorization": f"Bearer {at}"}, timeout=10))
    assert seen["headers"]["authorization"] == f"Bearer {at}"
    assert seen["path"] == "/x", "strip_path"
    # Tampered payload, another signature, wrong types: refused with Kong's shape.
    h, p, s = at.split(".")
    claims = decode_jwt(at)
    claims["preferred_username"] = "mallory"
    forged = ".".join([h, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), s])
    ident = token(idp, scope="openid")
    for bad in [forged, at[:-4] + "AAAA", ident["id_token"], ident["refresh_token"], "not-a-jwt",
                base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode() + "." + p + "."]:
        r = requests.get(g.base + "/api/x", headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert r.status_code == 401, bad
        assert r.json() == {"message": "Unauthorized"}
        assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    # Two Authorization headers, a good one among them: neither counts (issue 20).
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", g.port, timeout=10)
    conn.putrequest("GET", "/api/x")
    conn.putheader("Authorization", f"Bearer {at}")
    conn.putheader("Authorization", "Bearer other")
    conn.endheaders()
    assert conn.getresponse().status == 401
    conn.close()
    # No credentials at all: 401 without an error code.
    r = requests.get(g.base + "/api/x", timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="127.0.0.1"'
    # Unknown keys cannot make the gateway refetch the JWKS at will.
    fetches = g.metric("latchkey_gateway_jwks_fetches_total")
    unknown = json.dumps({"alg": "RS256", "kid": "made-up"}).encode()
    for i in range(20):
        fake = base64.urlsafe_b64encode(unknown).rstrip(b"=").decode() + "." + p + "." + s
        assert requests.get(g.base + "/api/x", headers={"Authorization": f"Bearer {fake}"}, timeout=10).status_code == 401
    assert g.metric("latchkey_gateway_jwks_fetches_total") <= fetches + 1


def test_introspection_with_and_without_its_cache(gateway, idp):
    cached = gateway({"auth_methods": ["introspection"]})
    fresh = gateway({"auth_methods": ["introspection"], "cache_introspection": False})
    t = token(idp)
    for g in (cached, fresh):
        echo(requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {t['access_token']}"}, timeout=10))
    # Revoke the grant at the IdP: the uncached instance sees it at once.
    r = requests.post(idp.oidc("gw") + "/revoke", data={"token": t["refresh_token"], "client_id": "spa"}, timeout=10)
    assert r.status_code == 200
    assert requests.get(fresh.base + "/api/", headers={"Authorization": f"Bearer {t['access_token']}"}, timeout=10).status_code == 401
    assert requests.get(cached.base + "/api/", headers={"Authorization": f"Bearer {t['access_token']}"}, timeout=10).status_code == 200
    assert cached.metric("latchkey_gateway_idp_calls_total", call="introspection") == 1


def test_refresh_token_in_every_place_and_hidden_from_the_upstream(gateway, idp):
    g = gateway({"auth_methods": ["refresh_token"], "refresh_token_param_name": "refresh_token",
                 "refresh_token_param_type": ["header", "query", "body"]})
    def rt():
        return token(idp, client="gateway", client_secret="gateway-secret")["refresh_token"]
    seen = echo(requests.get(g.base + "/api/a", headers={"Refresh-Token": "Bearer " + rt()}, timeout=10))
    assert "refresh-token" not in seen["headers"], "hide_credentials is on"
    seen = echo(requests.get(g.base + "/api/a", params={"refresh_token": rt(), "keep": "1"}, timeout=10))
    assert seen["query"] == "keep=1"
    seen = echo(requests.post(g.base + "/api/a", data={"refresh_token": rt(), "other": "x"}, timeout=10))
    assert seen["body_size"] == len("other=x")
    seen = echo(requests.post(g.base + "/api/a", json={"refresh_token": rt(), "n": 1}, timeout=10))
    assert seen["body_size"] == len(json.dumps({"n": 1}, separators=(",", ":")))
    assert seen["headers"]["authorization"].startswith("Bearer ")
    # A refresh token of another client: the IdP refuses, the client hears 401.
    other = token(idp, client="spa")["refresh_token"]
    assert requests.get(g.base + "/api/a", headers={"Refresh-Token": other}, timeout=10).status_code == 401


def test_password_and_client_credentials_from_basic(gateway, idp):
    g = gateway({"auth_methods": ["password", "client_credentials"]})
    seen = echo(requests.get(g.base + "/api/", auth=("alice", "alice-pw"), timeout=10))
    assert decode_jwt(seen["headers"]["authorization"][7:])["preferred_username"] == "alice"
    seen = echo(requests.get(g.base + "/api/", auth=("svc", "svc-secret"), timeout=10))
    assert decode_jwt(seen["headers"]["authorization"][7:])["azp"] == "svc", "client credentials after the password grant failed"
    r = requests.get(g.base + "/api/", auth=("alice", "wrong"), timeout=10)
    assert r.status_code == 401 and r.json() == {"message": "Unauthorized"}
    # The same credentials again: remembered, not granted again.
    calls = g.metric("latchkey_gateway_idp_calls_total", call="password")
    echo(requests.get(g.base + "/api/", auth=("alice", "alice-pw"), timeout=10))
    assert g.metric("latchkey_gateway_idp_calls_total", call="password") == calls


def test_requirements_are_403_with_insufficient_scope(gateway, idp):
    at = token(idp)["access_token"]
    ok = gateway({"auth_methods": ["bearer"], "scopes_required": ["nothing", "email profile"],
                  "roles_required": ["user"], "roles_claim": ["realm_access", "roles"]})
    echo(requests.get(ok.base + "/api/", headers={"Authorization": f"Bearer {at}"}, timeout=10))
    for cfg in ({"scopes_required": ["admin"]}, {"roles_required": ["admin"], "roles_claim": ["realm_access", "roles"]},
                {"audience_required": ["some-api"]}, {"groups_required": ["staff"]}):
        g = gateway({"auth_methods": ["bearer"], **cfg})
        r = requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}"}, timeout=10)
        assert r.status_code == 403, cfg
        assert r.json() == {"message": "Forbidden"}
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="127.0.0.1", error="insufficient_scope"'
    g = gateway({"auth_methods": ["bearer"], "scopes_required": ["admin"], "forbidden_error_message": "Nope",
                 "display_errors": True})
    r = requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}"}, timeout=10)
    assert r.json()["message"].startswith("Nope (scopes required")


def test_headers_the_plugin_sets_cannot_come_from_the_client(gateway, idp):
    g = gateway({"auth_methods": ["bearer"], "upstream_headers_claims": ["email", "missing_claim"],
                 "upstream_headers_names": ["x-user-email", "x-user-level"],
                 "upstream_id_token_header": "x-id-token"})
    at = token(idp)["access_token"]
    seen = echo(requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}", "X-User-Email": "evil@x",
                                                         "X-User-Level": "root", "X-Id-Token": "forged"}, timeout=10))
    assert seen["headers"]["x-user-email"] == "alice@example.com"
    assert "x-user-level" not in seen["headers"], "a missing claim leaves the header unset, never the client's copy"
    assert "x-id-token" not in seen["headers"]


def test_no_route_and_the_gateways_own_cookies(gateway, idp):
    g = gateway({"auth_methods": ["bearer"]})
    r = requests.get(g.base + "/elsewhere", timeout=10)
    assert r.status_code == 404 and r.json() == {"message": "no Route matched with those values"}
    at = token(idp)["access_token"]
    seen = echo(requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}", "Cookie": "session=abc; app=1"}, timeout=10))
    assert seen["headers"]["cookie"] == "app=1", "the session cookie never reaches the upstream"


def test_an_unreachable_idp_is_never_a_401(gateway, idp, upstream):
    from conftest import free_port
    dead = f"http://127.0.0.1:{free_port()}/realms/gw"
    g = gateway({"issuer": dead, "auth_methods": ["bearer", "refresh_token"], "refresh_token_param_name": "refresh_token",
                 "timeout": 2000})
    at = token(idp)["access_token"]
    r = requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}"}, timeout=10)
    assert r.status_code in (502, 503, 504), r.status_code
    assert r.json()["message"] == "The identity provider could not be reached"
    r = requests.get(g.base + "/api/", headers={"Refresh-Token": "x.y.z"}, timeout=10)
    assert r.status_code in (502, 503, 504)


def test_check_names_the_file_the_entity_and_the_key(tmp_path, idp, upstream):
    good = tmp_path / "good.yml"
    good.write_text((ROOT / "examples" / "gateway" / "kong.yml").read_text())
    out = subprocess.run([BIN, "gateway", "--check", "--config", str(good)], capture_output=True, text=True,
                         env={"GATEWAY_CLIENT_SECRET": "s"}, timeout=30)
    assert out.returncode == 0 and "OK (1 service(s), 1 route(s), 1 openid-connect instance(s))" in out.stdout, out.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(good.read_text().replace("refresh_token_param_type", "refresh_token_param_typ"))
    out = subprocess.run([BIN, "gateway", "--check", "--config", str(bad)], capture_output=True, text=True,
                         env={"GATEWAY_CLIENT_SECRET": "s"}, timeout=30)
    assert out.returncode != 0
    assert f"{bad}: services[0] 'echo'.plugins[0] 'openid-connect'.config: key 'refresh_token_param_typ': unknown key" in out.stderr, out.stderr
    # The gateway refuses to start on it, the same way.
    g = Gateway(tmp_path, bad.read_text(), env={"GATEWAY_CLIENT_SECRET": "s"})
    with pytest.raises(RuntimeError, match="refresh_token_param_typ"):
        g.start()
