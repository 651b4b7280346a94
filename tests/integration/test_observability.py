"""Metrics on the management listener and the per-request log line (issue 22): scraped and parsed
with prometheus_client's own text parser; the log read as JSON lines.
"""
import json
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import decode_jwt


def scrape(s):
    r = requests.get(s.management + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    assert r.text.rstrip().endswith("# EOF")
    samples = []
    for family in text_string_to_metric_families(r.text):
        samples.extend(family.samples)
    return r.text, samples


def value(samples, name, **labels):
    """The sum of the samples called `name` whose labels include `labels`."""
    return sum(s.value for s in samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def token(s, **form):
    return requests.post(s.oidc() + "/token", data=form, timeout=10)


def login(s, password="alice-password"):
    return token(s, grant_type="password", client_id="spa", username="alice", password=password)


def test_metrics_are_served_on_the_management_port_only(fresh_server):
    s = fresh_server().start()
    assert requests.get(s.base + "/metrics", timeout=10).status_code == 404
    assert requests.get(s.management + "/health/ready", timeout=10).json()["status"] == "UP"
    assert requests.get(s.management + "/health/live", timeout=10).json()["status"] == "UP"
    assert requests.get(s.base + "/health/ready", timeout=10).status_code == 200, "still on the main port"


def test_keycloaks_metrics_count_what_happened(fresh_server):
    s = fresh_server().start()
    t1 = login(s).json()
    assert login(s, password="Wr0ng-pw").status_code == 401
    t2 = token(s, grant_type="refresh_token", client_id="spa", refresh_token=t1["refresh_token"]).json()
    token(s, grant_type="refresh_token", client_id="spa", refresh_token=t2["refresh_token"])
    assert token(s, grant_type="refresh_token", client_id="spa", refresh_token=t1["refresh_token"]).status_code == 400
    assert token(s, grant_type="password", client_id="nope", username="x", password="y").status_code == 401
    text, samples = scrape(s)

    # Counted though the realm stores no events (Keycloak counts every event it sends).
    ev = "keycloak_user_events_total"
    assert value(samples, ev, realm="demo", client_id="spa", event="login", error="") == 1
    assert value(samples, ev, realm="demo", event="login", error="invalid_user_credentials") == 1
    assert value(samples, ev, realm="demo", event="refresh_token", error="") == 2
    assert value(samples, ev, realm="demo", event="refresh_token", error="invalid_token") == 1
    assert value(samples, ev, client_id="unknown", event="login", error="client_not_found") == 1, \
        "an unknown client's id is not a label value"
    pw = "keycloak_credentials_password_hashing_validations_total"
    assert value(samples, pw, realm="demo", algorithm="argon2", outcome="valid") == 1
    assert value(samples, pw, realm="demo", outcome="invalid") == 1
    assert any(s.labels.get("hashing_strength", "").startswith("Argon2id-1.3[m=") for s in samples if s.name == pw)

    rt = "latchkey_refresh_tokens_total"
    assert value(samples, rt, realm="demo", outcome="rotated") == 2
    assert value(samples, rt, realm="demo", outcome="reuse_detected", check="not_immediate_predecessor") == 1

    http = "http_server_requests_seconds_count"
    route = "/realms/{realm}/protocol/openid-connect/token"
    assert value(samples, http, method="POST", uri=route, status="200", outcome="SUCCESS") == 3
    assert value(samples, http, method="POST", uri=route, status="400", outcome="CLIENT_ERROR") == 1
    assert value(samples, "http_server_requests_seconds_sum", uri=route) > 0
    assert any(s.name == "http_server_requests_seconds_bucket" for s in samples)
    assert any(s.name == "http_server_active_requests" for s in samples)
    assert value(samples, "latchkey_password_hashing_queued") == 0
    # One login's session is live (its family was revoked by the reuse), and one sweep's work.
    assert value(samples, "latchkey_sessions", realm="demo", offline="false") == 1
    assert value(samples, "latchkey_refresh_families", realm="demo", offline="false") == 0
    if s.db.startswith("sqlite"):
        assert value(samples, "latchkey_store_commit_batch_size_count") >= 4
    else:
        assert value(samples, "latchkey_store_pool_max") >= 1

    # Nothing a client sent reaches the labels: no token, no password, no made-up client.
    for secret in (t1["refresh_token"], decode_jwt(t1["refresh_token"])["jti"], "Wr0ng-pw", "alice-password", "nope"):
        assert secret not in text


def test_unmatched_paths_share_one_label(fresh_server):
    s = fresh_server().start()
    for i in range(5):
        requests.get(f"{s.base}/no/such/path/{i}", timeout=10)
    text, samples = scrape(s)
    assert value(samples, "http_server_requests_seconds_count", uri="NOT_FOUND", status="404") == 5
    assert "/no/such/path" not in text


def test_json_logs_have_one_line_per_request_with_the_failed_check(fresh_server):
    s = fresh_server(env={"LATCHKEY_LOG_FORMAT": "json", "LATCHKEY_HTTP_ACCESS_LOG_ENABLED": "true"}).start()
    t1 = login(s).json()
    t2 = token(s, grant_type="refresh_token", client_id="spa", refresh_token=t1["refresh_token"]).json()
    token(s, grant_type="refresh_token", client_id="spa", refresh_token=t2["refresh_token"])
    token(s, grant_type="refresh_token", client_id="spa", refresh_token=t1["refresh_token"])
    deadline = time.time() + 5
    while time.time() < deadline:
        lines = [json.loads(line) for line in s.read_log().splitlines() if line.startswith("{")]
        access = [line for line in lines if line.get("target") == "latchkey::access"]
        if len(access) >= 4:
            break
        time.sleep(0.1)
    assert all(isinstance(line, dict) and "level" in line for line in lines)
    tokens = [a for a in access if a["route"].endswith("/token")]
    assert len(tokens) == 4, access
    ok, refused = tokens[0], tokens[3]
    assert ok["status"] == 200 and ok["realm"] == "demo" and ok["client"] == "spa" and ok["method"] == "POST"
    assert isinstance(ok["ms"], (int, float)) and ok["ms"] >= 0
    assert refused["status"] == 400 and refused["error"] == "invalid_grant"
    assert refused["check"] == "not_immediate_predecessor"
    log = s.read_log()
    for secret in (t1["refresh_token"], t1["access_token"], "alice-password"):
        assert secret not in log


@pytest.mark.parametrize("fmt", ["yaml", ""])
def test_an_unknown_log_format_is_refused(fresh_server, fmt):
    s = fresh_server(env={"LATCHKEY_LOG_FORMAT": fmt} if fmt else {}, args=["--log-format", fmt or "xml"])
    with pytest.raises(RuntimeError) as e:
        s.start(timeout=10)
    assert "log-format" in str(e.value)


def test_the_purge_reports_its_sweeps(fresh_server):
    s = fresh_server(args=["--purge-interval", "1"]).start()
    deadline = time.time() + 10
    while time.time() < deadline:
        _, samples = scrape(s)
        if value(samples, "latchkey_purge_sweeps_total") >= 2:
            break
        time.sleep(0.3)
    assert value(samples, "latchkey_purge_sweeps_total") >= 2
    assert any(x.name == "latchkey_purged_rows_total" and x.labels.get("what") == "sessions" for x in samples)


def test_request_lines_are_off_unless_enabled(fresh_server):
    s = fresh_server().start()
    login(s)
    r = requests.get(s.management + "/metrics", timeout=10)  # the server has handled the login
    assert r.status_code == 200
    time.sleep(0.2)
    assert "latchkey::access" not in s.read_log()
    s2 = fresh_server(args=["--http-access-log-enabled"]).start()
    login(s2)
    deadline = time.time() + 5
    while "latchkey::access" not in s2.read_log():
        assert time.time() < deadline, s2.read_log()
        time.sleep(0.05)
