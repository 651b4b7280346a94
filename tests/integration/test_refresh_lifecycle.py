"""Refresh tokens done right (issue 3): rotation with convergent grace, reuse detection,
atomic check-and-rotate under real concurrency, lifetimes, offline tokens, scope, revocation,
introspection, logout, and the CLI's sessions and explain."""
import json
import subprocess
import threading
import time

import pytest
import requests

from conftest import BIN, decode_jwt, new_db, write_realm

USER = {"username": "u", "email": "u@example.com", "firstName": "U", "credentials": [{"type": "password", "value": "p"}]}


def realm(name, attributes=None, clients=None, **settings):
    rep = {"realm": name, "users": [dict(USER)], "attributes": attributes or {},
           "eventsEnabled": True, "enabledEventTypes": ["REFRESH_TOKEN_ERROR"], **settings,
           "clients": clients or [
               {"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True},
               {"clientId": "api", "secret": "api-secret", "directAccessGrantsEnabled": True},
               {"clientId": "rs", "secret": "rs-secret", "standardFlowEnabled": False},
           ]}
    return rep


@pytest.fixture
def start(fresh_server, tmp_path):
    def go(rep):
        s = fresh_server(import_realm=write_realm(tmp_path, rep), db=new_db(tmp_path, rep['realm']))
        s.start()
        s.name = rep["realm"]
        return s
    return go


def login(s, client="spa", **extra):
    r = s.token(s.name, grant_type="password", client_id=client, username="u", password="p", **extra)
    assert r.status_code == 200, r.text
    return r.json()


def refresh(s, rt, client="spa", **extra):
    return s.token(s.name, grant_type="refresh_token", client_id=client, refresh_token=rt, **extra)


def introspect(s, token):
    r = requests.post(s.oidc(s.name) + "/token/introspect", data={"token": token}, auth=("rs", "rs-secret"), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def userinfo(s, at):
    return requests.get(s.oidc(s.name) + "/userinfo", headers={"Authorization": "Bearer " + at}, timeout=10)


def events(s, kind):
    """Stored events of a type (the realms here store REFRESH_TOKEN_ERROR: see `realm`)."""
    return s.query("SELECT details FROM user_events WHERE type = ?", kind)


def test_rotation_and_convergent_grace(start):
    s = start(realm("rot"))
    t1 = login(s)
    r = refresh(s, t1["refresh_token"])
    assert r.status_code == 200
    t2 = r.json()
    assert t2["refresh_token"] != t1["refresh_token"], "rotation is on by default"
    # The predecessor again within the grace period: the same successor, a fresh access token.
    again = refresh(s, t1["refresh_token"])
    assert again.status_code == 200, again.text
    assert again.json()["refresh_token"] == t2["refresh_token"]
    # The successor moves the chain on; the original is now an older ancestor: reuse.
    t3 = refresh(s, t2["refresh_token"]).json()
    r = refresh(s, t1["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert "reuse detected" in r.json()["error_description"]
    # The whole family is gone: the newest refresh token and the grant's access tokens.
    assert refresh(s, t3["refresh_token"]).status_code == 400
    assert introspect(s, t3["access_token"]) == {"active": False}
    assert userinfo(s, t3["access_token"]).status_code == 401
    refused = [json.loads(d) for (d,) in events(s, "REFRESH_TOKEN_ERROR")]
    # The reuse, then the newest token refused because its login was revoked.
    assert [e["check"] for e in refused] == ["not_immediate_predecessor", "login_revoked"], refused
    assert "reuse detected" in refused[0]["reason"]


def test_a_token_two_rotations_old_is_named_as_such_within_the_grace_period(start):
    s = start(realm("twice"))
    t1 = login(s)
    t2 = refresh(s, t1["refresh_token"]).json()
    t3 = refresh(s, t2["refresh_token"]).json()
    # Moments later, well inside the 10 s grace period: t1 is not t3's immediate predecessor.
    out = cli(s, "explain", t1["refresh_token"])
    assert "not the current token's immediate predecessor" in out.stdout, out.stdout
    assert "grace until" not in out.stdout and "has been revoked" not in out.stdout, out.stdout
    assert refresh(s, t3["refresh_token"]).status_code == 200, "explaining a token changes nothing"
    r = refresh(s, t1["refresh_token"])
    d = r.json()["error_description"]
    assert r.status_code == 400 and "it is not the immediate predecessor of the current token" in d, d
    assert "grace period ended" not in d and "has passed" not in d, d
    assert "every token of this login has been revoked" in d, d


def test_reuse_after_the_grace_window_revokes_the_family(start):
    s = start(realm("graced", attributes={"latchkey.refreshTokenGracePeriod": "1"}))
    t1 = login(s)
    t2 = refresh(s, t1["refresh_token"]).json()
    time.sleep(2.1)
    r = refresh(s, t1["refresh_token"])
    assert r.status_code == 400
    d = r.json()["error_description"]
    assert "already used" in d and "its 1 s grace period ended at" in d and "has been revoked" in d, d
    r = refresh(s, t2["refresh_token"])
    assert r.status_code == 400 and "revoked" in r.json()["error_description"]


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_time_the_server_was_down_does_not_count_against_the_grace_period(start, how):
    """Issue 20, defect 7: a rotation committed as the server died, whose response never
    reached the client, leaves it holding the predecessor; a restart longer than the grace
    period must not turn presenting it into reuse."""
    s = start(realm("outage", attributes={"latchkey.refreshTokenGracePeriod": "2"}))
    t1 = login(s)
    lost = refresh(s, t1["refresh_token"])
    assert lost.status_code == 200
    s.kill() if how == "SIGKILL" else s.stop()
    time.sleep(5.5)  # longer than a live server's heartbeat age (4 s), so this is an outage
    s.start()
    r = refresh(s, t1["refresh_token"])
    assert r.status_code == 200, r.text
    assert r.json()["refresh_token"] == lost.json()["refresh_token"], "the same successor, handed back"
    assert refresh(s, r.json()["refresh_token"]).status_code == 200, "and the login goes on"
    # The grace period itself is unchanged: once the server is up, 2 s of uptime end it.
    t3 = login(s)
    assert refresh(s, t3["refresh_token"]).status_code == 200
    time.sleep(3.1)
    r = refresh(s, t3["refresh_token"])
    d = r.json()["error_description"]
    assert r.status_code == 400 and "its 2 s grace period ended" in d and "paused" not in d, d


def concurrent_refreshes(s, rt, n=50):
    barrier = threading.Barrier(n)
    results = [None] * n

    def one(i):
        sess = requests.Session()
        barrier.wait()
        r = sess.post(s.oidc(s.name) + "/token", data={"grant_type": "refresh_token", "client_id": "spa", "refresh_token": rt}, timeout=60)
        results[i] = (r.status_code, r.json())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_fifty_simultaneous_refreshes_converge_on_one_successor(start):
    s = start(realm("conv"))
    t1 = login(s)
    results = concurrent_refreshes(s, t1["refresh_token"])
    assert all(code == 200 for code, _ in results), [b for c, b in results if c != 200][:3]
    successors = {body["refresh_token"] for _, body in results}
    assert len(successors) == 1, f"{len(successors)} different successors: the chain forked"
    # Exactly one successor in the store, and it works.
    assert s.query("SELECT count(*) FROM refresh_tokens WHERE parent_jti = ?", decode_jwt(t1["refresh_token"])["jti"])[0][0] == 1
    assert refresh(s, successors.pop()).status_code == 200


def test_fifty_simultaneous_refreshes_without_grace_give_one_success(start):
    s = start(realm("nograce", attributes={"latchkey.refreshTokenGracePeriod": "0"}))
    t1 = login(s)
    results = concurrent_refreshes(s, t1["refresh_token"])
    codes = sorted(code for code, _ in results)
    assert codes.count(200) == 1, codes
    assert all(c == 400 for c in codes if c != 200)
    assert all(b["error"] == "invalid_grant" for c, b in results if c != 200)


def test_keycloak_behaviour_when_rotation_is_off(start):
    s = start(realm("kc", revokeRefreshToken=False))
    t1 = login(s)
    t2 = refresh(s, t1["refresh_token"]).json()
    assert t2["refresh_token"] != t1["refresh_token"]
    time.sleep(1.1)
    for _ in range(3):
        assert refresh(s, t1["refresh_token"]).status_code == 200, "old tokens stay valid without rotation"


def test_refresh_token_max_reuse(start):
    s = start(realm("reuse", revokeRefreshToken=True, refreshTokenMaxReuse=1, attributes={"latchkey.refreshTokenGracePeriod": "0"}))
    t1 = login(s)
    assert refresh(s, t1["refresh_token"]).status_code == 200
    assert refresh(s, t1["refresh_token"]).status_code == 200, "one reuse allowed"
    r = refresh(s, t1["refresh_token"])
    assert r.status_code == 400 and "maximum allowed refresh token reuse (1) exceeded" in r.json()["error_description"]


def test_client_attribute_overrides_realm_policy(start):
    clients = [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True,
                "attributes": {"latchkey.revokeRefreshToken": "false"}}]
    s = start(realm("override", clients=clients))
    t1 = login(s)
    refresh(s, t1["refresh_token"])
    time.sleep(1.1)
    assert refresh(s, t1["refresh_token"]).status_code == 200


def test_sso_idle_slides_and_max_ends_the_family(start):
    s = start(realm("life", ssoSessionIdleTimeout=3, ssoSessionMaxLifespan=5))
    t = login(s)
    assert t["refresh_expires_in"] == 3
    started = time.time()
    rt = t["refresh_token"]
    # Each refresh slides the idle window; the successor never outlives the max.
    # Session times are whole seconds, so the max can end up to 1 s before
    # started + 5: refresh at ~1, 2 and 3 s only (by 3 s the login's idle window
    # of 3 s has passed, so the slide is what keeps the family alive).
    while time.time() - started < 2.5:
        time.sleep(1)
        r = refresh(s, rt)
        assert r.status_code == 200, r.text
        body = r.json()
        rt = body["refresh_token"]
        remaining_max = 5 - (time.time() - started)
        assert body["refresh_expires_in"] <= min(3, remaining_max) + 1
    time.sleep(max(0, 5.2 - (time.time() - started)))
    r = refresh(s, rt)
    assert r.status_code == 400
    assert "SSO session max lifespan" in r.json()["error_description"]


def test_idle_timeout_names_the_limit(start):
    clients = [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True,
                "attributes": {"client.session.idle.timeout": "1"}}]
    s = start(realm("idle", clients=clients))
    t = login(s)
    assert t["refresh_expires_in"] == 1
    time.sleep(2.1)
    r = refresh(s, t["refresh_token"])
    assert r.status_code == 400
    d = r.json()["error_description"]
    assert "client session idle timeout" in d and "expired" in d


def test_distinct_descriptions_for_mismatch_expiry_and_reuse(start):
    # Session times are kept in whole seconds (as Keycloak keeps them), so an idle timeout of
    # 1 s can end a session a few milliseconds after its last use; 3 s leaves the reuse check
    # on a slow CI machine well inside the session.
    s = start(realm("words", ssoSessionIdleTimeout=3, attributes={"latchkey.refreshTokenGracePeriod": "0"}))
    t = login(s)
    mismatch = s.token(s.name, auth=("api", "api-secret"), grant_type="refresh_token", refresh_token=t["refresh_token"]).json()
    refresh(s, t["refresh_token"])
    reuse = refresh(s, t["refresh_token"]).json()
    t2 = login(s)
    time.sleep(4.1)
    expiry = refresh(s, t2["refresh_token"]).json()
    descriptions = {mismatch["error_description"], reuse["error_description"], expiry["error_description"]}
    assert len(descriptions) == 3, descriptions
    assert "issued to client 'spa', not to 'api'" in mismatch["error_description"]
    assert "reuse" in reuse["error_description"]
    assert "SSO session idle timeout" in expiry["error_description"]


def test_offline_token_password_grant_survives_logout_and_sigkill(start):
    s = start(realm("off"))
    online = login(s)
    offline = login(s, scope="offline_access")
    assert offline["refresh_expires_in"] == 0
    rt = decode_jwt(offline["refresh_token"])
    assert rt["typ"] == "Offline" and "exp" not in rt
    # Logging out the online session ends it; the offline one lives on.
    r = requests.post(s.oidc(s.name) + "/logout", data={"client_id": "spa", "refresh_token": online["refresh_token"]}, timeout=10)
    assert r.status_code == 204, r.text
    assert refresh(s, online["refresh_token"]).status_code == 400
    r = refresh(s, offline["refresh_token"])
    assert r.status_code == 200, r.text
    offline_rt = r.json()["refresh_token"]
    s.kill()
    s.start()
    r = refresh(s, offline_rt)
    assert r.status_code == 200, r.text
    assert decode_jwt(r.json()["refresh_token"])["typ"] == "Offline"


def test_offline_max_lifespan_when_limited(start):
    s = start(realm("offmax", offlineSessionMaxLifespanEnabled=True, offlineSessionMaxLifespan=100))
    t = login(s, scope="offline_access")
    assert 98 <= t["refresh_expires_in"] <= 100
    assert "exp" in decode_jwt(t["refresh_token"])


def test_refresh_scope_narrows_the_access_and_id_tokens(start):
    rep = realm("scope")
    rep["users"][0]["realmRoles"] = ["default-roles-scope"]
    s = start(rep)
    t = login(s, scope="openid phone")
    assert t["scope"] == "openid email phone profile"
    r = refresh(s, t["refresh_token"], scope="openid")
    assert r.status_code == 200, r.text
    n = r.json()
    # RFC 6749 §6 as Keycloak reads it: the optional scope goes from the access and ID tokens;
    # the client's default scopes always apply (authlib re-sends scope=openid on every refresh).
    assert decode_jwt(n["access_token"])["scope"] == "openid email profile"
    assert n["scope"] == "openid email profile"
    assert "email" in decode_jwt(n["access_token"]) and "email" in decode_jwt(n["id_token"])
    assert "realm_access" in decode_jwt(n["access_token"]), "roles are not a scope the client asks for"
    assert decode_jwt(n["refresh_token"])["scope"] == decode_jwt(t["refresh_token"])["scope"], "the refresh token keeps the grant"
    wider = refresh(s, n["refresh_token"], scope="openid offline_access")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    # No scope: the original again.
    r = refresh(s, n["refresh_token"])
    assert r.status_code == 200 and "phone" in r.json()["scope"]


def test_use_refresh_tokens_false(start):
    clients = [{"clientId": "spa", "publicClient": True, "directAccessGrantsEnabled": True,
                "attributes": {"use.refresh.tokens": "false"}}]
    s = start(realm("norefresh", clients=clients))
    t = login(s)
    assert "refresh_token" not in t and t["refresh_expires_in"] == 0


def test_revocation_of_refresh_token_access_token_and_foreign_token(start):
    s = start(realm("revoke"))
    revoke = s.oidc(s.name) + "/revoke"
    t = login(s)
    t2 = refresh(s, t["refresh_token"]).json()
    r = requests.post(revoke, data={"client_id": "spa", "token": t2["refresh_token"]}, timeout=10)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert refresh(s, t2["refresh_token"]).status_code == 400
    assert introspect(s, t2["access_token"])["active"] is False
    assert introspect(s, t["access_token"])["active"] is False, "every access token of the grant"
    # An access token alone.
    a = login(s)
    assert introspect(s, a["access_token"])["active"] is True
    assert requests.post(revoke, data={"client_id": "spa", "token": a["access_token"], "token_type_hint": "refresh_token"}, timeout=10).status_code == 200
    assert introspect(s, a["access_token"])["active"] is False
    assert refresh(s, a["refresh_token"]).status_code == 200, "revoking an access token leaves the refresh token"
    # Unknown and garbage: 200.
    for junk in ("garbage", "a.b.c", t["refresh_token"]):
        assert requests.post(revoke, data={"client_id": "spa", "token": junk}, timeout=10).status_code == 200
    # Another client's token is left alone.
    other = login(s)
    r = requests.post(revoke, data={"token": other["refresh_token"]}, auth=("api", "api-secret"), timeout=10)
    assert r.status_code == 400
    assert refresh(s, other["refresh_token"]).status_code == 200


def test_introspection(start):
    s = start(realm("intro"))
    t = login(s, scope="openid")
    info = introspect(s, t["access_token"])
    assert info["active"] is True
    for k in ("sub", "client_id", "username", "scope", "exp", "iat", "token_type", "sid"):
        assert k in info, k
    assert info["client_id"] == "spa" and info["username"] == "u" and info["token_type"] == "Bearer"
    # Refresh tokens: only their own client may introspect them.
    assert introspect(s, t["refresh_token"]) == {"active": False}
    for junk in ("", "x", "a.b.c", t["id_token"]):
        if junk:
            assert introspect(s, junk) == {"active": False}
    own = requests.post(s.oidc(s.name) + "/token/introspect", data={"token": t["refresh_token"]}, auth=("rs", "rs-secret"), timeout=10)
    assert own.json() == {"active": False}
    api = login(s, client="api", client_secret="api-secret")
    r = requests.post(s.oidc(s.name) + "/token/introspect", data={"token": api["refresh_token"]}, auth=("api", "api-secret"), timeout=10)
    assert r.json()["active"] is True and r.json()["token_type"] == "Refresh"
    # Rotated out and past grace: inactive.
    refresh(s, api["refresh_token"], client="api", client_secret="api-secret")
    # Public clients may not introspect; bad credentials are 401.
    r = requests.post(s.oidc(s.name) + "/token/introspect", data={"token": t["access_token"], "client_id": "spa"}, timeout=10)
    assert r.status_code == 401
    r = requests.post(s.oidc(s.name) + "/token/introspect", data={"token": t["access_token"]}, auth=("rs", "bad"), timeout=10)
    assert r.status_code == 401


def test_logout_errors(start):
    s = start(realm("lo"))
    url = s.oidc(s.name) + "/logout"
    # Without a refresh_token it is the browser's RP-initiated logout: a confirmation page.
    r = requests.post(url, data={"client_id": "spa"}, timeout=10)
    assert r.status_code == 200 and "Sign out" in r.text
    t = login(s)
    r = requests.post(url, data={"refresh_token": t["refresh_token"]}, auth=("api", "api-secret"), timeout=10)
    assert r.status_code == 400 and "issued to client 'spa'" in r.json()["error_description"]
    assert requests.post(url, data={"client_id": "spa", "refresh_token": t["refresh_token"]}, timeout=10).status_code == 204
    r = refresh(s, t["refresh_token"])
    assert r.status_code == 400 and "ended" in r.json()["error_description"]
    assert userinfo(s, t["access_token"]).status_code == 401


def cli(s, *args):
    return subprocess.run([BIN, *args, "--db", s.db], capture_output=True, text=True, timeout=30, env=s.env())


def test_sessions_cli_lists_and_revokes_while_the_server_runs(start):
    s = start(realm("cli"))
    t = login(s)
    off = login(s, scope="offline_access")
    out = cli(s, "sessions", "list", "--realm", "cli")
    assert out.returncode == 0, out.stderr
    assert t["session_state"] in out.stdout and off["session_state"] in out.stdout
    out = cli(s, "sessions", "list", "--realm", "cli", "--offline", "--output", "json")
    import json
    listed = json.loads(out.stdout)
    assert [x["id"] for x in listed] == [off["session_state"]] and listed[0]["username"] == "u"
    out = cli(s, "sessions", "revoke", "--realm", "cli", t["session_state"])
    assert out.returncode == 0, out.stderr
    r = refresh(s, t["refresh_token"])
    assert r.status_code == 400 and "revoked by an administrator" in r.json()["error_description"]
    assert refresh(s, off["refresh_token"]).status_code == 200
    out = cli(s, "sessions", "revoke", "--realm", "cli", "--user", "u")
    assert out.returncode == 0
    assert refresh(s, off["refresh_token"]).status_code == 400
    assert cli(s, "sessions", "revoke", "--realm", "cli").returncode != 0


def test_explain_says_why(start, tmp_path):
    s = start(realm("why", attributes={"latchkey.refreshTokenGracePeriod": "0"}))
    t = login(s)
    out = cli(s, "explain", t["refresh_token"])
    assert out.returncode == 0 and "VERDICT: VALID" in out.stdout, out.stdout + out.stderr
    refresh(s, t["refresh_token"])
    out = cli(s, "explain", t["refresh_token"])
    assert out.returncode == 0 and "NOT VALID" in out.stdout and "already used" in out.stdout, out.stdout
    assert "presenting it would count as refresh token reuse and revoke every token of this login" in out.stdout, out.stdout
    assert "has been revoked" not in out.stdout, "explain says what would happen, not that it has"
    refresh(s, t["refresh_token"])  # reuse: family revoked
    out = cli(s, "explain", t["refresh_token"])
    assert "revoked" in out.stdout and "reuse" in out.stdout, out.stdout
    out = cli(s, "explain", "Bearer " + t["access_token"])
    assert out.returncode == 0 and "NOT VALID" in out.stdout and "revoked" in out.stdout, out.stdout
    a = login(s)
    out = cli(s, "explain", a["access_token"])
    assert "VERDICT: VALID" in out.stdout
    # A token of another store: judged, not valid, unknown key.
    other = start(realm("why2"))
    foreign = login(other)["refresh_token"]
    out = subprocess.run([BIN, "explain", foreign, "--db", s.db], capture_output=True, text=True, timeout=30, env=s.env())
    assert out.returncode != 0 or "NOT VALID" in out.stdout
    # Unreadable: non-zero.
    out = cli(s, "explain", "not-a-token")
    assert out.returncode != 0 and "cannot read" in out.stderr


def test_sessions_that_idled_out_without_a_logout_are_purged(fresh_server, tmp_path):
    rep = realm("sweep", ssoSessionIdleTimeout=1800, ssoSessionMaxLifespan=36000)
    s = fresh_server(import_realm=write_realm(tmp_path, rep), db=new_db(tmp_path, "sweep"),
                     args=["--purge-interval", "1"])
    s.start()
    s.name = "sweep"
    idle, fresh = login(s), login(s)
    idle_sid, fresh_sid = decode_jwt(idle["access_token"])["sid"], decode_jwt(fresh["access_token"])["sid"]
    # One login's session was last used two hours and a bit ago: past the 30 min idle timeout
    # and the hour for which an expired session is still explained.
    s.execute("UPDATE sessions SET started_at = started_at - 7300, last_refresh = last_refresh - 7300 WHERE id = ?", idle_sid)
    deadline = time.time() + 10
    while time.time() < deadline and s.query("SELECT count(*) FROM sessions WHERE id = ?", idle_sid)[0][0]:
        time.sleep(0.2)
    assert s.query("SELECT count(*) FROM sessions WHERE id = ?", idle_sid)[0][0] == 0, "the idle session was not purged"
    # Its family went with it; the other login is untouched and refreshes.
    assert s.query("SELECT count(*) FROM client_sessions WHERE session_id = ?", idle_sid)[0][0] == 0
    assert refresh(s, idle["refresh_token"]).status_code == 400
    assert s.query("SELECT count(*) FROM sessions WHERE id = ?", fresh_sid)[0][0] == 1
    assert refresh(s, fresh["refresh_token"]).status_code == 200
    assert "purged sessions that idled out" in s.read_log()
