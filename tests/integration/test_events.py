"""Keycloak-compatible events (issue 22): user events recorded where a realm enables them, with
Keycloak's types, error strings and details; admin events for changes through the admin API; the
query, clear and config endpoints driven by python-keycloak's `get_events`, `get_admin_events` and
`set_events` as their users call them; expiry; and `latchkey events tail`.
"""
import datetime
import json
import subprocess
import time

import pytest
import requests
from keycloak.exceptions import KeycloakGetError

from conftest import BIN, decode_jwt, write_realm
from test_admin_api import ADMIN_ENV, api, kc_admin, master_token

REALM = {
    "realm": "shop",
    "clients": [
        {"clientId": "web", "secret": "web-secret", "directAccessGrantsEnabled": True,
         "redirectUris": ["http://localhost:4000/*"]},
        {"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True},
    ],
    "users": [
        {"username": "alice", "enabled": True, "email": "alice@example.com",
         "credentials": [{"type": "password", "value": "alice-pw"}]},
    ],
}

ALL_TYPES = ["LOGIN", "LOGIN_ERROR", "CLIENT_LOGIN", "CLIENT_LOGIN_ERROR", "REFRESH_TOKEN",
             "REFRESH_TOKEN_ERROR", "LOGOUT", "LOGOUT_ERROR", "INTROSPECT_TOKEN", "INTROSPECT_TOKEN_ERROR",
             "REVOKE_GRANT", "REVOKE_GRANT_ERROR", "USER_INFO_REQUEST", "USER_INFO_REQUEST_ERROR"]


@pytest.fixture
def srv(fresh_server, tmp_path):
    return fresh_server(env=ADMIN_ENV, import_realm=write_realm(tmp_path, REALM),
                        args=["--purge-interval", "1"]).start()


@pytest.fixture
def kc(srv):
    admin = kc_admin(srv)
    admin.change_current_realm("shop")
    return admin


def grant(srv, client="spa", secret=None, **form):
    data = {"client_id": client, **form}
    if secret:
        data["client_secret"] = secret
    return requests.post(srv.oidc("shop") + "/token", data=data, timeout=10)


def login(srv, user="alice", password="alice-pw", **kw):
    return grant(srv, grant_type="password", username=user, password=password, **kw)


def enable_all(kc):
    kc.set_events({"eventsEnabled": True, "enabledEventTypes": ALL_TYPES,
                   "adminEventsEnabled": True, "adminEventsDetailsEnabled": True})


def alice_id(kc):
    return kc.get_user_id("alice")


def test_events_are_off_until_enabled_and_the_config_reads_as_keycloak_writes_it(srv, kc):
    config = api(srv, "GET", "/admin/realms/shop/events/config", master_token(srv)).json()
    assert config["eventsEnabled"] is False and config["adminEventsEnabled"] is False
    assert "eventsExpiration" not in config
    # An empty list reads as the types Keycloak stores by default: LOGIN yes, REFRESH_TOKEN no.
    assert "LOGIN" in config["enabledEventTypes"] and "REFRESH_TOKEN" not in config["enabledEventTypes"]
    assert login(srv).status_code == 200
    assert kc.get_events() == []

    # Enabled with the default types: a login is stored, a refresh (not saved by default) is not.
    assert kc.set_events({"eventsEnabled": True}) == {}
    rt = login(srv).json()["refresh_token"]
    assert grant(srv, grant_type="refresh_token", refresh_token=rt).status_code == 200
    assert [e["type"] for e in kc.get_events()] == ["LOGIN"]
    # PUT keeps what it does not name; an absent eventsExpiration means "never".
    kc.set_events({"eventsExpiration": 3600})
    config = api(srv, "GET", "/admin/realms/shop/events/config", master_token(srv)).json()
    assert config["eventsEnabled"] is True and config["eventsExpiration"] == 3600


def test_a_login_and_its_refreshes_are_recorded_with_keycloaks_details(srv, kc):
    enable_all(kc)
    uid = alice_id(kc)
    t1 = login(srv).json()
    t2 = grant(srv, grant_type="refresh_token", refresh_token=t1["refresh_token"]).json()
    events = kc.get_events(query={"direction": "asc"})
    assert [e["type"] for e in events] == ["LOGIN", "REFRESH_TOKEN"]
    log, ref = events
    realm_id = kc.get_realm("shop")["id"]
    for e in events:
        assert e["realmId"] == realm_id and e["clientId"] == "spa" and e["userId"] == uid
        assert e["sessionId"] == t1["session_state"] and e["ipAddress"] == "127.0.0.1"
        assert isinstance(e["time"], int) and abs(e["time"] / 1000 - time.time()) < 60
        assert "error" not in e
    assert log["details"]["grant_type"] == "password" and log["details"]["username"] == "alice"
    assert log["details"]["refresh_token_id"] == decode_jwt(t1["refresh_token"])["jti"]
    assert log["details"]["refresh_token_type"] == "Refresh"
    assert "profile" in log["details"]["scope"].split()
    assert ref["details"]["grant_type"] == "refresh_token"
    assert ref["details"]["refresh_token_id"] == decode_jwt(t1["refresh_token"])["jti"]
    assert ref["details"]["updated_refresh_token_id"] == decode_jwt(t2["refresh_token"])["jti"]


def test_why_was_this_user_logged_out_is_one_query(srv, kc):
    """Every refusal of a refresh is REFRESH_TOKEN_ERROR with Keycloak's error `invalid_token`; its
    `reason` is the error_description the client got, and `check` names latchkey's rule."""
    enable_all(kc)
    uid = alice_id(kc)
    t1 = login(srv).json()
    t2 = grant(srv, grant_type="refresh_token", refresh_token=t1["refresh_token"]).json()
    grant(srv, grant_type="refresh_token", refresh_token=t2["refresh_token"])
    refused = grant(srv, grant_type="refresh_token", refresh_token=t1["refresh_token"])
    assert refused.status_code == 400
    bogus = grant(srv, grant_type="refresh_token", refresh_token="not-a-token")
    assert bogus.status_code == 400

    errors = kc.get_events(query={"type": "REFRESH_TOKEN_ERROR", "user": uid})
    assert len(errors) == 1, errors
    e = errors[0]
    assert e["error"] == "invalid_token" and e["userId"] == uid and e["clientId"] == "spa"
    assert e["details"]["reason"] == refused.json()["error_description"]
    assert e["details"]["check"] == "not_immediate_predecessor"
    assert "reuse detected" in e["details"]["reason"]
    # The unparseable token is recorded too, without a user.
    anon = [x for x in kc.get_events(query={"type": "REFRESH_TOKEN_ERROR"}) if "userId" not in x]
    assert len(anon) == 1 and anon[0]["details"]["check"] == "token_invalid"


def test_failed_logins_carry_keycloaks_error_strings(srv, kc):
    enable_all(kc)
    uid = alice_id(kc)
    assert login(srv, password="Wr0ng-Passw0rd").status_code == 401
    assert login(srv, user="nobody").status_code == 401
    assert login(srv, client="web", secret="wrong-secret").status_code == 401
    assert login(srv, client="ghost").status_code == 401
    assert grant(srv, client="web", secret="web-secret", grant_type="client_credentials").status_code >= 400
    events = kc.get_events(query={"direction": "asc"})
    got = [(e["type"], e.get("error"), e.get("userId"), e.get("clientId")) for e in events]
    assert got == [
        ("LOGIN_ERROR", "invalid_user_credentials", uid, "spa"),
        ("LOGIN_ERROR", "user_not_found", None, "spa"),
        ("LOGIN_ERROR", "invalid_client_credentials", None, "web"),
        ("LOGIN_ERROR", "client_not_found", None, "ghost"),
        ("CLIENT_LOGIN_ERROR", "invalid_client", None, "web"),
    ], got
    # What was typed as a password or secret is nowhere in the events.
    assert "Wr0ng-Passw0rd" not in json.dumps(events) and "wrong-secret" not in json.dumps(events)


def test_logout_revocation_userinfo_and_introspection(srv, kc):
    enable_all(kc)
    t = login(srv).json()
    oidc = srv.oidc("shop")
    assert requests.get(oidc + "/userinfo", headers={"Authorization": "Bearer " + t["access_token"]},
                        timeout=10).status_code == 200
    r = requests.post(oidc + "/token/introspect", auth=("web", "web-secret"),
                      data={"token": t["access_token"]}, timeout=10)
    assert r.json()["active"] is True
    r = requests.post(oidc + "/token/introspect", auth=("web", "web-secret"), data={"token": "x"}, timeout=10)
    assert r.json() == {"active": False}
    assert requests.post(oidc + "/logout", data={"client_id": "spa", "refresh_token": t["refresh_token"]},
                         timeout=10).status_code == 204
    t2 = login(srv).json()
    assert requests.post(oidc + "/revoke", data={"client_id": "spa", "token": t2["refresh_token"]},
                         timeout=10).status_code == 200
    kinds = [(e["type"], e.get("error")) for e in kc.get_events(query={"direction": "asc"})]
    assert kinds == [("LOGIN", None), ("USER_INFO_REQUEST", None), ("INTROSPECT_TOKEN", None),
                     ("INTROSPECT_TOKEN_ERROR", "invalid_token"), ("LOGOUT", None), ("LOGIN", None),
                     ("REVOKE_GRANT", None)], kinds
    by_type = {e["type"]: e for e in kc.get_events()}
    assert by_type["LOGOUT"]["sessionId"] == t["session_state"]
    assert by_type["REVOKE_GRANT"]["details"]["revoked_client"] == "spa"
    assert by_type["INTROSPECT_TOKEN"]["clientId"] == "web"
    assert by_type["INTROSPECT_TOKEN"]["details"]["token_issued_for"] == "spa"


def test_queries_filter_page_and_order_as_keycloak_does(srv, kc):
    enable_all(kc)
    for _ in range(3):
        login(srv)
    login(srv, client="web", secret="web-secret")
    login(srv, password="wrong")
    all_ = kc.get_events()
    assert len(all_) == 5
    assert [e["time"] for e in all_] == sorted((e["time"] for e in all_), reverse=True), "newest first"
    assert len(kc.get_events(query={"type": ["LOGIN", "LOGIN_ERROR"]})) == 5
    assert len(kc.get_events(query={"type": "LOGIN_ERROR"})) == 1
    assert [e["clientId"] for e in kc.get_events(query={"client": "web"})] == ["web"]
    assert len(kc.get_events(query={"ipAddress": "127.0.0.1"})) == 5
    assert len(kc.get_events(query={"ipAddress": "10.0.0.1"})) == 0
    assert kc.get_events(query={"first": 1, "max": 2}) == all_[1:3]
    assert kc.get_events(query={"direction": "asc"}) == list(reversed(all_))
    assert kc.get_events(query={"max": 0}) == []
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert len(kc.get_events(query={"dateFrom": today.isoformat(), "dateTo": today.isoformat()})) == 5
    assert kc.get_events(query={"dateTo": (today - datetime.timedelta(days=1)).isoformat()}) == []
    oldest = all_[-1]["time"]
    assert len(kc.get_events(query={"dateFrom": str(oldest + 1)})) < 5
    assert len(kc.get_events(query={"dateTo": str(oldest)})) >= 1


@pytest.mark.parametrize("query, message", [
    ({"dateFrom": "07/12/2026"}, "Invalid value for 'dateFrom', expected format is yyyy-MM-dd or an Epoch timestamp"),
    ({"dateTo": "2026-02-30"}, "Invalid value for 'dateTo', expected format is yyyy-MM-dd or an Epoch timestamp"),
    ({"direction": "sideways"}, "Invalid value for sortDirection, expected value is asc or desc"),
    ({"type": "LOGN"}, "Invalid value for 'type': 'LOGN' is not an event type"),
    ({"max": "-1"}, "Invalid value for 'max': '-1' (a number, 0 or more)"),
])
def test_bad_query_values_get_keycloaks_400(srv, query, message):
    r = requests.get(srv.base + "/admin/realms/shop/events", params=query, timeout=10,
                     headers={"Authorization": "Bearer " + master_token(srv)})
    assert r.status_code == 400 and r.json() == {"error": message}, r.text


def test_bad_query_values_reach_python_keycloak_as_errors(srv, kc):
    with pytest.raises(KeycloakGetError) as e:
        kc.get_events(query={"dateFrom": "yesterday"})
    assert e.value.response_code == 400
    with pytest.raises(KeycloakGetError):
        kc.get_admin_events(query={"operationTypes": "MOVE"})
    r = api(srv, "PUT", "/admin/realms/shop/events/config", master_token(srv), {"enabledEventTypes": ["LOGN"]})
    assert r.status_code == 400 and "'LOGN'" in r.json()["error"]


def test_admin_changes_are_recorded_with_who_and_what(srv, kc):
    enable_all(kc)
    master = kc_admin(srv)
    admin_id = master.get_user_id("admin")
    master_id = master.get_realm("master")["id"]
    uid = kc.create_user({"username": "bob", "enabled": True,
                          "credentials": [{"type": "password", "value": "bob-secret-pw"}]})
    kc.update_user(uid, {"firstName": "Bob"})
    kc.set_user_password(uid, "another-secret-pw", temporary=False)
    kc.delete_user(uid)
    events = kc.get_admin_events(query={"direction": "asc"})
    got = [(e["operationType"], e["resourceType"], e["resourcePath"]) for e in events]
    assert got == [
        ("UPDATE", "REALM", "events/config"),
        ("CREATE", "USER", f"users/{uid}"),
        ("UPDATE", "USER", f"users/{uid}"),
        ("ACTION", "USER", f"users/{uid}/reset-password"),
        ("DELETE", "USER", f"users/{uid}"),
    ], got
    for e in events:
        assert e["authDetails"]["userId"] == admin_id and e["authDetails"]["realmId"] == master_id
        assert e["authDetails"]["ipAddress"] == "127.0.0.1"
        assert e["authDetails"]["clientId"] == master.get_client_id("admin-cli")
    created = json.loads(events[1]["representation"])
    assert created["username"] == "bob"
    text = json.dumps(events)
    assert "bob-secret-pw" not in text and "another-secret-pw" not in text
    # Keycloak's filters: by path pattern, by operation, by caller.
    assert len(kc.get_admin_events(query={"resourcePath": "users/*"})) == 4
    assert len(kc.get_admin_events(query={"operationTypes": ["CREATE", "DELETE"]})) == 2
    assert len(kc.get_admin_events(query={"resourceTypes": "REALM"})) == 1
    assert len(kc.get_admin_events(query={"authUser": "someone-else"})) == 0
    # Refused requests record nothing.
    api(srv, "DELETE", "/admin/realms/shop/users/ghost", master_token(srv))
    assert len(kc.get_admin_events()) == 5


def test_without_details_admin_events_keep_no_representation(srv, kc):
    kc.set_events({"adminEventsEnabled": True})
    kc.create_user({"username": "carol", "enabled": True})
    [e] = kc.get_admin_events(query={"resourceTypes": "USER"})
    assert e["resourceType"] == "USER" and "representation" not in e


def test_clearing_needs_manage_events_and_leaves_nothing(srv, kc):
    enable_all(kc)
    login(srv)
    t = master_token(srv)
    # A realm user who may only view events.
    mgmt = kc.get_client_id("realm-management")
    viewer = kc.create_user({"username": "auditor", "enabled": True,
                             "credentials": [{"type": "password", "value": "auditor-pw"}]})
    kc.assign_client_role(viewer, mgmt, [kc.get_client_role(mgmt, "view-events")])
    vt = requests.post(srv.oidc("shop") + "/token", timeout=10, data={
        "grant_type": "password", "client_id": "spa", "username": "auditor", "password": "auditor-pw"}).json()["access_token"]
    assert api(srv, "GET", "/admin/realms/shop/events", vt).status_code == 200
    assert api(srv, "GET", "/admin/realms/shop/admin-events", vt).status_code == 200
    assert api(srv, "DELETE", "/admin/realms/shop/events", vt).status_code == 403
    assert api(srv, "PUT", "/admin/realms/shop/events/config", vt, {"eventsEnabled": False}).status_code == 403
    assert api(srv, "DELETE", "/admin/realms/shop/events", t).status_code == 204
    assert api(srv, "DELETE", "/admin/realms/shop/admin-events", t).status_code == 204
    assert kc.get_events() == [] and kc.get_admin_events() == []


def test_expired_events_are_purged(srv, kc):
    enable_all(kc)
    login(srv)
    kc.set_events({"eventsExpiration": 1})
    kc.update_realm("shop", {"attributes": {"adminEventsExpiration": "1"}})
    deadline = time.time() + 20
    while time.time() < deadline and (kc.get_events() or kc.get_admin_events()):
        time.sleep(0.5)
    assert kc.get_events() == [] and kc.get_admin_events() == []


def test_events_tail_prints_the_last_events_then_follows(srv, kc):
    enable_all(kc)
    login(srv)
    login(srv, password="wrong")
    assert len(kc.get_events()) == 2  # (an admin read waits for the events handed in before it)
    env = srv.env()
    out = subprocess.run([BIN, "events", "tail", "--realm", "shop", "--no-follow", "--db", srv.db],
                         capture_output=True, text=True, timeout=30, env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and " LOGIN " in lines[0] and " LOGIN_ERROR " in lines[1], lines
    assert "error=invalid_user_credentials" in lines[1] and "client=spa" in lines[1]
    # Following: a new event appears on its own.
    p = subprocess.Popen([BIN, "events", "tail", "--realm", "shop", "-n", "0", "--output", "json", "--db", srv.db],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.0)
        login(srv, user="nobody")
        line = p.stdout.readline()
        e = json.loads(line)
        assert e["type"] == "LOGIN_ERROR" and e["error"] == "user_not_found"
    finally:
        p.kill()
        p.wait()
    bad = subprocess.run([BIN, "events", "tail", "--realm", "nope", "--no-follow", "--db", srv.db],
                         capture_output=True, text=True, timeout=30, env=env)
    assert bad.returncode != 0 and "realm 'nope' does not exist" in bad.stderr
