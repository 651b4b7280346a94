"""Authlib 1.9.9's requests client (`OAuth2Session`) against latchkey: a password grant whose
access token expires after 2 s, then a protected call that makes Authlib refresh on its own."""
import base64
import time
from urllib.parse import parse_qs

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import decode_jwt, write_realm

LIFESPAN = 2

REALM = {
    "realm": "quick",
    "enabled": True,
    "accessTokenLifespan": 300,
    "clients": [
        {
            "clientId": "quick-spa",
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "redirectUris": ["http://localhost:3000/*"],
            "attributes": {"access.token.lifespan": str(LIFESPAN)},
        },
        {
            "clientId": "quick-web",
            "publicClient": False,
            "secret": "quick-web-secret",
            "clientAuthenticatorType": "client-secret",
            "directAccessGrantsEnabled": True,
            "redirectUris": ["http://localhost:3000/*"],
            "attributes": {"access.token.lifespan": str(LIFESPAN)},
        },
    ],
    "users": [
        {
            "username": "bob",
            "enabled": True,
            "email": "bob@example.com",
            "emailVerified": True,
            "firstName": "Bob",
            "lastName": "Builder",
            "credentials": [{"type": "password", "value": "bob-password"}],
        }
    ],
}


@pytest.fixture
def quick(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, REALM))
    s.start()
    return s


def form_of(req):
    body = req.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}


def run_auto_refresh(server, client_id, client_secret=None):
    token_url = server.oidc("quick") + "/token"
    userinfo_url = server.oidc("quick") + "/userinfo"
    updates = []

    def update_token(token, refresh_token=None, access_token=None):
        updates.append({"token": dict(token), "refresh_token": refresh_token, "access_token": access_token})

    sent = []
    sess = OAuth2Session(
        client_id=client_id,
        client_secret=client_secret,
        token_endpoint=token_url,
        update_token=update_token,
        scope="openid",
        leeway=0,  # refresh exactly when the token expires, not 60 s before (Authlib's default)
    )
    sess.hooks["response"].append(lambda r, *a, **kw: sent.append(r.request))

    tok = sess.fetch_token(token_url, username="bob", password="bob-password", timeout=10)
    assert tok["expires_in"] == LIFESPAN
    assert tok.get("refresh_token"), tok
    first_access, first_refresh = tok["access_token"], tok["refresh_token"]
    first_claims = decode_jwt(first_access)
    assert first_claims["exp"] - first_claims["iat"] == LIFESPAN
    assert first_claims["azp"] == client_id

    # While the token is fresh, Authlib just uses it.
    r = sess.get(userinfo_url, timeout=10)
    assert r.status_code == 200, r.text
    assert updates == []

    # Sleep until both Authlib (expires_at) and the server (exp) see the token as expired.
    deadline = max(first_claims["exp"], tok["expires_at"]) + 0.1
    time.sleep(max(0.0, deadline - time.time()))

    # The old token is really dead at the server: without a refresh the call would fail.
    dead = requests.get(userinfo_url, headers={"Authorization": f"Bearer {first_access}"}, timeout=10)
    assert dead.status_code == 401, dead.text
    assert "invalid_token" in dead.headers.get("WWW-Authenticate", "")

    sent.clear()
    r = sess.get(userinfo_url, timeout=10)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["sub"] == first_claims["sub"]

    # Authlib refreshed by itself, once, and told us.
    assert len(updates) == 1, updates
    new = updates[0]["token"]
    assert updates[0]["refresh_token"] == first_refresh
    assert new["access_token"] != first_access
    assert sess.token["access_token"] == new["access_token"]
    new_claims = decode_jwt(new["access_token"])
    assert new_claims["exp"] > first_claims["exp"]
    assert new_claims["sid"] == first_claims["sid"]
    assert new_claims["azp"] == client_id
    # Rotation is on by default: the refresh answered with a new refresh token.
    assert new["refresh_token"] and new["refresh_token"] != first_refresh

    # What went over the wire: one refresh request, then userinfo with the new token.
    assert [req.url for req in sent] == [token_url, userinfo_url], [req.url for req in sent]
    refresh_req, userinfo_req = sent
    form = form_of(refresh_req)
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == first_refresh
    assert userinfo_req.headers["Authorization"] == f"Bearer {new['access_token']}"
    return refresh_req, form


def test_public_client_refreshes_by_itself(quick):
    refresh_req, form = run_auto_refresh(quick, "quick-spa")
    # Public client: client_id in the body, no credentials.
    assert form["client_id"] == "quick-spa"
    assert "client_secret" not in form
    assert "Authorization" not in refresh_req.headers


def test_confidential_client_refreshes_by_itself_with_basic_auth(quick):
    refresh_req, form = run_auto_refresh(quick, "quick-web", "quick-web-secret")
    # client_secret_basic (Authlib's default when a secret is set).
    auth = refresh_req.headers["Authorization"]
    assert auth.startswith("Basic ")
    assert base64.b64decode(auth[6:]).decode() == "quick-web:quick-web-secret"
    assert "client_secret" not in form


def test_confidential_client_with_wrong_secret_is_refused(quick):
    from authlib.integrations.base_client import OAuthError

    token_url = quick.oidc("quick") + "/token"
    sess = OAuth2Session(client_id="quick-web", client_secret="wrong", token_endpoint=token_url)
    with pytest.raises(OAuthError) as ei:
        sess.fetch_token(token_url, username="bob", password="bob-password", timeout=10)
    assert ei.value.error == "invalid_client"


def test_refresh_resending_scope_openid_keeps_default_scopes(quick):
    token_url = quick.oidc("quick") + "/token"
    sess = OAuth2Session(client_id="quick-spa", token_endpoint=token_url, scope="openid")
    tok = sess.fetch_token(token_url, username="bob", password="bob-password", timeout=10)
    assert set(tok["scope"].split()) >= {"openid", "profile", "email"}
    new = sess.refresh_token(token_url, timeout=10)
    assert set(new["scope"].split()) >= {"openid", "profile", "email"}, new["scope"]
    info = sess.get(quick.oidc("quick") + "/userinfo", timeout=10).json()
    assert info["preferred_username"] == "bob"
    assert info["email"] == "bob@example.com"
