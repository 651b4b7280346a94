"""Starts the real latchkey binary on a temporary SQLite store and drives it over HTTP."""
import itertools
import json
import os
import signal
import sys
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BIN = os.environ.get("LATCHKEY_BIN", str(ROOT / "target" / "release" / "latchkey"))

# Which store the suite runs against: "sqlite" (default) or "postgres" (PostgreSQL at
# LATCHKEY_TEST_PG, default 127.0.0.1:5432 database test; each server gets a database of its own,
# dropped at the end).
STORE = os.environ.get("LATCHKEY_TEST_STORE", "sqlite")
PG_ADMIN = os.environ.get("LATCHKEY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_created_databases = []


def pg_available():
    try:
        import psycopg
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return True
    except Exception:
        return False


def new_db(tmp, name="latchkey"):
    """A fresh store URL for one server: a SQLite file under `tmp`, or a new PostgreSQL database."""
    if STORE != "postgres":
        return f"sqlite://{tmp}/{name}.db"
    import uuid
    import psycopg
    db = f"lk_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{db}"')
    _created_databases.append(db)
    base = PG_ADMIN.rsplit("/", 1)[0]
    return f"{base}/{db}"


def drop_database(url):
    """Drops one database `new_db` created."""
    import psycopg
    db = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    if db in _created_databases:
        _created_databases.remove(db)


def drop_databases():
    if not _created_databases:
        return
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        for db in _created_databases:
            c.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    _created_databases.clear()


def pytest_sessionstart(session):
    if STORE == "postgres" and not pg_available():
        if os.environ.get("LATCHKEY_REQUIRE_POSTGRES") == "1":
            raise pytest.UsageError(f"PostgreSQL at {PG_ADMIN} is required (LATCHKEY_REQUIRE_POSTGRES=1) but not reachable")
        print(f"\n*** PostgreSQL at {PG_ADMIN} is not reachable: the PostgreSQL run is SKIPPED ***\n", flush=True)
        pytest.exit("PostgreSQL not reachable; skipped", returncode=0)


def pytest_sessionfinish(session, exitstatus):
    if STORE == "postgres":
        drop_databases()


def _port_range():
    """The ports this run hands out: LATCHKEY_TEST_PORTS ("20000-25999") when runs share the
    machine (the test command runs the two store passes side by side), split between xdist
    workers; None for any free port the kernel picks."""
    spec = os.environ.get("LATCHKEY_TEST_PORTS")
    if not spec:
        return None
    lo, hi = (int(x) for x in spec.split("-"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:])
    size = (hi - lo + 1) // workers
    return lo + worker * size, lo + (worker + 1) * size


_next_port = itertools.count()


def free_port():
    span = _port_range()
    if span is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]
    lo, hi = span
    for _ in range(hi - lo):
        port = lo + next(_next_port) % (hi - lo)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


class Server:
    """One latchkey process. `start()` waits for /health/ready; `stop()` sends SIGTERM."""

    def __init__(self, tmp, import_realm=None, env=None, port=None, db=None, args=()):
        self.tmp = Path(tmp)
        self.port = port or free_port()
        # The management listener (/metrics, /health): a port of its own, never the shared 9000.
        self.mgmt_port = free_port()
        self.db = db or new_db(self.tmp)
        self.import_realm = import_realm
        self.extra_env = env or {}
        self.args = list(args)
        self.proc = None
        self.log_path = self.tmp / f"server-{self.port}.log"

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def management(self):
        return f"http://127.0.0.1:{self.mgmt_port}"

    def realm(self, name="demo"):
        return f"{self.base}/realms/{name}"

    def oidc(self, name="demo"):
        return f"{self.realm(name)}/protocol/openid-connect"

    def command(self):
        cmd = [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--db", self.db, *self.args]
        if self.import_realm:
            cmd += ["--import-realm", str(self.import_realm)]
        return cmd

    def env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        env.update({"LATCHKEY_LOG": "info", "LATCHKEY_MANAGEMENT_LISTEN": f"127.0.0.1:{self.mgmt_port}"})
        if self.db.startswith("postgres"):
            env["LATCHKEY_MASTER_KEY"] = "test-master-key"
        env.update(self.extra_env)
        return env

    def spawn(self):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=self.env())
        return self.proc

    def start(self, timeout=30):
        self.spawn()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"latchkey exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                if requests.get(self.base + "/health/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("latchkey did not become ready:\n" + self.read_log())

    def _run(self, sql, args, write):
        """Runs one statement on this server's store (`?` placeholders); its rows unless `write`."""
        if self.db.startswith("postgres"):
            import psycopg
            with psycopg.connect(self.db) as c:
                cur = c.execute(sql.replace("%", "%%").replace("?", "%s"), args) if args else c.execute(sql)
                return None if write else cur.fetchall()
        import sqlite3
        path = self.db[len("sqlite://"):]
        uri = f"file:{path}" + ("" if write else "?mode=ro")
        with sqlite3.connect(uri, uri=True, timeout=10) as c:
            cur = c.execute(sql, args)
            return None if write else cur.fetchall()

    def query(self, sql, *args):
        """Runs a read-only query against this server's store (`?` placeholders)."""
        return self._run(sql, args, write=False)

    def execute(self, sql, *args):
        """Changes this server's store behind its back (`?` placeholders): for tests that must
        make records look older than a test can wait for."""
        self._run(sql, args, write=True)

    def read_log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        return self.stop(signal.SIGKILL)

    # Helpers for the common calls.
    def token(self, realm="demo", auth=None, **form):
        return requests.post(self.oidc(realm) + "/token", data=form, auth=auth, timeout=30)

    def password_login(self, client_id="spa", username="alice", password="alice-password", realm="demo", auth=None, **extra):
        form = {"grant_type": "password", "username": username, "password": password, **extra}
        if auth is None:
            form["client_id"] = client_id
        r = self.token(realm, auth=auth, **form)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """A server shared by tests that do not change global state."""
    tmp = tmp_path_factory.mktemp("shared")
    s = Server(tmp, import_realm=FIXTURES / "demo-realm.json",
               env={"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"})
    s.start()
    yield s
    s.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of the test's own, on its own store."""
    servers = []

    def make(**kw):
        kw.setdefault("import_realm", FIXTURES / "demo-realm.json")
        s = Server(tmp_path, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.kill() if s.proc and s.proc.poll() is None else None


def decode_jwt(token):
    """The payload of a JWT, unverified (what keycloak-js does with the refresh token)."""
    import base64
    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))


def header_jwt(token):
    import base64
    h = token.split(".")[0]
    h += "=" * (-len(h) % 4)
    return json.loads(base64.urlsafe_b64decode(h))


def write_realm(tmp, rep):
    path = Path(tmp) / f"{rep['realm']}.json"
    path.write_text(json.dumps(rep))
    return path


class Upstream:
    """The echo upstream (tests/upstream.py): answers with what it received."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "upstream.py"), str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout.readline().strip() == b"ready"
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Gateway:
    """One `latchkey gateway` process with a configuration of the test's own."""

    def __init__(self, tmp, config, env=None, port=None):
        self.tmp = Path(tmp)
        self.port = port or free_port()
        self.status_port = free_port()
        self.config_path = self.tmp / f"kong-{self.port}.yml"
        self.write(config)
        self.extra_env = env or {}
        self.proc = None
        self.log_path = self.tmp / f"gateway-{self.port}.log"

    def write(self, config):
        self.config_path.write_text(config if isinstance(config, str) else json.dumps(config))

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def status(self):
        return f"http://127.0.0.1:{self.status_port}"

    def command(self):
        return [BIN, "gateway", "--config", str(self.config_path), "--listen", f"127.0.0.1:{self.port}",
                "--status-listen", f"127.0.0.1:{self.status_port}"]

    def start(self, timeout=20):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
        env.update({"LATCHKEY_LOG": "info,latchkey_gateway=debug", **self.extra_env})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                if requests.get(self.status + "/health/ready", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("gateway did not become ready:\n" + self.read_log())

    def read_log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def metric(self, name, **labels):
        """The value of one series on /metrics (0 when absent)."""
        text = requests.get(self.status + "/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            series, _, value = line.rpartition(" ")
            if series.split("{")[0] != name:
                continue
            if all(f'{k}="{v}"' in series for k, v in labels.items()):
                total += float(value)
        return total

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None
