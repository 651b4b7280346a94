"""Several latchkey nodes on one PostgreSQL database (issue 6), key rotation, and migrating a
SQLite store to PostgreSQL. These need PostgreSQL whatever LATCHKEY_TEST_STORE says."""
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from conftest import BIN, FIXTURES, PG_ADMIN, Server, decode_jwt, header_jwt, new_db, pg_available

MASTER = {"LATCHKEY_PUBLIC_URL": "http://latchkey.cluster.test", "LATCHKEY_MASTER_KEY": "cluster-test-key", "LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}


@pytest.fixture(scope="module", autouse=True)
def need_postgres():
    if not pg_available():
        if os.environ.get("LATCHKEY_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required but not reachable")
        pytest.skip(f"*** PostgreSQL at {PG_ADMIN} not reachable: cluster tests SKIPPED ***")


def pg_url(tmp):
    import conftest
    saved = conftest.STORE
    conftest.STORE = "postgres"
    try:
        return new_db(tmp)
    finally:
        conftest.STORE = saved


@pytest.fixture
def cluster(tmp_path):
    url = pg_url(tmp_path)
    a = Server(tmp_path, db=url, import_realm=FIXTURES / "demo-realm.json", env=MASTER).start()
    b = Server(tmp_path, db=url, import_realm=FIXTURES / "demo-realm.json", env=MASTER).start()
    yield a, b
    for s in (a, b):
        s.kill()
    import conftest
    conftest.drop_database(url)


def refresh_at(s, rt, client="spa"):
    return requests.post(s.oidc() + "/token", data={"grant_type": "refresh_token", "client_id": client, "refresh_token": rt}, timeout=30)


def test_token_from_a_refreshed_at_b(cluster):
    a, b = cluster
    t = a.password_login(scope="openid")
    r = refresh_at(b, t["refresh_token"])
    assert r.status_code == 200, r.text
    # Same issuer on both nodes (same listen host, different ports: issuers differ unless public-url is shared).
    assert decode_jwt(r.json()["access_token"])["sid"] == t["session_state"]


def test_one_token_refreshed_at_both_nodes_at_once_converges(cluster):
    a, b = cluster
    t = a.password_login()
    n = 40
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        s = a if i % 2 else b
        barrier.wait()
        r = refresh_at(s, t["refresh_token"])
        results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    [th.start() for th in threads]
    [th.join() for th in threads]
    assert all(code == 200 for code, _ in results), [body for code, body in results if code != 200][:2]
    assert len({body["refresh_token"] for _, body in results}) == 1, "both nodes hand out the same successor"


def test_revocation_at_b_is_refused_at_a_at_once(cluster):
    a, b = cluster
    t = a.password_login()
    r = requests.post(b.oidc() + "/revoke", data={"client_id": "spa", "token": t["refresh_token"]}, timeout=10)
    assert r.status_code == 200
    assert refresh_at(a, t["refresh_token"]).status_code == 400
    info = requests.post(a.oidc() + "/token/introspect", data={"token": t["access_token"]}, auth=("web", "web-secret"), timeout=10)
    assert info.json()["active"] is False


def admin_token(s):
    r = s.token("master", grant_type="password", client_id="admin-cli", username="admin", password="admin-password")
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_realm_created_through_a_is_used_at_b_and_changes_reach_b(cluster):
    a, b = cluster
    h = admin_token(a)
    rep = {"realm": "shared", "clients": [{"clientId": "app", "publicClient": True, "directAccessGrantsEnabled": True}],
           "users": [{"username": "u", "credentials": [{"type": "password", "value": "p"}]}]}
    assert requests.post(a.base + "/admin/realms", json=rep, headers=h, timeout=10).status_code == 201
    r = b.token("shared", grant_type="password", client_id="app", username="u", password="p")
    assert r.status_code == 200, r.text
    rt = r.json()["refresh_token"]
    # B has the client cached now; disabling it through A reaches B within a second.
    cid = requests.get(a.base + "/admin/realms/shared/clients?clientId=app", headers=h, timeout=10).json()[0]["id"]
    assert requests.put(f"{a.base}/admin/realms/shared/clients/{cid}", json={"enabled": False}, headers=h, timeout=10).status_code == 204
    deadline = time.time() + 1.0
    status = None
    while time.time() < deadline:
        status = b.token("shared", grant_type="refresh_token", client_id="app", refresh_token=rt).status_code
        if status == 401:
            break
        time.sleep(0.05)
    assert status == 401, "node B still accepts a client disabled through node A"


def test_node_killed_under_load_while_clients_finish_on_b(cluster):
    a, b = cluster
    chains = 10
    steps = 25
    tokens = [a.password_login()["refresh_token"] for _ in range(chains)]
    done = [0] * chains
    errors = []

    def walk(i):
        rt = tokens[i]
        target = a
        for _ in range(steps):
            for attempt in range(3):
                try:
                    r = refresh_at(target, rt)
                except requests.RequestException:
                    target = b  # node A is gone: retry the same token on B
                    continue
                if r.status_code != 200:
                    errors.append((i, r.status_code, r.text))
                    return
                rt = r.json()["refresh_token"]
                break
            done[i] += 1

    threads = [threading.Thread(target=walk, args=(i,)) for i in range(chains)]
    [th.start() for th in threads]
    time.sleep(0.3)
    a.kill()
    [th.join() for th in threads]
    assert errors == [], errors[:3]
    assert done == [steps] * chains


def test_keys_rotate(cluster):
    a, b = cluster
    before = a.password_login(scope="openid")
    old_kid = header_jwt(before["access_token"])["kid"]
    out = subprocess.run([BIN, "keys", "rotate", "--realm", "demo", "--db", a.db], capture_output=True, text=True, timeout=60,
                         env={**{k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}, **MASTER})
    assert out.returncode == 0, out.stderr
    deadline = time.time() + 2
    while time.time() < deadline:
        after = b.password_login(scope="openid")
        if header_jwt(after["access_token"])["kid"] != old_kid:
            break
        time.sleep(0.1)
    new_kid = header_jwt(after["access_token"])["kid"]
    assert new_kid != old_kid, "the new key signs"
    kids = {k["kid"] for k in requests.get(b.oidc() + "/certs", timeout=10).json()["keys"]}
    assert {old_kid, new_kid} <= kids, "the old key stays published while its tokens live"
    assert requests.get(a.oidc() + "/userinfo", headers={"Authorization": "Bearer " + before["access_token"]}, timeout=10).status_code == 200
    assert refresh_at(b, before["refresh_token"]).status_code == 200, "refresh tokens signed before the rotation still work"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}, **MASTER}
    listed = subprocess.run([BIN, "keys", "list", "--realm", "demo", "--db", a.db, "--output", "json"], capture_output=True,
                            text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    keys = {k["kid"]: k for k in json.loads(listed.stdout)}
    assert (keys[new_kid]["status"], keys[old_kid]["status"]) == ("signing", "published"), "the old key stays published"
    assert keys[new_kid]["algorithm"] == "RS256" and keys[new_kid]["sealed"]
    table = subprocess.run([BIN, "keys", "list", "--realm", "demo", "--db", a.db], capture_output=True, text=True, timeout=60, env=env)
    assert new_kid in table.stdout and "signing" in table.stdout and "published" in table.stdout
    missing = subprocess.run([BIN, "keys", "list", "--realm", "nope", "--db", a.db], capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode != 0 and "realm 'nope' does not exist" in missing.stderr


def test_migrate_sqlite_to_postgres_and_back(tmp_path):
    sq = Server(tmp_path, db=f"sqlite://{tmp_path}/src.db", import_realm=FIXTURES / "demo-realm.json").start()
    t = sq.password_login()
    off = sq.password_login(scope="offline_access")
    sq.stop()
    target = pg_url(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    out = subprocess.run([BIN, "migrate", "--from", sq.db, "--to", target], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert "refresh_tokens" in out.stdout
    again = subprocess.run([BIN, "migrate", "--from", sq.db, "--to", target], capture_output=True, text=True, timeout=60, env=env)
    assert again.returncode != 0 and "empty store" in again.stderr
    # The SQLite store's master key file travels as LATCHKEY_MASTER_KEY.
    key = (tmp_path / "src.master.key").read_bytes()
    import base64
    master = {"LATCHKEY_MASTER_KEY": base64.b64encode(key).decode()}
    pg = Server(tmp_path, db=target, port=sq.port, env=master).start()
    try:
        r = refresh_at(pg, t["refresh_token"])
        assert r.status_code == 200, "sessions and refresh tokens were copied"
        assert refresh_at(pg, off["refresh_token"]).status_code == 200
        assert pg.token(auth=("web", "web-secret"), grant_type="password", username="alice", password="alice-password").status_code == 200
        pg.stop()
        # And back: PostgreSQL to a new SQLite store, with what PostgreSQL wrote meanwhile.
        back = f"sqlite://{tmp_path}/back.db"
        out = subprocess.run([BIN, "migrate", "--from", target, "--to", back], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr
        sq2 = Server(tmp_path, db=back, port=sq.port, env=master).start()
        try:
            assert refresh_at(sq2, r.json()["refresh_token"]).status_code == 200, "the rotation made on PostgreSQL came back"
            assert sq2.token(auth=("web", "web-secret"), grant_type="password", username="alice", password="alice-password").status_code == 200
        finally:
            sq2.kill()
    finally:
        pg.kill()
        import conftest
        conftest.drop_database(target)
