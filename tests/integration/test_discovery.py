"""Discovery metadata and the JWKS."""
import requests

from conftest import decode_jwt, header_jwt, new_db


def test_openid_configuration(server):
    r = requests.get(server.realm() + "/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200
    m = r.json()
    assert m["issuer"] == server.realm()
    oidc = server.oidc()
    assert m["token_endpoint"] == oidc + "/token"
    assert m["jwks_uri"] == oidc + "/certs"
    assert m["userinfo_endpoint"] == oidc + "/userinfo"
    assert "refresh_token" in m["grant_types_supported"]
    assert {"password", "client_credentials"} <= set(m["grant_types_supported"])
    assert {"client_secret_basic", "client_secret_post"} <= set(m["token_endpoint_auth_methods_supported"])
    assert "offline_access" in m["scopes_supported"] and "openid" in m["scopes_supported"]
    assert "RS256" in m["id_token_signing_alg_values_supported"]


def test_oauth_authorization_server_metadata(server):
    for url in (server.realm() + "/.well-known/oauth-authorization-server",
                server.base + "/.well-known/oauth-authorization-server/realms/demo"):
        r = requests.get(url, timeout=5)
        assert r.status_code == 200
        assert r.json()["issuer"] == server.realm()


def test_unknown_realm_is_404_json(server):
    r = requests.get(server.realm("nope") + "/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 404
    assert "nope" in r.json()["error_description"]


def test_jwks_publishes_keycloaks_default_keys_but_no_secret(server):
    """An RS256 realm publishes what Keycloak's default providers do: the RS256 signing key and the
    RSA-OAEP encryption key (no EC or OKP key unless the realm or a client asks for one)."""
    keys = requests.get(server.oidc() + "/certs", timeout=5).json()["keys"]
    assert sorted((k["kty"], k["alg"], k["use"]) for k in keys) == [("RSA", "RS256", "sig"), ("RSA", "RSA-OAEP", "enc")]
    for k in keys:
        assert k["kid"]
        assert "d" not in k and "k" not in k, "no private or symmetric material"


def test_tokens_name_a_published_kid(server):
    t = server.password_login(scope="openid")
    kids = {k["kid"] for k in requests.get(server.oidc() + "/certs", timeout=5).json()["keys"]}
    assert header_jwt(t["access_token"])["kid"] in kids
    assert header_jwt(t["id_token"])["kid"] in kids
    rt = header_jwt(t["refresh_token"])
    assert rt["alg"] == "HS512" and rt["kid"] not in kids


def test_default_signature_algorithm_selects_the_key(fresh_server, tmp_path):
    from conftest import write_realm
    for alg in ("ES256", "EdDSA", "RS256"):
        path = write_realm(tmp_path, {"realm": f"r{alg.lower()}", "defaultSignatureAlgorithm": alg,
                                      "users": [{"username": "u", "credentials": [{"type": "password", "value": "p"}]}]})
        s = fresh_server(import_realm=path, db=new_db(tmp_path, alg)).start()
        r = s.token(f"r{alg.lower()}", grant_type="password", client_id="admin-cli", username="u", password="p", scope="openid")
        assert r.status_code == 200, r.text
        assert header_jwt(r.json()["access_token"])["alg"] == alg
        assert header_jwt(r.json()["id_token"])["alg"] == alg
        s.stop()
