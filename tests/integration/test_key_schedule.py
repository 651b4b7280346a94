"""Signing keys on a schedule (issue 22): with `latchkey.keyRotationPeriod`, each algorithm gets a
new key every period, published in the JWKS `latchkey.keyPublishAhead` seconds before it signs; the
old key stays published for the tokens it signed, and `keys list` says which is which.
"""
import json
import subprocess
import time

import requests

from conftest import BIN, header_jwt, write_realm

REALM = {
    "realm": "sched",
    "accessTokenLifespan": 60,
    "attributes": {"latchkey.keyRotationPeriod": "6", "latchkey.keyPublishAhead": "3"},
    "clients": [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True}],
    "users": [{"username": "alice", "credentials": [{"type": "password", "value": "alice-pw"}]}],
}


def rs256_kids(s):
    keys = requests.get(s.oidc("sched") + "/certs", timeout=10).json()["keys"]
    return [k["kid"] for k in keys if k.get("alg") == "RS256" and k.get("use") == "sig"]


def login(s):
    r = s.token("sched", grant_type="password", client_id="spa", username="alice", password="alice-pw")
    assert r.status_code == 200, r.text
    return r.json()


def listed(s):
    out = subprocess.run([BIN, "keys", "list", "--realm", "sched", "--output", "json", "--db", s.db],
                         capture_output=True, text=True, timeout=30, env=s.env())
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def wait_for(what, check, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = check()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_keys_rotate_on_schedule_published_ahead_of_use(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, REALM), args=["--purge-interval", "1"]).start()
    [first] = rs256_kids(s)
    t0 = login(s)
    assert header_jwt(t0["access_token"])["kid"] == first

    # The successor appears in the JWKS before anything is signed with it.
    def two():
        kids = rs256_kids(s)
        return kids if len(kids) == 2 else None
    kids = wait_for("the next key to be published", two)
    nxt = [k for k in kids if k != first][0]
    statuses = {k["kid"]: k["status"] for k in listed(s) if k["algorithm"] == "RS256"}
    if statuses[nxt] == "next":  # still ahead of its time (the usual case)
        assert statuses[first] == "signing"
        assert header_jwt(login(s)["access_token"])["kid"] == first

    # Then it signs; the old key stays published for the tokens it signed.
    wait_for("the next key to sign", lambda: header_jwt(login(s)["access_token"])["kid"] == nxt)
    assert first in rs256_kids(s)
    ui = requests.get(s.oidc("sched") + "/userinfo", headers={"Authorization": "Bearer " + t0["access_token"]},
                      timeout=10)
    assert ui.status_code == 200, ui.text
    # Refresh tokens move to a new HMAC key too; the old ones still refresh.
    t1 = login(s)
    assert header_jwt(t1["refresh_token"])["kid"] != header_jwt(t0["refresh_token"])["kid"]
    r = s.token("sched", grant_type="refresh_token", client_id="spa", refresh_token=t0["refresh_token"])
    assert r.status_code == 200, r.text
    statuses = {k["kid"]: k["status"] for k in listed(s) if k["algorithm"] == "RS256"}
    assert statuses[nxt] == "signing" and statuses[first] == "published"
