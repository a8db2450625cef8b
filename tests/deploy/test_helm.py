"""deploy/helm/sluice and deploy/k8s: `helm lint` and `helm template` for every documented values
file, and checks on the rendered manifests (and on the plain Kubernetes example): Sluice is a
native sidecar, probes hit the admin port, the ConfigMap holds a config `sluice check-config`
accepts, the Secret is referenced by env, the grace period covers the drain deadline."""
import os
import pathlib
import re
import subprocess

import pytest
import yaml

from conftest import ROOT

CHART = ROOT / "deploy" / "helm" / "sluice"
K8S = ROOT / "deploy" / "k8s"
KUBE = "1.31.0"  # native sidecars need 1.29+; Chart.yaml says so
VALUES = [None] + sorted(p.name for p in (CHART / "ci").glob("*.yaml"))
FLUSH_S = 5      # sinks flush after the drain (proxy/main.cc)


def render(helm, *args):
    r = subprocess.run([helm, "template", "t", str(CHART), "--kube-version", KUBE, *args],
                       capture_output=True, text=True)
    return r


def docs_of(text):
    return [d for d in yaml.safe_load_all(text) if d]


def rendered(helm, values_file):
    args = ["-f", str(CHART / "ci" / values_file)] if values_file else []
    r = render(helm, *args)
    assert r.returncode == 0, r.stderr
    return docs_of(r.stdout)


def seconds(d: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", d)
    assert m, d
    n, unit = int(m.group(1)), m.group(2)
    return {"ms": (n + 999) // 1000, "s": n, "m": n * 60, "h": n * 3600}[unit]


def one(docs, kind):
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, f"{len(found)} {kind}"
    return found[0]


def check_manifests(docs, sluice_bin, tmp_path, existing_secret=None):
    """The checks every rendering (and the plain example) must pass."""
    dep = one(docs, "Deployment")
    cm = one(docs, "ConfigMap")
    secrets = [d for d in docs if d["kind"] == "Secret"]
    pod = dep["spec"]["template"]["spec"]

    # Native sidecar: an init container with restartPolicy Always, not an app container.
    inits = pod["initContainers"]
    sidecars = [c for c in inits if c.get("restartPolicy") == "Always"]
    assert [c["name"] for c in sidecars] == ["sluice"]
    sc = sidecars[0]
    assert all(c["name"] != "sluice" for c in pod["containers"])
    # Init containers that run to completion (iptables) come before the sidecar.
    assert inits[-1] is sc

    env = {e["name"]: e for e in sc["env"]}
    admin_ports = {p["name"]: p["containerPort"] for p in sc["ports"]}
    admin_port = admin_ports["admin"]
    assert env["SLUICE_ADMIN_LISTEN"]["value"].endswith(f":{admin_port}")
    assert env["SLUICE_LISTEN"]["value"].startswith("127.0.0.1:")
    api_port = int(env["SLUICE_LISTEN"]["value"].rsplit(":", 1)[1])

    # Probes: liveness /healthz, readiness (and startup) /readyz, on the admin port.
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz"), ("startupProbe", "/readyz")):
        get = sc[probe]["httpGet"]
        assert get["path"] == path, probe
        assert get["port"] in ("admin", admin_port), probe
    assert sc["resources"]["requests"]["cpu"] and sc["resources"]["requests"]["memory"]
    assert sc["resources"]["limits"]["memory"]
    assert sc["securityContext"]["runAsNonRoot"] is True

    # Base-URL mode: the application calls Sluice on loopback.
    app_env = {e["name"]: e for c in pod["containers"] for e in c.get("env", [])}
    if "OPENAI_BASE_URL" in app_env:
        assert app_env["OPENAI_BASE_URL"]["value"] == f"http://127.0.0.1:{api_port}/v1"
        assert app_env["ANTHROPIC_BASE_URL"]["value"] == f"http://127.0.0.1:{api_port}"

    # The ConfigMap is mounted where --config points, and holds sluice.yaml.
    args = sc["args"]
    cfg_path = pathlib.PurePosixPath(args[args.index("--config") + 1])
    mount = next(m for m in sc["volumeMounts"] if m["mountPath"] == str(cfg_path.parent))
    vol = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert vol["configMap"]["name"] == cm["metadata"]["name"]
    config_text = cm["data"][cfg_path.name]
    config = yaml.safe_load(config_text)

    # The Secret is referenced by env, by name, for keys it has.
    secret_name = secrets[0]["metadata"]["name"] if secrets else existing_secret
    assert secret_name
    secret_data = secrets[0].get("stringData", {}) if secrets else {}
    refs = [e["valueFrom"]["secretKeyRef"] for c in inits + pod["containers"] for e in c.get("env", [])
            if "valueFrom" in e and "secretKeyRef" in e["valueFrom"]]
    assert refs, "no env entry takes a key from the Secret"
    for ref in refs:
        assert ref["name"] == secret_name
        if secrets:
            assert ref["key"] in secret_data, ref["key"]

    # Every ${VAR} the config needs (no default) is in the sidecar's environment.
    needed = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", config_text))
    assert needed <= set(env), needed - set(env)

    # sluice check-config accepts the ConfigMap's config with the sidecar's environment: literal
    # values as they are, Secret keys from the Secret (or stand-ins for an existing Secret).
    run_env = {"PATH": os.environ["PATH"]}
    for name, e in env.items():
        if "value" in e:
            run_env[name] = e["value"]
        else:
            key = e["valueFrom"]["secretKeyRef"]["key"]
            run_env[name] = secret_data[key] if secrets else f"stand-in-for-{key.lower()}-0123456789"
    f = tmp_path / "sluice.yaml"
    f.write_text(config_text)
    r = subprocess.run([sluice_bin, "check-config", f], env=run_env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    # Grace period covers the drain deadline plus the sink flush.
    drain = seconds(str(config.get("listener", {}).get("drain_timeout", "30s")))
    assert pod["terminationGracePeriodSeconds"] >= drain + FLUSH_S
    return dep, sc


@pytest.mark.parametrize("values", VALUES)
def test_lint(helm, values):
    args = ["-f", str(CHART / "ci" / values)] if values else []
    r = subprocess.run([helm, "lint", "--strict", str(CHART), "--kube-version", KUBE, *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("values", [v for v in VALUES if v])
def test_rendered_manifests(helm, sluice_bin, tmp_path, values):
    docs = rendered(helm, values)
    vals = yaml.safe_load((CHART / "ci" / values).read_text())
    existing = vals.get("secret", {}).get("existingSecret") if not vals.get("secret", {}).get("create", True) else None
    dep, sc = check_manifests(docs, sluice_bin, tmp_path, existing_secret=existing)
    if existing:
        assert not [d for d in docs if d["kind"] == "Secret"]
    if vals.get("replicaCount"):
        assert dep["spec"]["replicas"] == vals["replicaCount"]


def test_default_values_render_and_need_keys(helm, sluice_bin, tmp_path):
    # The default values leave the keys empty: the chart renders, but the config is refused
    # until keys are set (NOTES.txt says so after `helm install`).
    docs = rendered(helm, None)
    with pytest.raises(AssertionError, match="virtual_keys"):
        check_manifests(docs, sluice_bin, tmp_path)


def test_transparent_mode_is_off_by_default_and_runs_iptables_first(helm):
    pod = one(rendered(helm, None), "Deployment")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["sluice"]
    pod = one(rendered(helm, "transparent-values.yaml"), "Deployment")["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["initContainers"]]
    assert names == ["sluice-iptables", "sluice"]
    ipt = pod["initContainers"][0]
    assert "restartPolicy" not in ipt  # runs to completion before the sidecar starts
    assert "NET_ADMIN" in ipt["securityContext"]["capabilities"]["add"]
    uid = pod["initContainers"][1]["securityContext"]["runAsUser"]
    script = ipt["args"][0]
    assert f"--uid-owner {uid} -j RETURN" in script  # Sluice's own connections are not redirected
    assert "--dport 443 -j REDIRECT --to-ports 8443" in script
    app_env = [e["name"] for c in pod["containers"] for e in c.get("env", [])]
    assert "OPENAI_BASE_URL" not in app_env


@pytest.mark.parametrize("args, message", [
    (["--set", "terminationGracePeriodSeconds=30"], "must be at least"),
    (["--set", "config.listener.drain_timeout=90s", "--set", "terminationGracePeriodSeconds=60"], "(95)"),
    (["--set", "config.listener.drain_timeout=5x"], "cannot read duration"),
    (["--set", "secret.create=false"], "secret.existingSecret is required"),
])
def test_bad_values_are_refused(helm, args, message):
    r = render(helm, *args)
    assert r.returncode != 0
    assert message in r.stderr


def test_plain_kubernetes_example(sluice_bin, tmp_path):
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    docs = [d for f in kust["resources"] for d in docs_of((K8S / f).read_text())]
    check_manifests(docs, sluice_bin, tmp_path)
