"""The README's commands, run as written, so that the README and the code cannot drift apart.

- The run command of "The two commands" is run exactly as the README gives it (with the address
  and store set through the environment), and the server it starts is checked.
- The shell blocks of "Quick start" and "Walk-through" are run in one bash session against a
  server started by their own `latchkey serve` line; each `# → ` line is what the command above
  it must print: JSON is compared as JSON, text exactly, and a `…` in the text stands for
  anything (the pieces around it must appear in order).
"""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, STORE, free_port

README = (ROOT / "README.md").read_text()

once = pytest.mark.skipif(STORE != "sqlite", reason="the README's commands run once, in the SQLite pass")


def section(title):
    start = README.index(f"\n## {title}")
    end = README.find("\n## ", start + 4)
    return README[start : end if end != -1 else len(README)]


def shell_blocks(title):
    return re.findall(r"```sh\n(.*?)```", section(title), re.S)


def clean_env(tmp_path, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env.update(
        LATCHKEY_LISTEN=f"127.0.0.1:{port}",
        LATCHKEY_DB=f"sqlite://{tmp_path}/readme.db",
        LATCHKEY_LOG="info",
        PATH=f"{Path(BIN).resolve().parent}:{env.get('PATH', '')}",
    )
    return env


def wait_ready(proc, port, log, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError("not ready in time:\n" + log.read_text())


def stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@once
def test_the_run_command_starts_latchkey_with_realm_master(tmp_path):
    lines = [l.strip() for l in section("The two commands").splitlines()]
    run = next(l for l in lines if l.startswith("cargo run"))
    port = free_port()
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(run, shell=True, cwd=ROOT, env=clean_env(tmp_path, port),
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # The test command builds the release binary first; a stale one is rebuilt here.
        wait_ready(proc, port, log, timeout=900)
        disc = requests.get(f"http://127.0.0.1:{port}/realms/master/.well-known/openid-configuration", timeout=5)
        assert disc.status_code == 200, "a fresh store has realm master"
        r = requests.post(f"http://127.0.0.1:{port}/realms/master/protocol/openid-connect/token",
                          data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "x"}, timeout=5)
        assert r.status_code == 401 and r.json()["error"] == "invalid_grant", "admin-cli exists; there is no admin yet"
        assert "realm 'master' has no admin user" in log.read_text(), "the log says how to create the first admin"
    finally:
        stop(proc)


def expectation_matches(expected, actual):
    expected, actual = expected.strip(), actual.strip()
    try:
        return json.loads(expected) == json.loads(actual)
    except ValueError:
        pass
    pieces = [p.strip() for p in expected.split("…")]
    pos = 0
    for i, p in enumerate(pieces):
        found = actual.find(p, pos)
        if found < 0 or (i == 0 and found != 0 and p):
            return False
        pos = found + len(p)
    return pieces[-1] == "" or actual.endswith(pieces[-1])


@once
def test_quick_start_and_walkthrough_run_as_written(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, port)
    code = "\n".join(shell_blocks("Quick start") + shell_blocks("Walk-through"))
    code = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    script, expectations, server_line = ["set -eu"], [], None
    lines = code.splitlines()
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith("#"):
            if line.startswith("# → "):
                expectations[-1][1].append(line[len("# → "):])
            continue
        if line.startswith("cargo install"):
            continue  # the binary under test is on PATH instead
        if line.startswith("latchkey serve"):
            server_line = line
            continue
        n = len(expectations)
        if i + 1 < len(lines) and lines[i + 1].startswith("# → "):
            script.append(f"{{ {line} ; }} > {tmp_path}/out{n} 2>&1")
            expectations.append((line, []))
        else:
            script.append(line)
    assert server_line, "the quick start starts the server"
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(server_line, shell=True, cwd=ROOT, env=env, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_ready(server, port, log, timeout=30)
        (tmp_path / "readme.sh").write_text("\n".join(script) + "\n")
        done = subprocess.run(["bash", str(tmp_path / "readme.sh")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"the README's commands failed:\n{done.stdout}\n{done.stderr}"
        assert len(expectations) >= 8
        for n, (command, expected) in enumerate(expectations):
            actual = (tmp_path / f"out{n}").read_text()
            assert expectation_matches("\n".join(expected), actual), (
                f"README: `{command}`\nprints:   {actual.strip()}\nREADME says: {' '.join(expected)}")
    finally:
        stop(server)


def test_expectations_are_checked_strictly():
    assert expectation_matches('{"a": 1}', '{"a":1}\n')
    assert not expectation_matches('{"a": 1}', '{"a":2}')
    assert expectation_matches("VERDICT: VALID now (…).", "VERDICT: VALID now (2026-12-06T10:00:00Z).")
    assert not expectation_matches("VERDICT: VALID now (…).", "VERDICT: NOT VALID — x")
    assert not expectation_matches("the same successor", "")
