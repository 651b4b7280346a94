"""`latchkey serve` as CONTRACT.md describes it: flags and environment, health, import, bootstrap
admin, graceful SIGTERM and restart."""
import json
import os
import signal
import subprocess
import time

import pytest
import requests

from conftest import new_db, BIN, FIXTURES, Server, free_port, write_realm


def test_health_live_and_ready(server):
    for path in ("/health/live", "/health/ready"):
        r = requests.get(server.base + path, timeout=5)
        assert r.status_code == 200
        assert r.json()["status"] == "UP"


def test_environment_configures_serve(tmp_path):
    port = free_port()
    s = Server(tmp_path, db=f"sqlite://{tmp_path}/env.db", env={
        "LATCHKEY_LISTEN": f"127.0.0.1:{port}",
        "LATCHKEY_DB": f"sqlite://{tmp_path}/env.db",
        "LATCHKEY_PUBLIC_URL": "https://id.example.test/",
        "LATCHKEY_IMPORT_REALM": str(FIXTURES / "demo-realm.json"),
    })
    # No flags at all: everything from the environment.
    s.command = lambda: [BIN, "serve"]
    s.port = port
    s.start()
    try:
        meta = requests.get(s.realm() + "/.well-known/openid-configuration", timeout=5).json()
        assert meta["issuer"] == "https://id.example.test/realms/demo"
        assert (tmp_path / "env.db").exists()
        assert (tmp_path / "env.master.key").exists(), "master key file is created beside the store, named after it"
    finally:
        assert s.stop() == 0


def test_default_store_is_created_under_data(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env["LATCHKEY_MANAGEMENT_LISTEN"] = "127.0.0.1:0"
    proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{port}"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        assert (tmp_path / "data" / "latchkey.db").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0


def test_sigterm_exits_zero_and_restart_rebinds_at_once(fresh_server):
    s = fresh_server().start()
    tokens = s.password_login()
    assert s.stop() == 0, s.read_log()
    s.start(timeout=10)
    # Sessions are persisted: the refresh token from before the restart still works.
    r = s.token(grant_type="refresh_token", client_id="spa", refresh_token=tokens["refresh_token"])
    assert r.status_code == 200, r.text


def test_sigterm_finishes_requests_in_flight(fresh_server):
    import threading
    s = fresh_server().start()
    results = []

    def login():
        results.append(s.token(grant_type="password", client_id="spa", username="alice", password="alice-password").status_code)

    threads = [threading.Thread(target=login) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(0.02)
    assert s.stop() == 0
    for t in threads:
        t.join()
    # Requests accepted before SIGTERM completed; none was cut off with a 5xx.
    assert results and all(code in (200,) for code in results), results


def test_bootstrap_admin_creates_master_with_admin_cli(server):
    r = server.token("master", grant_type="password", client_id="admin-cli", username="admin", password="admin-password")
    assert r.status_code == 200, r.text
    from conftest import decode_jwt
    at = decode_jwt(r.json()["access_token"])
    assert "admin" in at["realm_access"]["roles"]
    assert at["iss"] == server.realm("master")


def test_every_realm_has_admin_cli(server):
    r = server.token("demo", grant_type="password", client_id="admin-cli", username="alice", password="alice-password")
    assert r.status_code == 200, r.text


def test_import_skips_existing_realms_and_warns_on_unknown_fields(fresh_server, tmp_path):
    s = fresh_server().start()
    assert "import skipped" not in s.read_log(), "the project's own demo realm uses every field it has"
    s.stop()
    rep = json.loads((FIXTURES / "demo-realm.json").read_text())
    rep["smtpServer"] = {}
    s = fresh_server(import_realm=write_realm(tmp_path, rep), db=new_db(tmp_path, "smtp")).start()
    assert "settings not used: smtpServer" in s.read_log(), "unknown fields are named in a warning"
    s.stop()
    s.start()
    assert "not imported again" in s.read_log()


def test_import_folder_of_realms(fresh_server, tmp_path):
    folder = tmp_path / "realms"
    folder.mkdir()
    for name in ("one", "two"):
        write_realm(folder, {"realm": name, "users": [{"username": "u", "credentials": [{"type": "password", "value": "p"}]}]})
    (folder / "notes.txt").write_text("not a realm")
    s = fresh_server(import_realm=folder).start()
    for name in ("one", "two"):
        r = s.token(name, grant_type="password", client_id="admin-cli", username="u", password="p")
        assert r.status_code == 200, r.text


def test_malformed_realm_stops_start_naming_file_and_field(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"realm": "x", "clients": [{"clientId": "c", "publicClient": "yes"}]}))
    proc = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--management-listen", "127.0.0.1:0", "--db", f"sqlite://{tmp_path}/x.db",
                           "--import-realm", str(bad)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert "broken.json" in proc.stderr and "clients[0].publicClient" in proc.stderr, proc.stderr

    bad.write_text('{"realm": "x", ')
    proc = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--management-listen", "127.0.0.1:0", "--db", f"sqlite://{tmp_path}/x.db",
                           "--import-realm", str(bad)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "broken.json" in proc.stderr, proc.stderr

    bad.write_text(json.dumps({"realm": "x", "accessTokenLifespan": -1}))
    proc = subprocess.run([BIN, "serve", "--listen", f"127.0.0.1:{free_port()}", "--management-listen", "127.0.0.1:0", "--db", f"sqlite://{tmp_path}/x.db",
                           "--import-realm", str(bad)], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and "accessTokenLifespan" in proc.stderr, proc.stderr


def test_client_secrets_are_not_stored_in_plaintext(fresh_server):
    s = fresh_server().start()
    s.stop()
    blob = b"".join(
        bytes(row[0] or b"") + bytes(row[1] or b"") + row[2].encode()
        for row in s.query("SELECT secret_digest, secret_sealed, representation FROM clients")
    )
    assert b"web-secret" not in blob and b"svc-secret" not in blob
    assert s.query("SELECT count(*) FROM clients WHERE secret_digest IS NOT NULL")[0][0] >= 2
    if s.db.startswith("sqlite://"):
        assert b"web-secret" not in (s.tmp / "latchkey.db").read_bytes()


def _rss_kb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_password_hash_memory_is_given_back_after_logins(fresh_server):
    """argon2 borrows 19 MiB a hash; once no login waits, the process gives it back to the OS.

    The allocator keeps freed pages for a few milliseconds (so requests do not re-fault them);
    objects as big as argon2's memory must bypass that, or an idle server holds it for good.
    """
    import threading
    s = fresh_server().start()
    s.password_login()  # settle: the first login's one-off allocations
    time.sleep(0.5)
    base = _rss_kb(s.proc.pid)
    peak_before = _rss_kb(s.proc.pid, "VmHWM")
    threads = [threading.Thread(target=s.password_login) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert _rss_kb(s.proc.pid, "VmHWM") >= min(peak_before, base) + 15 * 1024, "the logins hashed in 19 MiB"
    deadline = time.time() + 5
    while _rss_kb(s.proc.pid) > base + 8 * 1024 and time.time() < deadline:
        time.sleep(0.1)
    assert _rss_kb(s.proc.pid) <= base + 8 * 1024, (base, _rss_kb(s.proc.pid))


@pytest.mark.once_per_suite
def test_stores_side_by_side_start_together_each_with_its_own_master_key(tmp_path):
    import threading
    servers = [Server(tmp_path, db=f"sqlite://{tmp_path}/{name}.db", import_realm=FIXTURES / "demo-realm.json")
               for name in ("latchkey", "other")]
    errors = []

    def start(s):
        try:
            s.start()
        except Exception as e:  # reported below, with the server's log
            errors.append(e)

    threads = [threading.Thread(target=start, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors, errors
        keys = [(tmp_path / f"{name}.master.key").read_bytes() for name in ("latchkey", "other")]
        assert keys[0] != keys[1], "each store has a key of its own"
        for s in servers:
            assert s.password_login()["access_token"]
            assert s.stop() == 0
        # Restarted, each finds its own key again (its sealed signing keys open).
        for s in servers:
            s.start()
            assert s.password_login()["access_token"]
    finally:
        for s in servers:
            s.stop()
