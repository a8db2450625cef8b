"""The command line (check-config, fingerprint, exit codes) and the upstream keep-alive pool."""
import hashlib
import subprocess

import openai
import pytest

from conftest import ROOT, build_dir

SLUICE = lambda: str(build_dir() / "proxy" / "sluice")


def test_check_config_names_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("listener:\n  address: 127.0.0.1:8080\n  max_body_byte: 1MiB\n"
                   "upstreams:\n  openai:\n    provider: openai\n    url: ftp://x\n")
    r = subprocess.run([SLUICE(), "check-config", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2
    assert f"{bad}:3:3: listener.max_body_byte: unknown key" in r.stderr
    assert f"{bad}:7:10: upstreams.openai.url:" in r.stderr


def test_check_config_default_file():
    r = subprocess.run([SLUICE(), "check-config", str(ROOT / "conf" / "sluice.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_env_interpolation_missing_variable(tmp_path):
    f = tmp_path / "env.yaml"
    f.write_text("listener:\n  admin_token: ${SLUICE_TEST_SURELY_UNSET}\n")
    r = subprocess.run([SLUICE(), "check-config", str(f)], capture_output=True, text=True)
    assert r.returncode == 2 and "SLUICE_TEST_SURELY_UNSET" in r.stderr and ":2:" in r.stderr


def test_fingerprint_command():
    r = subprocess.run([SLUICE(), "fingerprint", "sk-test"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == hashlib.sha256(b"sk-test").hexdigest()[:16]


def test_version_and_usage():
    assert subprocess.run([SLUICE(), "--version"], capture_output=True, text=True).stdout.startswith("sluice ")
    r = subprocess.run([SLUICE(), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


def test_pool_reuses_and_retries_once_on_stale_connection(sluice, mock):
    c = openai.OpenAI(base_url=f"{sluice.url}/v1", api_key="sk-x", max_retries=0)
    msg = [{"role": "user", "content": "x"}]
    for _ in range(3):
        c.chat.completions.create(model="gpt-4o", messages=msg)
    assert sluice.metric("sluice_upstream_reused_total") >= 1
    # The mock reads the request and closes without answering: on a pooled connection that
    # looks like a stale keep-alive connection, so Sluice retries once on a fresh one, and
    # only once.
    before = len(mock.requests())
    with pytest.raises(openai.InternalServerError):
        c.chat.completions.create(model="gpt-4o", messages=msg, extra_headers={"x-mock-fault": "close-before-headers"})
    assert sluice.metric("sluice_upstream_retries_total") == 1
    assert len(mock.requests()) - before == 2


def test_ca_init_creates_a_private_key_and_refuses_to_overwrite(tmp_path):
    d = tmp_path / "ca"
    r = subprocess.run([SLUICE(), "ca", "init", "--dir", str(d)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    key, cert = d / "ca-key.pem", d / "ca.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600" and oct(cert.stat().st_mode & 0o777) == "0o644"
    assert "PRIVATE KEY" not in r.stdout + r.stderr  # the key is never printed
    # Python's ssl (OpenSSL) accepts it as a CA.
    import ssl
    ctx = ssl.create_default_context(cafile=str(cert))
    assert any(c["subject"] for c in ctx.get_ca_certs())
    r2 = subprocess.run([SLUICE(), "ca", "init", "--dir", str(d)], capture_output=True, text=True)
    assert r2.returncode == 1 and "exists" in r2.stderr and r2.stdout == ""
    r3 = subprocess.run([SLUICE(), "ca", "init", "--dir", str(d), "--force"], capture_output=True, text=True)
    assert r3.returncode == 0
    r4 = subprocess.run([SLUICE(), "ca"], capture_output=True, text=True)
    assert r4.returncode == 2 and "ca init" in r4.stderr


def test_without_a_sink_calls_work_and_no_record_is_built(sluice_factory, mock):
    """With every sink off nobody reads the call's record, so it is not built: the calls, streamed
    and not, still work, and no record is handed over (the default config, with its JSONL sink,
    hands one per call)."""
    import re
    from conftest import default_config
    off = re.sub(r"\nsinks:\n  jsonl:\n    events_path: .*\n", "\nsinks:\n  jsonl: {enabled: false}\n",
                 default_config(mock, "@EVENTS@"))
    assert "enabled: false" in off
    for config, expected in ((off, 0), (None, 4)):
        s = sluice_factory(config)
        c = openai.OpenAI(base_url=f"{s.url}/v1", api_key="sk-x", max_retries=0)
        msg = [{"role": "user", "content": "hello"}]
        for _ in range(2):
            assert c.chat.completions.create(model="gpt-4o", messages=msg).choices[0].message.content
            text = "".join(ch.choices[0].delta.content or "" for ch in
                           c.chat.completions.create(model="gpt-4o", messages=msg, stream=True)
                           if ch.choices)
            assert text
        if expected:
            s.wait_calls(expected)
        assert s.metric("sluice_events_published_total") == expected
