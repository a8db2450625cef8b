"""Fixtures for the deployment tests (container build steps, Helm chart, Kubernetes example,
Debian package, dashboard and alert rules).

- `sluice_bin`: a Release `sluice` from SLUICE_DEPLOY_BUILD_DIR (tests/deploy/run.sh builds it;
  the same configuration as the container image and the Debian package).
- `helm`: the helm binary from SLUICE_HELM (tests/deploy/run.sh installs it as a Go module).
- `running_sluice`: starts the binary on free loopback ports and stops it afterwards.
"""
import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path(os.environ.get("SLUICE_CACHE", ROOT / ".cache"))


@pytest.fixture(scope="session")
def build_dir() -> pathlib.Path:
    d = pathlib.Path(os.environ.get("SLUICE_DEPLOY_BUILD_DIR", CACHE / "build-release"))
    if not (d / "proxy" / "sluice").exists():
        pytest.fail(f"no Release build in {d}: run tests/deploy/run.sh (or set SLUICE_DEPLOY_BUILD_DIR)")
    return d


@pytest.fixture(scope="session")
def sluice_bin(build_dir) -> pathlib.Path:
    return build_dir / "proxy" / "sluice"


@pytest.fixture(scope="session")
def helm() -> str:
    h = os.environ.get("SLUICE_HELM", str(CACHE / "bin" / "helm"))
    if not os.access(h, os.X_OK):
        pytest.fail(f"helm not found at {h}: run tests/deploy/run.sh (installs it into $SLUICE_CACHE/bin)")
    return h


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout=2.0):
    """(status, body) of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError, socket.timeout):
        return 0, ""


def wait_http(url: str, proc: subprocess.Popen, want=200, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        status, _ = http_get(url, timeout=1.0)
        if status == want:
            return
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer {want}")


def stop(proc: subprocess.Popen, timeout=15.0) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@contextlib.contextmanager
def running_sluice(argv, env=None, cwd=None, admin_port=None, user=None):
    """Runs argv (a sluice command line) until the block ends; yields (proc, admin_port).

    Without admin_port, adds --listen/--admin-listen on port 0 and --ready-file to learn them.
    With user (needs root), runs it as that unprivileged user, as the image and the unit do."""
    with tempfile.TemporaryDirectory(prefix="sluice-deploy-") as tmp:
        if user:
            os.chmod(tmp, 0o777)
            argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
        log = open(pathlib.Path(tmp) / "log", "w+")
        argv = list(argv)
        ready = pathlib.Path(tmp) / "ready.json"
        if admin_port is None:
            argv += ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--ready-file", str(ready)]
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "SLUICE_EVENTS_PATH": str(pathlib.Path(tmp) / "events.jsonl")}
        full_env.update(env or {})
        proc = subprocess.Popen(argv, env=full_env, cwd=cwd or tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            if admin_port is None:
                deadline = time.monotonic() + 15
                while not (ready.exists() and ready.stat().st_size):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError(f"sluice did not start: {log.read()[-2000:]}")
                    time.sleep(0.02)
                admin_port = json.loads(ready.read_text())["admin_port"]
            wait_http(f"http://127.0.0.1:{admin_port}/healthz", proc)
            yield proc, admin_port
        finally:
            stop(proc)
            log.close()
