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

from conftest import BIN, ROOT, free_port

README = (ROOT / "README.md").read_text()

# Store-agnostic: the test command runs them in its SQLite pass only (-m "not once_per_suite").
once = pytest.mark.once_per_suite


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
        # The README's server on its default management port would collide with the other
        # servers of a parallel test run: any free port.
        LATCHKEY_MANAGEMENT_LISTEN="127.0.0.1:0",
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
    # The test command builds in its own profile (the release profile without link-time
    # optimisation, the same code); the run command is run in it rather than building twice.
    profile = os.environ.get("LATCHKEY_CARGO_PROFILE")
    if profile:
        assert " --release " in run, run
        run = run.replace(" --release ", f" --profile {profile} ")
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


def run_as_written(tmp_path, code, servers, env, ports=None):
    """Runs shell `code` in one bash session: lines starting with one of `servers` are started
    in the background first (waiting for each to answer), `cargo install` lines are skipped
    (the binary under test is on PATH), and each `# → ` expectation is checked."""
    for old, new in (ports or {}).items():
        code = re.sub(rf"\b{old}\b", str(new), code)
    script, expectations, started = ["set -eu"], [], []
    lines = code.splitlines()
    try:
        for i, line in enumerate(lines):
            if not line.strip() or line.startswith("#"):
                if line.startswith("# → "):
                    expectations[-1][1].append(line[len("# → "):])
                continue
            if line.startswith("cargo install"):
                continue
            ready = next((url for prefix, url in servers.items() if line.startswith(prefix)), None)
            if ready:
                log = tmp_path / f"server{len(started)}.log"
                with open(log, "wb") as out:
                    proc = subprocess.Popen(line, shell=True, cwd=ROOT, env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
                started.append(proc)
                wait_url(proc, ready, log)
                continue
            n = len(expectations)
            if i + 1 < len(lines) and lines[i + 1].startswith("# → "):
                script.append(f"{{ {line} ; }} > {tmp_path}/out{n} 2>&1")
                expectations.append((line, []))
            else:
                script.append(line)
        assert len(started) == len(servers), f"every server is started: {list(servers)}"
        (tmp_path / "walk.sh").write_text("\n".join(script) + "\n")
        done = subprocess.run(["bash", str(tmp_path / "walk.sh")], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"the commands failed:\n{done.stdout}\n{done.stderr}"
        for n, (command, expected) in enumerate(expectations):
            actual = (tmp_path / f"out{n}").read_text()
            assert expectation_matches("\n".join(expected), actual), (
                f"`{command}`\nprints:   {actual.strip()}\nthe page says: {' '.join(expected)}")
        return len(expectations)
    finally:
        for proc in started:
            stop(proc)


def wait_url(proc, url, log, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("did not answer in time:\n" + log.read_text())


@once
def test_quick_start_and_walkthrough_run_as_written(tmp_path):
    port = free_port()
    env = clean_env(tmp_path, port)
    code = "\n".join(shell_blocks("Quick start") + shell_blocks("Walk-through"))
    code = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    checked = run_as_written(tmp_path, code, {"latchkey serve": f"http://127.0.0.1:{port}/health/ready"}, env)
    assert checked >= 8


@once
def test_the_gateway_example_runs_as_written(tmp_path):
    """examples/gateway/README.md: three servers, the seed how-to's requests and what they print."""
    page = (ROOT / "examples" / "gateway" / "README.md").read_text()
    code = "\n".join(re.findall(r"```sh\n(.*?)```", page, re.S))
    ports = {8080: free_port(), 9000: free_port(), 8000: free_port(), 8100: free_port()}
    config = (ROOT / "examples" / "gateway" / "kong.yml").read_text()
    for old, new in ports.items():
        config = re.sub(rf"\b{old}\b", str(new), config)
    (tmp_path / "kong.yml").write_text(config)
    code = code.replace("--config examples/gateway/kong.yml", f"--config {tmp_path}/kong.yml")
    env = clean_env(tmp_path, ports[8080])
    env.update(LATCHKEY_GATEWAY_LISTEN=f"127.0.0.1:{ports[8000]}", LATCHKEY_GATEWAY_STATUS_LISTEN=f"127.0.0.1:{ports[8100]}")
    servers = {
        "latchkey serve": f"http://127.0.0.1:{ports[8080]}/health/ready",
        "python3 tests/upstream.py": f"http://127.0.0.1:{ports[9000]}/",
        "GATEWAY_CLIENT_SECRET=": f"http://127.0.0.1:{ports[8100]}/health/ready",
    }
    assert run_as_written(tmp_path, code, servers, env, ports) >= 5


def test_expectations_are_checked_strictly():
    assert expectation_matches('{"a": 1}', '{"a":1}\n')
    assert not expectation_matches('{"a": 1}', '{"a":2}')
    assert expectation_matches("VERDICT: VALID now (…).", "VERDICT: VALID now (2026-12-06T10:00:00Z).")
    assert not expectation_matches("VERDICT: VALID now (…).", "VERDICT: NOT VALID — x")
    assert not expectation_matches("the same successor", "")
