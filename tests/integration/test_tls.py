"""HTTPS with the server's own certificate (issue 22): Keycloak's --https-certificate-file and
--https-certificate-key-file, checked by clients that verify the certificate; HTTP/2 by ALPN;
`Secure` cookies; the certificate reloaded on SIGHUP and when its files change, a bad one never
replacing a good one.
"""
import datetime
import ipaddress
import signal
import ssl
import subprocess
import time

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import BIN, FIXTURES, Server


def issue(tmp, name):
    """A CA and a certificate for 127.0.0.1 it signed: (ca.pem, cert.pem, key.pem) under tmp."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (tmp / f"{name}-ca.pem", tmp / f"{name}-cert.pem", tmp / f"{name}-key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


@pytest.fixture
def https(tmp_path):
    ca, cert, key = issue(tmp_path, "first")
    live_cert, live_key = tmp_path / "server.pem", tmp_path / "server.key"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    s = Server(tmp_path, import_realm=FIXTURES / "demo-realm.json",
               args=["--https-certificate-file", str(live_cert), "--https-certificate-key-file", str(live_key)])
    s.spawn()
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(s.management + "/health/ready", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert s.proc.poll() is None, s.read_log()
        time.sleep(0.05)
    s.url = f"https://127.0.0.1:{s.port}"
    s.ca, s.live_cert, s.live_key = ca, live_cert, live_key
    yield s
    s.kill()


def wait_for_log(s, text, timeout=5):
    deadline = time.time() + timeout
    while text not in s.read_log():
        assert time.time() < deadline, f"no '{text}' in the log"
        time.sleep(0.05)


def verified_by(s, ca):
    try:
        return requests.get(s.url + "/health/ready", verify=str(ca), timeout=5).status_code == 200
    except requests.exceptions.SSLError:
        return False


def test_https_with_a_certificate_the_client_checks(https):
    r = requests.get(https.url + "/realms/demo/.well-known/openid-configuration", verify=str(https.ca), timeout=10)
    assert r.status_code == 200
    assert r.json()["issuer"] == f"{https.url}/realms/demo", "the default public URL is https"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(https.url + "/health/ready", timeout=10)  # the system's CAs do not know it
    # Plain HTTP on the TLS port is not served.
    with pytest.raises(requests.RequestException):
        requests.get(f"http://127.0.0.1:{https.port}/health/ready", timeout=5)
    tok = requests.post(https.url + "/realms/demo/protocol/openid-connect/token", verify=str(https.ca), timeout=10,
                        data={"grant_type": "password", "client_id": "spa", "username": "alice",
                              "password": "alice-password"})
    assert tok.status_code == 200 and tok.json()["access_token"]


def test_http2_is_offered_by_alpn(https):
    ctx = ssl.create_default_context(cafile=str(https.ca))
    with httpx.Client(http2=True, verify=ctx, timeout=10) as c:
        r = c.get(https.url + "/realms/demo/protocol/openid-connect/certs")
        assert r.status_code == 200 and r.http_version == "HTTP/2"
        assert r.json()["keys"]
    with httpx.Client(http2=False, verify=ctx, timeout=10) as c:
        assert c.get(https.url + "/health/live").http_version == "HTTP/1.1"


def test_cookies_are_secure_over_https(https):
    r = requests.get(https.url + "/realms/demo/protocol/openid-connect/auth", verify=str(https.ca), timeout=10,
                     params={"client_id": "spa", "response_type": "code", "redirect_uri": "http://localhost:3000/callback",
                             "code_challenge": "x" * 43, "code_challenge_method": "S256"}, allow_redirects=False)
    cookies = r.headers.get("set-cookie", "")
    assert cookies and "Secure" in cookies, (r.status_code, r.headers)


def test_the_certificate_is_reloaded_on_sighup_and_on_change(https, tmp_path):
    assert verified_by(https, https.ca)
    ca2, cert2, key2 = issue(tmp_path, "second")
    https.live_cert.write_bytes(cert2.read_bytes())
    https.live_key.write_bytes(key2.read_bytes())
    https.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline and not verified_by(https, ca2):
        time.sleep(0.1)
    assert verified_by(https, ca2) and not verified_by(https, https.ca)
    wait_for_log(https, "reloaded the TLS certificate")

    # A broken file (a renewal half written) leaves the served certificate in place.
    https.live_cert.write_text("-----BEGIN CERTIFICATE-----\nbroken\n")
    https.proc.send_signal(signal.SIGHUP)
    wait_for_log(https, "was not reloaded")
    assert verified_by(https, ca2)

    # Without a signal: the change of the files is noticed.
    ca3, cert3, key3 = issue(tmp_path, "third")
    https.live_key.write_bytes(key3.read_bytes())
    https.live_cert.write_bytes(cert3.read_bytes())
    deadline = time.time() + 15
    while time.time() < deadline and not verified_by(https, ca3):
        time.sleep(0.2)
    assert verified_by(https, ca3)


@pytest.mark.parametrize("which", ["cert", "key", "pair"])
def test_bad_certificate_files_stop_the_start_naming_the_file(tmp_path, which):
    ca, cert, key = issue(tmp_path, "ok")
    _, other_cert, _ = issue(tmp_path, "other")
    bad = tmp_path / "bad.pem"
    bad.write_text("not pem at all")
    files = {"cert": (bad, key), "key": (cert, bad), "pair": (other_cert, key)}[which]
    out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0",
                          "--db", f"sqlite://{tmp_path}/x.db", "--https-certificate-file", str(files[0]),
                          "--https-certificate-key-file", str(files[1])], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "--https-certificate-file" in out.stderr
    named = {"cert": "bad.pem", "key": "bad.pem", "pair": "other-cert.pem"}[which]
    assert named in out.stderr, out.stderr


def test_a_certificate_needs_its_key(tmp_path):
    _, cert, _ = issue(tmp_path, "ok")
    out = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--https-certificate-file", str(cert)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "--https-certificate-key-file" in out.stderr
