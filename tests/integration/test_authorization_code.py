"""The authorization code flow over plain HTTP (issue 4): errors the standards require, the
login page, consent, brute-force protection, CORS, the login-status iframe's init, and
RP-initiated logout."""
import base64
import hashlib
import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
import requests

from conftest import decode_jwt, write_realm

APP = "http://127.0.0.1:5555"
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    from conftest import Server
    tmp = tmp_path_factory.mktemp("code")
    path = write_realm(tmp, {
        "realm": "web", "displayName": "Example <Corp>",
        "attributes": {"failureFactor": "3", "waitIncrementSeconds": "60"},
        "clients": [
            {"clientId": "spa", "publicClient": True, "redirectUris": [f"{APP}/cb", f"{APP}/app/*"], "webOrigins": ["+"],
             "attributes": {"post.logout.redirect.uris": "+"}},
            {"clientId": "conf", "secret": "conf-secret", "redirectUris": [f"{APP}/cb"], "consentRequired": True},
        ],
        "users": [{"username": "alice", "email": "alice@example.com", "credentials": [{"type": "password", "value": "pw"}]},
                  {"username": "mallory-target", "credentials": [{"type": "password", "value": "pw"}]}],
    })
    s = Server(tmp, import_realm=path)
    s.start()
    s.name = "web"
    yield s
    s.stop()


def auth_url(s, **params):
    base = {"client_id": "spa", "redirect_uri": f"{APP}/cb", "response_type": "code", "scope": "openid",
            "state": "st-1", "nonce": "n-1", "code_challenge": CHALLENGE, "code_challenge_method": "S256"}
    base.update(params)
    base = {k: v for k, v in base.items() if v is not None}
    return s.oidc("web") + "/auth?" + urlencode(base)


def hidden(html, name):
    import html as h
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden field {name}"
    return h.unescape(m.group(1))


def login(s, browser, url, username="alice", password="pw"):
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    form = {"username": username, "password": password, "csrf": hidden(page.text, "csrf"), "request": hidden(page.text, "request")}
    return browser.post(s.realm("web") + "/login-actions/authenticate", data=form, allow_redirects=False, timeout=10)


def redirect_params(resp):
    loc = resp.headers["Location"]
    u = urlparse(loc)
    return {k: v[0] for k, v in parse_qs(u.query or u.fragment).items()}, loc


def exchange(s, code, verifier=VERIFIER, redirect_uri=f"{APP}/cb", client="spa", auth=None):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    if auth is None:
        form["client_id"] = client
    form = {k: v for k, v in form.items() if v is not None}
    return requests.post(s.oidc("web") + "/token", data=form, auth=auth, timeout=10)


def test_login_page_is_safe_and_plain_html(srv):
    r = requests.get(auth_url(srv), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'nonce-" in csp
    assert 'name="username"' in r.text and 'name="password"' in r.text and '<label for="username">' in r.text
    assert "Example &lt;Corp&gt;" in r.text, "the realm's name, escaped"
    assert "<script" not in r.text, "works without JavaScript"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_code_flow_with_pkce_nonce_state_iss_and_sso(srv):
    b = requests.Session()
    r = login(srv, b, auth_url(srv))
    assert r.status_code == 303, r.text
    p, loc = redirect_params(r)
    assert loc.startswith(f"{APP}/cb?")
    assert p["state"] == "st-1" and p["iss"] == srv.realm("web") and p["session_state"]
    assert "HttpOnly" in r.headers["Set-Cookie"]
    t = exchange(srv, p["code"])
    assert t.status_code == 200, t.text
    body = t.json()
    idt = decode_jwt(body["id_token"])
    assert idt["nonce"] == "n-1" and idt["sid"] == p["session_state"] and idt["aud"] == "spa"
    assert decode_jwt(body["access_token"])["sid"] == p["session_state"]
    # SSO: a second authorization needs no password, same session.
    r2 = b.get(auth_url(srv, state="st-2"), allow_redirects=False, timeout=10)
    assert r2.status_code == 302
    p2, _ = redirect_params(r2)
    assert p2["session_state"] == p["session_state"] and p2["state"] == "st-2"
    # prompt=login forces the page again.
    assert b.get(auth_url(srv, prompt="login"), allow_redirects=False, timeout=10).status_code == 200
    # fragment response mode.
    r3 = b.get(auth_url(srv, response_mode="fragment"), allow_redirects=False, timeout=10)
    assert "#code=" in r3.headers["Location"]
    # form_post renders an auto-submitting form.
    r4 = b.get(auth_url(srv, response_mode="form_post"), allow_redirects=False, timeout=10)
    import html
    assert r4.status_code == 200 and f'action="{APP}/cb"' in html.unescape(r4.text) and 'name="code"' in r4.text


def test_code_reuse_is_invalid_grant_and_revokes_its_tokens(srv):
    b = requests.Session()
    p, _ = redirect_params(login(srv, b, auth_url(srv)))
    first = exchange(srv, p["code"])
    assert first.status_code == 200
    again = exchange(srv, p["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert "already used" in again.json()["error_description"]
    r = requests.post(srv.oidc("web") + "/token", data={"grant_type": "refresh_token", "client_id": "spa",
                                                       "refresh_token": first.json()["refresh_token"]}, timeout=10)
    assert r.status_code == 400, "tokens issued from a replayed code are revoked"


def test_exchange_checks(srv):
    b = requests.Session()
    p, _ = redirect_params(login(srv, b, auth_url(srv)))
    r = exchange(srv, p["code"], verifier="x" * 43)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant" and "PKCE" in r.json()["error_description"]
    p, _ = redirect_params(b.get(auth_url(srv), allow_redirects=False, timeout=10))
    r = exchange(srv, p["code"], redirect_uri=f"{APP}/other")
    assert r.status_code == 400 and "redirect_uri" in r.json()["error_description"]
    p, _ = redirect_params(b.get(auth_url(srv), allow_redirects=False, timeout=10))
    r = exchange(srv, p["code"], verifier=None)
    assert r.status_code == 400 and "code_verifier is missing" in r.json()["error_description"]
    p, _ = redirect_params(b.get(auth_url(srv), allow_redirects=False, timeout=10))
    r = exchange(srv, p["code"], auth=("conf", "conf-secret"))
    assert r.status_code == 400 and "issued to client 'spa'" in r.json()["error_description"]


@pytest.mark.parametrize("uri", [f"{APP}/cb?x=1", f"{APP}/cb/", "HTTP://127.0.0.1:5555/cb", f"{APP}/cb#frag", "https://evil.example/cb"])
def test_redirect_uri_mismatch_is_an_error_page_never_a_redirect(srv, uri):
    r = requests.get(auth_url(srv, redirect_uri=uri), allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
    assert "not registered" in r.text


def test_wildcard_redirect_matches_prefix(srv):
    r = requests.get(auth_url(srv, redirect_uri=f"{APP}/app/deep/page"), timeout=10)
    assert r.status_code == 200


def test_unknown_client_is_an_error_page(srv):
    r = requests.get(auth_url(srv, client_id="ghost"), allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers


def test_missing_pkce_for_a_public_client(srv):
    r = requests.get(auth_url(srv, code_challenge=None, code_challenge_method=None), allow_redirects=False, timeout=10)
    p, _ = redirect_params(r)
    assert p["error"] == "invalid_request" and "PKCE" in p["error_description"] and p["state"] == "st-1"
    r = requests.get(auth_url(srv, code_challenge_method="plain"), allow_redirects=False, timeout=10)
    assert redirect_params(r)[0]["error"] == "invalid_request"


def test_implicit_is_unsupported_response_type(srv):
    r = requests.get(auth_url(srv, response_type="token"), allow_redirects=False, timeout=10)
    p, _ = redirect_params(r)
    assert p["error"] == "unsupported_response_type" and p["state"] == "st-1" and p["iss"] == srv.realm("web")


def test_prompt_none_without_session_is_login_required(srv):
    r = requests.get(auth_url(srv, prompt="none"), allow_redirects=False, timeout=10)
    p, _ = redirect_params(r)
    assert p["error"] == "login_required" and p["state"] == "st-1"


def test_bad_credentials_message_does_not_say_which_part(srv):
    b = requests.Session()
    wrong_pw = login(srv, b, auth_url(srv), password="nope")
    wrong_user = login(srv, b, auth_url(srv), username="nobody", password="nope")
    assert wrong_pw.status_code == 401 and wrong_user.status_code == 401
    msg = re.search(r'id="login-error">([^<]*)<', wrong_pw.text).group(1)
    assert msg == re.search(r'id="login-error">([^<]*)<', wrong_user.text).group(1) == "Invalid username or password."


def test_csrf_is_enforced(srv):
    page = requests.get(auth_url(srv), timeout=10)
    form = {"username": "alice", "password": "pw", "csrf": hidden(page.text, "csrf"), "request": hidden(page.text, "request")}
    # No cookie (a cross-site form post): refused.
    r = requests.post(srv.realm("web") + "/login-actions/authenticate", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "CSRF" in r.text
    b = requests.Session()
    page = b.get(auth_url(srv), timeout=10)
    form = {"username": "alice", "password": "pw", "csrf": "forged", "request": hidden(page.text, "request")}
    r = b.post(srv.realm("web") + "/login-actions/authenticate", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 400


def test_brute_force_locks_the_account_with_a_clear_message(srv):
    b = requests.Session()
    for _ in range(3):
        assert login(srv, b, auth_url(srv), username="mallory-target", password="wrong").status_code == 401
    r = login(srv, b, auth_url(srv), username="mallory-target", password="pw")
    assert r.status_code == 429 and "locked" in r.text
    g = requests.post(srv.oidc("web") + "/token", data={"grant_type": "password", "client_id": "admin-cli",
                                                       "username": "mallory-target", "password": "pw"}, timeout=10)
    assert g.status_code == 400 and "too many failed sign-ins" in g.json()["error_description"]


def test_consent_page_for_consent_required_client(srv):
    b = requests.Session()
    url = auth_url(srv, client_id="conf", code_challenge=None, code_challenge_method=None, scope="openid offline_access")
    r = login(srv, b, url)
    assert r.status_code == 200 and "Grant access" in r.text and "Offline access" in r.text
    form = {"csrf": hidden(r.text, "csrf"), "request": hidden(r.text, "request"), "decision": "accept"}
    r = b.post(srv.realm("web") + "/login-actions/consent", data=form, allow_redirects=False, timeout=10)
    assert r.status_code == 303
    p, _ = redirect_params(r)
    t = requests.post(srv.oidc("web") + "/token", data={"grant_type": "authorization_code", "code": p["code"],
                                                       "redirect_uri": f"{APP}/cb"}, auth=("conf", "conf-secret"), timeout=10)
    assert t.status_code == 200, t.text
    assert decode_jwt(t.json()["refresh_token"])["typ"] == "Offline", "offline_access through the code grant"
    # Denying sends access_denied back.
    r = b.get(url, allow_redirects=False, timeout=10)
    form = {"csrf": hidden(r.text, "csrf"), "request": hidden(r.text, "request"), "decision": "deny"}
    r = b.post(srv.realm("web") + "/login-actions/consent", data=form, allow_redirects=False, timeout=10)
    assert redirect_params(r)[0]["error"] == "access_denied"


def test_cors_for_web_origins(srv):
    url = srv.oidc("web") + "/token"
    pre = requests.options(url, headers={"Origin": APP, "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type"}, timeout=10)
    assert pre.status_code == 204
    assert pre.headers["Access-Control-Allow-Origin"] == APP and pre.headers["Access-Control-Allow-Credentials"] == "true"
    r = requests.post(url, data={"grant_type": "refresh_token", "client_id": "spa", "refresh_token": "x"},
                      headers={"Origin": APP}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == APP
    evil = requests.options(url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=10)
    assert "Access-Control-Allow-Origin" not in evil.headers
    auth = requests.get(auth_url(srv), headers={"Origin": APP}, timeout=10)
    assert "Access-Control-Allow-Origin" not in auth.headers, "no CORS on the authorization endpoint"


def test_login_status_iframe_and_init(srv):
    base = srv.oidc("web")
    assert requests.get(base + "/login-status-iframe.html", timeout=10).status_code == 200
    assert requests.get(base + "/3p-cookies/step1.html", timeout=10).status_code == 200
    assert requests.get(base + "/3p-cookies/step2.html", timeout=10).status_code == 200
    ok = requests.get(base + "/login-status-iframe.html/init", params={"client_id": "spa", "origin": APP}, timeout=10)
    assert ok.status_code == 204
    bad = requests.get(base + "/login-status-iframe.html/init", params={"client_id": "spa", "origin": "https://evil.example"}, timeout=10)
    assert bad.status_code == 403


def test_session_cookie_is_the_sid_hash(srv):
    b = requests.Session()
    r = login(srv, b, auth_url(srv))
    p, _ = redirect_params(r)
    expected = base64.urlsafe_b64encode(hashlib.sha256(p["session_state"].encode()).digest()).rstrip(b"=").decode()
    assert b.cookies.get("KEYCLOAK_SESSION") == expected


def test_rp_initiated_logout(srv):
    b = requests.Session()
    p, _ = redirect_params(login(srv, b, auth_url(srv)))
    t = exchange(srv, p["code"]).json()
    logout = srv.oidc("web") + "/logout"
    # A redirect not registered: an error page.
    r = b.get(logout, params={"id_token_hint": t["id_token"], "post_logout_redirect_uri": "https://evil.example/"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
    r = b.get(logout, params={"id_token_hint": t["id_token"], "post_logout_redirect_uri": f"{APP}/cb", "state": "bye"},
              allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == f"{APP}/cb?state=bye"
    refresh = requests.post(srv.oidc("web") + "/token", data={"grant_type": "refresh_token", "client_id": "spa",
                                                             "refresh_token": t["refresh_token"]}, timeout=10)
    assert refresh.status_code == 400 and "ended" in refresh.json()["error_description"]
    # The browser is signed out: prompt=none now fails.
    r = b.get(auth_url(srv, prompt="none"), allow_redirects=False, timeout=10)
    assert redirect_params(r)[0]["error"] == "login_required"


def test_logout_without_hint_asks_for_confirmation(srv):
    b = requests.Session()
    redirect_params(login(srv, b, auth_url(srv)))
    page = b.get(srv.oidc("web") + "/logout", timeout=10)
    assert page.status_code == 200 and "Sign out?" in page.text
    r = b.post(srv.oidc("web") + "/logout", data={"confirm": "yes", "csrf": hidden(page.text, "csrf")}, allow_redirects=False, timeout=10)
    assert r.status_code == 200 and "signed out" in r.text
    r = b.get(auth_url(srv, prompt="none"), allow_redirects=False, timeout=10)
    assert redirect_params(r)[0]["error"] == "login_required"


def test_sign_in_with_email_and_the_page_says_so(srv):
    page = requests.get(auth_url(srv), timeout=10)
    assert '<label for="username">Username or email</label>' in page.text
    b = requests.Session()
    r = login(srv, b, auth_url(srv), username="ALICE@example.com")
    assert r.status_code in (302, 303), r.text
    params, _ = redirect_params(r)
    tokens = exchange(srv, params["code"]).json()
    assert decode_jwt(tokens["access_token"])["preferred_username"] == "alice"


def test_after_a_failed_sign_in_the_password_field_has_the_focus(srv):
    b = requests.Session()
    failed = login(srv, b, auth_url(srv), password="wrong")
    assert failed.status_code == 401
    assert re.search(r'<input type="password"[^>]* autofocus', failed.text), failed.text
    assert not re.search(r'<input type="text" id="username"[^>]* autofocus', failed.text)
    fresh = requests.get(auth_url(srv), timeout=10)
    assert re.search(r'<input type="text" id="username"[^>]* autofocus', fresh.text)
