"""What strict clients and careful operators expect (issue 19's fixes): EdDSA's at_hash from
SHA-512, signed UserInfo when a client asks for it, HTTP Basic secrets URL-decoded as Keycloak
decodes them (never split at '&'), and URIs a browser is sent to refused with a script scheme
or a fragment, at import and in the admin API."""
import base64
import hashlib
import json
import subprocess

import requests
from authlib.jose import JsonWebKey, jwt

from conftest import BIN, decode_jwt, header_jwt, new_db, write_realm

ADMIN = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def realm(**extra):
    return {"realm": "strict", "users": [{"username": "u", "email": "u@example.com",
                                          "credentials": [{"type": "password", "value": "p"}]}],
            "clients": [
                {"clientId": "app", "publicClient": True, "directAccessGrantsEnabled": True},
                {"clientId": "signed", "publicClient": True, "directAccessGrantsEnabled": True,
                 "attributes": {"user.info.response.signature.alg": "ES256"}},
                {"clientId": "raw", "secret": "a&b=c+d%", "directAccessGrantsEnabled": True},
            ], **extra}


def token(s, client="app", **extra):
    r = s.token("strict", grant_type="password", client_id=client, username="u", password="p", scope="openid", **extra)
    assert r.status_code == 200, r.text
    return r.json()


def test_eddsa_id_tokens_carry_the_sha512_at_hash(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, realm(defaultSignatureAlgorithm="EdDSA"))).start()
    t = token(s)
    assert header_jwt(t["id_token"])["alg"] == "EdDSA"
    want = b64url(hashlib.sha512(t["access_token"].encode()).digest()[:32])
    assert decode_jwt(t["id_token"])["at_hash"] == want


def test_userinfo_is_signed_when_the_client_asks(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, realm())).start()
    plain = requests.get(s.oidc("strict") + "/userinfo",
                         headers={"Authorization": "Bearer " + token(s)["access_token"]}, timeout=10)
    assert plain.headers["Content-Type"].startswith("application/json") and plain.json()["email"] == "u@example.com"
    r = requests.get(s.oidc("strict") + "/userinfo",
                     headers={"Authorization": "Bearer " + token(s, client="signed")["access_token"]}, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/jwt"
    keys = JsonWebKey.import_key_set(requests.get(s.oidc("strict") + "/certs", timeout=10).json())
    claims = jwt.decode(r.text, keys)
    assert header_jwt(r.text)["alg"] == "ES256"
    assert claims["iss"] == s.realm("strict") and claims["aud"] == "signed" and claims["email"] == "u@example.com"


def test_basic_secrets_are_url_decoded_never_split(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, realm())).start()
    form = {"grant_type": "password", "username": "u", "password": "p"}
    def basic(user, secret):
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()}
    # requests-oauthlib's default: the secret as it is. '+' decodes to a space as in Keycloak,
    # so only a secret without '+' works unencoded; an encoded one always does.
    r = requests.post(s.oidc("strict") + "/token", data=form, headers=basic("raw", "a%26b%3Dc%2Bd%25"), timeout=10)
    assert r.status_code == 200, r.text
    raw = requests.post(s.oidc("strict") + "/token", data=form, headers=basic("raw", "a&b=c%2Bd%25"), timeout=10)
    assert raw.status_code == 200, "a raw '&' and '=' stay in the secret"


def test_script_schemes_and_fragments_are_refused_at_import_and_in_the_admin_api(fresh_server, tmp_path):
    bad = realm()
    bad["clients"][0]["redirectUris"] = ["javascript:alert(1)"]
    s = fresh_server(import_realm=write_realm(tmp_path, bad), db=new_db(tmp_path, "bad"))
    proc = s.spawn()
    assert proc.wait(timeout=30) == 2
    assert "redirectUris[0]" in s.read_log() and "javascript" in s.read_log()
    s = fresh_server(import_realm=write_realm(tmp_path, realm()), env=ADMIN, db=new_db(tmp_path, "good")).start()
    at = s.token("master", grant_type="password", client_id="admin-cli", username="admin", password="admin-password").json()["access_token"]
    h = {"Authorization": f"Bearer {at}"}
    for field, value, where in (
        ("redirectUris", ["https://ok/cb", "data:text/html,hi"], "redirectUris[1]"),
        ("rootUrl", "https://app#x", "rootUrl"),
        ("baseUrl", "JAVASCRIPT:alert(1)", "baseUrl"),
        ("attributes", {"post.logout.redirect.uris": "+##https://x/#y"}, "post.logout.redirect.uris[1]"),
    ):
        r = requests.post(s.base + "/admin/realms/strict/clients", headers=h, json={"clientId": f"c-{field}", field: value}, timeout=10)
        assert r.status_code == 400, (field, r.text)
        assert where in json.dumps(r.json()), r.text
