"""deploy/docker/: Docker cannot run here, so these tests check the Dockerfile by reading it and
run its steps without Docker: the same Release build (tests/deploy/run.sh), the runtime-library
check the image build runs, the image's health check script and its default command."""
import fnmatch
import os
import pathlib
import re
import shlex
import subprocess

import pytest

from conftest import ROOT, free_port, http_get, running_sluice

DOCKER = ROOT / "deploy" / "docker"
CHECK = DOCKER / "check-runtime-libs.sh"
HEALTH = DOCKER / "healthcheck.sh"


def instructions():
    """[(stage_index, INSTRUCTION, args)] with line continuations joined and comments dropped."""
    out, stage, buf = [], -1, ""
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        buf += line.rstrip("\\").strip() + " " if line.endswith("\\") else line.strip()
        if line.endswith("\\"):
            continue
        word, _, rest = buf.partition(" ")
        buf = ""
        if word.upper() == "FROM":
            stage += 1
        out.append((stage, word.upper(), rest.strip()))
    return out


def stage_args(stage, word):
    return [a for s, w, a in instructions() if s == stage and w == word]


def runtime_packages():
    text = (DOCKER / "runtime-packages.txt").read_text()
    return [l.split("#")[0].strip() for l in text.splitlines() if l.split("#")[0].strip()]


def image_env():
    env = {}
    for a in stage_args(1, "ENV"):
        for part in shlex.split(a):
            k, _, v = part.partition("=")
            env[k] = v
    return env


def test_two_stages_on_debian_12():
    froms = [a for _, w, a in instructions() if w == "FROM"]
    assert froms == ["debian:12 AS build", "debian:12-slim AS runtime"]


def test_build_stage_installs_what_setup_installs_and_builds_release():
    runs = " ".join(stage_args(0, "RUN"))
    assert "deploy/setup.sh --build-only" in runs
    for flag in ("-DCMAKE_BUILD_TYPE=Release", "-DSLUICE_TESTS=OFF", "-DSLUICE_BENCH=OFF", "--target sluice"):
        assert flag in runs, flag
    assert "check-runtime-libs.sh /build/proxy/sluice deploy/docker/runtime-packages.txt" in runs


def test_build_under_test_is_configured_like_the_image(build_dir):
    cache = (build_dir / "CMakeCache.txt").read_text()
    for entry in ("CMAKE_BUILD_TYPE:STRING=Release", "SLUICE_TESTS:BOOL=OFF", "SLUICE_BENCH:BOOL=OFF"):
        assert entry in cache, entry


def test_every_runtime_library_is_in_the_runtime_package_list(sluice_bin):
    r = subprocess.run([CHECK, sluice_bin, DOCKER / "runtime-packages.txt"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    needed = r.stdout.split("needs:", 1)[1].split()
    assert "libssl3" in needed and "libc6" in needed, needed


def test_library_check_names_a_missing_package(sluice_bin, tmp_path):
    short = tmp_path / "packages.txt"
    short.write_text("\n".join(p for p in runtime_packages() if p != "libssl3") + "\n")
    r = subprocess.run([CHECK, sluice_bin, short], capture_output=True, text=True)
    assert r.returncode == 1
    assert "libssl3" in r.stderr


def test_runtime_packages_are_debian_12_packages():
    # This machine is Debian 12 and setup.sh has installed the build dependencies, which pull
    # in every runtime library; dpkg knows each name exactly.
    for p in runtime_packages():
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True)
        assert "install ok installed" in r.stdout, f"{p}: not a Debian 12 package installed here"


def test_runtime_stage_runs_unprivileged_with_volumes_and_health_check():
    user = stage_args(1, "USER")
    assert user and user[-1].split(":")[0] not in ("0", "root")
    volumes = " ".join(stage_args(1, "VOLUME"))
    assert '"/etc/sluice"' in volumes and '"/var/lib/sluice"' in volumes
    health = stage_args(1, "HEALTHCHECK")
    assert len(health) == 1 and "/usr/local/bin/sluice-healthcheck" in health[0]
    copies = stage_args(1, "COPY")
    assert "deploy/docker/healthcheck.sh /usr/local/bin/sluice-healthcheck" in copies
    assert "conf/sluice.yaml /etc/sluice/sluice.yaml" in copies
    assert stage_args(1, "ENTRYPOINT") == ['["/usr/bin/sluice"]']
    assert stage_args(1, "CMD") == ['["--config", "/etc/sluice/sluice.yaml"]']
    assert "SLUICE_ADMIN_LISTEN" in image_env() and "SLUICE_LISTEN" in image_env()


def test_copied_sources_exist_and_are_not_ignored():
    ignore = [l.strip() for l in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
              if l.strip() and not l.startswith("#")]
    for stage, word, args in instructions():
        if word != "COPY" or args.startswith("--from"):
            continue
        src = args.split()[0]
        if src == ".":
            continue
        assert (ROOT / src).exists(), src
        assert not any(fnmatch.fnmatch(src, pat) or src.startswith(pat.rstrip("*") + "/") for pat in ignore), src


def test_image_default_config_is_valid_with_image_environment(sluice_bin):
    env = {"PATH": os.environ["PATH"], **image_env()}
    r = subprocess.run([sluice_bin, "check-config", ROOT / "conf" / "sluice.yaml"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the image command as an unprivileged user: needs root")
def test_image_command_serves_as_unprivileged_user_and_health_check_sees_it(sluice_bin):
    # The image's CMD with its ENV, except that the listeners bind loopback ports picked here.
    api, admin = free_port(), free_port()
    env = {**image_env(), "SLUICE_LISTEN": f"127.0.0.1:{api}", "SLUICE_ADMIN_LISTEN": f"127.0.0.1:{admin}"}
    env.pop("SLUICE_EVENTS_PATH")  # a temporary directory instead of /var/lib/sluice
    argv = [str(sluice_bin), "--config", str(ROOT / "conf" / "sluice.yaml")]
    with running_sluice(argv, env=env, admin_port=admin, user="65534") as (proc, port):
        assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
        # The health check reads the port from SLUICE_ADMIN_LISTEN as the image sets it (0.0.0.0).
        r = subprocess.run([HEALTH], env={"PATH": os.environ["PATH"], "SLUICE_ADMIN_LISTEN": f"0.0.0.0:{port}"},
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
    r = subprocess.run([HEALTH], env={"PATH": os.environ["PATH"], "SLUICE_ADMIN_LISTEN": f"0.0.0.0:{admin}"},
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "cannot connect" in r.stderr


def test_health_check_fails_on_a_non_200_answer(sluice_bin):
    # An HTTP server that answers 503 to everything: the health check must not accept it.
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        r = subprocess.run([HEALTH], env={"PATH": os.environ["PATH"],
                                          "SLUICE_ADMIN_LISTEN": f"0.0.0.0:{srv.server_port}"},
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 1 and "503" in r.stderr
    finally:
        srv.shutdown()
