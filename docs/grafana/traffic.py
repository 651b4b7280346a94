#!/usr/bin/env python3
"""Mixed OIDC traffic against a local latchkey, for filling the dashboard with something to show.

Plays the demo realm (tests/fixtures/demo-realm.json) the way a handful of clients would:
password sign-ins (some with a wrong password or an unknown user), refresh chains, a replay of
the token just rotated, the reuse of an older token (which revokes the whole login), refreshes
after logout, userinfo, introspection, client credentials, discovery and a few 404s.

Loopback only, bounded in time; standard library only.

    python3 docs/grafana/traffic.py --base http://127.0.0.1:18080 --seconds 240
"""

import argparse
import json
import random
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from urllib.parse import urlsplit


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", default="http://127.0.0.1:18080")
    p.add_argument("--realm", default="demo")
    p.add_argument("--seconds", type=float, default=240.0)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    host = urlsplit(a.base).hostname or ""
    if not (host == "localhost" or host == "::1" or host.startswith("127.")):
        sys.exit(f"refusing to send traffic to {host!r}: loopback addresses only")
    return a


class Client:
    def __init__(self, base, realm, rng, tally):
        self.base = base.rstrip("/")
        self.oidc = f"{self.base}/realms/{realm}/protocol/openid-connect"
        self.realm = realm
        self.rng = rng
        self.tally = tally

    def call(self, method, url, form=None, headers=None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        except (urllib.error.URLError, OSError):
            status, body = 0, b""
        self.tally[status // 100 * 100 if status else 0] += 1
        try:
            return status, json.loads(body or b"null")
        except ValueError:
            return status, None

    def token(self, **form):
        return self.call("POST", f"{self.oidc}/token", form)

    def login(self, password="alice-password", username="alice"):
        return self.token(
            grant_type="password", client_id="spa", username=username, password=password
        )

    def refresh(self, rt):
        return self.token(grant_type="refresh_token", client_id="spa", refresh_token=rt)

    def pause(self, lo=0.05, hi=0.4):
        time.sleep(self.rng.uniform(lo, hi))

    # One signed-in user of the SPA: sign in, read userinfo, refresh a few times, maybe
    # misbehave, maybe log out.
    def session(self):
        s, body = self.login()
        if s != 200:
            return
        at, rt = body["access_token"], body["refresh_token"]
        chain = [rt]
        self.call("GET", f"{self.oidc}/userinfo", headers={"Authorization": f"Bearer {at}"})
        if self.rng.random() < 0.3:
            self.call(
                "POST",
                f"{self.oidc}/token/introspect",
                {"client_id": "web", "client_secret": "web-secret", "token": at},
            )
        for _ in range(self.rng.randint(2, 6)):
            self.pause()
            s, body = self.refresh(chain[-1])
            if s != 200:
                return
            chain.append(body["refresh_token"])
            r = self.rng.random()
            if r < 0.12:
                # Two tabs racing: the token just rotated, presented again at once.
                self.refresh(chain[-2])
            elif r < 0.17 and len(chain) >= 3:
                # A stolen or stale copy: an older token comes back, the login is revoked and
                # the next refresh of the real client is refused.
                self.pause(0.1, 0.3)
                self.refresh(chain[-3])
                self.pause()
                self.refresh(chain[-1])
                return
        r = self.rng.random()
        if r < 0.5:
            self.call(
                "POST", f"{self.oidc}/logout", {"client_id": "spa", "refresh_token": chain[-1]}
            )
            if self.rng.random() < 0.3:
                self.refresh(chain[-1])  # a tab that missed the logout
        elif r < 0.6:
            self.call("POST", f"{self.oidc}/revoke", {"client_id": "spa", "token": chain[-1]})

    def one(self):
        r = self.rng.random()
        if r < 0.45:
            self.session()
        elif r < 0.58:
            self.login(password="wrong-" + str(self.rng.randint(0, 999)))
        elif r < 0.62:
            self.login(username="mallory", password="whatever")
        elif r < 0.72:
            self.token(grant_type="client_credentials", client_id="svc", client_secret="svc-secret")
        elif r < 0.75:
            self.token(grant_type="client_credentials", client_id="svc", client_secret="nope")
        elif r < 0.79:
            self.refresh("not-a-token")
        elif r < 0.90:
            self.call("GET", f"{self.base}/realms/{self.realm}/.well-known/openid-configuration")
            self.call("GET", f"{self.oidc}/certs")
        elif r < 0.95:
            self.call("GET", f"{self.base}/realms/no-such-realm/.well-known/openid-configuration")
        else:
            self.call("GET", f"{self.base}/no/such/path")


def main():
    a = parse_args()
    deadline = time.monotonic() + a.seconds
    tally = Counter()
    lock = threading.Lock()

    def worker(n):
        rng = random.Random(a.seed * 1000 + n)
        local = Counter()
        c = Client(a.base, a.realm, rng, local)
        while time.monotonic() < deadline:
            c.one()
            # Busier and quieter spells, so the graphs have some shape.
            phase = (time.monotonic() // 40) % 3
            c.pause(*((0.02, 0.2), (0.2, 0.8), (0.05, 0.4))[int(phase)])
        with lock:
            tally.update(local)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("responses by status class:", dict(sorted(tally.items())))


if __name__ == "__main__":
    main()
