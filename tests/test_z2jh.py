"""The path to Zero to JupyterHub on Kubernetes (deploy/z2jh/): parsed and checked against what the z2jh
chart and lmlab need, so it cannot silently fall behind the one-machine hub."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from lmlab.hub import user_environment
from lmlab.threads import THREAD_ENV, thread_share

ROOT = Path(__file__).resolve().parent.parent
Z2JH = ROOT / "deploy" / "z2jh"
# keys of the chart's values (z2jh values.yaml, chart 4.x); the chart's schema rejects unknown ones
TOP_KEYS = {"fullnameOverride", "nameOverride", "enabled", "imagePullSecrets", "imagePullSecret", "hub",
            "rbac", "proxy", "singleuser", "scheduling", "prePuller", "ingress", "httpRoute", "cull", "debug",
            "global", "custom"}
SINGLEUSER_KEYS = {"podNameTemplate", "extraTolerations", "nodeSelector", "extraNodeAffinity",
                   "extraPodAffinity", "extraPodAntiAffinity", "networkTools", "cloudMetadata",
                   "networkPolicy",
                   "events", "extraAnnotations", "extraLabels", "extraFiles", "extraEnv", "lifecycleHooks",
                   "initContainers", "extraContainers", "allowPrivilegeEscalation", "uid", "fsGid",
                   "serviceAccountName", "storage", "image", "startTimeout", "cpu", "memory", "extraResource",
                   "cmd", "defaultUrl", "extraPodConfig", "profileList"}
STORAGE_KEYS = {"type", "extraLabels", "extraVolumes", "extraVolumeMounts", "static", "capacity",
                "homeMountPath", "dynamic"}
# authenticators z2jh's hub image ships (images/hub/requirements.txt), by entry-point name
HUB_IMAGE_AUTHENTICATORS = {"native", "nativeauthenticator.NativeAuthenticator", "ldapauthenticator",
                            "github", "google", "generic-oauth", "azuread", "firstuseauthenticator"}
QUANTITY = re.compile(r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$")


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((Z2JH / "values.yaml").read_text())


def test_only_keys_the_chart_knows(values):
    assert set(values) <= TOP_KEYS
    assert set(values["singleuser"]) <= SINGLEUSER_KEYS
    assert set(values["singleuser"]["storage"]) <= STORAGE_KEYS


def test_the_image_carries_lmlab_and_its_kernel(values):
    image = values["singleuser"]["image"]
    assert isinstance(image["name"], str) and isinstance(image["tag"], str) and image["tag"] != "latest"
    dockerfile = (Z2JH / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert base.startswith("quay.io/jupyter/")  # Jupyter's docker stacks: jupyterhub-singleuser inside
    bootstrap = (ROOT / "scripts" / "bootstrap.py").read_text()
    torch_pin = re.search(r'DEFAULT_TORCH = "([^"]+)"', bootstrap).group(1)
    assert torch_pin in dockerfile and "pip install --no-cache-dir -e /opt/lmlab" in dockerfile
    hook = " ".join(values["singleuser"]["lifecycleHooks"]["postStart"]["exec"]["command"])
    assert "/opt/lmlab/notebooks/*.ipynb" in hook and "test -e" in hook  # a student's copy is never replaced
    assert values["singleuser"]["defaultUrl"] == "/lab/tree/lmlab-notebooks"


def test_threads_per_user_follow_the_cpu_limit(values, tmp_path, monkeypatch):
    single = values["singleuser"]
    limit = float(single["cpu"]["limit"])
    env = single["extraEnv"]
    assert all(isinstance(v, str) for v in env.values())  # Kubernetes takes strings only
    assert int(env["LMLAB_THREADS"]) == max(1, math.floor(limit))
    assert {name: env[name] for name in THREAD_ENV} == {name: env["LMLAB_THREADS"] for name in THREAD_ENV}
    # the pod's cgroup quota alone would give the same share
    (tmp_path / "cpu.max").write_text(f"{int(limit * 100_000)} 100000\n")
    (tmp_path / "proc").write_text("0::/\n")
    for name in ("LMLAB_THREADS", "OMP_NUM_THREADS", "CPU_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("lmlab.threads.available_cores", lambda: 64)
    assert thread_share(tmp_path, tmp_path / "proc").threads == int(env["LMLAB_THREADS"])


def test_the_mirror_is_mounted_read_only(values):
    single = values["singleuser"]
    env = single["extraEnv"]
    # the same environment lmlab hub gives a student on one machine
    expected = user_environment(Path(env["LMLAB_DATA_DIR"]), int(env["LMLAB_THREADS"]), True,
                                env.get("LMLAB_PRESET"))
    assert {k: env[k] for k in expected} == expected
    mounts = {m["mountPath"]: m for m in single["storage"]["extraVolumeMounts"]}
    mount = mounts[env["LMLAB_DATA_DIR"]]
    assert mount["readOnly"] is True
    volume = {v["name"]: v for v in single["storage"]["extraVolumes"]}[mount["name"]]
    claim = volume["persistentVolumeClaim"]
    assert claim["readOnly"] is True
    pvc = yaml.safe_load((Z2JH / "mirror-pvc.yaml").read_text())
    assert pvc["kind"] == "PersistentVolumeClaim" and pvc["metadata"]["name"] == claim["claimName"]
    assert "ReadOnlyMany" in pvc["spec"]["accessModes"]


def test_each_student_has_their_own_storage(values):
    storage = values["singleuser"]["storage"]
    assert storage["type"] == "dynamic"  # one volume per student
    assert QUANTITY.match(str(storage["capacity"]))
    assert storage["homeMountPath"] == "/home/jovyan"  # the docker stacks' home: runs/, caches, figures
    assert not values["singleuser"]["extraEnv"]["LMLAB_DATA_DIR"].startswith(storage["homeMountPath"])
    for key in ("limit", "guarantee"):
        assert QUANTITY.match(str(values["singleuser"]["memory"][key]))


def test_sign_in_is_a_real_authenticator(values):
    config = values["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] in HUB_IMAGE_AUTHENTICATORS
    assert config["Authenticator"]["admin_users"]
