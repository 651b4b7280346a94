"""The token endpoint's grants, responses and claims in Keycloak's shape, and the seed
question (keycloak-refresh-401-question.txt) answered by the response alone."""
import base64
import hashlib
import json

import requests

from conftest import decode_jwt, write_realm

KEYCLOAK_RESPONSE_FIELDS = {"access_token", "expires_in", "refresh_expires_in", "refresh_token", "token_type",
                            "not-before-policy", "session_state", "scope"}


def test_password_grant_response_and_claims(server):
    r = server.token(grant_type="password", client_id="spa", username="alice", password="alice-password", scope="openid")
    assert r.status_code == 200, r.text
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache"
    t = r.json()
    assert KEYCLOAK_RESPONSE_FIELDS | {"id_token"} <= set(t)
    assert t["token_type"] == "Bearer" and t["expires_in"] == 300 and t["refresh_expires_in"] == 1800
    assert t["scope"].split() == ["openid", "email", "profile"]
    at = decode_jwt(t["access_token"])
    for claim in ("exp", "iat", "jti", "iss", "sub", "typ", "azp", "sid", "scope", "realm_access",
                  "preferred_username", "email", "email_verified", "name", "given_name", "family_name", "auth_time"):
        assert claim in at, claim
    assert at["typ"] == "Bearer" and at["azp"] == "spa" and at["iss"] == server.realm()
    assert at["sid"] == t["session_state"]
    assert at["exp"] - at["iat"] == 300
    assert at["preferred_username"] == "alice" and at["name"] == "Alice Liddell"
    assert {"user", "offline_access", "uma_authorization", "default-roles-demo"} <= set(at["realm_access"]["roles"])
    assert at["resource_access"]["web"]["roles"] == ["reader"]
    assert at["allowed-origins"] == ["http://localhost:3000"]
    rt = decode_jwt(t["refresh_token"])
    assert rt["typ"] == "Refresh" and rt["aud"] == server.realm() and rt["azp"] == "spa"
    assert rt["sid"] == at["sid"] and rt["sub"] == at["sub"]
    assert rt["exp"] - rt["iat"] == 1800
    idt = decode_jwt(t["id_token"])
    assert idt["typ"] == "ID" and idt["aud"] == "spa" and idt["sub"] == at["sub"] and idt["sid"] == at["sid"]
    digest = hashlib.sha256(t["access_token"].encode()).digest()[:16]
    assert idt["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def test_seed_question_public_admin_cli_refreshes_with_client_id_only(server):
    t = server.password_login(client_id="admin-cli")
    r = server.token(grant_type="refresh_token", client_id="admin-cli", refresh_token=t["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] != t["refresh_token"]


def test_seed_question_confidential_client_needs_its_secret(server):
    t = server.password_login(auth=("web", "web-secret"))
    rt = t["refresh_token"]
    # No secret: 401 invalid_client, and the description says what to do.
    r = server.token(grant_type="refresh_token", client_id="web", refresh_token=rt)
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "invalid_client"
    assert "confidential" in body["error_description"] and "secret" in body["error_description"]
    # HTTP Basic.
    r = server.token(auth=("web", "web-secret"), grant_type="refresh_token", refresh_token=rt)
    assert r.status_code == 200, r.text
    rt = r.json()["refresh_token"]
    # client_secret_post.
    r = server.token(grant_type="refresh_token", client_id="web", client_secret="web-secret", refresh_token=rt)
    assert r.status_code == 200, r.text
    # Wrong secret: 401 with a Basic challenge when Basic was used.
    r = server.token(auth=("web", "nope"), grant_type="refresh_token", refresh_token=rt)
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert "nope" not in r.text, "never echo a secret"


def test_another_clients_refresh_token_is_invalid_grant(server):
    t = server.password_login(client_id="spa")
    r = server.token(auth=("web", "web-secret"), grant_type="refresh_token", refresh_token=t["refresh_token"])
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_grant"
    assert r.json()["error_description"] == (
        "refresh token was issued to client 'spa', not to 'web': refresh with the client that obtained it")


def test_basic_credentials_are_form_urlencoded(fresh_server, tmp_path):
    secret = "s:e+c r%t"
    path = write_realm(tmp_path, {"realm": "enc", "clients": [
        {"clientId": "my:client", "secret": secret, "directAccessGrantsEnabled": True}],
        "users": [{"username": "u", "credentials": [{"type": "password", "value": "p"}]}]})
    s = fresh_server(import_realm=path).start()
    from urllib.parse import quote_plus
    basic = base64.b64encode(f"{quote_plus('my:client')}:{quote_plus(secret)}".encode()).decode()
    r = requests.post(s.oidc("enc") + "/token", data={"grant_type": "password", "username": "u", "password": "p"},
                      headers={"Authorization": "Basic " + basic}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(s.oidc("enc") + "/token", data={"grant_type": "password", "username": "u", "password": "p",
                                                      "client_id": "my:client", "client_secret": secret}, timeout=10)
    assert r.status_code == 200, r.text


def test_password_grant_errors(server):
    r = server.token(grant_type="password", client_id="spa", username="alice", password="wrong")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant"
    wrong_user = server.token(grant_type="password", client_id="spa", username="nobody", password="wrong")
    assert wrong_user.json() == r.json(), "the message does not say which part was wrong"
    r = server.token(auth=("svc", "svc-secret"), grant_type="password", username="alice", password="alice-password")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    assert "directAccessGrantsEnabled" in r.json()["error_description"]
    r = server.token(grant_type="password", client_id="spa", username="alice", password="alice-password", scope="openid admin")
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = server.token(grant_type="password", client_id="ghost", username="alice", password="alice-password")
    assert r.status_code == 401 and r.json()["error"] == "invalid_client" and "ghost" in r.json()["error_description"]


def test_client_credentials_uses_the_service_account(server):
    r = server.token(auth=("svc", "svc-secret"), grant_type="client_credentials")
    assert r.status_code == 200, r.text
    t = r.json()
    assert "refresh_token" not in t and t["expires_in"] == 31536000
    at = decode_jwt(t["access_token"])
    assert at["preferred_username"] == "service-account-svc" and at["azp"] == "svc" and at["client_id"] == "svc"
    r = server.token(grant_type="client_credentials", client_id="spa")
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = server.token(auth=("web", "web-secret"), grant_type="client_credentials")
    assert r.status_code == 400 and "serviceAccountsEnabled" in r.json()["error_description"]


def test_seed_offline_token_for_a_service_account(server):
    """offline-token-service-account.txt: scope=offline_access gives a refresh token that does not expire."""
    r = server.token(grant_type="client_credentials", client_id="svc", client_secret="svc-secret", scope="offline_access")
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["expires_in"] == 31536000 and t["refresh_expires_in"] == 0
    assert "offline_access" in t["scope"].split()
    rt = decode_jwt(t["refresh_token"])
    assert rt["typ"] == "Offline" and "exp" not in rt
    r = server.token(grant_type="refresh_token", client_id="svc", client_secret="svc-secret", refresh_token=t["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_expires_in"] == 0 and r.json()["expires_in"] == 31536000


def test_refresh_keeps_the_session_and_user(server):
    t = server.password_login(scope="openid")
    r = server.token(grant_type="refresh_token", client_id="spa", refresh_token=t["refresh_token"])
    assert r.status_code == 200, r.text
    n = r.json()
    a0, a1 = decode_jwt(t["access_token"]), decode_jwt(n["access_token"])
    assert a1["sid"] == a0["sid"] and a1["sub"] == a0["sub"] and a1["auth_time"] == a0["auth_time"]
    assert n["session_state"] == t["session_state"]
    assert "id_token" in n and decode_jwt(n["id_token"])["sub"] == a0["sub"]


def test_userinfo_get_and_post(server):
    t = server.password_login(scope="openid")
    for method in ("GET", "POST"):
        r = requests.request(method, server.oidc() + "/userinfo", headers={"Authorization": "Bearer " + t["access_token"]}, timeout=5)
        assert r.status_code == 200, r.text
        u = r.json()
        assert u["sub"] == decode_jwt(t["access_token"])["sub"]
        assert u["preferred_username"] == "alice" and u["email"] == "alice@example.com"
    r = requests.post(server.oidc() + "/userinfo", data={"access_token": t["access_token"]}, timeout=5)
    assert r.status_code == 200
    r = requests.get(server.oidc() + "/userinfo", headers={"Authorization": "Bearer " + t["refresh_token"]}, timeout=5)
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def pbkdf2_credential(password, alg, iterations=1000):
    salt = b"0123456789abcdef"
    digest = hashlib.pbkdf2_hmac(alg, password.encode(), salt, iterations, 64)
    return {
        "type": "password",
        "secretData": json.dumps({"value": base64.b64encode(digest).decode(), "salt": base64.b64encode(salt).decode(),
                                  "additionalParameters": {}}),
        "credentialData": json.dumps({"hashIterations": iterations, "algorithm": f"pbkdf2-{alg}", "additionalParameters": {}}),
    }


def test_keycloak_hashes_verify_and_are_rehashed(fresh_server, tmp_path):
    path = write_realm(tmp_path, {"realm": "kc", "users": [
        {"username": "s256", "credentials": [pbkdf2_credential("pw-256", "sha256")]},
        {"username": "s512", "credentials": [pbkdf2_credential("pw-512", "sha512")]},
    ]})
    s = fresh_server(import_realm=path).start()
    for user, pw in (("s256", "pw-256"), ("s512", "pw-512")):
        assert s.token("kc", grant_type="password", client_id="admin-cli", username=user, password="x").status_code == 401
        r = s.token("kc", grant_type="password", client_id="admin-cli", username=user, password=pw)
        assert r.status_code == 200, r.text
    hashes = dict(s.query("SELECT username, password_hash FROM users WHERE username IN ('s256','s512')"))
    assert all(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$") for h in hashes.values()), hashes
    # Still works after the re-hash.
    assert s.token("kc", grant_type="password", client_id="admin-cli", username="s256", password="pw-256").status_code == 200


def test_the_login_page_rehashes_an_imported_hash_too(fresh_server, tmp_path):
    """One credential check for every sign-in: the login page re-hashes as the grant does."""
    import html
    import re
    from urllib.parse import urlencode
    cb = "http://127.0.0.1:5555/cb"
    path = write_realm(tmp_path, {"realm": "kc", "clients": [{"clientId": "spa", "publicClient": True, "redirectUris": [cb]}],
                                  "users": [{"username": "s256", "credentials": [pbkdf2_credential("pw-256", "sha256")]}]})
    s = fresh_server(import_realm=path).start()
    browser = requests.Session()
    query = urlencode({"client_id": "spa", "redirect_uri": cb, "response_type": "code", "scope": "openid", "state": "st",
                       "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"})
    page = browser.get(s.oidc("kc") + "/auth?" + query, timeout=10)
    assert page.status_code == 200, page.text
    field = lambda name: html.unescape(re.search(rf'name="{name}" value="([^"]*)"', page.text).group(1))
    form = {"username": "s256", "password": "pw-256", "csrf": field("csrf"), "request": field("request")}
    r = browser.post(s.realm("kc") + "/login-actions/authenticate", data=form, allow_redirects=False, timeout=10)
    assert r.status_code in (302, 303) and "code=" in r.headers["Location"], r.text
    (h,), = s.query("SELECT password_hash FROM users WHERE username = 's256'")
    assert h.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), h


def test_the_address_throttle_engages_from_a_real_socket(fresh_server, tmp_path):
    """A few guesses spread over many accounts from one address: the per-address limit stops
    them, even for the right password, while no single account reached its own lock."""
    path = write_realm(tmp_path, {
        "realm": "bf", "attributes": {"latchkey.bruteForce.addressFailuresPerMinute": "10"},
        "clients": [{"clientId": "app", "publicClient": True, "directAccessGrantsEnabled": True}],
        "users": [{"username": f"u{i}", "credentials": [{"type": "password", "value": "right"}]} for i in range(12)],
    })
    s = fresh_server(import_realm=path).start()
    guess = lambda user, pw: s.token("bf", grant_type="password", client_id="app", username=user, password=pw)
    answers = [guess(f"u{i}", "wrong") for i in range(11)]
    assert [r.status_code for r in answers[:10]] == [401] * 10
    locked = answers[10].json()["error_description"]
    assert "too many failed sign-ins from your address" in locked, locked
    r = guess("u11", "right")
    assert r.status_code == 400 and "from your address" in r.json()["error_description"], r.text


def test_a_disabled_account_answers_like_a_wrong_password(fresh_server, tmp_path):
    """No oracle: the right password of a disabled account gets exactly the wrong password's answer."""
    path = write_realm(tmp_path, {
        "realm": "dis", "clients": [{"clientId": "app", "publicClient": True, "directAccessGrantsEnabled": True}],
        "users": [{"username": "off", "enabled": False, "credentials": [{"type": "password", "value": "right"}]}],
    })
    s = fresh_server(import_realm=path).start()
    right = s.token("dis", grant_type="password", client_id="app", username="off", password="right")
    wrong = s.token("dis", grant_type="password", client_id="app", username="off", password="wrong")
    assert (right.status_code, right.json()) == (wrong.status_code, wrong.json())
    assert "disabled" not in right.text


def test_a_masked_secret_from_a_partial_export_is_nobodys_secret(fresh_server, tmp_path):
    """Keycloak's partial export writes '**********' for every secret: that string must not work."""
    path = write_realm(tmp_path, {
        "realm": "masked", "clients": [{"clientId": "svc", "secret": "**********", "serviceAccountsEnabled": True}],
    })
    s = fresh_server(import_realm=path).start()
    r = s.token("masked", grant_type="client_credentials", auth=("svc", "**********"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client", r.text
