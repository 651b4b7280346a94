"""The gateway as a faithful proxy (issue 18): a 1 GiB upload streamed in constant memory,
hop-by-hop headers, X-Forwarded-*, preserve_host and paths, WebSockets authenticated at the
handshake, SIGHUP reloads (a bad file keeps the old configuration), SIGTERM drains."""
import hashlib
import signal
import threading
import time

import pytest
import requests

from conftest import Gateway, Server, Upstream, write_realm

# Store-agnostic: the test command runs them in its SQLite pass only (-m "not once_per_suite").
pytestmark = pytest.mark.once_per_suite

REALM = {"realm": "px", "clients": [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True}],
         "users": [{"username": "alice", "credentials": [{"type": "password", "value": "alice-pw"}]}]}


@pytest.fixture(scope="module")
def idp(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("px-idp")
    s = Server(tmp, import_realm=write_realm(tmp, REALM)).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def upstream():
    u = Upstream().start()
    yield u
    u.stop()


@pytest.fixture(scope="module")
def at(idp):
    r = requests.post(idp.oidc("px") + "/token", data={"grant_type": "password", "client_id": "spa", "username": "alice",
                                                       "password": "alice-pw"}, timeout=10)
    return r.json()["access_token"]


def config(idp, upstream, routes=None, service_path="", **plugin):
    return {"_format_version": "3.0", "services": [{
        "name": "echo", "url": upstream.url + service_path, "read_timeout": 5000,
        "routes": routes or [{"name": "api", "paths": ["/api"]}],
        "plugins": [{"name": "openid-connect", "config": {"issuer": idp.realm("px"), "auth_methods": ["bearer"], **plugin}}]}]}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))


def test_a_one_gib_upload_streams_through_in_constant_memory(tmp_path, idp, upstream, at):
    g = Gateway(tmp_path, config(idp, upstream)).start()
    try:
        chunk = bytes(range(256)) * 4096  # 1 MiB
        total = 1024
        expected = hashlib.sha256()
        for _ in range(total):
            expected.update(chunk)
        peak = [0]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss_kib(g.proc.pid))
                time.sleep(0.05)

        base = rss_kib(g.proc.pid)
        w = threading.Thread(target=watch)
        w.start()
        r = requests.post(g.base + "/api/upload", data=(chunk for _ in range(total)),
                          headers={"Authorization": f"Bearer {at}"}, timeout=300)
        done.set()
        w.join()
        assert r.status_code == 200, r.text
        assert r.json()["body_size"] == total * len(chunk)
        assert r.json()["body_sha256"] == expected.hexdigest()
        assert peak[0] - base < 48 * 1024, f"RSS grew by {(peak[0] - base) // 1024} MiB while streaming 1 GiB"
    finally:
        g.stop()


def test_headers_and_paths_as_kong_forwards_them(tmp_path, idp, upstream, at):
    routes = [{"name": "keep", "paths": ["/keep"], "strip_path": False, "preserve_host": True},
              {"name": "api", "paths": ["/api"]}]
    g = Gateway(tmp_path, config(idp, upstream, routes=routes, service_path="/base")).start()
    try:
        h = {"Authorization": f"Bearer {at}", "Connection": "keep-alive, X-Secret", "X-Secret": "hop",
             "Keep-Alive": "timeout=5", "X-Forwarded-For": "10.0.0.1", "Host": "public.example:8443"}
        seen = requests.get(g.base + "/api/items?x=1", headers=h, timeout=10).json()
        assert seen["path"] == "/base/items" and seen["query"] == "x=1"
        hd = seen["headers"]
        assert "x-secret" not in hd and "keep-alive" not in hd, "hop-by-hop headers stay with their connection"
        assert hd["x-forwarded-for"] == "10.0.0.1, 127.0.0.1" and hd["x-real-ip"] == "127.0.0.1"
        assert hd["x-forwarded-host"] == "public.example" and hd["x-forwarded-proto"] == "http"
        assert hd["x-forwarded-port"] == str(g.port) and hd["x-forwarded-prefix"] == "/api"
        assert hd["x-forwarded-path"] == "/api/items"
        assert hd["host"] == f"127.0.0.1:{upstream.port}", "the service's host unless preserve_host"
        assert hd["via"] == "1.1 latchkey"
        seen = requests.get(g.base + "/keep/it", headers=h, timeout=10).json()
        assert seen["path"] == "/base/keep/it" and seen["headers"]["host"] == "public.example:8443"
        # The upstream's status and headers come back as they are.
        r = requests.get(g.base + "/api/x", headers={"Authorization": f"Bearer {at}", "X-Echo-Status": "418"}, timeout=10)
        assert r.status_code == 418 and r.headers["X-Upstream"] == "echo"
    finally:
        g.stop()


def test_an_upstream_that_is_down_or_slow_is_502_or_504(tmp_path, idp, upstream, at):
    from conftest import free_port
    cfg = config(idp, upstream)
    cfg["services"][0]["url"] = f"http://127.0.0.1:{free_port()}"
    cfg["services"][0]["retries"] = 1
    g = Gateway(tmp_path, cfg).start()
    slow = Gateway(tmp_path, config(idp, upstream)).start()
    try:
        r = requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}"}, timeout=10)
        assert r.status_code == 502 and r.json() == {"message": "An invalid response was received from the upstream server"}
        cfg = config(idp, upstream)
        cfg["services"][0]["read_timeout"] = 300
        slow.write(cfg)
        slow.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        r = requests.get(slow.base + "/api/", headers={"Authorization": f"Bearer {at}", "X-Echo-Delay": "1"}, timeout=10)
        assert r.status_code == 504 and r.json() == {"message": "The upstream server is timing out"}
    finally:
        g.stop()
        slow.stop()


def test_websockets_are_authenticated_at_the_handshake(tmp_path, idp, upstream, at):
    from websockets.sync.client import connect
    from websockets.exceptions import InvalidStatus
    g = Gateway(tmp_path, config(idp, upstream)).start()
    try:
        with connect(f"ws://127.0.0.1:{g.port}/api/ws", additional_headers={"Authorization": f"Bearer {at}"}) as ws:
            for msg in ("hello", "x" * 70000):
                ws.send(msg)
                assert ws.recv(timeout=10) == msg
        with pytest.raises(InvalidStatus) as e:
            with connect(f"ws://127.0.0.1:{g.port}/api/ws"):
                pass
        assert e.value.response.status_code == 401
    finally:
        g.stop()


def test_sighup_reloads_and_a_bad_file_keeps_the_old_configuration(tmp_path, idp, upstream, at):
    g = Gateway(tmp_path, config(idp, upstream)).start()
    try:
        auth = {"Authorization": f"Bearer {at}"}
        assert requests.get(g.base + "/api/", headers=auth, timeout=10).status_code == 200
        g.write(config(idp, upstream, routes=[{"name": "v2", "paths": ["/v2"]}]))
        g.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while requests.get(g.base + "/v2/", headers=auth, timeout=10).status_code != 200:
            assert time.time() < deadline, g.read_log()
            time.sleep(0.1)
        assert requests.get(g.base + "/api/", headers=auth, timeout=10).status_code == 404
        g.write("_format_version: \"3.0\"\nservices: [{name: broken, url: 'ftp://x', routes: [{paths: [/]}]}]\n")
        g.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while "reload refused" not in g.read_log():
            assert time.time() < deadline, g.read_log()
            time.sleep(0.1)
        assert "services[0] 'broken': key 'protocol'" in g.read_log()
        assert requests.get(g.base + "/v2/", headers=auth, timeout=10).status_code == 200, "the old configuration stays"
        assert g.metric("latchkey_gateway_config_reloads_total", outcome="refused") == 1
        assert g.metric("latchkey_gateway_config_reloads_total", outcome="applied") == 1
    finally:
        g.stop()


def test_sigterm_lets_requests_in_flight_finish(tmp_path, idp, upstream, at):
    g = Gateway(tmp_path, config(idp, upstream)).start()
    result = {}

    def slow():
        r = requests.get(g.base + "/api/", headers={"Authorization": f"Bearer {at}", "X-Echo-Delay": "1"}, timeout=10)
        result["status"] = r.status_code

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)
    assert g.stop() == 0
    t.join()
    assert result["status"] == 200
