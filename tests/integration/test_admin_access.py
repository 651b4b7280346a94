"""Who may call the admin API (issue 20, defect 3): Keycloak's rule. Any client's token is
accepted; the user's roles decide: `admin` of master everything, `create-realm` realm creation,
a realm's `realm-management` roles that realm as far as they go (manage includes view), master's
`R-realm` client roles realm R. An admin role can only be given by someone who holds it."""
import http.client
import json

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import KeycloakError

from test_admin_api import ADMIN_ENV, api, assert_error, master_token

SHOP = {
    "realm": "shop",
    "enabled": True,
    "roles": {"realm": [{"name": "buyer"}]},
    "clients": [
        {"clientId": "shop-admin", "publicClient": False, "secret": "shop-admin-secret",
         "serviceAccountsEnabled": True},
        {"clientId": "app", "publicClient": True, "directAccessGrantsEnabled": True},
        {"clientId": "robot", "publicClient": False, "secret": "robot-secret", "serviceAccountsEnabled": True},
    ],
    "users": [
        {"username": "service-account-shop-admin", "enabled": True, "serviceAccountClientId": "shop-admin",
         "clientRoles": {"realm-management": ["manage-users", "view-clients"]}},
        {"username": "helpdesk", "enabled": True,
         "credentials": [{"type": "password", "value": "helpdesk-password"}],
         "clientRoles": {"realm-management": ["view-users"]}},
        {"username": "dave", "enabled": True, "credentials": [{"type": "password", "value": "dave-password"}]},
        {"username": "service-account-robot", "enabled": True, "serviceAccountClientId": "robot",
         "clientRoles": {"realm-management": ["realm-admin"]}},
        {"username": "service-account-evil", "enabled": True,
         "clientRoles": {"realm-management": ["realm-admin"]}},
        {"username": "clientops", "enabled": True, "credentials": [{"type": "password", "value": "clientops-password"}],
         "clientRoles": {"realm-management": ["manage-clients"]}},
    ],
}


@pytest.fixture
def srv(fresh_server):
    s = fresh_server(env=ADMIN_ENV).start()
    r = api(s, "POST", "/admin/realms", master_token(s), SHOP)
    assert r.status_code == 201, r.text
    return s


def shop_admin(s):
    conn = KeycloakOpenIDConnection(server_url=s.base + "/", realm_name="shop", client_id="shop-admin",
                                    client_secret_key="shop-admin-secret", timeout=10)
    return KeycloakAdmin(connection=conn)


def token(s, realm, client_id, username=None, password=None, secret=None):
    form = {"client_id": client_id}
    if username:
        form.update(grant_type="password", username=username, password=password)
    else:
        form.update(grant_type="client_credentials", client_secret=secret)
    r = s.token(realm, **form)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_service_account_admin_client_with_python_keycloak(srv):
    kc = shop_admin(srv)
    uid = kc.create_user({"username": "erin", "enabled": True,
                          "credentials": [{"type": "password", "value": "erin-password", "temporary": False}]})
    assert any(u["username"] == "erin" for u in kc.get_users({}))
    assert kc.get_user(uid)["username"] == "erin"
    assert any(c["clientId"] == "app" for c in kc.get_clients()), "view-clients"
    with pytest.raises(KeycloakError) as e:
        kc.create_client({"clientId": "sneaky", "publicClient": True})
    assert e.value.response_code == 403
    assert "manage-clients" in e.value.error_message.decode()
    # The realm list holds the one realm it administers.
    t = token(srv, "shop", "shop-admin", secret="shop-admin-secret")
    assert [r["realm"] for r in api(srv, "GET", "/admin/realms", t).json()] == ["shop"]
    # And the user it created signs in.
    assert token(srv, "shop", "app", "erin", "erin-password")


def test_a_realm_token_administers_its_realm_only(srv):
    t = token(srv, "shop", "shop-admin", secret="shop-admin-secret")
    for method, path in [("GET", "/admin/realms/demo/users"), ("GET", "/admin/realms/master/users"),
                         ("DELETE", "/admin/realms/demo"), ("GET", "/admin/realms/demo")]:
        assert_error(api(srv, method, path, t), 403, "cannot administer realm")
    assert_error(api(srv, "POST", "/admin/realms", t, {"realm": "x"}), 403, "create-realm")
    # 403 before 404: a caller without the right learns nothing of which realms exist.
    assert_error(api(srv, "GET", "/admin/realms/no-such-realm/users", t), 403)


def test_view_users_reads_and_does_not_write(srv):
    t = token(srv, "shop", "app", "helpdesk", "helpdesk-password")
    assert api(srv, "GET", "/admin/realms/shop/users", t).status_code == 200
    assert api(srv, "GET", "/admin/realms/shop/users/count", t).status_code == 200
    assert_error(api(srv, "POST", "/admin/realms/shop/users", t, {"username": "x"}), 403, "manage-users")
    assert_error(api(srv, "GET", "/admin/realms/shop/clients", t), 403, "view-clients")
    assert_error(api(srv, "GET", "/admin/realms/shop", t), 403, "view-realm")
    # A user of the realm with no admin role gets nothing.
    d = token(srv, "shop", "app", "dave", "dave-password")
    assert_error(api(srv, "GET", "/admin/realms/shop/users", d), 403)
    assert_error(api(srv, "GET", "/admin/realms", d), 403, "administers no realm")


def test_admin_roles_are_given_only_by_their_holders(srv):
    t = token(srv, "shop", "shop-admin", secret="shop-admin-secret")
    users = {u["username"]: u["id"] for u in api(srv, "GET", "/admin/realms/shop/users", t).json()}
    cid = api(srv, "GET", "/admin/realms/shop/clients?clientId=shop-admin", t).json()[0]["id"]
    me = api(srv, "GET", f"/admin/realms/shop/clients/{cid}/service-account-user", t).json()["id"]
    dave = users["dave"]
    # An ordinary role: managing users is enough.
    r = api(srv, "PUT", f"/admin/realms/shop/users/{dave}", t, {"realmRoles": ["buyer"]})
    assert r.status_code == 204, r.text
    # An admin role it does not hold, to another user or to itself: refused, nothing changed.
    for uid in (dave, me):
        r = api(srv, "PUT", f"/admin/realms/shop/users/{uid}", t,
                {"clientRoles": {"realm-management": ["manage-users", "realm-admin"]}})
        assert_error(r, 403, "realm-admin")
    assert_error(api(srv, "POST", "/admin/realms/shop/users", t,
                     {"username": "mole", "clientRoles": {"realm-management": ["manage-clients"]}}), 403, "manage-clients")
    # One it holds: allowed.
    r = api(srv, "PUT", f"/admin/realms/shop/users/{dave}", t, {"clientRoles": {"realm-management": ["view-clients"]}})
    assert r.status_code == 204, r.text
    admin = master_token(srv)
    got = api(srv, "GET", f"/admin/realms/shop/users/{me}", admin).json()
    assert "realm-admin" not in json.dumps(got)
    assert api(srv, "GET", "/admin/realms/shop/users?username=mole&exact=true", admin).json() == []
    # A realm role the realm does not define is refused as Keycloak refuses it.
    assert_error(api(srv, "PUT", f"/admin/realms/shop/users/{dave}", admin, {"realmRoles": ["nope"]}), 400, "nope")
    assert_error(api(srv, "POST", "/admin/realms/shop/users", admin, {"username": "x", "realmRoles": ["nope"]}), 400, "nope")


def test_master_tokens_of_any_client_by_their_roles(srv):
    admin = master_token(srv)
    r = api(srv, "POST", "/admin/realms/master/clients", admin,
            {"clientId": "ops-portal", "publicClient": False, "secret": "ops-secret", "directAccessGrantsEnabled": True})
    assert r.status_code == 201, r.text
    # Keycloak's rule, which the README now states: an admin through any master client.
    r = srv.token("master", grant_type="password", client_id="ops-portal", client_secret="ops-secret",
                  username="admin", password="admin-password")
    assert r.status_code == 200, r.text
    via_portal = r.json()["access_token"]
    assert {x["realm"] for x in api(srv, "GET", "/admin/realms", via_portal).json()} >= {"master", "demo", "shop"}
    # master's `shop-realm` client roles administer shop, and only shop.
    for name, rep in [("auditor", {"clientRoles": {"shop-realm": ["view-users"]}}),
                      ("founder", {"realmRoles": ["create-realm"]})]:
        r = api(srv, "POST", "/admin/realms/master/users", admin,
                {"username": name, "enabled": True, **rep,
                 "credentials": [{"type": "password", "value": f"{name}-password"}]})
        assert r.status_code == 201, r.text
    auditor = master_token(srv, "auditor", "auditor-password")
    r = api(srv, "GET", "/admin/realms/shop/users", auditor)
    assert r.status_code == 200, r.text
    assert_error(api(srv, "GET", "/admin/realms/demo/users", auditor), 403)
    assert_error(api(srv, "POST", "/admin/realms/shop/users", auditor, {"username": "x"}), 403)
    founder = master_token(srv, "founder", "founder-password")
    assert api(srv, "POST", "/admin/realms", founder, {"realm": "newco", "enabled": True}).status_code == 201
    assert_error(api(srv, "GET", "/admin/realms/demo/users", founder), 403)


def test_tokens_that_fail_their_checks_are_401(srv):
    t = token(srv, "shop", "shop-admin", secret="shop-admin-secret")
    h, p, s = t.split(".")
    forged = f"{h}.{p}.{s[:-4]}AAAA"
    assert_error(api(srv, "GET", "/admin/realms/shop/users", forged), 401)
    import base64

    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    foreign = b64({"alg": "none", "typ": "JWT"}) + "." + b64({"iss": "https://evil.example/realms/master", "sub": "x"}) + "."
    assert_error(api(srv, "GET", "/admin/realms", foreign), 401, "not by a realm of this server")
    assert_error(api(srv, "GET", "/admin/realms", "not-a-jwt"), 401)


def raw_request(s, method, path, headers, body=None):
    """A request with repeated headers, which `requests` would fold into one."""
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.putrequest(method, path)
    for k, v in headers:
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body.encode() if body is not None else None)
    r = conn.getresponse()
    out = (r.status, r.read().decode())
    conn.close()
    return out


def test_two_authorization_headers_are_refused_everywhere(srv):
    admin = master_token(srv)
    alice = srv.password_login()["access_token"]
    two = [("Authorization", f"Bearer {admin}"), ("Authorization", f"Bearer {alice}")]
    status, body = raw_request(srv, "GET", "/admin/realms", two)
    assert status == 401 and "more than one Authorization header" in body, body
    status, body = raw_request(srv, "GET", "/realms/demo/protocol/openid-connect/userinfo", two[::-1])
    assert status == 401 and "more than one Authorization header" in body, body
    basic = [("Authorization", "Basic d2ViOndlYi1zZWNyZXQ="), ("Authorization", "Basic b3RoZXI6eA=="),
             ("Content-Type", "application/x-www-form-urlencoded")]
    status, body = raw_request(srv, "POST", "/realms/demo/protocol/openid-connect/token", basic,
                               "grant_type=client_credentials")
    assert status == 400 and json.loads(body)["error"] == "invalid_request", body
    assert "more than one Authorization header" in json.loads(body)["error_description"]


def test_managing_clients_does_not_borrow_a_service_accounts_admin_roles(srv):
    """Found in review: a manage-clients caller could set or read the secret of a client whose
    service account holds realm-admin, then use client_credentials as realm-admin."""
    t = token(srv, "shop", "app", "clientops", "clientops-password")
    robot = api(srv, "GET", "/admin/realms/shop/clients?clientId=robot", t).json()[0]["id"]
    app = api(srv, "GET", "/admin/realms/shop/clients?clientId=app", t).json()[0]["id"]
    for method, path, body in [("GET", f"/clients/{robot}/client-secret", None),
                               ("POST", f"/clients/{robot}/client-secret", None),
                               ("PUT", f"/clients/{robot}", {"secret": "mine-now"})]:
        assert_error(api(srv, method, "/admin/realms/shop" + path, t, body), 403, "realm-admin")
    # A new client whose service account would be an existing admin user is refused too.
    assert_error(api(srv, "POST", "/admin/realms/shop/clients", t,
                     {"clientId": "evil", "serviceAccountsEnabled": True, "secret": "x"}), 403, "realm-admin")
    # Nothing changed: robot's own secret still works, the attempted one does not.
    assert srv.token("shop", grant_type="client_credentials", client_id="robot", client_secret="robot-secret").status_code == 200
    assert srv.token("shop", grant_type="client_credentials", client_id="robot", client_secret="mine-now").status_code == 401
    # An ordinary client stays fully manageable.
    assert api(srv, "PUT", f"/admin/realms/shop/clients/{app}", t, {"description": "ok"}).status_code == 204
