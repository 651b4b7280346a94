"""Keycloak's admin REST endpoints for the realm model (issue 21): roles and composites, user and group
role mappings, groups, client scopes, protocol mappers and the realm's keys, driven by python-keycloak
7.1.1's `KeycloakAdmin` the way its users call it, then checked where it matters: in the tokens a
password grant yields afterwards.

Every test starts its own server with the bootstrap admin and creates realm `shop` through the API, so
its clients and users are what `POST /clients` and `POST /users` make (users get the realm's default
role, clients the realm's default client scopes), as in Keycloak.

Where python-keycloak has no method for an endpoint (`/roles/{name}/composites/realm`, one mapper by
id), the test calls it through the same authenticated connection (`kc.connection.raw_get`).
"""
import json
from urllib.parse import urlparse

import pytest
import requests
from keycloak import KeycloakAdmin, KeycloakOpenIDConnection
from keycloak.exceptions import (
    KeycloakDeleteError,
    KeycloakError,
    KeycloakGetError,
    KeycloakPostError,
    KeycloakPutError,
)

from conftest import decode_jwt, header_jwt
from test_admin_api import ADMIN_ENV, api, assert_error, kc_admin, master_token

REALM = "shop"
WEB_SECRET = "web-secret"
GHOST = "00000000-0000-0000-0000-000000000000"
DEFAULT_ROLE = "default-roles-shop"
ACCOUNT_DEFAULT = {"manage-account", "manage-account-links", "view-profile"}
DEFAULT_REALM_ROLES = {DEFAULT_ROLE, "offline_access", "uma_authorization"}

# A Keycloak 24+ realm hides user attributes its user profile does not declare; an administrator who
# maps free-form attributes into tokens turns unmanaged attributes on (Realm settings > General >
# Unmanaged attributes), which is this component.
USER_PROFILE = {
    "org.keycloak.userprofile.UserProfileProvider": [{
        "providerId": "declarative-user-profile",
        "subComponents": {},
        "config": {"kc.user.profile.config": [json.dumps({
            "unmanagedAttributePolicy": "ENABLED",
            "attributes": [{"name": n} for n in ("username", "email", "firstName", "lastName")],
        })]},
    }]
}


# ---------------------------------------------------------------------------------------------
# harness

@pytest.fixture
def srv(fresh_server):
    return fresh_server(env=ADMIN_ENV).start()


@pytest.fixture
def kc(srv):
    """python-keycloak signed in as master's admin, working on realm shop, which has the client
    `web` (confidential, password grant allowed)."""
    admin = kc_admin(srv)
    admin.create_realm({"realm": REALM, "enabled": True, "components": USER_PROFILE})
    admin.change_current_realm(REALM)
    admin.create_client({"clientId": "web", "publicClient": False, "secret": WEB_SECRET,
                         "directAccessGrantsEnabled": True, "redirectUris": ["http://localhost:4000/*"]})
    return admin


def new_user(kc, name, **extra):
    """A user made by `POST /users`, with a password `<name>-password` (and the profile fields a
    Keycloak 24+ realm wants before a password grant)."""
    return kc.create_user({
        "username": name, "enabled": True, "email": f"{name}@example.com", "emailVerified": True,
        "firstName": name.title(), "lastName": "Shopper",
        "credentials": [{"type": "password", "value": f"{name}-password", "temporary": False}],
        **extra,
    })


def new_client(kc, client_id, **extra):
    return kc.create_client({"clientId": client_id, "publicClient": False, **extra})


def tokens(srv, username, client="web", secret=WEB_SECRET, **extra):
    form = {"grant_type": "password", "client_id": client, "username": username,
            "password": f"{username}-password", **extra}
    if secret:
        form["client_secret"] = secret
    r = srv.token(REALM, **form)
    assert r.status_code == 200, r.text
    return r.json()


def claims(srv, username, client="web", secret=WEB_SECRET, **extra):
    """The access token's claims of a fresh password grant."""
    return decode_jwt(tokens(srv, username, client, secret, **extra)["access_token"])


def realm_roles(at):
    roles = at.get("realm_access", {}).get("roles", [])
    assert len(roles) == len(set(roles)), roles
    return set(roles)


def client_roles(at, client_id):
    roles = at.get("resource_access", {}).get(client_id, {}).get("roles", [])
    assert len(roles) == len(set(roles)), roles
    return set(roles)


def audiences(at):
    """Keycloak writes one audience as a string, several as an array, none as no claim."""
    aud = at.get("aud")
    if aud is None:
        return set()
    if isinstance(aud, str):
        return {aud}
    assert len(aud) == len(set(aud)), aud
    return set(aud)


def names(reps):
    out = [r["name"] for r in reps]
    assert len(out) == len(set(out)), out
    return set(out)


def raw(kc, method, path, body=None):
    """An endpoint python-keycloak does not wrap, through its authenticated connection; `path` is
    under /admin/realms/shop."""
    url = f"admin/realms/{REALM}{path}"
    conn = kc.connection
    if method == "GET":
        return conn.raw_get(url)
    if method == "DELETE":
        return conn.raw_delete(url, data=json.dumps(body) if body is not None else None)
    return getattr(conn, f"raw_{method.lower()}")(url, data=json.dumps(body))


def refused(excinfo, status, *mentions):
    """A python-keycloak error carrying Keycloak's error JSON with the status `status`."""
    e = excinfo.value
    assert e.response_code == status, (e.response_code, e.response_body)
    body = json.loads(e.response_body)
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("errorMessage"), str) and body["errorMessage"], body
    for m in mentions:
        assert m in body["errorMessage"], (m, body)
    return body


# ---------------------------------------------------------------------------------------------
# what a new realm, client and user have

def test_new_realm_has_keycloaks_roles_and_api_users_get_the_default_role(srv, kc):
    assert names(kc.get_realm_roles()) >= DEFAULT_REALM_ROLES
    assert kc.get_realm(REALM)["defaultRole"]["name"] == DEFAULT_ROLE
    default = kc.get_realm_role(DEFAULT_ROLE)
    assert default["composite"] is True and default["clientRole"] is False
    account = kc.get_client_id("account")
    assert account and kc.get_client_id("realm-management") and kc.get_client_id("broker")
    assert {"view-profile", "manage-account", "manage-account-links"} <= names(kc.get_client_roles(account))
    assert kc.get_client_role(account, "manage-account")["composite"] is True

    # Its composites: all of them, the realm ones, one client's.
    comps = kc.get_composite_realm_roles_of_role(DEFAULT_ROLE)
    assert names(comps) == {"offline_access", "uma_authorization", "view-profile", "manage-account"}
    for c in comps:
        if c["name"] in ("view-profile", "manage-account"):
            assert c["clientRole"] is True and c["containerId"] == account, c
        else:
            assert c["clientRole"] is False, c
    r = raw(kc, "GET", f"/roles/{DEFAULT_ROLE}/composites/realm")
    assert r.status_code == 200, r.text
    assert names(r.json()) == {"offline_access", "uma_authorization"}
    r = raw(kc, "GET", f"/roles/{DEFAULT_ROLE}/composites/clients/{account}")
    assert r.status_code == 200, r.text
    assert names(r.json()) == {"view-profile", "manage-account"}

    # A user made through the API holds the default role directly, and its composites effectively.
    uid = new_user(kc, "dave")
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}
    mappings = kc.get_all_roles_of_user(uid)
    assert names(mappings["realmMappings"]) == {DEFAULT_ROLE}
    assert not mappings.get("clientMappings"), mappings
    assert names(kc.get_composite_realm_roles_of_user(uid)) == DEFAULT_REALM_ROLES
    assert kc.get_client_roles_of_user(uid, account) == []
    assert names(kc.get_composite_client_roles_of_user(uid, account)) == ACCOUNT_DEFAULT

    # And its token says so: the account roles make `account` the audience.
    at = claims(srv, "dave")
    assert realm_roles(at) == DEFAULT_REALM_ROLES
    assert set(at["resource_access"]) == {"account"}
    assert client_roles(at, "account") == ACCOUNT_DEFAULT
    assert at["aud"] == "account"
    assert at["azp"] == "web"


def test_new_client_gets_the_realm_default_client_scopes_and_no_mappers_of_its_own(kc):
    web = kc.get_client_id("web")
    assert names(kc.get_default_default_client_scopes()) >= {"profile", "email", "roles", "web-origins", "acr", "basic"}
    assert names(kc.get_default_optional_client_scopes()) >= {"offline_access", "address", "phone", "microprofile-jwt"}
    assert names(kc.get_client_default_client_scopes(web)) == names(kc.get_default_default_client_scopes())
    assert names(kc.get_client_optional_client_scopes(web)) == names(kc.get_default_optional_client_scopes())
    assert names(kc.get_client_scopes()) >= {"profile", "email", "roles", "web-origins", "acr", "basic",
                                             "offline_access", "address", "phone", "microprofile-jwt"}
    roles_scope = kc.get_client_scope_by_name("roles")
    assert roles_scope["protocol"] == "openid-connect"
    assert kc.get_client_scope(roles_scope["id"])["name"] == "roles"
    mapper_types = {m["protocolMapper"] for m in kc.get_mappers_from_client_scope(roles_scope["id"])}
    assert {"oidc-usermodel-realm-role-mapper", "oidc-usermodel-client-role-mapper",
            "oidc-audience-resolve-mapper"} <= mapper_types
    assert kc.get_mappers_from_client(web) == []


# ---------------------------------------------------------------------------------------------
# realm roles

def test_realm_role_create_read_update_delete(srv, kc):
    assert kc.create_realm_role({"name": "buyer", "description": "Buys things"}) == "buyer"
    role = kc.get_realm_role("buyer")
    assert role["name"] == "buyer" and role["description"] == "Buys things"
    assert role["composite"] is False and role["clientRole"] is False
    assert role["containerId"] == kc.get_realm(REALM)["id"]
    assert role["id"]
    assert "buyer" in names(kc.get_realm_roles())
    # skip_exists finds it; without it a second one is a conflict.
    assert kc.create_realm_role({"name": "buyer"}, skip_exists=True) == "buyer"
    with pytest.raises(KeycloakPostError) as e:
        kc.create_realm_role({"name": "buyer"})
    refused(e, 409, "buyer")

    kc.update_realm_role("buyer", {"name": "buyer", "description": "Buys more"})
    assert kc.get_realm_role("buyer")["description"] == "Buys more"
    assert kc.get_realm_role("buyer")["id"] == role["id"]
    # Renaming through PUT is refused with 400: a documented limitation of latchkey (Keycloak
    # renames the role). Nothing changes.
    with pytest.raises(KeycloakPutError) as e:
        kc.update_realm_role("buyer", {"name": "purchaser", "description": "x"})
    refused(e, 400)
    assert kc.get_realm_role("buyer")["description"] == "Buys more"
    with pytest.raises(KeycloakGetError) as e:
        kc.get_realm_role("purchaser")
    refused(e, 404)

    kc.delete_realm_role("buyer")
    with pytest.raises(KeycloakGetError) as e:
        kc.get_realm_role("buyer")
    refused(e, 404)
    assert "buyer" not in names(kc.get_realm_roles())
    with pytest.raises(KeycloakDeleteError) as e:
        kc.delete_realm_role("buyer")
    refused(e, 404)
    with pytest.raises(KeycloakPutError) as e:
        kc.update_realm_role("buyer", {"name": "buyer"})
    refused(e, 404)
    # The name is free again.
    assert kc.create_realm_role({"name": "buyer"}) == "buyer"


def test_realm_roles_search_and_pages(kc):
    for n in ("sales-lead", "sales-rep", "support"):
        kc.create_realm_role({"name": n})
    everything = names(kc.get_realm_roles())
    assert {"sales-lead", "sales-rep", "support"} <= everything
    page = kc.get_realm_roles(query={"first": 0, "max": 2})
    assert len(page) == 2
    rest = kc.get_realm_roles(query={"first": 2, "max": 100})
    assert names(page) | names(rest) == everything and not names(page) & names(rest)
    # Keycloak's `search`: a case-insensitive substring of the name.
    assert names(kc.get_realm_roles(search_text="sales")) == {"sales-lead", "sales-rep"}
    assert names(kc.get_realm_roles(search_text="SUPP")) == {"support"}


def test_group_lists_page_and_search(kc):
    """Keycloak's `first`/`max` and `search` on the group lists. python-keycloak relies on paging:
    with no query its `get_groups`, `get_group_members`, `get_user_groups`, `get_realm_roles` ask for
    `first=0&max=100`, then `first=100`, ... until a page is short, so a list that ignores `first` and
    holds 100 entries or more makes those calls loop forever."""
    top = [kc.create_group({"name": n}) for n in ("alpha", "beta", "gamma")]
    kids = [kc.create_group({"name": n}, parent=top[0]) for n in ("k1", "k2", "k3")]
    users = [new_user(kc, n) for n in ("ann", "ben", "cat")]
    for u in users:
        kc.group_user_add(u, top[0])
    for g in top[1:]:
        kc.group_user_add(users[0], g)

    page = kc.get_groups(query={"first": 0, "max": 2})
    assert len(page) == 2, [g["name"] for g in page]
    rest = kc.get_groups(query={"first": 2, "max": 2})
    assert {g["name"] for g in page + rest} == {"alpha", "beta", "gamma"}
    page = kc.get_group_children(top[0], query={"first": 1, "max": 1})
    assert len(page) == 1 and page[0]["id"] in kids, page
    page = kc.get_group_members(top[0], query={"first": 0, "max": 2})
    assert len(page) == 2, [u["username"] for u in page]
    page = kc.get_user_groups(users[0], query={"first": 0, "max": 2})
    assert len(page) == 2, [g["name"] for g in page]

    # Search: a case-insensitive part of the name.
    assert [g["name"] for g in kc.get_groups(query={"search": "GAM"})] == ["gamma"]
    assert [g["name"] for g in kc.get_user_groups(users[0], query={"search": "bet"})] == ["beta"]


def test_role_created_answers_201_with_its_location(srv, kc):
    t = master_token(srv)
    base = f"/admin/realms/{REALM}"
    r = api(srv, "POST", base + "/roles", t, {"name": "auditor"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == srv.base + base + "/roles/auditor"
    assert api(srv, "GET", urlparse(r.headers["Location"]).path, t).json()["name"] == "auditor"
    web = kc.get_client_id("web")
    r = api(srv, "POST", base + f"/clients/{web}/roles", t, {"name": "viewer"})
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == srv.base + base + f"/clients/{web}/roles/viewer"
    got = api(srv, "GET", urlparse(r.headers["Location"]).path, t).json()
    assert got["name"] == "viewer" and got["clientRole"] is True and got["containerId"] == web
    # Updates, composite changes and deletes answer 204 with no body.
    viewer = api(srv, "GET", base + f"/clients/{web}/roles/viewer", t).json()
    for method, path, body in [
        ("PUT", "/roles/auditor", {"name": "auditor", "description": "Audits"}),
        ("POST", "/roles/auditor/composites", [viewer]),
        ("DELETE", "/roles/auditor/composites", [viewer]),
        ("DELETE", f"/clients/{web}/roles/viewer", None),
        ("DELETE", "/roles/auditor", None),
    ]:
        r = api(srv, method, base + path, t, body)
        assert r.status_code == 204, (method, path, r.status_code, r.text)
        assert r.content == b"", (method, path, r.content)


def test_composite_realm_role_shows_its_composites_in_tokens(srv, kc):
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "api-write"})
    for n in ("reader", "writer", "editor"):
        kc.create_realm_role({"name": n})
    reader, writer = kc.get_realm_role("reader"), kc.get_realm_role("writer")
    api_write = kc.get_client_role(api_id, "api-write")
    kc.add_composite_realm_roles_to_role("editor", [reader, writer])
    kc.add_composite_realm_roles_to_role("editor", api_write)  # a client role as a composite

    assert kc.get_realm_role("editor")["composite"] is True
    assert names(kc.get_composite_realm_roles_of_role("editor")) == {"reader", "writer", "api-write"}
    r = raw(kc, "GET", "/roles/editor/composites/realm")
    assert r.status_code == 200 and names(r.json()) == {"reader", "writer"}, r.text
    r = raw(kc, "GET", f"/roles/editor/composites/clients/{api_id}")
    assert r.status_code == 200 and names(r.json()) == {"api-write"}, r.text
    r = raw(kc, "GET", "/roles/reader/composites")
    assert r.status_code == 200 and r.json() == [], r.text

    uid = new_user(kc, "erin")
    kc.assign_realm_roles(uid, [kc.get_realm_role("editor")])
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE, "editor"}
    assert names(kc.get_composite_realm_roles_of_user(uid)) == DEFAULT_REALM_ROLES | {"editor", "reader", "writer"}
    assert kc.get_client_roles_of_user(uid, api_id) == []
    assert names(kc.get_composite_client_roles_of_user(uid, api_id)) == {"api-write"}

    at = claims(srv, "erin")
    assert realm_roles(at) == DEFAULT_REALM_ROLES | {"editor", "reader", "writer"}
    assert client_roles(at, "api") == {"api-write"}
    assert audiences(at) == {"account", "api"}

    # Taking a composite away takes it out of the next token.
    kc.remove_composite_realm_roles_to_role("editor", [writer])
    assert names(kc.get_composite_realm_roles_of_role("editor")) == {"reader", "api-write"}
    at = claims(srv, "erin")
    assert realm_roles(at) == DEFAULT_REALM_ROLES | {"editor", "reader"}
    assert client_roles(at, "api") == {"api-write"}
    kc.remove_composite_realm_roles_to_role("editor", api_write)
    at = claims(srv, "erin")
    assert "api" not in at.get("resource_access", {}) and audiences(at) == {"account"}

    # And taking the role from the user takes its composites too.
    kc.delete_realm_roles_of_user(uid, [kc.get_realm_role("editor")])
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}
    assert realm_roles(claims(srv, "erin")) == DEFAULT_REALM_ROLES


def test_default_role_composites_change_what_every_holder_gets(srv, kc):
    """The default role is an ordinary composite: what is added to it reaches every user holding it,
    on their next token, and what is taken out leaves."""
    new_user(kc, "olga")
    kc.create_realm_role({"name": "member"})
    kc.add_composite_realm_roles_to_role(DEFAULT_ROLE, [kc.get_realm_role("member")])
    assert "member" in names(kc.get_composite_realm_roles_of_role(DEFAULT_ROLE))
    assert realm_roles(claims(srv, "olga")) == DEFAULT_REALM_ROLES | {"member"}
    later = new_user(kc, "pete")
    assert "member" in names(kc.get_composite_realm_roles_of_user(later))
    kc.remove_composite_realm_roles_to_role(DEFAULT_ROLE, [kc.get_realm_role("offline_access")])
    assert realm_roles(claims(srv, "olga")) == {DEFAULT_ROLE, "uma_authorization", "member"}
    # The account roles come through the default role as well.
    account = kc.get_client_id("account")
    kc.remove_composite_realm_roles_to_role(DEFAULT_ROLE, [kc.get_client_role(account, "view-profile")])
    at = claims(srv, "pete")
    assert client_roles(at, "account") == {"manage-account", "manage-account-links"}


def test_composite_cycle_is_refused_naming_it(srv, kc):
    """latchkey refuses a cycle of composite roles (Keycloak accepts one and expands each role once): the
    change that would close the cycle is a 400 that names the roles, and nothing changes."""
    from keycloak.exceptions import KeycloakError
    for n in ("ping", "pong"):
        kc.create_realm_role({"name": n})
    kc.add_composite_realm_roles_to_role("ping", [kc.get_realm_role("pong")])
    with pytest.raises(KeycloakError) as e:
        kc.add_composite_realm_roles_to_role("pong", [kc.get_realm_role("ping")])
    assert e.value.response_code == 400
    assert "cycle" in str(e.value.error_message) and "pong" in str(e.value.error_message)
    assert names(kc.get_composite_realm_roles_of_role("pong")) == set()
    uid = new_user(kc, "quinn")
    kc.assign_realm_roles(uid, [kc.get_realm_role("ping")])
    assert realm_roles(claims(srv, "quinn")) == DEFAULT_REALM_ROLES | {"ping", "pong"}


def test_service_account_role_mappings_reach_client_credentials_tokens(srv, kc):
    robot = new_client(kc, "robot", serviceAccountsEnabled=True, secret="robot-secret")
    sa = kc.get_client_service_account_user(robot)["id"]
    assert names(kc.get_realm_roles_of_user(sa)) == {DEFAULT_ROLE}
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "call"})
    kc.create_realm_role({"name": "batch"})
    kc.assign_realm_roles(sa, [kc.get_realm_role("batch")])
    kc.assign_client_role(sa, api_id, [kc.get_client_role(api_id, "call")])

    def cc():
        r = srv.token(REALM, grant_type="client_credentials", client_id="robot", client_secret="robot-secret")
        assert r.status_code == 200, r.text
        return decode_jwt(r.json()["access_token"])

    at = cc()
    assert realm_roles(at) == DEFAULT_REALM_ROLES | {"batch"}
    assert client_roles(at, "api") == {"call"}
    assert audiences(at) == {"account", "api"}
    kc.delete_client_roles_of_user(sa, api_id, [kc.get_client_role(api_id, "call")])
    kc.delete_realm_roles_of_user(sa, [kc.get_realm_role("batch")])
    at = cc()
    assert realm_roles(at) == DEFAULT_REALM_ROLES and audiences(at) == {"account"}


# ---------------------------------------------------------------------------------------------
# client roles

def test_client_roles_crud_composites_and_user_mappings_in_tokens(srv, kc):
    api_id = new_client(kc, "api")
    assert kc.create_client_role(api_id, {"name": "read", "description": "Reads"}) == "read"
    assert kc.create_client_role(api_id, {"name": "admin"}) == "admin"
    with pytest.raises(KeycloakPostError) as e:
        kc.create_client_role(api_id, {"name": "read"})
    refused(e, 409, "read")
    assert kc.create_client_role(api_id, {"name": "read"}, skip_exists=True) == "read"
    assert names(kc.get_client_roles(api_id)) == {"read", "admin"}
    read = kc.get_client_role(api_id, "read")
    assert read["clientRole"] is True and read["containerId"] == api_id and read["description"] == "Reads"
    assert kc.get_client_role_id(api_id, "read") == read["id"]
    # The same name as a realm role or another client's role is another role.
    kc.create_realm_role({"name": "read"})
    web = kc.get_client_id("web")
    kc.create_client_role(web, {"name": "read"})
    assert kc.get_realm_role("read")["id"] != read["id"] != kc.get_client_role(web, "read")["id"]

    kc.update_client_role(api_id, "read", {"name": "read", "description": "Reads all"})
    assert kc.get_client_role(api_id, "read")["description"] == "Reads all"
    # Renaming is refused with 400 (latchkey's documented limitation).
    with pytest.raises(KeycloakPutError) as e:
        kc.update_client_role(api_id, "read", {"name": "browse"})
    refused(e, 400)
    assert names(kc.get_client_roles(api_id)) == {"read", "admin"}

    # A composite client role: admin includes read.
    kc.add_composite_client_roles_to_role(api_id, "admin", [kc.get_client_role(api_id, "read")])
    assert kc.get_client_role(api_id, "admin")["composite"] is True
    assert names(kc.get_composite_client_roles_of_role(api_id, "admin")) == {"read"}

    uid = new_user(kc, "frank")
    kc.assign_client_role(uid, api_id, [kc.get_client_role(api_id, "admin")])
    assert names(kc.get_client_roles_of_user(uid, api_id)) == {"admin"}
    assert names(kc.get_composite_client_roles_of_user(uid, api_id)) == {"admin", "read"}
    mappings = kc.get_all_roles_of_user(uid)
    assert names(mappings["realmMappings"]) == {DEFAULT_ROLE}
    assert mappings["clientMappings"]["api"]["id"] == api_id
    assert mappings["clientMappings"]["api"]["client"] == "api"
    assert names(mappings["clientMappings"]["api"]["mappings"]) == {"admin"}

    # The client role is in resource_access and makes the client an audience.
    at = claims(srv, "frank")
    assert client_roles(at, "api") == {"admin", "read"}
    assert client_roles(at, "account") == ACCOUNT_DEFAULT
    assert audiences(at) == {"account", "api"}
    assert "read" not in realm_roles(at)

    kc.remove_composite_client_roles_from_role(api_id, "admin", [kc.get_client_role(api_id, "read")])
    assert client_roles(claims(srv, "frank"), "api") == {"admin"}

    kc.delete_client_roles_of_user(uid, api_id, [kc.get_client_role(api_id, "admin")])
    assert kc.get_client_roles_of_user(uid, api_id) == []
    at = claims(srv, "frank")
    assert "api" not in at.get("resource_access", {})
    assert audiences(at) == {"account"}

    kc.delete_client_role(api_id, "read")
    assert names(kc.get_client_roles(api_id)) == {"admin"}
    with pytest.raises(KeycloakGetError) as e:
        kc.get_client_role(api_id, "read")
    refused(e, 404)
    with pytest.raises(KeycloakDeleteError) as e:
        kc.delete_client_role(api_id, "read")
    refused(e, 404)
    # The realm role and web's role of the same name are untouched.
    assert kc.get_realm_role("read")["name"] == "read"
    assert kc.get_client_role(web, "read")["name"] == "read"


def test_client_role_composites_by_kind(kc):
    """`/clients/{id}/roles/{name}/composites/realm` and `/composites/clients/{client}`, as for realm
    roles (python-keycloak has no method for them)."""
    api_id = new_client(kc, "api")
    web = kc.get_client_id("web")
    kc.create_realm_role({"name": "employee"})
    for n in ("read", "admin"):
        kc.create_client_role(api_id, {"name": n})
    kc.create_client_role(web, {"name": "browse"})
    kc.add_composite_client_roles_to_role(api_id, "admin", [
        kc.get_client_role(api_id, "read"), kc.get_client_role(web, "browse"), kc.get_realm_role("employee")])
    assert names(kc.get_composite_client_roles_of_role(api_id, "admin")) == {"read", "browse", "employee"}
    r = raw(kc, "GET", f"/clients/{api_id}/roles/admin/composites/realm")
    assert r.status_code == 200 and names(r.json()) == {"employee"}, r.text
    r = raw(kc, "GET", f"/clients/{api_id}/roles/admin/composites/clients/{api_id}")
    assert r.status_code == 200 and names(r.json()) == {"read"}, r.text
    r = raw(kc, "GET", f"/clients/{api_id}/roles/admin/composites/clients/{web}")
    assert r.status_code == 200 and names(r.json()) == {"browse"}, r.text
    r = raw(kc, "GET", f"/clients/{api_id}/roles/read/composites/realm")
    assert r.status_code == 200 and r.json() == [], r.text


def test_client_roles_and_mappings_follow_a_client_id_rename(srv, kc):
    """A client's roles belong to the client, not to its clientId: renaming the client keeps its
    roles and everyone's mappings, and tokens name it by its new clientId."""
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "call"})
    kc.create_client_role(api_id, {"name": "watch"})
    team = kc.create_group({"name": "team"})
    uid = new_user(kc, "rita")
    kc.group_user_add(uid, team)
    kc.assign_client_role(uid, api_id, [kc.get_client_role(api_id, "call")])
    kc.assign_group_client_roles(team, api_id, [kc.get_client_role(api_id, "watch")])
    assert client_roles(claims(srv, "rita"), "api") == {"call", "watch"}

    kc.update_client(api_id, {"clientId": "api-v2"})
    assert kc.get_client(api_id)["clientId"] == "api-v2"
    assert names(kc.get_client_roles(api_id)) == {"call", "watch"}
    assert kc.get_client_role(api_id, "call")["containerId"] == api_id
    assert names(kc.get_client_roles_of_user(uid, api_id)) == {"call"}
    assert names(kc.get_group_client_roles(team, api_id)) == {"watch"}
    mappings = kc.get_all_roles_of_user(uid)["clientMappings"]
    assert set(mappings) == {"api-v2"} and mappings["api-v2"]["id"] == api_id
    at = claims(srv, "rita")
    assert "api" not in at["resource_access"]
    assert client_roles(at, "api-v2") == {"call", "watch"}
    assert audiences(at) == {"account", "api-v2"}


def test_a_users_own_client_roles_do_not_make_it_an_audience(srv, kc):
    """Keycloak's audience resolution adds every client in resource_access but the requester."""
    web = kc.get_client_id("web")
    kc.create_client_role(web, {"name": "shopper"})
    uid = new_user(kc, "gina")
    kc.assign_client_role(uid, web, kc.get_client_role(web, "shopper"))
    at = claims(srv, "gina")
    assert client_roles(at, "web") == {"shopper"}
    assert audiences(at) == {"account"}


# ---------------------------------------------------------------------------------------------
# groups

def test_groups_tree_paths_and_members(kc):
    staff = kc.create_group({"name": "staff"})
    devs = kc.create_group({"name": "devs"}, parent=staff)
    ops = kc.create_group({"name": "ops"}, parent=staff)
    guests = kc.create_group({"name": "guests"})
    assert staff and devs and ops and guests

    g = kc.get_group(staff)
    assert g["id"] == staff and g["name"] == "staff" and g["path"] == "/staff"
    assert {(s["name"], s["path"]) for s in g["subGroups"]} == {("devs", "/staff/devs"), ("ops", "/staff/ops")}
    children = kc.get_group_children(staff)
    assert {c["id"] for c in children} == {devs, ops}
    assert kc.get_group(devs)["path"] == "/staff/devs"
    # The realm's groups are the top-level ones.
    top = kc.get_groups()
    assert {x["name"] for x in top} == {"staff", "guests"}
    assert {s["name"] for s in next(x for x in top if x["name"] == "staff")["subGroups"]} == {"devs", "ops"}

    # By path, with or without the leading slash (python-keycloak's callers pass "/a/b").
    assert kc.get_group_by_path("/staff/devs")["id"] == devs
    assert kc.get_group_by_path("/staff")["id"] == staff
    assert kc.get_group_by_path("staff/ops")["id"] == ops
    for missing in ("/staff/nobody", "/nobody", "/devs"):
        with pytest.raises(KeycloakGetError) as e:
            kc.get_group_by_path(missing)
        refused(e, 404)

    # Names are unique among siblings, not across the tree.
    with pytest.raises(KeycloakPostError) as e:
        kc.create_group({"name": "staff"})
    refused(e, 409)
    with pytest.raises(KeycloakPostError) as e:
        kc.create_group({"name": "devs"}, parent=staff)
    refused(e, 409)
    # skip_exists swallows the 409 (and, with no Location, python-keycloak returns None).
    assert kc.create_group({"name": "staff"}, skip_exists=True) is None
    devs_in_guests = kc.create_group({"name": "devs"}, parent=guests)
    assert devs_in_guests != devs
    assert kc.get_group_by_path("/guests/devs")["id"] == devs_in_guests

    # Members: a user's groups and a group's direct members.
    alice, bob = new_user(kc, "alice"), new_user(kc, "bob")
    kc.group_user_add(alice, staff)
    kc.group_user_add(bob, devs)
    kc.group_user_add(bob, guests)
    assert [u["username"] for u in kc.get_group_members(staff)] == ["alice"]
    assert [u["username"] for u in kc.get_group_members(devs)] == ["bob"]
    assert [u["id"] for u in kc.get_group_members(devs)] == [bob]
    assert kc.get_group_members(ops) == []
    assert {(x["name"], x["path"]) for x in kc.get_user_groups(bob)} == {("devs", "/staff/devs"), ("guests", "/guests")}
    assert [x["id"] for x in kc.get_user_groups(alice)] == [staff]
    # Joining twice is harmless.
    kc.group_user_add(alice, staff)
    assert [u["username"] for u in kc.get_group_members(staff)] == ["alice"]
    kc.group_user_remove(bob, guests)
    assert [x["id"] for x in kc.get_user_groups(bob)] == [devs]
    assert kc.get_group_members(guests) == []

    # Update: attributes, and a rename moves the paths of the subtree.
    kc.update_group(staff, {"name": "staff", "attributes": {"floor": ["3"]}})
    assert kc.get_group(staff)["attributes"] == {"floor": ["3"]}
    kc.update_group(devs, {"name": "developers"})
    assert kc.get_group(devs)["path"] == "/staff/developers"
    assert kc.get_group_by_path("/staff/developers")["id"] == devs
    assert [x["path"] for x in kc.get_user_groups(bob)] == ["/staff/developers"]

    # Deleting a user ends its memberships.
    zed = new_user(kc, "zed")
    kc.group_user_add(zed, guests)
    assert [u["username"] for u in kc.get_group_members(guests)] == ["zed"]
    kc.delete_user(zed)
    assert kc.get_group_members(guests) == []

    # Deleting a group deletes its subgroups and their memberships.
    kc.delete_group(staff)
    for gid in (staff, devs, ops):
        with pytest.raises(KeycloakGetError) as e:
            kc.get_group(gid)
        refused(e, 404)
    assert {x["name"] for x in kc.get_groups()} == {"guests"}
    assert kc.get_user_groups(alice) == [] and kc.get_user_groups(bob) == []
    with pytest.raises(KeycloakDeleteError) as e:
        kc.delete_group(staff)
    refused(e, 404)


def test_group_role_mappings_reach_members_and_subgroup_members(srv, kc):
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "deploy"})
    kc.create_client_role(api_id, {"name": "observe"})
    for n in ("employee", "deployer"):
        kc.create_realm_role({"name": n})
    staff = kc.create_group({"name": "staff"})
    devs = kc.create_group({"name": "devs"}, parent=staff)

    kc.assign_group_realm_roles(staff, [kc.get_realm_role("employee")])
    kc.assign_group_client_roles(staff, api_id, [kc.get_client_role(api_id, "observe")])
    kc.assign_group_realm_roles(devs, kc.get_realm_role("deployer"))
    kc.assign_group_client_roles(devs, api_id, [kc.get_client_role(api_id, "deploy")])
    assert names(kc.get_group_realm_roles(staff)) == {"employee"}
    assert names(kc.get_group_realm_roles(devs)) == {"deployer"}
    assert names(kc.get_group_client_roles(staff, api_id)) == {"observe"}
    assert names(kc.get_group_client_roles(devs, api_id)) == {"deploy"}

    alice, bob, carl = new_user(kc, "alice"), new_user(kc, "bob"), new_user(kc, "carl")
    kc.group_user_add(alice, staff)
    kc.group_user_add(bob, devs)

    # Through the admin API: direct mappings stay the user's own, effective ones count groups and
    # parent groups.
    assert names(kc.get_realm_roles_of_user(bob)) == {DEFAULT_ROLE}
    assert kc.get_client_roles_of_user(bob, api_id) == []
    assert names(kc.get_composite_realm_roles_of_user(bob)) == DEFAULT_REALM_ROLES | {"employee", "deployer"}
    assert names(kc.get_composite_client_roles_of_user(bob, api_id)) == {"deploy", "observe"}
    assert names(kc.get_composite_realm_roles_of_user(alice)) == DEFAULT_REALM_ROLES | {"employee"}
    assert names(kc.get_composite_client_roles_of_user(alice, api_id)) == {"observe"}

    # In tokens.
    at = claims(srv, "alice")
    assert realm_roles(at) == DEFAULT_REALM_ROLES | {"employee"}
    assert client_roles(at, "api") == {"observe"}
    assert audiences(at) == {"account", "api"}
    at = claims(srv, "bob")
    assert realm_roles(at) == DEFAULT_REALM_ROLES | {"employee", "deployer"}
    assert client_roles(at, "api") == {"deploy", "observe"}
    assert audiences(at) == {"account", "api"}
    at = claims(srv, "carl")
    assert realm_roles(at) == DEFAULT_REALM_ROLES and "api" not in at.get("resource_access", {})

    # Removing a group's mapping removes the role from members and subgroup members.
    kc.delete_group_realm_roles(staff, [kc.get_realm_role("employee")])
    assert kc.get_group_realm_roles(staff) == []
    assert realm_roles(claims(srv, "alice")) == DEFAULT_REALM_ROLES
    assert realm_roles(claims(srv, "bob")) == DEFAULT_REALM_ROLES | {"deployer"}
    kc.delete_group_client_roles(staff, api_id, [kc.get_client_role(api_id, "observe")])
    assert kc.get_group_client_roles(staff, api_id) == []
    at = claims(srv, "alice")
    assert "api" not in at.get("resource_access", {}) and audiences(at) == {"account"}
    assert client_roles(claims(srv, "bob"), "api") == {"deploy"}

    # Leaving the group removes what it gave.
    kc.group_user_remove(bob, devs)
    at = claims(srv, "bob")
    assert realm_roles(at) == DEFAULT_REALM_ROLES
    assert "api" not in at.get("resource_access", {}) and audiences(at) == {"account"}
    assert names(kc.get_composite_realm_roles_of_user(bob)) == DEFAULT_REALM_ROLES

    # Deleting a group with mappings removes them from its members.
    kc.group_user_add(carl, devs)
    assert "deployer" in realm_roles(claims(srv, "carl"))
    kc.delete_group(devs)
    assert realm_roles(claims(srv, "carl")) == DEFAULT_REALM_ROLES


def test_groups_claim_through_a_group_membership_mapper_on_the_client(srv, kc):
    web = kc.get_client_id("web")
    staff = kc.create_group({"name": "staff"})
    devs = kc.create_group({"name": "devs"}, parent=staff)
    bob, alice = new_user(kc, "bob"), new_user(kc, "alice")
    new_user(kc, "carl")
    kc.group_user_add(bob, devs)
    kc.group_user_add(alice, staff)
    assert "groups" not in claims(srv, "bob")

    kc.add_mapper_to_client(web, {
        "name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
        "config": {"claim.name": "groups", "full.path": "true", "access.token.claim": "true",
                   "id.token.claim": "true", "userinfo.token.claim": "true"},
    })
    [mapper] = kc.get_mappers_from_client(web)
    assert mapper["name"] == "groups" and mapper["protocol"] == "openid-connect"
    assert mapper["protocolMapper"] == "oidc-group-membership-mapper"
    assert mapper["config"]["claim.name"] == "groups" and mapper["config"]["full.path"] == "true"
    r = raw(kc, "GET", f"/clients/{web}/protocol-mappers/models/{mapper['id']}")
    assert r.status_code == 200 and r.json() == mapper, r.text

    # Direct groups only, as full paths; in the ID token and userinfo as well.
    t = tokens(srv, "bob", scope="openid")
    assert decode_jwt(t["access_token"])["groups"] == ["/staff/devs"]
    assert decode_jwt(t["id_token"])["groups"] == ["/staff/devs"]
    info = requests.get(srv.oidc(REALM) + "/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {t['access_token']}"})
    assert info.status_code == 200 and info.json()["groups"] == ["/staff/devs"], info.text
    assert claims(srv, "alice")["groups"] == ["/staff"]
    assert "groups" not in claims(srv, "carl")  # no groups, no claim

    # Updating the mapper: names instead of paths, and no longer in the ID token.
    mapper["config"]["full.path"] = "false"
    mapper["config"]["id.token.claim"] = "false"
    kc.update_client_mapper(web, mapper["id"], mapper)
    assert kc.get_mappers_from_client(web)[0]["config"]["full.path"] == "false"
    t = tokens(srv, "bob", scope="openid")
    assert decode_jwt(t["access_token"])["groups"] == ["devs"]
    assert "groups" not in decode_jwt(t["id_token"])

    # Leaving the group empties the claim on the next token.
    kc.group_user_remove(bob, devs)
    assert "groups" not in claims(srv, "bob")
    kc.group_user_add(bob, staff)
    kc.group_user_add(bob, devs)
    assert set(claims(srv, "bob")["groups"]) == {"staff", "devs"}

    # A renamed parent shows in the full path on the next token.
    mapper["config"]["full.path"] = "true"
    kc.update_client_mapper(web, mapper["id"], mapper)
    kc.update_group(staff, {"name": "people"})
    assert set(claims(srv, "bob")["groups"]) == {"/people", "/people/devs"}

    # Removing the mapper removes the claim.
    kc.remove_client_mapper(web, mapper["id"])
    assert kc.get_mappers_from_client(web) == []
    assert "groups" not in claims(srv, "bob")
    r = raw(kc, "GET", f"/clients/{web}/protocol-mappers/models/{mapper['id']}")
    assert r.status_code == 404, r.text


# ---------------------------------------------------------------------------------------------
# client scopes and protocol mappers

DEPT_MAPPER = {
    "name": "department", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
    "config": {"user.attribute": "department", "claim.name": "department", "jsonType.label": "String",
               "access.token.claim": "true", "id.token.claim": "true", "userinfo.token.claim": "true"},
}


def test_user_attribute_mapper_on_a_new_client_scope(srv, kc):
    web = kc.get_client_id("web")
    new_user(kc, "carol", attributes={"department": ["sales"]})
    assert kc.get_user(kc.get_user_id("carol"))["attributes"]["department"] == ["sales"]

    sid = kc.create_client_scope({"name": "dept", "protocol": "openid-connect", "description": "Department",
                                  "attributes": {"include.in.token.scope": "true"}})
    scope = kc.get_client_scope(sid)
    assert scope["id"] == sid and scope["name"] == "dept" and scope["protocol"] == "openid-connect"
    assert scope["attributes"]["include.in.token.scope"] == "true"
    assert kc.get_client_scope_by_name("dept")["id"] == sid
    assert kc.create_client_scope({"name": "dept"}, skip_exists=True) == sid
    with pytest.raises(KeycloakPostError) as e:
        kc.create_client_scope({"name": "dept", "protocol": "openid-connect"})
    refused(e, 409, "dept")

    kc.add_mapper_to_client_scope(sid, DEPT_MAPPER)
    [mapper] = kc.get_mappers_from_client_scope(sid)
    assert mapper["name"] == "department" and mapper["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    assert mapper["config"]["user.attribute"] == "department"
    r = raw(kc, "GET", f"/client-scopes/{sid}/protocol-mappers/models/{mapper['id']}")
    assert r.status_code == 200 and r.json() == mapper, r.text
    assert kc.get_client_scope(sid)["protocolMappers"][0]["id"] == mapper["id"]

    # Not a scope of web yet: no claim.
    at = claims(srv, "carol")
    assert "department" not in at and "dept" not in at["scope"].split()

    # A default scope of web: in every token of web, and named in `scope`.
    kc.add_client_default_client_scope(web, sid, {"realm": REALM, "client": web, "clientScopeId": sid})
    assert "dept" in names(kc.get_client_default_client_scopes(web))
    at = claims(srv, "carol")
    assert at["department"] == "sales"
    assert "dept" in at["scope"].split()
    t = tokens(srv, "carol", scope="openid")
    assert decode_jwt(t["id_token"])["department"] == "sales"

    # Changing the mapper changes the claim.
    mapper["config"]["claim.name"] = "org.department"
    kc.update_mapper_in_client_scope(sid, mapper["id"], mapper)
    at = claims(srv, "carol")
    assert "department" not in at and at["org"] == {"department": "sales"}
    # And the scope itself.
    kc.update_client_scope(sid, {"name": "dept", "protocol": "openid-connect", "description": "Dept.",
                                 "attributes": {"include.in.token.scope": "false"}})
    assert kc.get_client_scope(sid)["description"] == "Dept."
    at = claims(srv, "carol")
    assert "dept" not in at["scope"].split() and at["org"] == {"department": "sales"}

    # Taken off web's default scopes: gone from the next token.
    kc.delete_client_default_client_scope(web, sid)
    assert "dept" not in names(kc.get_client_default_client_scopes(web))
    assert "org" not in claims(srv, "carol")

    # As an optional scope it counts only when asked for.
    kc.add_client_optional_client_scope(web, sid, {"realm": REALM, "client": web, "clientScopeId": sid})
    assert "dept" in names(kc.get_client_optional_client_scopes(web))
    assert "org" not in claims(srv, "carol")
    assert claims(srv, "carol", scope="dept")["org"] == {"department": "sales"}
    # Without its mapper the scope adds nothing.
    kc.delete_mapper_from_client_scope(sid, mapper["id"])
    assert kc.get_mappers_from_client_scope(sid) == []
    assert "org" not in claims(srv, "carol", scope="dept")
    kc.delete_client_optional_client_scope(web, sid)
    assert "dept" not in names(kc.get_client_optional_client_scopes(web))

    # The user's attribute changes show on the next token too (scope back as default, new mapper).
    kc.add_mapper_to_client_scope(sid, DEPT_MAPPER)
    kc.add_client_default_client_scope(web, sid, {"realm": REALM, "client": web, "clientScopeId": sid})
    kc.update_user(kc.get_user_id("carol"), {"attributes": {"department": ["support"]}})
    assert claims(srv, "carol")["department"] == "support"
    kc.delete_client_default_client_scope(web, sid)

    kc.delete_client_scope(sid)
    with pytest.raises(KeycloakGetError) as e:
        kc.get_client_scope(sid)
    refused(e, 404)
    assert kc.get_client_scope_by_name("dept") is None
    assert "department" not in claims(srv, "carol")


def test_deleting_a_client_scope_detaches_it_everywhere(srv, kc):
    """Deleting a scope detaches it from every client and from the realm's defaults (Keycloak's
    JpaRealmProvider.removeClientScope), and its claims go."""
    web = kc.get_client_id("web")
    new_user(kc, "carol", attributes={"department": ["sales"]})
    sid = kc.create_client_scope({"name": "dept", "protocol": "openid-connect",
                                  "attributes": {"include.in.token.scope": "true"}})
    kc.add_mapper_to_client_scope(sid, DEPT_MAPPER)
    kc.add_client_default_client_scope(web, sid, {"realm": REALM, "client": web, "clientScopeId": sid})
    kc.add_default_optional_client_scope(sid)
    assert claims(srv, "carol")["department"] == "sales"

    # Renaming a client scope through PUT is refused with 400: a limitation of latchkey, whose
    # clients name their scopes (Keycloak renames it and the clients follow). Nothing changes.
    with pytest.raises(KeycloakPutError) as e:
        kc.update_client_scope(sid, {"name": "division", "protocol": "openid-connect"})
    refused(e, 400)
    assert kc.get_client_scope(sid)["name"] == "dept"
    assert "dept" in names(kc.get_client_default_client_scopes(web))

    kc.delete_client_scope(sid)
    assert "dept" not in names(kc.get_client_default_client_scopes(web))
    assert "dept" not in names(kc.get_default_optional_client_scopes())
    at = claims(srv, "carol")
    assert "department" not in at and "dept" not in at["scope"].split()
    # A new scope of the old name is not attached anywhere.
    kc.create_client_scope({"name": "dept", "protocol": "openid-connect"})
    assert "dept" not in names(kc.get_client_default_client_scopes(web))
    assert "dept" not in names(kc.get_default_optional_client_scopes())


def test_taking_the_roles_scope_off_a_client_takes_the_role_claims_away(srv, kc):
    web = kc.get_client_id("web")
    new_user(kc, "nina")
    roles_scope = kc.get_client_scope_by_name("roles")["id"]
    assert "realm_access" in claims(srv, "nina")
    kc.delete_client_default_client_scope(web, roles_scope)
    at = claims(srv, "nina")
    assert "realm_access" not in at and "resource_access" not in at and "aud" not in at, at
    kc.add_client_optional_client_scope(web, roles_scope, {"realm": REALM, "client": web, "clientScopeId": roles_scope})
    assert "realm_access" not in claims(srv, "nina")
    at = claims(srv, "nina", scope="roles")
    assert realm_roles(at) == DEFAULT_REALM_ROLES and at["aud"] == "account"


def test_realm_default_client_scopes_apply_to_clients_created_after(kc):
    before = kc.get_client_id("web")
    sid = kc.create_client_scope({"name": "dept", "protocol": "openid-connect"})
    opt = kc.create_client_scope({"name": "loyalty", "protocol": "openid-connect"})

    kc.add_default_default_client_scope(sid)
    kc.add_default_optional_client_scope(opt)
    assert "dept" in names(kc.get_default_default_client_scopes())
    assert "loyalty" in names(kc.get_default_optional_client_scopes())
    assert "dept" not in names(kc.get_default_optional_client_scopes())

    after = new_client(kc, "mobile")
    assert "dept" in names(kc.get_client_default_client_scopes(after))
    assert "loyalty" in names(kc.get_client_optional_client_scopes(after))
    # A client that already existed keeps its own scopes.
    assert "dept" not in names(kc.get_client_default_client_scopes(before))
    assert "loyalty" not in names(kc.get_client_optional_client_scopes(before))

    kc.delete_default_default_client_scope(sid)
    kc.delete_default_optional_client_scope(opt)
    assert "dept" not in names(kc.get_default_default_client_scopes())
    assert "loyalty" not in names(kc.get_default_optional_client_scopes())
    assert "dept" in names(kc.get_client_default_client_scopes(after))  # already given

    # Unknown scope ids.
    for call in (lambda: kc.add_default_default_client_scope(GHOST),
                 lambda: kc.add_default_optional_client_scope(GHOST)):
        with pytest.raises(KeycloakPutError) as e:
            call()
        refused(e, 404)
    with pytest.raises(KeycloakPutError) as e:
        kc.add_client_default_client_scope(after, GHOST, {})
    refused(e, 404)
    with pytest.raises(KeycloakPutError) as e:
        kc.add_client_optional_client_scope(after, GHOST, {})
    refused(e, 404)


def test_protocol_mapper_endpoints_answer_keycloaks_codes(srv, kc):
    t = master_token(srv)
    web = kc.get_client_id("web")
    base = f"/admin/realms/{REALM}"
    body = {"name": "dept", "protocol": "openid-connect", "protocolMapper": "oidc-usermodel-attribute-mapper",
            "config": {"user.attribute": "department", "claim.name": "department", "access.token.claim": "true"}}
    r = api(srv, "POST", base + f"/clients/{web}/protocol-mappers/models", t, body)
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    mid = loc.rsplit("/", 1)[1]
    assert loc == f"{srv.base}{base}/clients/{web}/protocol-mappers/models/{mid}"
    got = api(srv, "GET", urlparse(loc).path, t).json()
    assert got["id"] == mid and got["name"] == "dept"
    # Keycloak: a second mapper of the same name is a conflict.
    assert_error(api(srv, "POST", base + f"/clients/{web}/protocol-mappers/models", t, body), 409)
    r = api(srv, "PUT", base + f"/clients/{web}/protocol-mappers/models/{mid}", t,
            {**got, "config": {**got["config"], "claim.name": "dept"}})
    assert r.status_code == 204 and r.content == b"", r.text
    assert api(srv, "GET", urlparse(loc).path, t).json()["config"]["claim.name"] == "dept"
    for method, path, b in [
        ("GET", f"/clients/{web}/protocol-mappers/models/{GHOST}", None),
        ("PUT", f"/clients/{web}/protocol-mappers/models/{GHOST}", {**got, "id": GHOST}),
        ("DELETE", f"/clients/{web}/protocol-mappers/models/{GHOST}", None),
        ("GET", f"/clients/{GHOST}/protocol-mappers/models", None),
        ("POST", f"/clients/{GHOST}/protocol-mappers/models", body),
        ("GET", f"/client-scopes/{GHOST}", None),
        ("PUT", f"/client-scopes/{GHOST}", {"name": "x"}),
        ("DELETE", f"/client-scopes/{GHOST}", None),
        ("GET", f"/client-scopes/{GHOST}/protocol-mappers/models", None),
        ("POST", f"/client-scopes/{GHOST}/protocol-mappers/models", body),
    ]:
        assert_error(api(srv, method, base + path, t, b), 404)
    r = api(srv, "DELETE", base + f"/clients/{web}/protocol-mappers/models/{mid}", t)
    assert r.status_code == 204 and r.content == b"", r.text
    assert_error(api(srv, "GET", urlparse(loc).path, t), 404)

    # Client scopes: 201 with Location, 204 on update, delete.
    r = api(srv, "POST", base + "/client-scopes", t, {"name": "dept", "protocol": "openid-connect"})
    assert r.status_code == 201, r.text
    sid = r.headers["Location"].rsplit("/", 1)[1]
    assert r.headers["Location"] == f"{srv.base}{base}/client-scopes/{sid}"
    r = api(srv, "POST", base + f"/client-scopes/{sid}/protocol-mappers/models", t, body)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].startswith(f"{srv.base}{base}/client-scopes/{sid}/protocol-mappers/models/")
    for method, path in [("PUT", f"/clients/{web}/default-client-scopes/{sid}"),
                         ("DELETE", f"/clients/{web}/default-client-scopes/{sid}"),
                         ("PUT", f"/clients/{web}/optional-client-scopes/{sid}"),
                         ("DELETE", f"/clients/{web}/optional-client-scopes/{sid}"),
                         ("PUT", f"/default-default-client-scopes/{sid}"),
                         ("DELETE", f"/default-default-client-scopes/{sid}"),
                         ("PUT", f"/default-optional-client-scopes/{sid}"),
                         ("DELETE", f"/default-optional-client-scopes/{sid}")]:
        r = api(srv, method, base + path, t)
        assert r.status_code == 204 and r.content == b"", (method, path, r.status_code, r.text)
    r = api(srv, "PUT", base + f"/client-scopes/{sid}", t, {"name": "dept", "description": "d"})
    assert r.status_code == 204 and r.content == b"", r.text
    r = api(srv, "DELETE", base + f"/client-scopes/{sid}", t)
    assert r.status_code == 204 and r.content == b"", r.text
    assert_error(api(srv, "GET", base + f"/client-scopes/{sid}", t), 404)


# ---------------------------------------------------------------------------------------------
# deletions reach tokens

def test_deleting_a_role_removes_it_from_users_tokens(srv, kc):
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "deploy"})
    for n in ("temp", "lead", "via-group"):
        kc.create_realm_role({"name": n})
    kc.add_composite_realm_roles_to_role("lead", [kc.get_realm_role("temp")])
    team = kc.create_group({"name": "team"})
    kc.assign_group_realm_roles(team, [kc.get_realm_role("via-group")])
    uid, other = new_user(kc, "hank"), new_user(kc, "ivy")
    kc.assign_realm_roles(uid, [kc.get_realm_role("temp")])
    kc.assign_realm_roles(other, [kc.get_realm_role("lead")])
    kc.assign_client_role(uid, api_id, [kc.get_client_role(api_id, "deploy")])
    kc.group_user_add(uid, team)
    at = claims(srv, "hank")
    assert {"temp", "via-group"} <= realm_roles(at) and client_roles(at, "api") == {"deploy"}
    assert "temp" in realm_roles(claims(srv, "ivy"))

    kc.delete_realm_role("temp")
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}
    assert kc.get_composite_realm_roles_of_role("lead") == []
    assert "temp" not in realm_roles(claims(srv, "hank"))
    at = claims(srv, "ivy")
    assert "lead" in realm_roles(at) and "temp" not in realm_roles(at)

    kc.delete_realm_role("via-group")
    assert kc.get_group_realm_roles(team) == []
    assert "via-group" not in realm_roles(claims(srv, "hank"))

    kc.delete_client_role(api_id, "deploy")
    assert kc.get_client_roles_of_user(uid, api_id) == []
    at = claims(srv, "hank")
    assert "api" not in at.get("resource_access", {}) and audiences(at) == {"account"}

    # A role of the same name created afterwards is a new role nobody holds.
    kc.create_realm_role({"name": "temp"})
    assert "temp" not in realm_roles(claims(srv, "hank"))


def test_deleting_a_client_deletes_its_roles_and_their_mappings(srv, kc):
    """Keycloak removes a client's roles with it, and every user's, group's and composite's hold on
    them; a later client of the same clientId starts with no roles and grants nothing."""
    api_id = new_client(kc, "api")
    kc.create_client_role(api_id, {"name": "deploy"})
    kc.create_client_role(api_id, {"name": "watch"})
    kc.create_realm_role({"name": "ops"})
    kc.add_composite_realm_roles_to_role("ops", [kc.get_client_role(api_id, "watch")])
    team = kc.create_group({"name": "team"})
    uid = new_user(kc, "hank")
    kc.group_user_add(uid, team)
    kc.assign_client_role(uid, api_id, [kc.get_client_role(api_id, "deploy")])
    kc.assign_group_client_roles(team, api_id, [kc.get_client_role(api_id, "watch")])
    kc.assign_realm_roles(uid, [kc.get_realm_role("ops")])
    assert client_roles(claims(srv, "hank"), "api") == {"deploy", "watch"}

    kc.delete_client(api_id)
    assert kc.get_client_id("api") is None
    at = claims(srv, "hank")
    assert "api" not in at.get("resource_access", {}), at["resource_access"]
    assert audiences(at) == {"account"}
    assert not kc.get_all_roles_of_user(uid).get("clientMappings"), kc.get_all_roles_of_user(uid)
    assert not kc.get_group(team).get("clientRoles"), kc.get_group(team)
    assert kc.get_composite_realm_roles_of_role("ops") == []

    again = new_client(kc, "api")
    assert kc.get_client_roles(again) == []
    assert kc.get_client_roles_of_user(uid, again) == []
    assert kc.get_composite_client_roles_of_user(uid, again) == []
    assert "api" not in claims(srv, "hank").get("resource_access", {})


# ---------------------------------------------------------------------------------------------
# bad input

def test_unknown_names_and_ids_answer_404(srv, kc):
    uid = new_user(kc, "judy")
    web = kc.get_client_id("web")
    kc.create_realm_role({"name": "known"})
    staff = kc.create_group({"name": "staff"})
    known = kc.get_realm_role("known")

    with pytest.raises(KeycloakGetError) as e:
        kc.get_realm_role("no-such-role")
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.assign_realm_roles(uid, [{"name": "no-such-role"}])
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.assign_client_role(uid, web, [{"name": "no-such-role", "clientRole": True, "containerId": web}])
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.add_composite_realm_roles_to_role("known", [{"name": "no-such-role"}])
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.assign_group_realm_roles(staff, [{"name": "no-such-role"}])
    refused(e, 404)
    with pytest.raises(KeycloakGetError) as e:
        kc.get_group(GHOST)
    refused(e, 404)
    with pytest.raises(KeycloakPutError) as e:
        kc.group_user_add(uid, GHOST)
    refused(e, 404)
    with pytest.raises(KeycloakPutError) as e:
        kc.group_user_add(GHOST, staff)
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.create_group({"name": "child"}, parent=GHOST)
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.assign_realm_roles(GHOST, [known])
    refused(e, 404)
    with pytest.raises(KeycloakGetError) as e:
        kc.get_client_roles(GHOST)
    refused(e, 404)
    # Nothing was half done.
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}
    assert kc.get_user_groups(uid) == []
    assert kc.get_composite_realm_roles_of_role("known") == []
    assert kc.get_group_children(staff) == []

    t = master_token(srv)
    base = f"/admin/realms/{REALM}"
    for method, path, body in [
        ("GET", "/roles/no-such-role", None),
        ("PUT", "/roles/no-such-role", {"name": "no-such-role"}),
        ("DELETE", "/roles/no-such-role", None),
        ("GET", "/roles/no-such-role/composites", None),
        ("POST", "/roles/no-such-role/composites", [known]),
        ("GET", "/roles/no-such-role/composites/realm", None),
        ("GET", f"/clients/{GHOST}/roles", None),
        ("POST", f"/clients/{GHOST}/roles", {"name": "x"}),
        ("GET", f"/clients/{web}/roles/no-such-role", None),
        ("GET", f"/users/{GHOST}/role-mappings", None),
        ("GET", f"/users/{GHOST}/role-mappings/realm", None),
        ("GET", f"/users/{GHOST}/role-mappings/realm/composite", None),
        ("POST", f"/users/{uid}/role-mappings/realm", [{"name": "no-such-role"}]),
        ("DELETE", f"/users/{uid}/role-mappings/realm", [{"name": "no-such-role"}]),
        ("GET", f"/users/{uid}/role-mappings/clients/{GHOST}", None),
        ("POST", f"/users/{uid}/role-mappings/clients/{GHOST}", [known]),
        ("GET", f"/users/{GHOST}/groups", None),
        ("PUT", f"/users/{uid}/groups/{GHOST}", None),
        ("DELETE", f"/users/{uid}/groups/{GHOST}", None),
        ("GET", f"/groups/{GHOST}", None),
        ("PUT", f"/groups/{GHOST}", {"name": "x"}),
        ("DELETE", f"/groups/{GHOST}", None),
        ("GET", f"/groups/{GHOST}/children", None),
        ("POST", f"/groups/{GHOST}/children", {"name": "x"}),
        ("GET", f"/groups/{GHOST}/members", None),
        ("GET", f"/groups/{GHOST}/role-mappings/realm", None),
        ("POST", f"/groups/{GHOST}/role-mappings/realm", [known]),
        ("GET", f"/groups/{staff}/role-mappings/clients/{GHOST}", None),
        ("GET", "/group-by-path/no/such/path", None),
    ]:
        assert_error(api(srv, method, base + path, t, body), 404)
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}


def test_another_realms_objects_are_unknown_here(srv, kc):
    """Ids and roles of realm `other` used under /admin/realms/shop: 404, and nothing is granted."""
    kc.change_current_realm("master")
    kc.create_realm({"realm": "other", "enabled": True})
    kc.change_current_realm("other")
    og = kc.create_group({"name": "ogroup"})
    kc.create_realm_role({"name": "orole"})
    orole = kc.get_realm_role("orole")
    ou = new_user(kc, "ouser")
    oc = new_client(kc, "oclient")
    kc.create_client_role(oc, {"name": "ocr"})
    ocr = kc.get_client_role(oc, "ocr")
    osid = kc.create_client_scope({"name": "oscope", "protocol": "openid-connect"})
    kc.change_current_realm(REALM)
    web = kc.get_client_id("web")
    staff = kc.create_group({"name": "staff"})
    uid = new_user(kc, "sam")
    kc.create_realm_role({"name": "x"})

    t = master_token(srv)
    base = f"/admin/realms/{REALM}"
    for method, path, body in [
        ("GET", f"/groups/{og}", None),
        ("GET", f"/groups/{og}/members", None),
        ("PUT", f"/users/{ou}/groups/{staff}", None),
        ("PUT", f"/users/{uid}/groups/{og}", None),
        ("GET", f"/users/{ou}/role-mappings", None),
        ("POST", f"/users/{uid}/role-mappings/realm", [orole]),
        ("POST", f"/users/{uid}/role-mappings/clients/{oc}", [ocr]),
        ("GET", f"/clients/{oc}/roles", None),
        ("POST", "/roles/x/composites", [orole]),
        ("POST", "/roles/x/composites", [ocr]),
        ("POST", f"/groups/{staff}/role-mappings/realm", [orole]),
        ("GET", f"/client-scopes/{osid}", None),
        ("PUT", f"/clients/{web}/default-client-scopes/{osid}", None),
        ("PUT", f"/default-default-client-scopes/{osid}", None),
    ]:
        assert_error(api(srv, method, base + path, t, body), 404)
    assert names(kc.get_realm_roles_of_user(uid)) == {DEFAULT_ROLE}
    assert kc.get_user_groups(uid) == [] and kc.get_group_members(staff) == []
    assert kc.get_composite_realm_roles_of_role("x") == [] and kc.get_group_realm_roles(staff) == []
    assert "oscope" not in names(kc.get_client_default_client_scopes(web))
    assert "oscope" not in names(kc.get_default_default_client_scopes())


def test_duplicates_answer_409_and_bad_bodies_400(srv, kc):
    t = master_token(srv)
    base = f"/admin/realms/{REALM}"
    web = kc.get_client_id("web")
    kc.create_realm_role({"name": "buyer"})
    kc.create_group({"name": "staff"})
    kc.create_client_scope({"name": "dept"})
    assert_error(api(srv, "POST", base + "/roles", t, {"name": "buyer"}), 409, "buyer")
    assert_error(api(srv, "POST", base + "/roles", t, {"name": "offline_access"}), 409)
    assert_error(api(srv, "POST", base + "/groups", t, {"name": "staff"}), 409)
    assert_error(api(srv, "POST", base + "/client-scopes", t, {"name": "dept"}), 409)
    assert_error(api(srv, "POST", base + "/client-scopes", t, {"name": "profile"}), 409)
    kc.create_client_role(web, {"name": "r"})
    assert_error(api(srv, "POST", base + f"/clients/{web}/roles", t, {"name": "r"}), 409)

    for method, path, body in [
        ("POST", "/roles", "{}"),                       # Keycloak: a role needs a name
        ("POST", "/roles", "not json"),
        ("POST", "/roles", json.dumps({"name": 5})),
        ("POST", "/groups", "{}"),                      # Keycloak: "Group name is missing"
        ("POST", "/groups", json.dumps({"name": ""})),
        ("POST", "/roles/buyer/composites", json.dumps({"name": "x"})),  # a list, not an object
        ("POST", "/client-scopes", "[]"),
    ]:
        assert_error(api(srv, method, base + path, t, raw=body), 400)
    assert names(kc.get_realm_roles()) >= {"buyer"}
    assert {g["name"] for g in kc.get_groups()} == {"staff"}


def test_a_mapper_of_an_unknown_type_is_refused(srv, kc):
    """Keycloak's ProtocolMappersResource.validateModel looks the provider up and, when there is
    none, throws NotFoundException("ProtocolMapper provider not found"): 404, for the client's and the
    client scope's mappers alike, on create and on update. Nothing is stored."""
    web = kc.get_client_id("web")
    sid = kc.create_client_scope({"name": "dept", "protocol": "openid-connect"})
    bogus = {"name": "bogus", "protocol": "openid-connect", "protocolMapper": "no-such-mapper",
             "config": {"claim.name": "bogus", "access.token.claim": "true"}}
    with pytest.raises(KeycloakPostError) as e:
        kc.add_mapper_to_client(web, bogus)
    refused(e, 404)
    with pytest.raises(KeycloakPostError) as e:
        kc.add_mapper_to_client_scope(sid, bogus)
    refused(e, 404)
    assert kc.get_mappers_from_client(web) == []
    assert kc.get_mappers_from_client_scope(sid) == []
    # Changing a good mapper into an unknown type is refused the same way and changes nothing.
    kc.add_mapper_to_client(web, DEPT_MAPPER)
    [m] = kc.get_mappers_from_client(web)
    with pytest.raises(KeycloakPutError) as e:
        kc.update_client_mapper(web, m["id"], {**m, "protocolMapper": "no-such-mapper"})
    refused(e, 404)
    assert kc.get_mappers_from_client(web) == [m]
    new_user(kc, "kim")
    assert "bogus" not in claims(srv, "kim")


# ---------------------------------------------------------------------------------------------
# who may

def test_view_users_reads_role_mappings_and_groups_but_changes_nothing(srv, kc):
    rm = kc.get_client_id("realm-management")
    helpdesk = new_user(kc, "helpdesk")
    kc.assign_client_role(helpdesk, rm, [kc.get_client_role(rm, "view-users")])
    kc.create_realm_role({"name": "buyer"})
    staff = kc.create_group({"name": "staff"})
    dave = new_user(kc, "dave")
    kc.group_user_add(dave, staff)
    web = kc.get_client_id("web")

    conn = KeycloakOpenIDConnection(server_url=srv.base + "/", realm_name=REALM, client_id="admin-cli",
                                    username="helpdesk", password="helpdesk-password", timeout=10)
    hd = KeycloakAdmin(connection=conn)
    # It reads users, their role mappings and groups.
    assert names(hd.get_realm_roles_of_user(dave)) == {DEFAULT_ROLE}
    assert [g["name"] for g in hd.get_user_groups(dave)] == ["staff"]
    assert [u["username"] for u in hd.get_group_members(staff)] == ["dave"]

    buyer = kc.get_realm_role("buyer")
    for call in [
        lambda: hd.create_realm_role({"name": "sneaky"}),
        lambda: hd.create_client_role(web, {"name": "sneaky"}),
        lambda: hd.add_composite_realm_roles_to_role("buyer", [kc.get_realm_role("offline_access")]),
        lambda: hd.assign_realm_roles(dave, [buyer]),
        lambda: hd.create_group({"name": "sneaky"}),
        lambda: hd.group_user_remove(dave, staff),
        lambda: hd.create_client_scope({"name": "sneaky", "protocol": "openid-connect"}),
        lambda: hd.add_mapper_to_client(web, DEPT_MAPPER),
        lambda: hd.delete_realm_role("buyer"),
    ]:
        with pytest.raises(KeycloakError) as e:
            call()
        refused(e, 403)
    # Nothing changed.
    with pytest.raises(KeycloakGetError) as e:
        kc.get_realm_role("sneaky")
    refused(e, 404)
    assert "sneaky" not in names(kc.get_client_roles(web))
    assert kc.get_composite_realm_roles_of_role("buyer") == []
    assert names(kc.get_realm_roles_of_user(dave)) == {DEFAULT_ROLE}
    assert [g["name"] for g in kc.get_groups()] == ["staff"]
    assert [g["id"] for g in kc.get_user_groups(dave)] == [staff]
    assert kc.get_client_scope_by_name("sneaky") is None
    assert kc.get_mappers_from_client(web) == []
    assert kc.get_realm_role("buyer")["name"] == "buyer"


def as_user(srv, name):
    """python-keycloak signed in to realm shop as one of its users, through admin-cli."""
    conn = KeycloakOpenIDConnection(server_url=srv.base + "/", realm_name=REALM, client_id="admin-cli",
                                    username=name, password=f"{name}-password", timeout=10)
    return KeycloakAdmin(connection=conn)


def test_a_user_manager_maps_only_the_admin_roles_it_holds(srv, kc):
    """Keycloak's RolePermissions.canMapRole: an administration role is mapped, to a user or to a
    group, only by a caller who holds it. The role-mapping endpoints are new ways to try; a group
    is as good as a direct mapping (its members hold its roles)."""
    rm = kc.get_client_id("realm-management")
    deputy = new_user(kc, "deputy")
    kc.assign_client_role(deputy, rm, [kc.get_client_role(rm, "manage-users")])
    kc.create_realm_role({"name": "buyer"})
    victim = new_user(kc, "vic")
    realm_admin = kc.get_client_role(rm, "realm-admin")
    manage_users = kc.get_client_role(rm, "manage-users")

    dep = as_user(srv, "deputy")
    # An ordinary role and group work for a user manager...
    dep.assign_realm_roles(victim, [kc.get_realm_role("buyer")])
    crew = dep.create_group({"name": "crew"})
    dep.group_user_add(deputy, crew)
    # ...an administration role it does not hold does not: not to itself, another user, or a group.
    for what, call in [("to itself", lambda: dep.assign_client_role(deputy, rm, [realm_admin])),
                       ("to a user", lambda: dep.assign_client_role(victim, rm, [realm_admin])),
                       ("to a group", lambda: dep.assign_group_client_roles(crew, rm, [realm_admin]))]:
        with pytest.raises(KeycloakError) as e:
            call()
            pytest.fail(f"manage-users mapped realm-admin {what}")
        refused(e, 403)
    # One it holds, it may give.
    dep.assign_client_role(victim, rm, [manage_users])

    assert not kc.get_group_client_roles(crew, rm)
    assert names(kc.get_client_roles_of_user(deputy, rm)) == {"manage-users"}
    assert names(kc.get_client_roles_of_user(victim, rm)) == {"manage-users"}
    assert "realm-admin" not in client_roles(claims(srv, "deputy"), "realm-management")


def test_a_realm_manager_puts_into_composites_only_the_admin_roles_it_holds(srv, kc):
    """Keycloak's RolePermissions.canMapComposite: manage-realm creates roles and composites, but an
    administration role goes into a composite (the default role included, which every user holds)
    only when the caller holds it."""
    rm = kc.get_client_id("realm-management")
    architect = new_user(kc, "architect")
    kc.assign_client_role(architect, rm, [kc.get_client_role(rm, "manage-realm")])
    kc.create_realm_role({"name": "buyer"})
    kc.assign_realm_roles(architect, [kc.get_realm_role("buyer")])
    realm_admin = kc.get_client_role(rm, "realm-admin")
    manage_users = kc.get_client_role(rm, "manage-users")

    arc = as_user(srv, "architect")
    arc.create_realm_role({"name": "lead"})
    arc.add_composite_realm_roles_to_role("lead", [kc.get_realm_role("buyer")])
    for what, call in [("realm-admin into lead", lambda: arc.add_composite_realm_roles_to_role("lead", [realm_admin])),
                       ("manage-users into the default role",
                        lambda: arc.add_composite_realm_roles_to_role(DEFAULT_ROLE, [manage_users])),
                       ("manage-users into buyer, which it holds",
                        lambda: arc.add_composite_realm_roles_to_role("buyer", [manage_users]))]:
        with pytest.raises(KeycloakError) as e:
            call()
            pytest.fail(f"manage-realm put {what}")
        refused(e, 403)

    assert names(kc.get_composite_realm_roles_of_role("lead")) == {"buyer"}
    assert "manage-users" not in names(kc.get_composite_realm_roles_of_role(DEFAULT_ROLE))
    assert kc.get_composite_realm_roles_of_role("buyer") == []
    assert client_roles(claims(srv, "architect"), "realm-management") == {"manage-realm"}


def test_admin_roles_count_however_the_user_holds_them(srv, kc):
    """Keycloak authorizes an admin call by the caller's effective roles (UserModel.hasRole: direct,
    through composites, through groups and their parents), the same roles its token lists. An
    `admins` group holding realm-management roles is the usual way to make administrators."""
    rm = kc.get_client_id("realm-management")
    view_users = kc.get_client_role(rm, "view-users")
    admins = kc.create_group({"name": "admins"})
    kc.assign_group_client_roles(admins, rm, [view_users])
    juniors = kc.create_group({"name": "juniors"}, parent=admins)
    kc.create_realm_role({"name": "support"})
    kc.add_composite_realm_roles_to_role("support", [view_users])
    ways = {
        "direct": lambda u: kc.assign_client_role(u, rm, [view_users]),
        "group": lambda u: kc.group_user_add(u, admins),
        "parent-group": lambda u: kc.group_user_add(u, juniors),
        "composite": lambda u: kc.assign_realm_roles(u, [kc.get_realm_role("support")]),
    }
    outcome = {}
    for name, give in ways.items():
        give(new_user(kc, name))
        at = tokens(srv, name, client="admin-cli", secret=None)["access_token"]
        assert "view-users" in client_roles(decode_jwt(at), "realm-management"), name
        outcome[name] = api(srv, "GET", f"/admin/realms/{REALM}/users", at).status_code
    assert outcome == {name: 200 for name in ways}, outcome


# ---------------------------------------------------------------------------------------------
# keys

def test_keys_metadata_names_the_keys_tokens_are_signed_with(srv, kc):
    keys = kc.get_keys()
    active, listed = keys["active"], keys["keys"]
    assert "RS256" in active and "HS512" in active, active
    by_kid = {k["kid"]: k for k in listed}
    assert set(active.values()) <= set(by_kid), (active, list(by_kid))
    rs = by_kid[active["RS256"]]
    assert rs["type"] == "RSA" and rs["algorithm"] == "RS256" and rs["use"] == "SIG" and rs["status"] == "ACTIVE", rs
    # The realm's public key (what /realms/shop publishes and python-keycloak reads) is this one.
    info = requests.get(srv.realm(REALM), timeout=10).json()
    assert rs["publicKey"] == info["public_key"]
    hs = by_kid[active["HS512"]]
    assert hs["type"] == "OCT" and hs["algorithm"] == "HS512" and hs["use"] == "SIG", hs
    assert "publicKey" not in hs
    # Keycloak's `active` names the first active key of every algorithm, the encryption key too.
    assert "RSA-OAEP" in active, active
    enc = by_kid[active["RSA-OAEP"]]
    assert enc["type"] == "RSA" and enc["use"] == "ENC" and enc["status"] == "ACTIVE" and enc["publicKey"], enc

    new_user(kc, "leo")
    t = tokens(srv, "leo")
    assert header_jwt(t["access_token"])["kid"] == active["RS256"]
    assert header_jwt(t["refresh_token"])["kid"] == active["HS512"]
    certs = requests.get(srv.oidc(REALM) + "/certs", timeout=10).json()["keys"]
    assert active["RS256"] in {k["kid"] for k in certs}
    assert active["HS512"] not in {k["kid"] for k in certs}
    # Another realm has keys of its own.
    kc.change_current_realm("master")
    assert kc.get_keys()["active"]["RS256"] != active["RS256"]


def test_key_providers_are_listed_as_components_without_private_material(kc):
    """python-keycloak's get_components: the realm's keys as Keycloak's key-provider components."""
    comps = kc.get_components({"type": "org.keycloak.keys.KeyProvider"})
    providers = {c["providerId"] for c in comps}
    assert {"rsa-generated", "rsa-enc-generated", "hmac-generated-hs512"} <= providers, providers
    active = kc.get_keys()["active"]
    assert {c["config"]["kid"][0] for c in comps} >= set(active.values())
    for c in comps:
        assert c["providerType"] == "org.keycloak.keys.KeyProvider"
        assert not {"privateKey", "secret", "ecdsaPrivateKey", "eddsaPrivateKey"} & set(c["config"]), c
    assert kc.get_components({"type": "org.keycloak.storage.UserStorageProvider"}) == []


def test_a_realm_stored_by_an_earlier_version_takes_model_changes(srv, kc):
    """A realm whose stored representation predates the realm model (no roles' definitions, no
    client scopes, another JSON layout) still takes a change: the first one rewrites it."""
    [(rep,)] = srv.query("SELECT representation FROM realms WHERE name = ?", REALM)
    old = json.loads(rep)
    for k in ("clientScopes", "defaultDefaultClientScopes", "defaultOptionalClientScopes", "scopeMappings",
              "groups", "defaultRole"):
        old.pop(k, None)
    srv.execute("UPDATE realms SET representation = ? WHERE name = ?", json.dumps(old, indent=1), REALM)
    kc.create_realm_role({"name": "legacy-ok"})
    assert kc.get_realm_role("legacy-ok")["name"] == "legacy-ok"
