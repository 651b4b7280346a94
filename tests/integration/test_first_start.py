"""What a newcomer meets first (issue 17): realm master on every store, the bootstrap admin
from the environment or `latchkey bootstrap-admin`, sign-in with an email address as Keycloak
allows it, and the CLI's human output."""
import json
import re
import subprocess

import requests

from conftest import BIN, Server, new_db, write_realm

ADMIN = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}


def run(s, *args, env=None, stdin=None):
    e = s.env()
    e.update(env or {})
    return subprocess.run([BIN, *args, "--db", s.db], capture_output=True, text=True, timeout=60, env=e, input=stdin)


def admin_token(s, username="admin", password="admin-password"):
    r = s.token("master", grant_type="password", client_id="admin-cli", username=username, password=password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_a_fresh_store_has_master_and_says_how_to_create_an_admin(fresh_server):
    s = fresh_server(import_realm=None).start()
    r = requests.get(s.realm("master") + "/.well-known/openid-configuration", timeout=5)
    assert r.status_code == 200
    # admin-cli exists (a wrong password, not an unknown client).
    r = s.token("master", grant_type="password", client_id="admin-cli", username="admin", password="x")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant", r.text
    hint = [l for l in s.read_log().splitlines() if "has no admin user" in l]
    assert len(hint) == 1 and "LATCHKEY_ADMIN_USERNAME" in hint[0] and "latchkey bootstrap-admin user" in hint[0], hint


def test_half_set_admin_variables_are_an_error_naming_the_missing_one(fresh_server):
    for given, missing in (("LATCHKEY_ADMIN_PASSWORD", "LATCHKEY_ADMIN_USERNAME"),
                           ("LATCHKEY_ADMIN_USERNAME", "LATCHKEY_ADMIN_PASSWORD")):
        s = fresh_server(import_realm=None, env={given: "x"})
        proc = s.spawn()
        assert proc.wait(timeout=30) == 2
        log = s.read_log()
        assert f"{given} is set but {missing} is not" in log, log


def test_the_admin_of_the_environment_is_added_to_an_existing_master(fresh_server, tmp_path):
    db = new_db(tmp_path, "later")
    s = fresh_server(import_realm=None, db=db).start()
    s.stop()
    s = fresh_server(import_realm=None, db=db, env=ADMIN).start()
    assert "created admin user" in s.read_log()
    token = admin_token(s)
    r = requests.get(s.base + "/admin/realms", headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 200 and [x["realm"] for x in r.json()] == ["master"]


def test_the_environment_adds_no_admin_once_master_has_one(fresh_server, tmp_path):
    db = new_db(tmp_path, "has-admin")
    s = fresh_server(import_realm=None, db=db, env=ADMIN).start()
    s.stop()
    s = fresh_server(import_realm=None, db=db, env={"LATCHKEY_ADMIN_USERNAME": "second", "LATCHKEY_ADMIN_PASSWORD": "pw"}).start()
    r = s.token("master", grant_type="password", client_id="admin-cli", username="second", password="pw")
    assert r.status_code == 401, "a second bootstrap admin is not created"
    assert "has no admin user" not in s.read_log()
    admin_token(s)


def test_bootstrap_admin_user_and_service_while_the_server_runs(fresh_server):
    s = fresh_server(import_realm=None).start()
    out = run(s, "bootstrap-admin", "user", "--username", "ops", env={"LATCHKEY_ADMIN_PASSWORD": "ops-password"})
    assert out.returncode == 0 and "created admin user 'ops'" in out.stdout, out.stderr
    token = admin_token(s, "ops", "ops-password")
    assert requests.get(s.base + "/admin/realms", headers={"Authorization": f"Bearer {token}"}, timeout=5).status_code == 200
    # Again: nothing is changed, and it says so.
    again = run(s, "bootstrap-admin", "user", "--username", "ops", stdin="other-password\n")
    assert again.returncode != 0 and "exists already" in again.stderr, again.stderr
    admin_token(s, "ops", "ops-password")
    # A service account administrator, its secret on standard input.
    out = run(s, "bootstrap-admin", "service", "--client-id", "robot", stdin="robot-secret\n")
    assert out.returncode == 0, out.stderr
    s.stop()  # a running server would serve the new client within its 30 s cache lifetime
    s.start()
    r = s.token("master", auth=("robot", "robot-secret"), grant_type="client_credentials")
    assert r.status_code == 200, r.text
    sa = r.json()["access_token"]
    assert requests.get(s.base + "/admin/realms", headers={"Authorization": f"Bearer {sa}"}, timeout=5).status_code == 200
    # No password at all: refused.
    none = run(s, "bootstrap-admin", "user", "--username", "nobody", stdin="")
    assert none.returncode != 0 and "no password given" in none.stderr


def email_realm(**settings):
    return {"realm": "mail", **settings, "users": [
        {"username": "bob", "email": "Bob@Example.com", "credentials": [{"type": "password", "value": "pw"}]},
        {"username": "carol", "email": "shared@example.com", "credentials": [{"type": "password", "value": "pw"}]},
        {"username": "dave", "email": "shared@example.com", "credentials": [{"type": "password", "value": "pw"}]},
    ]}


def password_grant(s, username):
    return s.token("mail", grant_type="password", client_id="admin-cli", username=username, password="pw")


def test_password_grant_with_email_as_keycloak_allows_it(fresh_server, tmp_path):
    s = fresh_server(import_realm=write_realm(tmp_path, email_realm())).start()
    r = password_grant(s, "bob@example.COM")
    assert r.status_code == 200, r.text
    assert password_grant(s, "bob").status_code == 200
    # An address two users share names no one: the wrong-credentials answer, as for any unknown name.
    r = password_grant(s, "shared@example.com")
    assert r.status_code == 401 and r.json()["error"] == "invalid_grant"


def test_email_sign_in_off_when_the_realm_says_so(fresh_server, tmp_path):
    for settings in ({"loginWithEmailAllowed": False}, {"duplicateEmailsAllowed": True}):
        s = fresh_server(import_realm=write_realm(tmp_path, email_realm(**settings)), db=new_db(tmp_path, f"m{len(settings)}{list(settings)[0]}")).start()
        assert password_grant(s, "bob@example.com").status_code == 401, settings
        assert password_grant(s, "bob").status_code == 200
        s.stop()


def test_user_sessions_cli_has_labelled_columns_and_iso_dates(fresh_server):
    s = fresh_server(env=ADMIN).start()
    s.password_login()
    env = {**s.env(), "LATCHKEY_SERVER": s.base}
    out = subprocess.run([BIN, "user", "sessions", "--realm", "demo", "alice"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    header, row = out.stdout.splitlines()[:2]
    assert header.split() == ["id", "username", "ipAddress", "start", "lastAccess", "clients"], header
    assert re.search(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b", row), row
    assert "spa" in row


def test_sessions_list_hides_sessions_with_nothing_left_alive(fresh_server):
    s = fresh_server().start()
    alive = s.password_login()
    dead = s.password_login()
    rt = dead["refresh_token"]
    r = requests.post(s.oidc() + "/revoke", data={"token": rt, "client_id": "spa"}, timeout=10)
    assert r.status_code == 200
    out = run(s, "sessions", "list", "--realm", "demo")
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["SESSION", "TYPE", "USER"], out.stdout
    sids = [l.split()[0] for l in lines[1:] if not l.startswith("(")]
    from conftest import decode_jwt
    assert sids == [decode_jwt(alive["access_token"])["sid"]], out.stdout
    assert "1 session(s) with nothing left alive not shown" in out.stdout
    everything = run(s, "sessions", "list", "--realm", "demo", "--all")
    assert "every token revoked" in everything.stdout and decode_jwt(rt)["sid"] in everything.stdout
    as_json = json.loads(run(s, "sessions", "list", "--realm", "demo", "--all", "--output", "json").stdout)
    assert sorted(x["alive"] for x in as_json) == [False, True]
