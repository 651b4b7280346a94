"""Signing keys at rest (issue 20, defect 2): a copy of the store without the master key holds no
key that can sign; a store written before keys were sealed is sealed by the next start; a wrong
master key stops the server with a message instead of failing requests."""
import base64
import subprocess
import time

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from conftest import BIN, FIXTURES, Server, header_jwt


def key_rows(srv):
    return srv.query("SELECT k.kid, k.alg, k.material, k.sealed FROM realm_keys k "
                     "JOIN realms r ON r.id = k.realm_id WHERE r.name = 'demo'")


def readable_as_key(material):
    try:
        serialization.load_der_private_key(bytes(material), password=None)
        return True
    except (ValueError, TypeError):
        return False


def test_every_stored_key_is_sealed(tmp_path):
    srv = Server(tmp_path, import_realm=FIXTURES / "demo-realm.json").start()
    try:
        rows = key_rows(srv)
        assert {alg for _, alg, _, _ in rows} >= {"RS256", "RSA-OAEP", "HS512"}
        for kid, alg, material, sealed in rows:
            assert sealed, f"{alg} key {kid} is stored in the clear"
            assert not readable_as_key(material), f"{alg} key {kid} parses as a private key"
        # Sealed keys still sign: a token is issued and verifies against the published key.
        t = srv.password_login()
        kid = header_jwt(t["access_token"])["kid"]
        jwks = requests.get(srv.oidc() + "/certs", timeout=10).json()
        assert kid in {k["kid"] for k in jwks["keys"]}
    finally:
        srv.stop()


def test_clear_keys_of_an_older_store_are_sealed_at_start_and_keep_signing(tmp_path):
    srv = Server(tmp_path, import_realm=FIXTURES / "demo-realm.json").start()
    srv.stop()
    # A key written the way stores before sealing held them: PKCS#8 in the clear, newest RS256.
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    realm_id = srv.query("SELECT id FROM realms WHERE name = 'demo'")[0][0]
    srv.execute("INSERT INTO realm_keys (kid, realm_id, alg, material, created_at, active, sealed) "
                "VALUES (?, ?, 'RS256', ?, ?, ?, ?)",
                "clear-kid", realm_id, der, int(time.time()), True, False)
    srv.start()
    try:
        assert "sealed signing keys that were stored in the clear" in srv.read_log()
        (material, sealed), = srv.query("SELECT material, sealed FROM realm_keys WHERE kid = 'clear-kid'")
        assert sealed and bytes(material) != der and not readable_as_key(material)
        t = srv.password_login()
        header, payload, sig = t["access_token"].split(".")
        pad = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
        # The newest key signs: the one written in the clear verifies the token.
        private.public_key().verify(pad(sig), f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    finally:
        srv.stop()


def test_a_wrong_master_key_stops_the_server_with_a_message(tmp_path):
    srv = Server(tmp_path, import_realm=FIXTURES / "demo-realm.json").start()
    srv.stop()
    env = {**srv.env(), "LATCHKEY_MASTER_KEY": "not-the-key-this-store-was-sealed-with"}
    out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--db", srv.db], env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "cannot be opened with this master key" in text and "realm 'demo'" in text, text
    # Nothing was changed: the right key still serves.
    srv.start()
    try:
        srv.password_login()
    finally:
        srv.stop()
