"""The Debian package (cmake/packaging.cmake, CPack): build it from the Release tree, install it
with apt on this machine, check the unit with systemd-analyze, run the unit's commands directly
(these machines do not run systemd as PID 1) as an unprivileged user, probe /healthz and /readyz,
stop it with SIGTERM, then purge the package. Needs root (CI runs as root)."""
import configparser
import os
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest

from conftest import free_port, http_get, running_sluice, stop

UNIT = pathlib.Path("/usr/lib/systemd/system/sluice.service")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs a Debian package: needs root")
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def run(*argv, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def deb(build_dir, sluice_bin, tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    r = run("cpack", "-G", "DEB", "-B", out, cwd=build_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    version = run(sluice_bin, "--version").stdout.split()[1]
    debs = list(out.glob("*.deb"))
    assert [d.name for d in debs] == [f"sluice_{version}_amd64.deb"]
    return debs[0]


@pytest.fixture(scope="module")
def installed(deb):
    r = run("apt-get", "install", "-y", "-q", "--no-install-recommends", deb, env=APT_ENV)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        yield deb
    finally:
        p = run("apt-get", "purge", "-y", "-q", "sluice", env=APT_ENV)
        assert p.returncode == 0, p.stdout + p.stderr
        assert not pathlib.Path("/usr/bin/sluice").exists()
        assert not pathlib.Path("/etc/sluice/sluice.yaml").exists()


def unit_service():
    # systemd allows repeated keys (SystemCallFilter=...): keep the last, ExecStart is single.
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    cp.read_string(UNIT.read_text())
    return cp["Service"]


def test_package_metadata(deb):
    info = run("dpkg-deb", "--info", deb).stdout
    depends = re.search(r"^ Depends: (.*)$", info, re.M).group(1)
    for lib in ("libssl3", "libyaml-cpp0.7", "libsimdjson14", "ca-certificates"):
        assert lib in depends, depends
    files = run("dpkg-deb", "--contents", deb).stdout
    for path in ("./usr/bin/sluice", "./etc/sluice/sluice.yaml", "./usr/lib/systemd/system/sluice.service",
                 "./usr/share/doc/sluice/README.md", "./usr/share/doc/sluice/configuration.md"):
        assert path in files, path
    # dpkg keeps an administrator's edits of a conffile on upgrade.
    conffiles = subprocess.run(f"dpkg-deb --ctrl-tarfile {shlex.quote(str(deb))} | tar -xO ./conffiles",
                               shell=True, capture_output=True, text=True)
    assert conffiles.stdout.split() == ["/etc/sluice/sluice.yaml"], conffiles.stderr


def test_installs_with_apt_and_files_are_in_place(installed):
    assert run("dpkg-query", "-W", "-f=${Status}", "sluice").stdout == "install ok installed"
    assert run("/usr/bin/sluice", "--version").returncode == 0
    assert UNIT.exists()
    assert run("dpkg", "-L", "sluice").stdout.count("/usr/share/doc/sluice/") >= 3


def test_unit_passes_systemd_analyze_verify(installed):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed")
    r = run("systemd-analyze", "verify", UNIT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sluice.service" not in r.stderr, r.stderr


def test_unit_is_hardened(installed):
    s = unit_service()
    assert s["DynamicUser"] == "yes" and s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["ProtectHome"] == "yes"
    assert s["CapabilityBoundingSet"] == "" and s["StateDirectory"] == "sluice"
    # The stop timeout covers the default drain (30 s) plus the sink flush (5 s).
    assert int(s["TimeoutStopSec"]) >= 35
    if shutil.which("systemd-analyze"):
        r = run("systemd-analyze", "security", "--offline=true", UNIT)
        m = re.search(r"Overall exposure level for sluice.service: ([0-9.]+)", r.stdout)
        assert m, r.stdout[-500:] + r.stderr
        assert float(m.group(1)) <= 2.0, r.stdout


def test_unit_commands_start_serve_and_stop(installed, tmp_path):
    s = unit_service()
    env = dict(kv.split("=", 1) for kv in shlex.split(s["Environment"]))
    pre = shlex.split(s["ExecStartPre"])
    r = run(*pre, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    argv = shlex.split(s["ExecStart"])
    assert argv[0] == "/usr/bin/sluice"
    # The unit's command with its environment, as an unprivileged user like DynamicUser; the
    # state directory and the ports are stand-ins for /var/lib/sluice and 8080/9090.
    api, admin = free_port(), free_port()
    env.pop("SLUICE_EVENTS_PATH")
    env.update(SLUICE_LISTEN=f"127.0.0.1:{api}", SLUICE_ADMIN_LISTEN=f"127.0.0.1:{admin}")
    with running_sluice(argv, env=env, admin_port=admin, user="65534") as (proc, port):
        assert http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        assert http_get(f"http://127.0.0.1:{port}/readyz") == (200, "ready\n")
        assert http_get(f"http://127.0.0.1:{port}/metrics")[0] == 200
        assert stop(proc, timeout=int(s["TimeoutStopSec"])) == 0
