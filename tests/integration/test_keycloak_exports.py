"""Realm exports written by real Keycloak versions (3/4, 13, 24, 26.1) imported at once, and the tokens
they yield compared claim by claim with what Keycloak itself issues for the same realm, client, user and
grant. tests/fixtures/keycloak/EXPECTED.md gives every expected value with the Keycloak rule behind it;
the section names below (§kc4-1 …) point there. exp, iat, jti, sid, iss and auth_time are not compared."""
import base64
import hashlib
import hmac
import json
import re

import pytest
import requests

from conftest import FIXTURES, Server, decode_jwt, header_jwt

KC = FIXTURES / "keycloak"
REALMS = ("kc4-legacy", "kc13-groups", "kc24-service", "kc26-full")

ACCOUNT_DEFAULT = {"manage-account", "manage-account-links", "view-profile"}


# ---------------------------------------------------------------------------------------------
# harness
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kc(tmp_path_factory):
    """One server importing the whole folder (the four realms are independent)."""
    tmp = tmp_path_factory.mktemp("keycloak-exports")
    s = Server(tmp, import_realm=KC).start(timeout=90)
    yield s
    s.stop()


def export(realm):
    return json.loads((KC / f"{realm}.json").read_text())


def user_id(realm, username):
    return next(u["id"] for u in export(realm)["users"] if u["username"] == username)


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def login(kc, realm, client_id, username, password, secret=None, scope=None):
    """Password grant; returns (response json, access token claims, id token claims or None)."""
    extra = {}
    if scope is not None:
        extra["scope"] = scope
    if secret is not None:
        t = kc.password_login(realm=realm, username=username, password=password,
                              auth=(client_id, secret), **extra)
    else:
        t = kc.password_login(client_id=client_id, realm=realm, username=username, password=password, **extra)
    idt = decode_jwt(t["id_token"]) if "id_token" in t else None
    return t, decode_jwt(t["access_token"]), idt


def client_credentials(kc, realm, client_id, secret, **form):
    r = kc.token(realm, auth=(client_id, secret), grant_type="client_credentials", **form)
    assert r.status_code == 200, r.text
    t = r.json()
    return t, decode_jwt(t["access_token"])


def userinfo(kc, realm, access_token):
    r = requests.get(kc.oidc(realm) + "/userinfo", headers={"Authorization": f"Bearer {access_token}"}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def realm_roles(at):
    assert "realm_access" in at, f"no realm_access in {at}"
    roles = at["realm_access"]["roles"]
    assert len(roles) == len(set(roles)), f"duplicate realm roles {roles}"
    return set(roles)


def resource_access(at):
    assert "resource_access" in at, f"no resource_access in {at}"
    out = {}
    for client, access in at["resource_access"].items():
        roles = access["roles"]
        assert len(roles) == len(set(roles)), f"duplicate roles of {client}: {roles}"
        out[client] = set(roles)
    return out


def assert_aud(at, expected):
    """Keycloak writes a single audience as a string and several as an array (no duplicates)."""
    expected = set(expected)
    assert "aud" in at, f"no aud, expected {expected}"
    if len(expected) == 1:
        assert at["aud"] == next(iter(expected)), at["aud"]
    else:
        assert isinstance(at["aud"], list), at["aud"]
        assert len(at["aud"]) == len(set(at["aud"])), at["aud"]
        assert set(at["aud"]) == expected


def same(a, b):
    """Equal claim values; arrays compare as multisets (Keycloak builds many of them from sets)."""
    if isinstance(a, list) and isinstance(b, list):
        key = lambda v: json.dumps(v, sort_keys=True)
        return sorted(a, key=key) == sorted(b, key=key)
    return a == b


def scope_set(at):
    return set(at["scope"].split())


def warning_lines(kc, realm):
    return [line for line in kc.read_log().splitlines()
            if "WARN" in line and realm in line and re.search(r"skip", line, re.I)]


def rsa_public_key_from_jwk(jwk):
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
    return RSAPublicNumbers(int.from_bytes(b64d(jwk["e"]), "big"), int.from_bytes(b64d(jwk["n"]), "big")).public_key()


def verify_rs256(public_key, token):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    h, p, s = token.split(".")
    public_key.verify(b64d(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())


def key_provider(realm, name):
    comps = export(realm)["components"]["org.keycloak.keys.KeyProvider"]
    return next(c for c in comps if c["name"] == name)["config"]


def jwks(kc, realm):
    r = requests.get(kc.oidc(realm) + "/certs", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["keys"]


# ---------------------------------------------------------------------------------------------
# import itself
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("realm", REALMS)
def test_every_export_is_imported_and_served(kc, realm):
    r = requests.get(kc.realm(realm) + "/.well-known/openid-configuration", timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["issuer"] == kc.realm(realm)


@pytest.mark.parametrize("realm", REALMS)
def test_import_warns_once_per_realm_about_what_it_skipped(kc, realm):
    """§import-1: one WARN line per realm naming what latchkey does not import (the server still starts).
    Every export has authentication flows and required actions."""
    lines = warning_lines(kc, realm)
    assert len(lines) == 1, "\n".join(lines) or kc.read_log()
    line = lines[0]
    assert re.search(r"authentication ?flows?|authenticationFlows", line, re.I), line
    assert re.search(r"required ?actions?|requiredActions", line, re.I), line


def test_import_warning_of_kc13_lists_saml_idp_ldap_flows_and_required_actions(kc):
    """§import-1: the SAML client, the identity provider, the LDAP federation, the flows and the required
    actions of kc13-groups are all named in its single warning."""
    (line,) = warning_lines(kc, "kc13-groups")
    assert re.search(r"urn:kc13:legal-archive|saml", line, re.I), line
    assert re.search(r"corp-oidc|identity ?providers?|identityProviders", line, re.I), line
    assert re.search(r"ldap|corp-ldap|UserStorageProvider|federation", line, re.I), line
    assert re.search(r"authentication ?flows?|authenticationFlows", line, re.I), line
    assert re.search(r"required ?actions?|requiredActions", line, re.I), line


def test_masked_secret_in_the_export_never_authenticates(kc):
    """§import-2: "**********" is Keycloak's mask, not the vault client's secret."""
    for kw in ({"auth": ("vault", "**********")},
               {"client_id": "vault", "client_secret": "**********"}):
        r = kc.token("kc13-groups", grant_type="password", username="bob", password="bob-kc13-pw", **kw)
        assert r.status_code == 401, r.text
        assert r.json()["error"] == "invalid_client"


def test_imported_user_without_enabled_is_disabled(kc):
    """§import-3: mallory's export has no "enabled"; Keycloak imports her disabled."""
    r = kc.token("kc13-groups", grant_type="password", client_id="plain-spa", username="mallory",
                 password="mallory-kc13-pw")
    assert r.status_code in (400, 401), r.text
    assert r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("realm,username,password,client", [
    ("kc13-groups", "alice", "alice-kc13-pw", "plain-spa"),
    ("kc24-service", "ivy", "ivy-kc24-pw", "dashboard"),
])
def test_exported_password_hashes_sign_in(kc, realm, username, password, client):
    """§import-4: alice (pbkdf2-sha256, 27500) and ivy (pbkdf2-sha512, 210000) carry Keycloak hashes."""
    _, at, _ = login(kc, realm, client, username, password)
    assert at["preferred_username"] == username
    assert at["sub"] == user_id(realm, username)


# ---------------------------------------------------------------------------------------------
# kc4-legacy: Keycloak 4.0 export, upgraded by the import migrations
# ---------------------------------------------------------------------------------------------

def test_kc4_password_grant_carries_the_roles_scope_added_by_migration(kc):
    """§kc4-1: the clients had no roles scope; the 4.6 migration gives every OIDC client one."""
    _, at, _ = login(kc, "kc4-legacy", "legacy-spa", "lena", "lena-legacy-pw", scope="openid")
    assert realm_roles(at) == {"offline_access", "uma_authorization", "employee"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT, "legacy-app": {"reader"}}
    assert_aud(at, {"account", "legacy-app"})
    assert at["azp"] == "legacy-spa" and at["typ"] == "Bearer"


def test_kc4_imported_user_does_not_get_the_default_role(kc):
    """§kc4-2: users are imported with exactly the roles the export lists."""
    _, at, _ = login(kc, "kc4-legacy", "legacy-app", "otto", "otto-legacy-pw", secret="legacy-app-secret")
    assert realm_roles(at) == {"offline_access", "uma_authorization"}
    assert "default-roles-kc4-legacy" not in at["realm_access"]["roles"]
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT}
    assert_aud(at, {"account"})


def test_kc4_service_account_created_by_the_import_gets_the_converted_default_role(kc):
    """§kc4-3: legacy-batch's service-account user is not in the export, so the import creates it with the
    default role, whose composites come from the top-level defaultRoles and the account client's defaultRoles."""
    _, at = client_credentials(kc, "kc4-legacy", "legacy-batch", "legacy-batch-secret")
    assert at["preferred_username"] == "service-account-legacy-batch"
    assert realm_roles(at) == {"default-roles-kc4-legacy", "offline_access", "uma_authorization"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT}
    assert_aud(at, {"account"})
    assert at["azp"] == "legacy-batch"


def test_kc4_allowed_origins(kc):
    """§kc4-4: "+" means the origins of the redirect URIs; no webOrigins at all means the same at import."""
    _, at, _ = login(kc, "kc4-legacy", "legacy-spa", "lena", "lena-legacy-pw")
    assert at["allowed-origins"] == ["http://localhost:4000"]
    _, at, _ = login(kc, "kc4-legacy", "legacy-app", "otto", "otto-legacy-pw", secret="legacy-app-secret")
    assert at["allowed-origins"] == ["https://app.legacy.example"]


def test_kc4_scope_profile_email_and_acr(kc):
    """§kc4-5: clients without defaultClientScopes get the realm's default scopes (profile, email); acr
    and basic come from the 18/25 migrations and are not in the scope string."""
    _, at, idt = login(kc, "kc4-legacy", "legacy-spa", "lena", "lena-legacy-pw", scope="openid")
    assert scope_set(at) == {"openid", "profile", "email"}
    assert at["preferred_username"] == "lena"
    assert at["email"] == "lena@legacy.example" and at["email_verified"] is True
    assert at["name"] == "Lena Lindqvist"
    assert at["given_name"] == "Lena" and at["family_name"] == "Lindqvist"
    assert at["acr"] == "1"
    assert at["sub"] == user_id("kc4-legacy", "lena")
    assert idt["aud"] == "legacy-spa" and idt["azp"] == "legacy-spa"
    assert idt["preferred_username"] == "lena"
    assert "realm_access" not in idt and "resource_access" not in idt


def test_kc4_microprofile_jwt_scope_added_by_migration(kc):
    """§kc4-6: the 6.0 migration makes microprofile-jwt an optional scope of every OIDC client."""
    _, at, _ = login(kc, "kc4-legacy", "legacy-spa", "lena", "lena-legacy-pw", scope="openid microprofile-jwt")
    assert scope_set(at) == {"openid", "profile", "email", "microprofile-jwt"}
    assert at["upn"] == "lena"
    assert set(at["groups"]) == {"offline_access", "uma_authorization", "employee"}
    _, at, _ = login(kc, "kc4-legacy", "legacy-spa", "lena", "lena-legacy-pw", scope="openid")
    assert "upn" not in at and "groups" not in at


# ---------------------------------------------------------------------------------------------
# kc13-groups: default role, groups, fullScopeAllowed=false, the protocol mappers
# ---------------------------------------------------------------------------------------------

def test_kc13_default_role_composite_expands(kc):
    """§kc13-1: bob holds only default-roles-kc13-groups."""
    _, at, _ = login(kc, "kc13-groups", "plain-spa", "bob", "bob-kc13-pw", scope="openid")
    assert realm_roles(at) == {"default-roles-kc13-groups", "offline_access", "uma_authorization"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT}
    assert scope_set(at) == {"openid", "profile", "email"}
    assert at["allowed-origins"] == ["http://localhost:3013"]


def test_kc13_default_role_only_user_has_account_audience(kc):
    """§kc13-1: the audience is exactly "account", written as a string."""
    _, at, _ = login(kc, "kc13-groups", "plain-spa", "bob", "bob-kc13-pw")
    assert at["aud"] == "account"


def test_kc13_group_and_parent_group_roles_count(kc):
    """§kc13-2: alice is in /staff/engineering only; engineering's and staff's roles both count."""
    _, at, _ = login(kc, "kc13-groups", "plain-spa", "alice", "alice-kc13-pw")
    assert realm_roles(at) == {"default-roles-kc13-groups", "offline_access", "uma_authorization",
                               "editor", "viewer", "staff-member"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT, "portal": {"portal-user", "portal-admin"},
                                   "api-gateway": {"deploy"}}
    assert_aud(at, {"account", "portal", "api-gateway"})
    _, at, _ = login(kc, "kc13-groups", "plain-spa", "carol", "carol-kc13-pw")
    assert realm_roles(at) == {"default-roles-kc13-groups", "offline_access", "uma_authorization", "staff-member"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT, "portal": {"portal-user"}}
    assert_aud(at, {"account", "portal"})


def test_kc13_full_scope_false_keeps_only_mapped_roles(kc):
    """§kc13-3: reports sees user roles ∩ (its own roles ∪ expanded scope mappings of itself and of its
    default client scopes)."""
    _, at, _ = login(kc, "kc13-groups", "reports", "alice", "alice-kc13-pw", scope="openid")
    assert realm_roles(at) == {"editor", "viewer", "staff-member"}
    assert resource_access(at) == {"portal": {"portal-user"}}
    assert_aud(at, {"portal"})
    assert scope_set(at) == {"openid", "profile", "email", "reports-extra"}
    _, at, _ = login(kc, "kc13-groups", "reports", "carol", "carol-kc13-pw")
    assert realm_roles(at) == {"staff-member"}
    assert resource_access(at) == {"portal": {"portal-user"}}
    assert_aud(at, {"portal"})


def test_kc13_requested_optional_scope_adds_its_scope_mappings(kc):
    """§kc13-4: the optional scope audit maps uma_authorization; it counts only when requested."""
    _, at, _ = login(kc, "kc13-groups", "reports", "alice", "alice-kc13-pw", scope="openid audit")
    assert realm_roles(at) == {"editor", "viewer", "staff-member", "uma_authorization"}
    assert scope_set(at) == {"openid", "profile", "email", "reports-extra", "audit"}


def test_kc13_full_scope_false_without_mapped_roles_has_no_role_claims(kc):
    """§kc13-5: bob's roles are all outside reports' scope: no realm_access, resource_access or aud."""
    _, at, _ = login(kc, "kc13-groups", "reports", "bob", "bob-kc13-pw")
    assert "realm_access" not in at, at.get("realm_access")
    assert "resource_access" not in at, at.get("resource_access")
    assert "aud" not in at, at.get("aud")
    assert at["azp"] == "reports" and at["preferred_username"] == "bob"


def test_kc13_role_name_and_hardcoded_role_mappers(kc):
    """§kc13-6: on portal, editor is renamed content-editor and guest is added to every token."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert realm_roles(at) == {"default-roles-kc13-groups", "offline_access", "uma_authorization",
                               "content-editor", "viewer", "staff-member", "guest"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT, "portal": {"portal-user", "portal-admin"},
                                   "api-gateway": {"deploy"}}
    _, at, _ = login(kc, "kc13-groups", "portal", "bob", "bob-kc13-pw", secret="portal-kc13-secret")
    assert realm_roles(at) == {"default-roles-kc13-groups", "offline_access", "uma_authorization", "guest"}


def test_kc13_audience_mappers_and_audience_resolve(kc):
    """§kc13-7: client audience, custom audience, client-over-custom, plus every client in resource_access
    but the requester."""
    expected = {"account", "api-gateway", "https://api.kc13.example", "reports"}
    for user, pw in (("alice", "alice-kc13-pw"), ("bob", "bob-kc13-pw"), ("carol", "carol-kc13-pw")):
        _, at, _ = login(kc, "kc13-groups", "portal", user, pw, secret="portal-kc13-secret")
        assert_aud(at, expected)
        assert "https://ignored.kc13.example" not in at["aud"]
        assert "portal" not in at["aud"]


def test_kc13_group_membership_mappers(kc):
    """§kc13-8: direct groups only, full path or name; no groups, no claim."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert at["groups"] == ["/staff/engineering"]
    assert at["group_names"] == ["engineering"]
    _, at, _ = login(kc, "kc13-groups", "portal", "carol", "carol-kc13-pw", secret="portal-kc13-secret")
    assert isinstance(at["groups"], list) and set(at["groups"]) == {"/staff", "/contractors"}
    assert set(at["group_names"]) == {"staff", "contractors"}
    _, at, _ = login(kc, "kc13-groups", "portal", "bob", "bob-kc13-pw", secret="portal-kc13-secret")
    assert "groups" not in at and "group_names" not in at


def test_kc13_attribute_mappers_convert_json_types(kc):
    """§kc13-9: jsonType.label long, boolean, JSON, String; multivalued; a bare-string attribute."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert at["employee_number"] == 1042 and isinstance(at["employee_number"], int)
    assert at["newsletter"] is True
    assert at["prefs"] == {"theme": "dark"}
    assert isinstance(at["skills"], list) and set(at["skills"]) == {"rust", "go"} and len(at["skills"]) == 2
    assert at["phone"] == "0181 555 0100"
    assert at["locale"] == "en"


def test_kc13_attribute_mapper_falls_back_to_group_attributes(kc):
    """§kc13-10: no user value: the first group (or its ancestors) holding the attribute gives it."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert at["department"] == "engineering"
    assert at["building"] == "HQ"
    _, at, _ = login(kc, "kc13-groups", "portal", "carol", "carol-kc13-pw", secret="portal-kc13-secret")
    assert at["department"] == "general"
    assert at["building"] == "HQ"
    _, at, _ = login(kc, "kc13-groups", "portal", "bob", "bob-kc13-pw", secret="portal-kc13-secret")
    assert "department" not in at and "building" not in at


def test_kc13_aggregated_attribute(kc):
    """§kc13-11: aggregate.attrs collects the user's and every group's values (ancestors included, KC 26)."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert isinstance(at["departments"], list) and set(at["departments"]) == {"engineering", "general"}
    _, at, _ = login(kc, "kc13-groups", "portal", "carol", "carol-kc13-pw", secret="portal-kc13-secret")
    assert at["departments"] == ["general"]
    _, at, _ = login(kc, "kc13-groups", "portal", "bob", "bob-kc13-pw", secret="portal-kc13-secret")
    assert "departments" not in at


def test_kc13_hardcoded_claims(kc):
    """§kc13-12: a dotted claim name nests; the value is converted by jsonType.label."""
    _, at, _ = login(kc, "kc13-groups", "portal", "bob", "bob-kc13-pw", secret="portal-kc13-secret")
    assert at["a"] == {"b": {"c": 42}}
    assert "a.b.c" not in at
    assert at["tenant"] == "acme"
    assert at["feature_flags"] == {"beta": True, "max": 3}
    assert at["verified_org"] is True


def test_kc13_user_property_mapper(kc):
    """§kc13-13."""
    _, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret")
    assert at["first_name"] == "Alice"
    assert at["preferred_username"] == "alice" and at["name"] == "Alice Archer"
    assert at["sub"] == user_id("kc13-groups", "alice")


def test_kc13_id_token_claims(kc):
    """§kc13-14: the ID token has the mappers with id.token.claim, no roles and aud = the client."""
    _, at, idt = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret",
                       scope="openid")
    assert idt["typ"] == "ID" and idt["aud"] == "portal" and idt["azp"] == "portal"
    assert idt["sub"] == user_id("kc13-groups", "alice")
    for claim in ("groups", "group_names", "department", "building", "departments", "skills",
                  "employee_number", "newsletter", "prefs", "phone", "a", "tenant", "feature_flags",
                  "verified_org", "first_name", "preferred_username", "email", "locale"):
        assert same(idt[claim], at[claim]), claim
    for claim in ("realm_access", "resource_access", "allowed-origins", "scope"):
        assert claim not in idt, claim


def test_kc13_userinfo_claims(kc):
    """§kc13-15: userinfo has the mappers with userinfo.token.claim and the sub; no roles."""
    t, at, _ = login(kc, "kc13-groups", "portal", "alice", "alice-kc13-pw", secret="portal-kc13-secret",
                     scope="openid")
    info = userinfo(kc, "kc13-groups", t["access_token"])
    assert info["sub"] == user_id("kc13-groups", "alice")
    for claim in ("groups", "group_names", "department", "building", "skills", "employee_number",
                  "newsletter", "prefs", "phone", "a", "tenant", "feature_flags", "verified_org",
                  "first_name", "preferred_username", "email", "email_verified", "name", "locale"):
        assert same(info[claim], at[claim]), claim
    assert same(info["departments"], at["departments"])
    for claim in ("realm_access", "resource_access", "allowed-origins"):
        assert claim not in info, claim


# ---------------------------------------------------------------------------------------------
# kc24-service: the service account of the export
# ---------------------------------------------------------------------------------------------

def test_kc24_service_account_roles_and_audience(kc):
    """§kc24-1."""
    t, at = client_credentials(kc, "kc24-service", "billing-worker", "billing-kc24-secret")
    assert realm_roles(at) == {"default-roles-kc24-service", "offline_access", "uma_authorization",
                               "billing-writer"}
    assert resource_access(at) == {"ledger-api": {"post-entry"}, "account": ACCOUNT_DEFAULT}
    assert_aud(at, {"ledger-api", "account", "https://ledger.kc24.example"})
    assert "refresh_token" not in t


def test_kc24_service_account_is_the_exported_user(kc):
    """§kc24-2: the export's service-account user is linked, not a new one."""
    _, at = client_credentials(kc, "kc24-service", "billing-worker", "billing-kc24-secret")
    assert at["sub"] == user_id("kc24-service", "service-account-billing-worker")
    assert at["preferred_username"] == "service-account-billing-worker"
    assert at["azp"] == "billing-worker"
    assert at["email_verified"] is False


def test_kc24_session_note_mappers_on_the_client(kc):
    """§kc24-3: Client ID, Client Host and Client IP Address mappers read the notes of the grant."""
    _, at = client_credentials(kc, "kc24-service", "billing-worker", "billing-kc24-secret")
    assert at["client_id"] == "billing-worker"
    assert at["clientHost"] == "127.0.0.1"
    assert at["clientAddress"] == "127.0.0.1"
    assert "clientId" not in at


def test_kc24_client_credentials_scope_and_acr(kc):
    """§kc24-4: the scope string lists default scopes with include.in.token.scope (no openid unless asked)."""
    _, at = client_credentials(kc, "kc24-service", "billing-worker", "billing-kc24-secret")
    assert scope_set(at) == {"profile", "email", "api-audience"}
    assert at["acr"] == "1"


def test_kc24_microprofile_jwt_optional_scope(kc):
    """§kc24-5: upn is the username, groups are the realm roles; only when the scope is requested."""
    _, at, _ = login(kc, "kc24-service", "dashboard", "ivy", "ivy-kc24-pw", scope="openid microprofile-jwt")
    assert at["upn"] == "ivy"
    assert set(at["groups"]) == {"default-roles-kc24-service", "offline_access", "uma_authorization"}
    assert scope_set(at) == {"openid", "profile", "email", "microprofile-jwt"}
    assert at["aud"] == "account"
    _, at, _ = login(kc, "kc24-service", "dashboard", "ivy", "ivy-kc24-pw", scope="openid")
    assert "upn" not in at and "groups" not in at
    assert scope_set(at) == {"openid", "profile", "email"}


def test_kc24_unmanaged_attribute_is_not_mapped(kc):
    """§kc24-6: a 24.x export without a user profile configuration: unmanaged attributes are disabled,
    so the team attribute mapper adds nothing (the 24.0.0 migration that enables them does not run)."""
    _, at, idt = login(kc, "kc24-service", "dashboard", "ivy", "ivy-kc24-pw", scope="openid")
    assert "team" not in at
    assert "team" not in idt
    assert at["preferred_username"] == "ivy" and at["email"] == "ivy@kc24.example"


# ---------------------------------------------------------------------------------------------
# kc26-full: key providers with their key material, KC 26 client scopes
# ---------------------------------------------------------------------------------------------

def expected_kid():
    return (KC / "kc26-full.expected-kid.txt").read_text().strip()


def fixture_rsa_public_key(name="rsa-generated"):
    from cryptography import x509
    cert = base64.b64decode(key_provider("kc26-full", name)["certificate"][0])
    return x509.load_der_x509_certificate(cert).public_key()


def test_kc26_expected_kid_is_keycloaks_kid_of_the_exported_key():
    """§keys-1: the fixture is self-consistent (no server needed)."""
    from cryptography.hazmat.primitives import serialization
    spki = fixture_rsa_public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    kid = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()
    assert kid == expected_kid()
    token = (KC / "kc26-full.pre-import-token.txt").read_text().strip()
    assert header_jwt(token)["kid"] == kid
    verify_rs256(fixture_rsa_public_key(), token)


def test_kc26_tokens_are_signed_with_the_exported_rsa_key(kc):
    """§keys-2."""
    t, _, _ = login(kc, "kc26-full", "webapp", "frank", "frank-kc26-pw", secret="webapp-kc26-secret",
                    scope="openid")
    for token in (t["access_token"], t["id_token"]):
        h = header_jwt(token)
        assert h["alg"] == "RS256" and h["kid"] == expected_kid(), h
        verify_rs256(fixture_rsa_public_key(), token)


def test_kc26_refresh_token_is_signed_with_the_exported_hs512_key(kc):
    """§keys-4: refresh tokens use the realm's HS512 key: its kid and its secret."""
    t, _, _ = login(kc, "kc26-full", "webapp", "frank", "frank-kc26-pw", secret="webapp-kc26-secret")
    cfg = key_provider("kc26-full", "hmac-generated-hs512")
    h = header_jwt(t["refresh_token"])
    assert h["alg"] == "HS512" and h["kid"] == cfg["kid"][0], h
    head, payload, sig = t["refresh_token"].split(".")
    mac = hmac.new(b64d(cfg["secret"][0]), f"{head}.{payload}".encode(), hashlib.sha512).digest()
    assert hmac.compare_digest(mac, b64d(sig))


def test_kc26_token_signed_before_import_verifies_against_the_jwks(kc):
    """§keys-1: a token Keycloak signed before the move still verifies with the published key."""
    token = (KC / "kc26-full.pre-import-token.txt").read_text().strip()
    kid = header_jwt(token)["kid"]
    assert kid == expected_kid()
    matching = [k for k in jwks(kc, "kc26-full") if k.get("kid") == kid]
    assert len(matching) == 1, matching
    jwk = matching[0]
    assert jwk["kty"] == "RSA" and jwk.get("alg") == "RS256" and jwk.get("use") == "sig", jwk
    verify_rs256(rsa_public_key_from_jwk(jwk), token)


@pytest.mark.parametrize("realm", REALMS)
def test_jwks_of_an_rs256_realm_has_no_okp_key(kc, realm):
    """§keys-3: every export is an RS256 realm (kc4 has no defaultSignatureAlgorithm, which means RS256);
    Keycloak's keys for it are RSA (generated ones for kc4, kc13 and kc24, the exported ones for kc26)."""
    keys = jwks(kc, realm)
    assert not [k for k in keys if k["kty"] == "OKP"], keys
    assert any(k["kty"] == "RSA" and k.get("alg") == "RS256" and k.get("use") == "sig" for k in keys), keys


def test_kc26_jwks_holds_only_the_exported_rsa_keys(kc):
    """§keys-3: the export lists every key provider, so there is no EC (or OKP) key, and the RSA-OAEP key is
    published for encryption with Keycloak's kid."""
    from cryptography.hazmat.primitives import serialization
    keys = jwks(kc, "kc26-full")
    assert {k["kty"] for k in keys} == {"RSA"}, keys
    assert all("d" not in k and "k" not in k for k in keys), "no private or symmetric material"
    sig = [k for k in keys if k.get("use") == "sig"]
    assert [k["kid"] for k in sig] == [expected_kid()], sig
    enc = [k for k in keys if k.get("use") == "enc"]
    spki = fixture_rsa_public_key("rsa-enc-generated").public_bytes(serialization.Encoding.DER,
                                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    enc_kid = base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()
    assert [(k["kid"], k.get("alg")) for k in enc] == [(enc_kid, "RSA-OAEP")], enc


def test_kc26_default_role_only_user(kc):
    """§kc26-1."""
    _, at, idt = login(kc, "kc26-full", "webapp", "frank", "frank-kc26-pw", secret="webapp-kc26-secret",
                       scope="openid")
    assert realm_roles(at) == {"default-roles-kc26-full", "offline_access", "uma_authorization"}
    assert resource_access(at) == {"account": ACCOUNT_DEFAULT}
    assert at["aud"] == "account"
    assert scope_set(at) == {"openid", "profile", "email"}
    assert at["allowed-origins"] == ["https://webapp.kc26.example"]
    assert at["acr"] == "1"
    assert at["sub"] == user_id("kc26-full", "frank")
    assert at["preferred_username"] == "frank" and at["email"] == "frank@kc26.example"
    assert at["name"] == "Frank Fischer" and at["email_verified"] is True
    assert idt["aud"] == "webapp" and idt["sub"] == at["sub"] and idt["acr"] == "1"


def test_kc26_microprofile_jwt(kc):
    """§kc26-2."""
    _, at, _ = login(kc, "kc26-full", "webapp", "grace", "grace-kc26-pw", secret="webapp-kc26-secret",
                     scope="openid microprofile-jwt")
    assert at["upn"] == "grace"
    assert set(at["groups"]) == {"default-roles-kc26-full", "offline_access", "uma_authorization", "analyst"}
    assert scope_set(at) == {"openid", "profile", "email", "microprofile-jwt"}


def test_kc26_unmanaged_attribute_enabled_by_the_user_profile_component(kc):
    """§kc26-3: the export's user profile sets unmanagedAttributePolicy ENABLED."""
    t, at, idt = login(kc, "kc26-full", "webapp", "grace", "grace-kc26-pw", secret="webapp-kc26-secret",
                       scope="openid")
    assert at["region"] == "emea" and idt["region"] == "emea"
    assert userinfo(kc, "kc26-full", t["access_token"])["region"] == "emea"
    assert realm_roles(at) == {"default-roles-kc26-full", "offline_access", "uma_authorization", "analyst"}
