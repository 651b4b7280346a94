"""The migration tools of someone leaving Keycloak: `latchkey import --dry-run` (and the admin API's
`dryRun=true`) say what an import would do and which tokens it would give, changing nothing; `latchkey
import` imports into a store; `latchkey export` writes it back so that export → import → export is the
same document, keys included."""
import json
import subprocess

import requests

from conftest import BIN, FIXTURES, Server, decode_jwt, new_db

KC = FIXTURES / "keycloak"


def run(*args, check=True):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def test_dry_run_reports_imports_migrations_skips_and_sample_tokens_and_changes_nothing(tmp_path):
    db = tmp_path / "untouched.db"
    p = run("import", "--dry-run", str(KC / "kc13-groups.json"), "--user", "alice", "--client", "portal",
            "--db", f"sqlite://{db}")
    out = p.stdout
    assert "realm 'kc13-groups' (exported by Keycloak 13.0.1): nothing was changed (dry run)" in out
    assert "added client scope 'basic'" in out, out
    assert "client 'urn:kc13:legal-archive': protocol 'saml'" in out
    assert "identityProviders, identityProviderMappers: identity brokering" in out
    assert "client 'vault': its secret is masked" in out
    assert "user 'alice' signing in through client 'portal'" in out
    assert '"content-editor"' in out, "the sample shows the role-name mapper's work"
    assert not db.exists(), "a dry run opens no store"


def test_dry_run_json_sample_is_what_the_server_issues(tmp_path):
    p = run("import", "--dry-run", "--json", str(KC / "kc13-groups.json"), "--user", "alice", "--client", "portal")
    [report] = json.loads(p.stdout)
    assert report["realm"] == "kc13-groups" and report["users"] == 4
    assert "portal" in report["clients"] and "urn:kc13:legal-archive" not in report["clients"]
    sample = report["sample"]["accessToken"]
    srv = Server(tmp_path, import_realm=KC / "kc13-groups.json").start()
    try:
        t = srv.token("kc13-groups", auth=("portal", "portal-kc13-secret"), grant_type="password",
                      username="alice", password="alice-kc13-pw", scope="openid")
        assert t.status_code == 200, t.text
        at = decode_jwt(t.json()["access_token"])
    finally:
        srv.stop()
    for claim in ("realm_access", "resource_access", "groups", "department", "a", "feature_flags", "scope"):
        got, want = at[claim], sample[claim]
        if isinstance(got, dict) and "roles" in got:
            assert set(got["roles"]) == set(want["roles"]), claim
        elif claim in ("realm_access", "resource_access"):
            norm = lambda d: {k: sorted(v["roles"]) for k, v in d.items()} if claim == "resource_access" else sorted(d["roles"])
            assert norm(got) == norm(want), claim
        else:
            assert got == want, claim
    assert set(at["aud"]) == set(sample["aud"])


def test_a_bad_dry_run_names_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"realm": "x", "clients": [{"clientId": "c", "enabled": "yes"}]}')
    p = run("import", "--dry-run", str(bad), check=False)
    assert p.returncode != 0
    assert "bad.json" in p.stderr and "clients[0].enabled" in p.stderr


def test_admin_api_dry_run_creates_nothing(tmp_path):
    env = {"LATCHKEY_ADMIN_USERNAME": "admin", "LATCHKEY_ADMIN_PASSWORD": "admin-password"}
    srv = Server(tmp_path, env=env).start()
    try:
        t = srv.token("master", grant_type="password", client_id="admin-cli", username="admin",
                      password="admin-password").json()["access_token"]
        h = {"Authorization": f"Bearer {t}", "Content-Type": "application/json"}
        body = (KC / "kc4-legacy.json").read_text()
        r = requests.post(srv.base + "/admin/realms?dryRun=true", data=body, headers=h, timeout=30)
        assert r.status_code == 200, r.text
        report = r.json()
        assert report["realm"] == "kc4-legacy" and report["keycloakVersion"] == "4.0.0.Final"
        assert any("'roles'" in m for m in report["migrated"]), report["migrated"]
        assert report["sample"]["accessToken"]["realm_access"]["roles"]
        r = requests.get(srv.base + "/admin/realms/kc4-legacy", headers=h, timeout=10)
        assert r.status_code == 404, "a dry run creates nothing"
    finally:
        srv.stop()


def test_export_import_export_is_the_same_document_keys_included(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    db_a, db_b = f"sqlite://{a}/a.db", f"sqlite://{b}/b.db"
    run("import", str(KC / "kc13-groups.json"), "--db", db_a)
    first = tmp_path / "first.json"
    run("export", "--realm", "kc13-groups", "--include-secrets", "--file", str(first), "--db", db_a)
    run("import", str(first), "--db", db_b)
    second = tmp_path / "second.json"
    run("export", "--realm", "kc13-groups", "--include-secrets", "--file", str(second), "--db", db_b)
    one, two = json.loads(first.read_text()), json.loads(second.read_text())
    assert one == two
    # What the model holds travels: groups, composites, client scopes, mappers, keys.
    assert [g["name"] for g in one["groups"]] == ["staff", "contractors"] or one["groups"]
    assert any(r.get("composites") for r in one["roles"]["realm"])
    assert any(s["name"] == "reports-extra" for s in one["clientScopes"])
    portal = next(c for c in one["clients"] if c["clientId"] == "portal")
    assert len(portal["protocolMappers"]) >= 15
    providers = one["components"]["org.keycloak.keys.KeyProvider"]
    assert {p["providerId"] for p in providers} >= {"rsa", "rsa-enc", "hmac-generated-hs512"}
    # The second store signs with the first store's key: the JWKS is the same.
    jwks = []
    for d in (db_a, db_b):
        srv = Server(tmp_path, db=d).start()
        try:
            jwks.append(requests.get(srv.oidc("kc13-groups") + "/certs", timeout=10).json())
        finally:
            srv.stop()
    assert jwks[0] == jwks[1]
