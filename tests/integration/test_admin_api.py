"""The admin REST API (issue 5): python-keycloak 7.1.1's `KeycloakAdmin` driving latchkey unmodified,
the objects it creates then working in grants, and raw `requests` checks of Keycloak's status codes
and error shape (`{"error", "errorMessage"}`).

Every test starts its own server (`fresh_server` with the bootstrap admin), so nothing here touches
the shared server's realm `demo`.
"""
import json
from urllib.parse import urlparse

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenID, KeycloakOpenIDConnection
from keycloak.exceptions import (
    KeycloakAuthenticationError,
    KeycloakDeleteError,
    KeycloakGetError,
    KeycloakPostError,
)

from conftest import decode_jwt

ADMIN_ENV = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}

SHOP = {
    "realm": "shop",
    "enabled": True,
    "accessTokenLifespan": 120,
    "clients": [
        {
            "clientId": "shop-web",
            "publicClient": False,
            "secret": "shop-web-secret",
            "clientAuthenticatorType": "client-secret",
            "directAccessGrantsEnabled": True,
            "redirectUris": ["http://localhost:4000/*"],
        },
        {"clientId": "shop-spa", "publicClient": True, "directAccessGrantsEnabled": True},
    ],
    "users": [
        {
            "username": "carol",
            "enabled": True,
            "email": "carol@example.com",
            "firstName": "Carol",
            "credentials": [{"type": "password", "value": "carol-password"}],
        }
    ],
}


# ---------------------------------------------------------------------------------------------
# helpers

@pytest.fixture
def srv(fresh_server):
    return fresh_server(env=ADMIN_ENV).start()


def kc_admin(s, realm="master"):
    conn = KeycloakOpenIDConnection(
        server_url=s.base + "/",
        username="admin",
        password="admin-password",
        realm_name=realm,
        user_realm_name="master",
        client_id="admin-cli",
        timeout=10,
    )
    return KeycloakAdmin(connection=conn)


def kc_openid(s, realm, client_id, secret=None):
    return KeycloakOpenID(server_url=s.base + "/", realm_name=realm, client_id=client_id,
                          client_secret_key=secret, timeout=10)


def master_token(s, username="admin", password="admin-password"):
    r = s.token("master", grant_type="password", client_id="admin-cli", username=username, password=password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def api(s, method, path, token=None, body=None, raw=None, headers=None, **kw):
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if body is not None:
        raw = json.dumps(body)
    if raw is not None:
        h.setdefault("Content-Type", "application/json")
    return requests.request(method, s.base + path, data=raw, headers=h, timeout=30, **kw)


def assert_error(r, status, *mentions):
    """Keycloak's error shape, with `mentions` in its errorMessage."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    for m in mentions:
        assert m in body["errorMessage"], (m, body)
    return body


def refresh(s, realm, client_id, refresh_token, secret=None):
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    if secret:
        form["client_secret"] = secret
    return s.token(realm, **form)


def password_grant(s, realm, client_id, username, password, secret=None):
    form = {"grant_type": "password", "client_id": client_id, "username": username, "password": password}
    if secret:
        form["client_secret"] = secret
    return s.token(realm, **form)


# ---------------------------------------------------------------------------------------------
# python-keycloak's KeycloakAdmin

def test_create_realm_with_clients_and_users_then_grants_work(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    assert "shop" in [r["realm"] for r in admin.get_realms()]
    rep = admin.get_realm("shop")
    assert rep["realm"] == "shop" and rep["enabled"] is True
    assert rep["accessTokenLifespan"] == 120

    admin.change_current_realm("shop")
    web_id = admin.get_client_id("shop-web")
    assert web_id and web_id == admin.get_client(web_id)["id"]
    assert admin.get_client(web_id)["clientId"] == "shop-web"
    assert admin.get_client_secrets(web_id) == {"type": "secret", "value": "shop-web-secret"}
    # Every realm has Keycloak's built-in admin-cli.
    assert admin.get_client_id("admin-cli")
    assert admin.get_client_id("no-such-client") is None

    carol = admin.get_user_id("carol")
    assert carol and admin.get_user(carol)["email"] == "carol@example.com"

    # The imported objects work in grants, with the realm's settings.
    tok = kc_openid(srv, "shop", "shop-web", "shop-web-secret").token("carol", "carol-password")
    claims = decode_jwt(tok["access_token"])
    assert claims["iss"] == srv.realm("shop")
    assert claims["azp"] == "shop-web"
    assert claims["sub"] == carol
    assert tok["expires_in"] == 120
    new = kc_openid(srv, "shop", "shop-web", "shop-web-secret").refresh_token(tok["refresh_token"])
    assert new["access_token"] != tok["access_token"]

    # A realm update takes effect at once.
    admin.update_realm("shop", {"accessTokenLifespan": 60})
    assert admin.get_realm("shop")["accessTokenLifespan"] == 60
    assert admin.get_realm("shop")["enabled"] is True  # PUT is partial
    tok = kc_openid(srv, "shop", "shop-spa").token("carol", "carol-password")
    assert tok["expires_in"] == 60


def test_create_client_read_and_regenerate_its_secret(srv):
    admin = kc_admin(srv)
    admin.create_realm({"realm": "shop"})
    admin.change_current_realm("shop")
    cid = admin.create_client({"clientId": "shop-api", "publicClient": False,
                               "serviceAccountsEnabled": True, "directAccessGrantsEnabled": True})
    assert admin.get_client_id("shop-api") == cid
    rep = admin.get_client(cid)
    assert rep["clientId"] == "shop-api" and rep["publicClient"] is False
    # Keycloak creates the service-account user with the client.
    sa = admin.get_client_service_account_user(cid)
    assert sa["username"] == "service-account-shop-api"

    old = admin.get_client_secrets(cid)
    assert old["type"] == "secret" and len(old["value"]) >= 16
    ok = kc_openid(srv, "shop", "shop-api", old["value"]).token(grant_type="client_credentials")
    assert decode_jwt(ok["access_token"])["azp"] == "shop-api"

    new = admin.generate_client_secrets(cid)
    assert new["type"] == "secret" and new["value"] and new["value"] != old["value"]
    assert admin.get_client_secrets(cid)["value"] == new["value"]
    with pytest.raises(KeycloakAuthenticationError) as e:
        kc_openid(srv, "shop", "shop-api", old["value"]).token(grant_type="client_credentials")
    assert e.value.response_code == 401
    assert b"invalid_client" in e.value.response_body
    tok = kc_openid(srv, "shop", "shop-api", new["value"]).token(grant_type="client_credentials")
    assert decode_jwt(tok["access_token"])["azp"] == "shop-api"


def test_create_user_then_login_refresh_sessions_logout(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    uid = admin.create_user({
        "username": "dave", "email": "dave@example.com", "enabled": True, "firstName": "Dave",
        "credentials": [{"type": "password", "value": "dave-password", "temporary": False}],
    })
    assert admin.get_user_id("dave") == uid
    assert admin.get_user(uid)["username"] == "dave"
    assert admin.users_count() == 2
    assert sorted(u["username"] for u in admin.get_users()) == ["carol", "dave"]
    assert [u["username"] for u in admin.get_users({"search": "dav"})] == ["dave"]
    assert [u["id"] for u in admin.get_users({"username": "dave", "exact": True})] == [uid]
    assert admin.users_count({"search": "carol"}) == 1

    # A client created through the API, with the secret the server generated.
    app_id = admin.create_client({"clientId": "shop-app", "publicClient": False,
                                  "directAccessGrantsEnabled": True})
    secret = admin.get_client_secrets(app_id)["value"]
    web = kc_openid(srv, "shop", "shop-app", secret)
    tok = web.token("dave", "dave-password")
    assert decode_jwt(tok["access_token"])["sub"] == uid
    assert decode_jwt(tok["access_token"])["azp"] == "shop-app"
    tok = web.refresh_token(tok["refresh_token"])

    sessions = admin.get_sessions(uid)
    assert len(sessions) == 1, sessions
    assert sessions[0]["userId"] == uid and sessions[0]["username"] == "dave"
    assert sessions[0]["id"] == decode_jwt(tok["access_token"])["sid"]
    assert sessions[0]["clients"] == {app_id: "shop-app"}
    assert admin.get_sessions(admin.get_user_id("carol")) == []

    admin.user_logout(uid)
    assert admin.get_sessions(uid) == []
    with pytest.raises(KeycloakPostError) as e:
        web.refresh_token(tok["refresh_token"])
    assert e.value.response_code == 400
    assert json.loads(e.value.response_body)["error"] == "invalid_grant"
    # Logging out ends the sessions, not the account.
    assert web.token("dave", "dave-password")["access_token"]


def test_disabled_user_cannot_refresh_or_log_in(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    uid = admin.get_user_id("carol")
    web = kc_openid(srv, "shop", "shop-web", "shop-web-secret")
    tok = web.token("carol", "carol-password")

    admin.update_user(uid, {"enabled": False})
    rep = admin.get_user(uid)
    assert rep["enabled"] is False
    assert rep["email"] == "carol@example.com" and rep["firstName"] == "Carol"  # PUT is partial
    r = refresh(srv, "shop", "shop-web", tok["refresh_token"], "shop-web-secret")
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_grant"
    r = password_grant(srv, "shop", "shop-web", "carol", "carol-password", "shop-web-secret")
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_grant", r.text

    admin.enable_user(uid)
    assert admin.get_user(uid)["enabled"] is True
    assert web.token("carol", "carol-password")["access_token"]


def test_set_user_password(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    uid = admin.get_user_id("carol")
    admin.set_user_password(uid, "a-new-password", temporary=False)
    r = password_grant(srv, "shop", "shop-spa", "carol", "carol-password")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant", r.text
    r = password_grant(srv, "shop", "shop-spa", "carol", "a-new-password")
    assert r.status_code == 200, r.text


def test_delete_user_client_realm_then_404(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    uid = admin.get_user_id("carol")
    web_id = admin.get_client_id("shop-web")
    tok = kc_openid(srv, "shop", "shop-web", "shop-web-secret").token("carol", "carol-password")
    offline = kc_openid(srv, "shop", "shop-web", "shop-web-secret").token(
        "carol", "carol-password", scope="openid offline_access")
    assert offline["refresh_expires_in"] == 0  # no expiry: its record lives until its login goes
    unbounded = "SELECT count(*) FROM refresh_tokens WHERE expires_at IS NULL"
    assert srv.query(unbounded)[0][0] == 1

    admin.delete_user(uid)
    # The user's logins go with it, and with them every record that would never expire.
    assert srv.query(unbounded)[0][0] == 0
    r = refresh(srv, "shop", "shop-web", offline["refresh_token"], "shop-web-secret")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    with pytest.raises(KeycloakGetError) as e:
        admin.get_user(uid)
    assert e.value.response_code == 404
    assert admin.get_user_id("carol") is None
    assert admin.users_count() == 0
    with pytest.raises(KeycloakDeleteError) as e:
        admin.delete_user(uid)
    assert e.value.response_code == 404
    r = refresh(srv, "shop", "shop-web", tok["refresh_token"], "shop-web-secret")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text

    admin.delete_client(web_id)
    with pytest.raises(KeycloakGetError) as e:
        admin.get_client(web_id)
    assert e.value.response_code == 404
    assert admin.get_client_id("shop-web") is None
    r = password_grant(srv, "shop", "shop-web", "carol", "carol-password", "shop-web-secret")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text

    admin.change_current_realm("master")
    admin.delete_realm("shop")
    with pytest.raises(KeycloakGetError) as e:
        admin.get_realm("shop")
    assert e.value.response_code == 404
    assert "shop" not in [r["realm"] for r in admin.get_realms()]
    assert requests.get(srv.realm("shop") + "/.well-known/openid-configuration", timeout=10).status_code == 404
    # The name is free again.
    admin.create_realm({"realm": "shop"})
    assert admin.get_realm("shop")["realm"] == "shop"


def test_create_realm_skip_exists_is_idempotent(srv):
    admin = kc_admin(srv)
    admin.create_realm({"realm": "shop"})
    admin.create_realm({"realm": "shop"}, skip_exists=True)


def test_create_client_and_user_exist_ok_return_the_existing_id(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    web_id = admin.get_client_id("shop-web")
    assert admin.create_client({"clientId": "shop-web"}, skip_exists=True) == web_id
    uid = admin.get_user_id("carol")
    assert admin.create_user({"username": "carol"}, exist_ok=True) == uid
    with pytest.raises(KeycloakPostError) as e:
        admin.create_user({"username": "carol"})
    assert e.value.response_code == 409


def test_client_user_sessions(srv):
    admin = kc_admin(srv)
    admin.create_realm(SHOP)
    admin.change_current_realm("shop")
    tok = kc_openid(srv, "shop", "shop-web", "shop-web-secret").token("carol", "carol-password")
    sessions = admin.get_client_all_sessions(admin.get_client_id("shop-web"))
    assert [s["id"] for s in sessions] == [decode_jwt(tok["access_token"])["sid"]]


# ---------------------------------------------------------------------------------------------
# raw HTTP: status codes, Location, error shape

def test_create_answers_201_with_location_ending_in_the_new_id(srv):
    t = master_token(srv)
    r = api(srv, "POST", "/admin/realms", t, {"realm": "shop"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == srv.base + "/admin/realms/shop"
    assert api(srv, "GET", urlparse(r.headers["Location"]).path, t).json()["realm"] == "shop"

    r = api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c1"})
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    cid = loc.rsplit("/", 1)[1]
    assert loc == f"{srv.base}/admin/realms/shop/clients/{cid}"
    got = api(srv, "GET", urlparse(loc).path, t)
    assert got.status_code == 200 and got.json()["id"] == cid and got.json()["clientId"] == "c1"

    r = api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u1"})
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    uid = loc.rsplit("/", 1)[1]
    assert loc == f"{srv.base}/admin/realms/shop/users/{uid}"
    got = api(srv, "GET", urlparse(loc).path, t)
    assert got.status_code == 200 and got.json()["id"] == uid and got.json()["username"] == "u1"

    # Updates and deletes answer 204 with no body.
    for method, path, body in [
        ("PUT", "/admin/realms/shop", {"displayName": "Shop"}),
        ("PUT", f"/admin/realms/shop/clients/{cid}", {"name": "C one"}),
        ("PUT", f"/admin/realms/shop/users/{uid}", {"firstName": "U"}),
        ("PUT", f"/admin/realms/shop/users/{uid}/reset-password", {"type": "password", "value": "pw-1", "temporary": False}),
        ("POST", f"/admin/realms/shop/users/{uid}/logout", None),
        ("DELETE", f"/admin/realms/shop/users/{uid}", None),
        ("DELETE", f"/admin/realms/shop/clients/{cid}", None),
        ("DELETE", "/admin/realms/shop", None),
    ]:
        r = api(srv, method, path, t, body)
        assert r.status_code == 204, (method, path, r.status_code, r.text)
        assert r.content == b"", (method, path, r.content)


def test_duplicates_answer_409(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms", t, {"realm": "shop"}).status_code == 201
    # Keycloak's exact body for a duplicate realm (python-keycloak's skip_exists matches on it).
    for name in ("shop", "master"):
        r = api(srv, "POST", "/admin/realms", t, {"realm": name})
        assert r.status_code == 409 and r.json() == {"errorMessage": "Conflict detected. See logs for details"}

    c = api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c1"})
    assert c.status_code == 201
    assert_error(api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c1"}), 409, "c1")
    assert_error(api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "admin-cli"}), 409)
    c2 = api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c2"}).headers["Location"].rsplit("/", 1)[1]
    assert_error(api(srv, "PUT", f"/admin/realms/shop/clients/{c2}", t, {"clientId": "c1"}), 409)
    assert api(srv, "GET", f"/admin/realms/shop/clients/{c2}", t).json()["clientId"] == "c2"

    assert api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u1"}).status_code == 201
    assert_error(api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u1"}), 409)
    # Keycloak's usernames are case-insensitive.
    assert_error(api(srv, "POST", "/admin/realms/shop/users", t, {"username": "U1"}), 409)
    u2 = api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u2"}).headers["Location"].rsplit("/", 1)[1]
    assert_error(api(srv, "PUT", f"/admin/realms/shop/users/{u2}", t, {"username": "u1"}), 409)
    assert api(srv, "GET", f"/admin/realms/shop/users/{u2}", t).json()["username"] == "u2"
    assert api(srv, "GET", "/admin/realms/shop/users/count", t).json() == 2
    # The same names in another realm are fine.
    assert api(srv, "POST", "/admin/realms/master/clients", t, {"clientId": "c1"}).status_code == 201
    assert api(srv, "POST", "/admin/realms/master/users", t, {"username": "u1"}).status_code == 201


def test_duplicate_email_answers_409(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms/master/users", t, {"username": "e1", "email": "same@example.com"}).status_code == 201
    r = api(srv, "POST", "/admin/realms/master/users", t, {"username": "e2", "email": "same@example.com"})
    assert_error(r, 409, "email")


def test_unknown_ids_answer_404(srv):
    t = master_token(srv)
    uid = api(srv, "POST", "/admin/realms/master/users", t, {"username": "u1"}).headers["Location"].rsplit("/", 1)[1]
    ghost = "00000000-0000-0000-0000-000000000000"
    for method, path, body in [
        ("GET", "/admin/realms/nope", None),
        ("PUT", "/admin/realms/nope", {"enabled": False}),
        ("DELETE", "/admin/realms/nope", None),
        ("GET", "/admin/realms/nope/clients", None),
        ("POST", "/admin/realms/nope/clients", {"clientId": "x"}),
        ("GET", "/admin/realms/nope/users", None),
        ("POST", "/admin/realms/nope/users", {"username": "x"}),
        ("GET", "/admin/realms/nope/users/count", None),
        ("GET", f"/admin/realms/nope/users/{uid}", None),
        ("GET", f"/admin/realms/master/clients/{ghost}", None),
        ("PUT", f"/admin/realms/master/clients/{ghost}", {"enabled": False}),
        ("DELETE", f"/admin/realms/master/clients/{ghost}", None),
        ("GET", f"/admin/realms/master/clients/{ghost}/client-secret", None),
        ("POST", f"/admin/realms/master/clients/{ghost}/client-secret", None),
        ("GET", f"/admin/realms/master/clients/{ghost}/service-account-user", None),
        ("GET", f"/admin/realms/master/users/{ghost}", None),
        ("PUT", f"/admin/realms/master/users/{ghost}", {"enabled": False}),
        ("DELETE", f"/admin/realms/master/users/{ghost}", None),
        ("PUT", f"/admin/realms/master/users/{ghost}/reset-password", {"type": "password", "value": "x"}),
        ("POST", f"/admin/realms/master/users/{ghost}/logout", None),
        ("GET", f"/admin/realms/master/users/{ghost}/sessions", None),
        ("GET", f"/admin/realms/master/users/{uid}/offline-sessions/{ghost}", None),
        ("DELETE", f"/admin/realms/master/sessions/{ghost}", None),
        ("GET", f"/admin/realms/master/attack-detection/brute-force/users/{ghost}", None),
        ("GET", "/admin/realms/master/users/" + uid.replace("-", "") + "x", None),
        ("GET", "/admin/realms/demo/users/" + uid, None),  # a user of another realm
    ]:
        assert_error(api(srv, method, path, t, body), 404)
    # A client's uuid, not its clientId, names it.
    assert_error(api(srv, "GET", "/admin/realms/master/clients/admin-cli", t), 404)
    # The user is still there: the 404s changed nothing.
    assert api(srv, "GET", f"/admin/realms/master/users/{uid}", t).status_code == 200


def routes(s):
    doc = requests.get(s.base + "/admin/openapi.json", timeout=10).json()
    for path, item in doc["paths"].items():
        for method in item:
            yield method.upper(), path


def concrete(path, uid, cid):
    return (path.replace("{realm}", "master").replace("{client}", cid)
            .replace("{id}", cid if "/clients/" in path else uid))


def test_every_route_wants_a_token_401(srv):
    t = master_token(srv)
    uid = api(srv, "POST", "/admin/realms/master/users", t, {"username": "u1"}).headers["Location"].rsplit("/", 1)[1]
    cid = api(srv, "GET", "/admin/realms/master/clients?clientId=admin-cli", t).json()[0]["id"]
    seen = 0
    for method, path in routes(srv):
        p = concrete(path, uid, cid)
        body = {"realm": "x", "clientId": "x", "username": "x", "value": "x"} if method in ("POST", "PUT") else None
        for headers in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "Basic YWRtaW46YWRtaW4tcGFzc3dvcmQ="}):
            r = api(srv, method, p, body=body, headers=headers)
            assert_error(r, 401)
        seen += 1
    assert seen >= 25
    # Nothing happened.
    assert api(srv, "GET", f"/admin/realms/master/users/{uid}", t).json()["username"] == "u1"
    assert_error(api(srv, "GET", "/admin/realms/x", t), 404)


def test_master_user_without_admin_role_gets_403(srv):
    t = master_token(srv)
    r = api(srv, "POST", "/admin/realms/master/users", t, {
        "username": "viewer", "enabled": True,
        "credentials": [{"type": "password", "value": "viewer-password", "temporary": False}]})
    assert r.status_code == 201, r.text
    uid = r.headers["Location"].rsplit("/", 1)[1]
    cid = api(srv, "GET", "/admin/realms/master/clients?clientId=admin-cli", t).json()[0]["id"]
    vt = master_token(srv, "viewer", "viewer-password")
    seen = 0
    for method, path in routes(srv):
        p = concrete(path, uid, cid)
        body = {"realm": "x", "clientId": "x", "username": "x", "value": "x"} if method in ("POST", "PUT") else None
        assert_error(api(srv, method, p, vt, body), 403)
        seen += 1
    assert seen >= 25
    assert_error(api(srv, "DELETE", "/admin/realms/demo", vt), 403)
    # Nothing happened.
    assert api(srv, "GET", "/admin/realms/demo", t).status_code == 200
    assert_error(api(srv, "GET", "/admin/realms/x", t), 404)
    assert api(srv, "GET", f"/admin/realms/master/users/{uid}", t).json()["enabled"] is True
    # The viewer's own login still works (the 403s did not lock it out).
    assert master_token(srv, "viewer", "viewer-password")


def test_token_from_another_realm_gets_403(srv):
    alice = srv.password_login()["access_token"]
    for method, path in [("GET", "/admin/realms"), ("GET", "/admin/realms/demo"),
                         ("GET", "/admin/realms/demo/users"), ("DELETE", "/admin/realms/demo")]:
        assert_error(api(srv, method, path, alice), 403)


def test_demo_token_never_works_and_never_5xx(srv):
    """What must hold whatever the status: a demo user's token cannot administer anything."""
    alice = srv.password_login()["access_token"]
    r = api(srv, "GET", "/admin/realms/demo/users", alice)
    assert r.status_code in (401, 403), r.text
    assert_error(r, r.status_code)
    r = api(srv, "DELETE", "/admin/realms/demo", alice)
    assert r.status_code in (401, 403), r.text
    assert api(srv, "GET", "/admin/realms/demo", master_token(srv)).status_code == 200


BAD = [
    # (method, path under /admin/realms/shop, raw body, words the errorMessage must contain)
    ("POST", "/users", json.dumps({"username": 5}), ["username"]),
    ("POST", "/users", json.dumps({"username": "x", "enabled": "yes"}), ["enabled"]),
    ("POST", "/users", json.dumps({"username": "x", "email": "not-an-email"}), ["email"]),
    ("POST", "/users", json.dumps({"username": "x", "credentials": [{"type": "password"}]}), ["credentials"]),
    ("POST", "/users", json.dumps({"username": ""}), ["username"]),
    ("POST", "/users", json.dumps({"enabled": True}), ["username"]),
    ("POST", "/clients", json.dumps({"clientId": "x", "publicClient": "yes"}), ["publicClient"]),
    ("POST", "/clients", json.dumps({"clientId": "x", "redirectUris": "http://x/*"}), ["redirectUris"]),
    ("POST", "/clients", json.dumps({"clientId": "x", "attributes": {"access.token.lifespan": "soon"}}), ["access.token.lifespan"]),
    ("POST", "/clients", json.dumps({"clientId": "x", "protocol": "saml"}), ["protocol"]),
    ("POST", "/clients", json.dumps({"clientId": 7}), ["clientId"]),
    ("POST", "/clients", "not json", ["body"]),
    ("POST", "/clients", "{\"clientId\": \"x\"", []),
    ("POST", "/clients", "", ["body"]),
    ("POST", "/users", "[1, 2]", []),
    ("POST", "/users", "[]", []),
    ("POST", "/users", "\"bob\"", []),
    ("POST", "/users", "null", []),
    ("POST", "/users", json.dumps({"username": "x"}) + " trailing", ["body"]),
    ("PUT", "/users/{uid}", json.dumps({"enabled": "no"}), ["enabled"]),
    ("PUT", "/users/{uid}", json.dumps({"email": "nope"}), ["email"]),
    ("PUT", "/users/{uid}", "[1]", ["body"]),
    ("PUT", "/users/{uid}/reset-password", json.dumps({"type": "password", "value": 5}), ["value"]),
    ("PUT", "/users/{uid}/reset-password", json.dumps({"type": "password"}), ["value"]),
    ("PUT", "/users/{uid}/reset-password", json.dumps({"type": "otp", "value": "x"}), ["type"]),
    ("PUT", "/clients/{cid}", json.dumps({"publicClient": "no"}), ["publicClient"]),
    ("PUT", "/clients/{cid}", json.dumps({"attributes": {"use.refresh.tokens": "maybe"}}), ["use.refresh.tokens"]),
    ("PUT", "/clients/{cid}", "3", ["body"]),
    ("PUT", "", json.dumps({"accessTokenLifespan": "long"}), ["accessTokenLifespan"]),
    ("PUT", "", json.dumps({"accessTokenLifespan": -5}), ["accessTokenLifespan"]),
]


def test_bad_payloads_answer_400_naming_the_field_and_change_nothing(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms", t, {"realm": "shop", "accessTokenLifespan": 300}).status_code == 201
    uid = api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u1", "email": "u1@example.com"}).headers["Location"].rsplit("/", 1)[1]
    cid = api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c1", "publicClient": True}).headers["Location"].rsplit("/", 1)[1]

    def state():
        return (api(srv, "GET", "/admin/realms/shop", t).json(),
                api(srv, "GET", "/admin/realms/shop/users", t).json(),
                api(srv, "GET", "/admin/realms/shop/clients", t).json())

    before = state()
    for method, path, raw, words in BAD:
        p = "/admin/realms/shop" + path.format(uid=uid, cid=cid)
        r = api(srv, method, p, t, raw=raw)
        assert_error(r, 400, *words)
    assert state() == before
    # Realm-level payloads too, and nothing of them is created.
    for raw, words in [
        (json.dumps({"realm": 5}), ["realm"]),
        (json.dumps({"realm": "a/b"}), ["realm"]),
        (json.dumps({"realm": "ok", "accessTokenLifespan": "long"}), ["accessTokenLifespan"]),
        (json.dumps({"realm": "ok", "clients": {"clientId": "x"}}), ["clients"]),
        (json.dumps({"realm": "ok", "users": [{"username": ["x"]}]}), ["users", "username"]),
        ("not json", ["body"]),
        ("[]", []),
    ]:
        assert_error(api(srv, "POST", "/admin/realms", t, raw=raw), 400, *words)
    names = [r["realm"] for r in api(srv, "GET", "/admin/realms", t).json()]
    assert sorted(names) == ["demo", "master", "shop"]


def test_positional_json_array_is_not_a_representation(srv):
    t = master_token(srv)
    raw = json.dumps([None, "arrayuser", None, None, None, None, None, None, None, {}, None, None, None])
    r = api(srv, "POST", "/admin/realms/master/users", t, raw=raw)
    assert_error(r, 400)
    assert api(srv, "GET", "/admin/realms/master/users?username=arrayuser&exact=true", t).json() == []


def test_syntax_error_is_blamed_on_the_body_not_a_field(srv):
    t = master_token(srv)
    for raw in ['{"clientId": "x"', '{"clientId": "x",}', '{"clientId": "x", "name": }']:
        body = assert_error(api(srv, "POST", "/admin/realms/master/clients", t, raw=raw), 400)
        assert "'?'" not in body["errorMessage"] and "body" in body["errorMessage"], body


def test_nothing_half_created(srv):
    t = master_token(srv)
    # The third user is invalid: no realm, no client, no user.
    rep = dict(SHOP, users=SHOP["users"] + [{"username": "ok2"}, {"username": "bad", "email": "no-at-sign"}])
    assert_error(api(srv, "POST", "/admin/realms", t, rep), 400, "users[2]", "email")
    assert_error(api(srv, "GET", "/admin/realms/shop", t), 404)
    assert requests.get(srv.realm("shop") + "/.well-known/openid-configuration", timeout=10).status_code == 404
    # A clientId twice.
    rep = dict(SHOP, clients=SHOP["clients"] + [{"clientId": "shop-web"}])
    assert_error(api(srv, "POST", "/admin/realms", t, rep), 400, "shop-web")
    assert_error(api(srv, "GET", "/admin/realms/shop", t), 404)
    # A username twice.
    rep = dict(SHOP, users=SHOP["users"] + [{"username": "carol"}])
    assert_error(api(srv, "POST", "/admin/realms", t, rep), 400, "carol")
    assert_error(api(srv, "GET", "/admin/realms/shop", t), 404)
    # A bad client attribute.
    rep = dict(SHOP, clients=[{"clientId": "c", "attributes": {"pkce.code.challenge.method": "md5"}}])
    assert_error(api(srv, "POST", "/admin/realms", t, rep), 400, "pkce.code.challenge.method")
    assert_error(api(srv, "GET", "/admin/realms/shop", t), 404)
    # Now valid: everything is there, the name was never taken.
    assert api(srv, "POST", "/admin/realms", t, SHOP).status_code == 201
    assert api(srv, "GET", "/admin/realms/shop/users/count", t).json() == 1

    # A user with a bad credential is not created without it.
    bad = {"username": "half", "credentials": [{"type": "password", "secretData": "{}", "credentialData": "{}"}]}
    assert_error(api(srv, "POST", "/admin/realms/shop/users", t, bad), 400, "credentials")
    assert api(srv, "GET", "/admin/realms/shop/users?username=half", t).json() == []
    # An update that fails changes nothing, including fields that came before the bad one.
    cid = api(srv, "GET", "/admin/realms/shop/clients?clientId=shop-spa", t).json()[0]["id"]
    before = api(srv, "GET", f"/admin/realms/shop/clients/{cid}", t).json()
    r = api(srv, "PUT", f"/admin/realms/shop/clients/{cid}", t,
            {"name": "renamed", "redirectUris": ["http://ok/*"], "attributes": {"pkce.code.challenge.method": "md5"}})
    assert_error(r, 400, "pkce.code.challenge.method")
    assert api(srv, "GET", f"/admin/realms/shop/clients/{cid}", t).json() == before


def test_oversized_body_answers_413(srv):
    t = master_token(srv)
    big = json.dumps({"realm": "big", "attributes": {"pad": "x" * (2 * 1024 * 1024)}})
    r = api(srv, "POST", "/admin/realms", t, raw=big)
    assert r.status_code == 413, r.text[:300]
    # Without a Content-Length (chunked) too.
    def chunks():
        yield b'{"realm": "big", "attributes": {"pad": "'
        for _ in range(64):
            yield b"y" * 65536
        yield b'"}}'
    r = requests.post(srv.base + "/admin/realms", data=chunks(), timeout=30,
                      headers={"Authorization": f"Bearer {t}", "Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:300]
    uid = api(srv, "POST", "/admin/realms/master/users", t, {"username": "u1"}).headers["Location"].rsplit("/", 1)[1]
    r = api(srv, "PUT", f"/admin/realms/master/users/{uid}", t, raw=json.dumps({"firstName": "z" * (2 * 1024 * 1024)}))
    assert r.status_code == 413, r.text[:300]
    assert_error(api(srv, "GET", "/admin/realms/big", t), 404)
    assert "firstName" not in api(srv, "GET", f"/admin/realms/master/users/{uid}", t).json()


def test_disabled_client_can_no_longer_refresh(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms", t, SHOP).status_code == 201
    cid = api(srv, "GET", "/admin/realms/shop/clients?clientId=shop-spa", t).json()[0]["id"]
    tok = password_grant(srv, "shop", "shop-spa", "carol", "carol-password").json()
    assert refresh(srv, "shop", "shop-spa", tok["refresh_token"]).status_code == 200
    tok = password_grant(srv, "shop", "shop-spa", "carol", "carol-password").json()

    assert api(srv, "PUT", f"/admin/realms/shop/clients/{cid}", t, {"enabled": False}).status_code == 204
    assert api(srv, "GET", f"/admin/realms/shop/clients/{cid}", t).json()["enabled"] is False
    r = refresh(srv, "shop", "shop-spa", tok["refresh_token"])
    assert r.status_code in (400, 401), r.text
    assert r.json()["error"] in ("invalid_client", "unauthorized_client", "invalid_grant"), r.text
    r = password_grant(srv, "shop", "shop-spa", "carol", "carol-password")
    assert r.status_code in (400, 401) and r.json()["error"] in ("invalid_client", "unauthorized_client"), r.text
    # Other clients of the realm are unaffected.
    assert password_grant(srv, "shop", "shop-web", "carol", "carol-password", "shop-web-secret").status_code == 200

    assert api(srv, "PUT", f"/admin/realms/shop/clients/{cid}", t, {"enabled": True}).status_code == 204
    assert password_grant(srv, "shop", "shop-spa", "carol", "carol-password").status_code == 200


def test_regenerated_secret_replaces_the_old_one(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms", t, SHOP).status_code == 201
    cid = api(srv, "GET", "/admin/realms/shop/clients?clientId=shop-web", t).json()[0]["id"]
    r = api(srv, "GET", f"/admin/realms/shop/clients/{cid}/client-secret", t)
    assert r.status_code == 200 and r.json() == {"type": "secret", "value": "shop-web-secret"}
    assert "no-store" in r.headers.get("Cache-Control", "")
    r = api(srv, "POST", f"/admin/realms/shop/clients/{cid}/client-secret", t)
    assert r.status_code == 200, r.text
    new = r.json()["value"]
    assert r.json()["type"] == "secret" and new and new != "shop-web-secret"

    old = password_grant(srv, "shop", "shop-web", "carol", "carol-password", "shop-web-secret")
    assert old.status_code == 401 and old.json()["error"] == "invalid_client", old.text
    r = requests.post(srv.oidc("shop") + "/token", auth=("shop-web", "shop-web-secret"), timeout=10,
                      data={"grant_type": "password", "username": "carol", "password": "carol-password"})
    assert r.status_code == 401, r.text
    ok = password_grant(srv, "shop", "shop-web", "carol", "carol-password", new)
    assert ok.status_code == 200, ok.text
    assert refresh(srv, "shop", "shop-web", ok.json()["refresh_token"], new).status_code == 200
    assert api(srv, "GET", f"/admin/realms/shop/clients/{cid}/client-secret", t).json()["value"] == new

    # A public client has no secret.
    spa = api(srv, "GET", "/admin/realms/shop/clients?clientId=shop-spa", t).json()[0]["id"]
    assert_error(api(srv, "POST", f"/admin/realms/shop/clients/{spa}/client-secret", t), 400)


def test_admin_actions_are_audited(srv):
    t = master_token(srv)
    assert api(srv, "POST", "/admin/realms", t, {**SHOP, "adminEventsEnabled": True,
                                                  "adminEventsDetailsEnabled": True}).status_code == 201
    cid = api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "c1"}).headers["Location"].rsplit("/", 1)[1]
    uid = api(srv, "POST", "/admin/realms/shop/users", t, {"username": "u1"}).headers["Location"].rsplit("/", 1)[1]
    assert api(srv, "PUT", f"/admin/realms/shop/users/{uid}", t, {"firstName": "U"}).status_code == 204
    assert api(srv, "PUT", f"/admin/realms/shop/users/{uid}/reset-password", t, {"value": "pw"}).status_code == 204
    assert api(srv, "POST", f"/admin/realms/shop/users/{uid}/logout", t).status_code == 204
    assert api(srv, "GET", f"/admin/realms/shop/clients/{cid}/client-secret", t).status_code == 200
    assert api(srv, "POST", f"/admin/realms/shop/clients/{cid}/client-secret", t).status_code == 200
    assert api(srv, "DELETE", f"/admin/realms/shop/users/{uid}", t).status_code == 204
    assert api(srv, "DELETE", f"/admin/realms/shop/clients/{cid}", t).status_code == 204

    events = api(srv, "GET", "/admin/realms/shop/admin-events?direction=asc", t).json()
    got = [(e["operationType"], e["resourceType"], e["resourcePath"]) for e in events]
    assert got == [
        ("CREATE", "CLIENT", f"clients/{cid}"), ("CREATE", "USER", f"users/{uid}"),
        ("UPDATE", "USER", f"users/{uid}"), ("ACTION", "USER", f"users/{uid}/reset-password"),
        ("ACTION", "USER", f"users/{uid}/logout"), ("ACTION", "CLIENT", f"clients/{cid}/client-secret"),
        ("DELETE", "USER", f"users/{uid}"), ("DELETE", "CLIENT", f"clients/{cid}"),
    ], got
    admin_id = api(srv, "GET", "/admin/realms/master/users?username=admin&exact=true", t).json()[0]["id"]
    assert {e["authDetails"]["userId"] for e in events} == {admin_id}
    # Secrets and passwords never reach the events.
    text = json.dumps(events)
    assert "shop-web-secret" not in text and "carol-password" not in text and '"pw"' not in text

    # Rejected requests (no token, not found, bad payload, conflict) record nothing.
    api(srv, "POST", "/admin/realms/shop/users", None, {"username": "x"})
    api(srv, "DELETE", "/admin/realms/shop/users/nope", t)
    api(srv, "POST", "/admin/realms/shop/users", t, raw="{")
    api(srv, "POST", "/admin/realms/shop/clients", t, {"clientId": "shop-web"})
    assert len(api(srv, "GET", "/admin/realms/shop/admin-events", t).json()) == len(events)
    # A deleted realm's events go with it.
    assert api(srv, "DELETE", "/admin/realms/shop", t).status_code == 204
    assert srv.query("SELECT count(*) FROM admin_events")[0][0] == 0
