"""`latchkey realm|client|user` against a running server, and `latchkey export` → `--import-realm`
round trips."""
import json
import os
import subprocess

import requests

from conftest import BIN, new_db, write_realm

ADMIN = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}


def cli(s, *args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env.update(ADMIN)
    env["LATCHKEY_SERVER"] = s.base
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60, env=env)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_cli_manages_realms_clients_and_users(fresh_server, tmp_path):
    s = fresh_server(env=ADMIN).start()
    realm = write_realm(tmp_path, {"realm": "shop", "clients": [{"clientId": "web", "secret": "s3cret", "directAccessGrantsEnabled": True}]})
    out = cli(s, "realm", "create", "--file", str(realm))
    assert "/admin/realms/shop" in out.stdout
    assert "shop" in cli(s, "realm", "list").stdout
    client = tmp_path / "client.json"
    client.write_text(json.dumps({"clientId": "api", "secret": "api-secret", "serviceAccountsEnabled": True}))
    assert "created" in cli(s, "client", "create", "--realm", "shop", "--file", str(client)).stdout
    assert cli(s, "client", "secret", "--realm", "shop", "api").stdout.strip() == "api-secret"
    new_secret = cli(s, "client", "secret", "--realm", "shop", "api", "--regenerate").stdout.strip()
    assert new_secret and new_secret != "api-secret"
    r = requests.post(s.oidc("shop") + "/token", data={"grant_type": "client_credentials"}, auth=("api", new_secret), timeout=10)
    assert r.status_code == 200, r.text
    cli(s, "user", "create", "--realm", "shop", "--username", "dave", "--password", "pw", "--email", "dave@example.com")
    users = json.loads(cli(s, "user", "list", "--realm", "shop", "--output", "json").stdout)
    assert [u["username"] for u in users] == ["dave"]
    t = requests.post(s.oidc("shop") + "/token", data={"grant_type": "password", "username": "dave", "password": "pw"},
                      auth=("web", "s3cret"), timeout=10)
    assert t.status_code == 200, t.text
    cli(s, "user", "logout", "--realm", "shop", "dave")
    r = requests.post(s.oidc("shop") + "/token", data={"grant_type": "refresh_token", "refresh_token": t.json()["refresh_token"]},
                      auth=("web", "s3cret"), timeout=10)
    assert r.status_code == 400
    cli(s, "user", "reset-password", "--realm", "shop", "dave", "--password", "new-pw")
    assert requests.post(s.oidc("shop") + "/token", data={"grant_type": "password", "username": "dave", "password": "new-pw"},
                         auth=("web", "s3cret"), timeout=10).status_code == 200
    # Errors are reported, with a non-zero exit.
    bad = cli(s, "user", "create", "--realm", "shop", "--username", "dave", check=False)
    assert bad.returncode != 0 and "409" in bad.stderr
    cli(s, "realm", "delete", "shop")
    assert "shop" not in cli(s, "realm", "list").stdout
    wrong = subprocess.run([BIN, "realm", "list", "--server", s.base, "--admin-password", "nope"], capture_output=True, text=True, timeout=30)
    assert wrong.returncode != 0 and "sign-in failed" in wrong.stderr


def export(s, realm, *extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    if s.db.startswith("postgres"):
        env["LATCHKEY_MASTER_KEY"] = "test-master-key"
    p = subprocess.run([BIN, "export", "--realm", realm, "--db", s.db, *extra], capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_export_import_round_trip(fresh_server, tmp_path):
    from conftest import FIXTURES
    s = fresh_server(db=new_db(tmp_path, "a")).start()
    # Some state worth carrying: a login re-hashes nothing here, but sessions must not be exported.
    s.password_login()
    first = export(s, "demo", "--include-secrets")
    assert {c["clientId"] for c in first["clients"]} >= {"web", "spa", "svc", "admin-cli"}
    assert next(c for c in first["clients"] if c["clientId"] == "web")["secret"] == "web-secret"
    alice = next(u for u in first["users"] if u["username"] == "alice")
    assert alice["credentials"][0]["credentialData"] and "value" not in alice["credentials"][0]
    without = export(s, "demo")
    assert all("secret" not in c for c in without["clients"]), "secrets only with --include-secrets"
    s.stop()

    path = tmp_path / "export.json"
    path.write_text(json.dumps(first))
    folder = tmp_path / "b"
    folder.mkdir()
    s2 = fresh_server(import_realm=path, db=new_db(folder, "b")).start()
    second = export(s2, "demo", "--include-secrets")
    assert second == first, "an export imports back unchanged"
    # The imported realm works: the password (exported as a Keycloak argon2 credential) and the secret.
    r = s2.token("demo", auth=("web", "web-secret"), grant_type="password", username="alice", password="alice-password")
    assert r.status_code == 200, r.text
    assert s2.token("demo", auth=("svc", "svc-secret"), grant_type="client_credentials").status_code == 200


def test_cli_manages_roles_composites_groups_and_memberships(fresh_server, tmp_path):
    from conftest import decode_jwt
    s = fresh_server(env=ADMIN).start()
    realm = write_realm(tmp_path, {"realm": "shop", "clients": [
        {"clientId": "web", "secret": "s3cret", "directAccessGrantsEnabled": True},
        {"clientId": "api", "secret": "api-secret"}]})
    cli(s, "realm", "create", "--file", str(realm))
    cli(s, "user", "create", "--realm", "shop", "--username", "erin", "--password", "pw")
    cli(s, "role", "create", "--realm", "shop", "editor", "--description", "edits")
    cli(s, "role", "create", "--realm", "shop", "viewer")
    cli(s, "role", "create", "--realm", "shop", "--client", "api", "write")
    cli(s, "role", "include", "--realm", "shop", "editor", "viewer")
    roles = json.loads(cli(s, "role", "list", "--realm", "shop", "--output", "json").stdout)
    assert {r["name"]: r["composite"] for r in roles if r["name"] in ("editor", "viewer")} == {"editor": True, "viewer": False}
    cli(s, "role", "grant", "--realm", "shop", "erin", "editor")
    cli(s, "group", "create", "--realm", "shop", "staff")
    cli(s, "group", "create", "--realm", "shop", "eng", "--parent", "/staff")
    cli(s, "group", "grant", "--realm", "shop", "--client", "api", "/staff", "write")
    cli(s, "group", "join", "--realm", "shop", "erin", "/staff/eng")
    assert "/staff/eng" in cli(s, "group", "list", "--realm", "shop", "--output", "json").stdout

    def token():
        r = requests.post(s.oidc("shop") + "/token", data={"grant_type": "password", "username": "erin", "password": "pw"},
                          auth=("web", "s3cret"), timeout=10)
        assert r.status_code == 200, r.text
        return decode_jwt(r.json()["access_token"])

    at = token()
    assert {"editor", "viewer"} <= set(at["realm_access"]["roles"])
    assert at["resource_access"]["api"]["roles"] == ["write"], "a parent group's client role"
    cli(s, "role", "revoke", "--realm", "shop", "erin", "editor")
    cli(s, "group", "leave", "--realm", "shop", "erin", "/staff/eng")
    at = token()
    assert "editor" not in at["realm_access"]["roles"] and "api" not in at.get("resource_access", {})
    p = cli(s, "role", "grant", "--realm", "shop", "erin", "ghost", check=False)
    assert p.returncode != 0 and "ghost" in p.stderr


def test_cli_manages_client_scopes_and_mappers(fresh_server, tmp_path):
    from conftest import decode_jwt
    s = fresh_server(env=ADMIN).start()
    realm = write_realm(tmp_path, {"realm": "shop", "clients": [
        {"clientId": "web", "secret": "s3cret", "directAccessGrantsEnabled": True}]})
    cli(s, "realm", "create", "--file", str(realm))
    cli(s, "user", "create", "--realm", "shop", "--username", "erin", "--password", "pw")
    cli(s, "scope", "create", "--realm", "shop", "billing", "--description", "the billing API")
    assert "billing" in cli(s, "scope", "list", "--realm", "shop").stdout
    cli(s, "mapper", "add", "--realm", "shop", "--scope", "billing", "billing-audience", "--type", "oidc-audience-mapper",
        "--config", "included.custom.audience=billing-api", "--config", "access.token.claim=true")
    cli(s, "mapper", "add", "--realm", "shop", "--client", "web", "dept", "--type", "oidc-hardcoded-claim-mapper",
        "--config", "claim.name=org.dept", "--config", "claim.value=sales", "--config", "jsonType.label=String",
        "--config", "access.token.claim=true")
    cli(s, "scope", "attach", "--realm", "shop", "--client", "web", "billing", "--optional")
    of = json.loads(cli(s, "scope", "of", "--realm", "shop", "web", "--output", "json").stdout)
    assert {"name": "billing", "type": "optional"} in of and {"name": "profile", "type": "default"} in of

    def token(**extra):
        r = requests.post(s.oidc("shop") + "/token", data={"grant_type": "password", "username": "erin", "password": "pw", **extra},
                          auth=("web", "s3cret"), timeout=10)
        assert r.status_code == 200, r.text
        return decode_jwt(r.json()["access_token"])

    at = token()
    assert at["org"] == {"dept": "sales"}, "the client's hardcoded-claim mapper, nested claim name"
    assert "billing-api" not in at.get("aud", []) and "billing" not in at["scope"].split()
    at = token(scope="openid billing")
    aud = at["aud"] if isinstance(at["aud"], list) else [at["aud"]]
    assert "billing-api" in aud and "billing" in at["scope"].split(), "the optional scope's audience mapper"
    names = [m["name"] for m in json.loads(cli(s, "mapper", "list", "--realm", "shop", "--scope", "billing", "--output", "json").stdout)]
    assert names == ["billing-audience"]

    cli(s, "mapper", "delete", "--realm", "shop", "--client", "web", "dept")
    assert "org" not in token()
    cli(s, "scope", "detach", "--realm", "shop", "--client", "web", "billing")
    of = json.loads(cli(s, "scope", "of", "--realm", "shop", "web", "--output", "json").stdout)
    assert "billing" not in [o["name"] for o in of]
    p = cli(s, "scope", "detach", "--realm", "shop", "--client", "web", "billing", check=False)
    assert p.returncode != 0 and "not a default or optional scope of client web" in p.stderr
    cli(s, "scope", "attach", "--realm", "shop", "billing")
    defaults = requests.get(s.base + "/admin/realms/shop/default-default-client-scopes",
                            headers={"Authorization": "Bearer " + admin_token(s)}, timeout=10).json()
    assert "billing" in [d["name"] for d in defaults], "without --client: the realm's default scopes"
    cli(s, "scope", "delete", "--realm", "shop", "billing")
    assert "billing" not in cli(s, "scope", "list", "--realm", "shop").stdout
    p = cli(s, "scope", "attach", "--realm", "shop", "--client", "web", "ghost", check=False)
    assert p.returncode != 0 and "no client scope named 'ghost'" in p.stderr
    p = cli(s, "mapper", "add", "--realm", "shop", "--client", "web", "x", "--type", "oidc-hardcoded-claim-mapper",
            "--config", "claim.name", check=False)
    assert p.returncode != 0 and "not KEY=VALUE" in p.stderr
    p = cli(s, "mapper", "list", "--realm", "shop", check=False)
    assert p.returncode != 0 and "--scope" in p.stderr, "a mapper's owner is required"


def admin_token(s):
    r = requests.post(s.oidc("master") + "/token", data={"grant_type": "password", "client_id": "admin-cli",
                      "username": ADMIN["LATCHKEY_ADMIN_USERNAME"], "password": ADMIN["LATCHKEY_ADMIN_PASSWORD"]}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]
