"""Issue 20, defect 5: input the probe found accepted that must not be."""
import json

import pytest
import requests

from test_admin_api import ADMIN_ENV, api, assert_error, master_token


@pytest.fixture
def srv(fresh_server):
    return fresh_server(env=ADMIN_ENV).start()


@pytest.mark.parametrize("name", [".", "..", "..."])
def test_realm_names_of_dots_alone_are_refused(srv, name):
    t = master_token(srv)
    assert_error(api(srv, "POST", "/admin/realms", t, {"realm": name, "enabled": True}), 400, "not a valid realm name")
    assert requests.get(f"{srv.base}/realms/{name}/.well-known/openid-configuration", timeout=10).status_code == 404


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"])
def test_admin_bodies_not_declared_json_are_415(srv, content_type):
    t = master_token(srv)
    headers = {"Authorization": f"Bearer {t}"}
    if content_type:
        headers["Content-Type"] = content_type
    body = json.dumps({"username": "plain", "enabled": True})
    r = requests.post(srv.base + "/admin/realms/demo/users", data=body, headers=headers, timeout=10)
    assert_error(r, 415, "application/json")
    assert api(srv, "GET", "/admin/realms/demo/users?username=plain&exact=true", t).json() == [], "nothing created"
    # Declared JSON, with a charset or as a +json type: accepted.
    for ct in ("application/json; charset=utf-8", "application/vnd.api+json"):
        r = requests.post(srv.base + "/admin/realms/demo/users", data=json.dumps({"username": f"u{len(ct)}"}),
                          headers={**headers, "Content-Type": ct}, timeout=10)
        assert r.status_code == 201, (ct, r.text)
