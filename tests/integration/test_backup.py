"""`latchkey backup` and `latchkey restore` (issue 22): a backup taken while refreshes rotate tokens
holds every rotation acknowledged before it began, and a server on the restored store carries on
from it; restore refuses a store that holds something unless told, and a store without the master
key the backup was sealed with.
"""
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, Server, decode_jwt, new_db


def cli(s, *args, db=None, env=None):
    return subprocess.run([BIN, *args, "--db", db or s.db], capture_output=True, text=True, timeout=120,
                          env={**s.env(), **(env or {})})


def key_file(db_url):
    """The master-key file beside a SQLite store (None for PostgreSQL, whose key is in the env)."""
    if not db_url.startswith("sqlite://"):
        return None
    p = Path(db_url[len("sqlite://"):])
    return p.with_name(p.stem + ".master.key")


def login(s):
    r = s.token(grant_type="password", client_id="spa", username="alice", password="alice-password")
    assert r.status_code == 200, r.text
    return r.json()["refresh_token"]


def refresher(s, stop, acked):
    """Refreshes one login over and over, noting every acknowledged rotation: (time, token)."""
    rt = login(s)
    while not stop.is_set():
        r = s.token(grant_type="refresh_token", client_id="spa", refresh_token=rt)
        assert r.status_code == 200, r.text
        rt = r.json()["refresh_token"]
        acked.append((time.monotonic(), rt))


def test_a_backup_under_refresh_load_holds_every_acknowledged_rotation(fresh_server, tmp_path):
    s = fresh_server().start()
    stop = threading.Event()
    logs = [[] for _ in range(4)]
    workers = [threading.Thread(target=refresher, args=(s, stop, log)) for log in logs]
    for w in workers:
        w.start()
    try:
        time.sleep(1.0)
        began = time.monotonic()
        backup = tmp_path / "backup.db"
        out = cli(s, "backup", "--to", str(backup))
        assert out.returncode == 0, out.stderr
        assert "refresh_tokens" in out.stdout and "master key" in out.stdout
        time.sleep(0.5)
    finally:
        stop.set()
        for w in workers:
            w.join()
    acked_before = [rt for log in logs for t, rt in log if t < began]
    assert len(acked_before) > 20, "the load ran before the backup"

    target = new_db(tmp_path, "restored")
    if key_file(target):
        shutil.copy(key_file(s.db), key_file(target))
    out = cli(s, "restore", "--from", str(backup), db=target)
    assert out.returncode == 0, out.stderr
    # The restored store serves under the same issuer, as a replacement server would.
    restored = Server(tmp_path, db=target, args=["--public-url", s.base])
    jtis = {row[0] for row in restored.query("SELECT jti FROM refresh_tokens")}
    missing = [rt for rt in acked_before if decode_jwt(rt)["jti"] not in jtis]
    assert not missing, f"{len(missing)} acknowledged rotations are not in the backup"

    # A server on the restored store carries on: each login's newest token in the backup refreshes.
    restored.start()
    for log in logs:
        newest = [rt for _, rt in log if decode_jwt(rt)["jti"] in jtis][-1]
        r = restored.token(grant_type="refresh_token", client_id="spa", refresh_token=newest)
        assert r.status_code == 200, r.text
    restored.stop()


def test_restore_refuses_a_store_in_use_unless_told_and_needs_the_master_key(fresh_server, tmp_path):
    s = fresh_server().start()
    rt = login(s)
    backup = tmp_path / "b.db"
    assert cli(s, "backup", "--to", str(backup)).returncode == 0
    again = cli(s, "backup", "--to", str(backup))
    assert again.returncode != 0 and "already exists" in again.stderr
    # The source store holds realms: a plain restore is refused, --replace goes ahead.
    refused = cli(s, "restore", "--from", str(backup))
    assert refused.returncode != 0 and "--replace" in refused.stderr, refused.stderr
    s.stop()
    assert cli(s, "restore", "--from", str(backup), "--replace").returncode == 0
    s.start()
    assert s.token(grant_type="refresh_token", client_id="spa", refresh_token=rt).status_code == 200

    if key_file(s.db):
        keyless = f"sqlite://{tmp_path}/keyless.db"
        out = subprocess.run([BIN, "restore", "--from", str(backup), "--db", keyless], capture_output=True,
                             text=True, timeout=60, env={k: v for k, v in s.env().items() if k != "LATCHKEY_MASTER_KEY"})
        assert out.returncode != 0 and "keyless.master.key" in out.stderr, out.stderr
    missing = cli(s, "restore", "--from", str(tmp_path / "nope.db"), db=new_db(tmp_path, "other"))
    assert missing.returncode != 0 and "nope.db" in missing.stderr
