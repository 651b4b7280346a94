"""`--config-file` (issue 22): a TOML file of `serve`'s settings by their long flag names, below the
environment, which is below the flags (Keycloak's keycloak.conf precedence); `latchkey config show`.
"""
import os
import subprocess
import time

import requests

from conftest import BIN, FIXTURES, free_port


def env_without_latchkey(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LATCHKEY_")}
    env.update(extra)
    return env


def ready_on(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        try:
            if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return False


def write_config(tmp_path, port, mgmt):
    f = tmp_path / "latchkey.toml"
    f.write_text(f'''
listen = "127.0.0.1:{port}"
management-listen = "127.0.0.1:{mgmt}"
db = "sqlite://{tmp_path}/conf.db"
import-realm = "{FIXTURES / 'demo-realm.json'}"
purge-interval = 0
bootstrap-admin-username = "admin"
bootstrap-admin-password = "file-secret-pw"
''')
    return f


def test_flags_win_over_the_environment_which_wins_over_the_file(tmp_path):
    file_port, env_port, flag_port, mgmt = free_port(), free_port(), free_port(), free_port()
    conf = write_config(tmp_path, file_port, mgmt)
    runs = [
        ([], {}, file_port),
        ([], {"LATCHKEY_LISTEN": f"127.0.0.1:{env_port}"}, env_port),
        (["--listen", f"127.0.0.1:{flag_port}"], {"LATCHKEY_LISTEN": f"127.0.0.1:{env_port}"}, flag_port),
    ]
    for flags, env, port in runs:
        proc = subprocess.Popen([BIN, "--config-file", str(conf), "serve", *flags], env=env_without_latchkey(**env),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            assert ready_on(port, proc), (flags, env)
            # The file's other settings hold: its management port and its realm.
            assert requests.get(f"http://127.0.0.1:{mgmt}/metrics", timeout=5).status_code == 200
            assert requests.get(f"http://127.0.0.1:{port}/realms/demo", timeout=5).status_code == 200
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    # The environment variable names the file too.
    proc = subprocess.Popen([BIN, "serve"], env=env_without_latchkey(LATCHKEY_CONFIG_FILE=str(conf)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert ready_on(file_port, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_config_show_prints_values_and_sources_with_secrets_masked(tmp_path):
    conf = write_config(tmp_path, 8181, 9191)
    out = subprocess.run([BIN, "--config-file", str(conf), "config", "show"], capture_output=True, text=True,
                         timeout=30, env=env_without_latchkey(LATCHKEY_PURGE_INTERVAL="45"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert 'listen = "127.0.0.1:8181"  # file' in lines
    assert 'purge-interval = "45"  # env LATCHKEY_PURGE_INTERVAL' in lines
    assert 'log-format = "text"  # default' in lines
    assert 'bootstrap-admin-password = "********"  # file' in lines
    assert "file-secret-pw" not in out.stdout


def test_a_bad_config_file_is_refused_naming_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    for text, says in [('lisen = "x"', "'lisen' is not a setting"), ('listen = ', "bad.toml"),
                       ('[serve]\nlisten = "x"', "'serve'")]:
        bad.write_text(text)
        out = subprocess.run([BIN, "--config-file", str(bad), "serve"], capture_output=True, text=True,
                             timeout=30, env=env_without_latchkey())
        assert out.returncode != 0 and says in out.stderr, out.stderr
    out = subprocess.run([BIN, "--config-file", str(tmp_path / "missing.toml"), "serve"], capture_output=True,
                         text=True, timeout=30, env=env_without_latchkey())
    assert out.returncode != 0 and "missing.toml" in out.stderr
