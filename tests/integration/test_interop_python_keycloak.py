"""python-keycloak 7.1.1 (`KeycloakOpenID`) driving latchkey unmodified, the way its users do.

Runs against the shared `server` (realm `demo` from tests/fixtures/demo-realm.json). Nothing here
changes global state: only logins, refreshes and reads.
"""
import json

import pytest
from jwcrypto import jwk
from jwcrypto.common import JWException
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

from conftest import decode_jwt, header_jwt


def openid(server, client_id, secret=None, realm="demo"):
    return KeycloakOpenID(
        server_url=server.base + "/",
        realm_name=realm,
        client_id=client_id,
        client_secret_key=secret,
        timeout=10,
    )


@pytest.fixture
def admin_cli(server):
    return openid(server, "admin-cli")


@pytest.fixture
def web(server):
    return openid(server, "web", "web-secret")


def tamper(token, part, index=None):
    """The token with one base64url character of `part` (0 header, 1 payload, 2 signature)
    changed. A character in the middle always changes the decoded bytes."""
    parts = token.split(".")
    seg = parts[part]
    i = len(seg) // 2 if index is None else index
    parts[part] = seg[:i] + ("A" if seg[i] != "A" else "B") + seg[i + 1:]
    return ".".join(parts)


def test_well_known_names_the_endpoints_python_keycloak_uses(server, admin_cli):
    wk = admin_cli.well_known()
    assert wk["issuer"] == server.realm("demo")
    assert wk["token_endpoint"] == server.oidc("demo") + "/token"
    assert wk["userinfo_endpoint"] == server.oidc("demo") + "/userinfo"
    assert wk["jwks_uri"] == server.oidc("demo") + "/certs"


def test_password_grant_with_public_admin_cli(server, admin_cli):
    tok = admin_cli.token("alice", "alice-password")
    # python-keycloak asks for scope=openid by default, so an ID token comes back too.
    for k in ("access_token", "refresh_token", "id_token", "expires_in", "refresh_expires_in",
              "token_type", "session_state", "scope", "not-before-policy"):
        assert k in tok, (k, sorted(tok))
    assert tok["token_type"].lower() == "bearer"
    assert tok["expires_in"] == 300
    assert "openid" in tok["scope"].split()
    claims = admin_cli.decode_token(tok["access_token"], validate=True)
    assert claims["iss"] == server.realm("demo")
    assert claims["azp"] == "admin-cli"
    assert claims["typ"] == "Bearer"
    assert claims["preferred_username"] == "alice"
    assert claims["sid"] == tok["session_state"]
    assert "user" in claims["realm_access"]["roles"]
    assert header_jwt(tok["access_token"])["alg"] == "RS256"
    # The refresh token is an HS512 JWT whose key is not in the JWKS (Keycloak's layout).
    assert header_jwt(tok["refresh_token"])["alg"] == "HS512"
    assert decode_jwt(tok["refresh_token"])["typ"] == "Refresh"


def test_password_grant_with_confidential_web(server, web):
    tok = web.token("alice", "alice-password")
    claims = web.decode_token(tok["access_token"], validate=True)
    assert claims["azp"] == "web"
    assert claims["preferred_username"] == "alice"
    assert claims["resource_access"]["web"]["roles"] == ["reader"]
    idt = web.decode_token(tok["id_token"], validate=True)
    assert idt["typ"] == "ID"
    assert idt["aud"] == "web" or "web" in idt["aud"]
    assert idt["sub"] == claims["sub"]
    assert idt["sid"] == claims["sid"]


def test_confidential_client_with_wrong_secret_raises_authentication_error(server):
    bad = openid(server, "web", "not-the-secret")
    with pytest.raises(KeycloakAuthenticationError) as ei:
        bad.token("alice", "alice-password")
    assert ei.value.response_code == 401
    assert json.loads(ei.value.response_body)["error"] == "invalid_client"


def test_refresh_token(server, admin_cli):
    tok = admin_cli.token("alice", "alice-password")
    new = admin_cli.refresh_token(tok["refresh_token"])
    assert new["access_token"] != tok["access_token"]
    assert new["refresh_token"], "refresh must hand back a refresh token"
    # Rotation is on by default in latchkey (CONTRACT): a new refresh token each time.
    assert new["refresh_token"] != tok["refresh_token"]
    old_claims = admin_cli.decode_token(tok["access_token"], validate=True)
    new_claims = admin_cli.decode_token(new["access_token"], validate=True)
    assert new_claims["sub"] == old_claims["sub"]
    assert new_claims["sid"] == old_claims["sid"]
    assert new_claims["azp"] == "admin-cli"
    assert new_claims["jti"] != old_claims["jti"]
    # And the new refresh token refreshes again.
    again = admin_cli.refresh_token(new["refresh_token"])
    assert admin_cli.decode_token(again["access_token"])["sid"] == old_claims["sid"]


def test_refresh_token_of_a_confidential_client(server, web):
    tok = web.token("alice", "alice-password")
    new = web.refresh_token(tok["refresh_token"])
    assert web.decode_token(new["access_token"])["azp"] == "web"


def test_userinfo(server, admin_cli):
    tok = admin_cli.token("alice", "alice-password")
    info = admin_cli.userinfo(tok["access_token"])
    assert isinstance(info, dict), info
    assert info["sub"] == admin_cli.decode_token(tok["access_token"])["sub"]
    assert info["preferred_username"] == "alice"
    assert info["email"] == "alice@example.com"
    assert info["email_verified"] is True
    assert info["given_name"] == "Alice"
    assert info["family_name"] == "Liddell"
    assert info["name"] == "Alice Liddell"


def test_userinfo_with_a_bad_token_raises_authentication_error(server, admin_cli):
    tok = admin_cli.token("alice", "alice-password")
    with pytest.raises(KeycloakAuthenticationError) as ei:
        admin_cli.userinfo(tamper(tok["access_token"], 1))
    assert ei.value.response_code == 401


def test_decode_token_verifies_against_certs(server, admin_cli):
    tok = admin_cli.token("alice", "alice-password")
    kids = {k["kid"] for k in admin_cli.certs()["keys"]}
    assert header_jwt(tok["access_token"])["kid"] in kids
    # A signature that does not verify is refused.
    for part in (1, 2):
        with pytest.raises(JWException):
            admin_cli.decode_token(tamper(tok["access_token"], part), validate=True)
    # A token of another realm is signed with a key demo's JWKS does not have.
    master = openid(server, "admin-cli", realm="master").token("admin", "admin-password")
    assert header_jwt(master["access_token"])["kid"] not in kids
    with pytest.raises(JWException):
        admin_cli.decode_token(master["access_token"], validate=True)
    # The refresh token's HS512 key is not published, so it cannot be verified from the JWKS.
    with pytest.raises(JWException):
        admin_cli.decode_token(tok["refresh_token"], validate=True)
    # Without validation python-keycloak just reads the payload.
    assert admin_cli.decode_token(tok["refresh_token"], validate=False)["typ"] == "Refresh"


def test_decode_token_with_the_realm_public_key(server, admin_cli):
    # The recipe in python-keycloak's documentation: build a PEM from public_key().
    pem = "-----BEGIN PUBLIC KEY-----\n" + admin_cli.public_key() + "\n-----END PUBLIC KEY-----"
    key = jwk.JWK.from_pem(pem.encode("utf-8"))
    tok = admin_cli.token("alice", "alice-password")
    claims = admin_cli.decode_token(tok["access_token"], key=key)
    assert claims["preferred_username"] == "alice"


def test_client_credentials_with_svc(server):
    svc = openid(server, "svc", "svc-secret")
    tok = svc.token(grant_type="client_credentials")
    assert tok["expires_in"] == 31536000
    # Keycloak: no refresh token for client credentials unless
    # client_credentials.use_refresh_token is on.
    assert not tok.get("refresh_token")
    claims = svc.decode_token(tok["access_token"], validate=True)
    assert claims["azp"] == "svc"
    assert claims["preferred_username"] == "service-account-svc"
    assert claims["exp"] - claims["iat"] == 31536000
    info = svc.userinfo(tok["access_token"])
    assert info["sub"] == claims["sub"]
    assert info["preferred_username"] == "service-account-svc"


def test_client_credentials_with_wrong_secret(server):
    svc = openid(server, "svc", "wrong")
    with pytest.raises(KeycloakAuthenticationError) as ei:
        svc.token(grant_type="client_credentials")
    assert ei.value.response_code == 401


def test_wrong_password_raises_authentication_error(server, admin_cli):
    with pytest.raises(KeycloakAuthenticationError) as ei:
        admin_cli.token("alice", "not-alice-password")
    assert ei.value.response_code == 401
    body = json.loads(ei.value.response_body)
    assert body["error"] == "invalid_grant"
    assert body["error_description"]


def test_unknown_user_raises_authentication_error(server, admin_cli):
    with pytest.raises(KeycloakAuthenticationError) as ei:
        admin_cli.token("nobody-here", "whatever")
    assert ei.value.response_code == 401
    assert json.loads(ei.value.response_body)["error"] == "invalid_grant"


def test_refresh_with_garbage_raises_a_400_error(server, admin_cli):
    with pytest.raises(KeycloakError) as ei:
        admin_cli.refresh_token("not-a-token")
    assert not isinstance(ei.value, KeycloakAuthenticationError)
    assert ei.value.response_code == 400
    assert json.loads(ei.value.response_body)["error"] == "invalid_grant"
