"""The files in docker/: the image pins this Ray and Python, the cluster launcher config
passes Ray's own validation, the RayJob has the fields KubeRay reads, and no shipped
config opens the dashboard or the job-submission port to outside networks."""

from __future__ import annotations

import copy
import re
import shlex
import sys

import jsonschema
import pytest
import ray
import yaml

from sema_ray.study.config import parse_study

from .helpers import REPO_ROOT

DOCKER = REPO_ROOT / "docker"
DASHBOARD_PORT = 8265  # also the job-submission port
CLIENT_PORT = 10001
PYTHON_TAG = f"py{sys.version_info.major}{sys.version_info.minor}"


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs, with comments dropped and continuations joined."""
    instructions = []
    current = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def resolve_args(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], text)


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions((DOCKER / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cluster_config() -> dict:
    return yaml.safe_load((DOCKER / "cluster.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kube_documents() -> dict[str, dict]:
    documents = yaml.safe_load_all((DOCKER / "rayjob.yaml").read_text(encoding="utf-8"))
    return {document["kind"]: document for document in documents if document}


def test_dockerfile_base_image_pins_ray_and_python(dockerfile):
    args = {}
    for keyword, arguments in dockerfile:
        if keyword == "FROM":
            image = resolve_args(arguments, args)
            break
        if keyword == "ARG" and "=" in arguments:
            name, value = arguments.split("=", 1)
            args[name] = value
    repository, tag = image.split(":")
    assert repository == "rayproject/ray"
    version, python, platform = tag.split("-")
    assert version == ray.__version__
    assert python == PYTHON_TAG
    assert re.fullmatch(r"cu\d{3}", platform), f"{platform} is not a pinned CUDA platform tag"


def test_dockerfile_installs_package_with_same_ray(dockerfile):
    sources = {word for keyword, arguments in dockerfile if keyword == "COPY"
               for word in arguments.split()[:-1] if not word.startswith("--")}
    assert {"pyproject.toml", "sema_ray", "studies"} <= sources
    runs = " && ".join(arguments for keyword, arguments in dockerfile if keyword == "RUN")
    install = [command for command in runs.split("&&")
               if "pip install" in command and " . " in f"{command} "]
    assert install, "no `pip install .` of the package"
    assert '"ray[default,tune,train]==${RAY_VERSION}"' in install[0]
    assert "import ray, sema_ray.study.runner" in runs


def test_dockerfile_exposes_no_dashboard_port(dockerfile):
    exposed = " ".join(arguments for keyword, arguments in dockerfile if keyword == "EXPOSE")
    assert str(DASHBOARD_PORT) not in exposed
    assert str(CLIENT_PORT) not in exposed


def test_cluster_config_passes_ray_validation(cluster_config):
    from ray.autoscaler._private.util import prepare_config, validate_config

    prepared = prepare_config(copy.deepcopy(cluster_config))
    validate_config(prepared)
    assert prepared["head_node_type"] in prepared["available_node_types"]


def test_cluster_validation_rejects_unknown_key(cluster_config):
    from ray.autoscaler._private.util import prepare_config, validate_config

    broken = copy.deepcopy(cluster_config)
    broken["dashboard_port"] = DASHBOARD_PORT
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_cluster_config_uses_image_and_shared_storage(cluster_config, kube_documents):
    image = cluster_config["docker"]["image"]
    head = kube_documents["RayJob"]["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head["template"]["spec"]["containers"][0]["image"] == image
    run_options = cluster_config["docker"]["run_options"]
    assert "--volume /mnt/cluster_storage:/mnt/cluster_storage" in run_options
    mounts = " ".join(cluster_config["initialization_commands"])
    assert "/mnt/cluster_storage" in mounts
    assert "mount -t nfs4" in mounts
    node_types = cluster_config["available_node_types"]
    head = cluster_config["head_node_type"]
    workers = [node for name, node in node_types.items() if name != head]
    assert workers
    for node in workers:
        # AWS GPU instance families: g4dn, g5, g6, p4d, p5, ...
        assert node["node_config"]["InstanceType"].startswith(("g", "p"))


def ray_start_options(command: str) -> dict[str, str | None]:
    """Return the `--option[=value]` flags of the `ray start` part of a shell command."""
    words = shlex.split(command.split("ray start", 1)[1].split(";")[0])
    options = {}
    for index, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, equals, value = word[2:].partition("=")
        if not equals and index + 1 < len(words) and not words[index + 1].startswith("--"):
            value = words[index + 1]
        options[name] = value or None
    return options


def test_cluster_dashboard_listens_on_loopback(cluster_config):
    starts = [command for command in cluster_config["head_start_ray_commands"]
              if "ray start" in command]
    assert len(starts) == 1
    options = ray_start_options(starts[0])
    assert "head" in options
    assert options["dashboard-host"] == "127.0.0.1"
    # The launcher opens no port but SSH unless the config names a security group.
    assert "security_group" not in cluster_config["provider"]


def test_cluster_nodes_require_ray_token(cluster_config):
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        starts = [command for command in cluster_config[key] if "ray start" in command]
        assert starts and all("RAY_AUTH_MODE=token ray start" in command for command in starts), key
    assert "~/.ray/auth_token" in cluster_config["file_mounts"]


def test_rayjob_has_kuberay_fields(kube_documents):
    job = kube_documents["RayJob"]
    assert job["apiVersion"] == "ray.io/v1"
    spec = job["spec"]
    assert spec["submissionMode"] in ("K8sJobMode", "HTTPMode", "InteractiveMode", "SidecarMode")
    assert isinstance(spec["shutdownAfterJobFinishes"], bool)
    assert isinstance(spec["ttlSecondsAfterFinished"], int)
    cluster = spec["rayClusterSpec"]
    assert cluster["rayVersion"] == ray.__version__
    assert cluster["authOptions"] == {"mode": "token"}
    head = cluster["headGroupSpec"]
    groups = [head] + cluster["workerGroupSpecs"]
    for group in groups:
        # The CRD types rayStartParams as a map of strings, so the API server rejects numbers.
        assert all(isinstance(value, str) for value in group["rayStartParams"].values())
        containers = group["template"]["spec"]["containers"]
        assert len(containers) == 1
        assert containers[0]["image"]
    for group in cluster["workerGroupSpecs"]:
        assert group["groupName"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        limits = group["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] >= 1


def test_rayjob_keeps_dashboard_inside_cluster(kube_documents):
    head = kube_documents["RayJob"]["spec"]["rayClusterSpec"]["headGroupSpec"]
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    assert head.get("enableIngress", False) is False
    for port in head["template"]["spec"]["containers"][0].get("ports", []):
        assert "hostPort" not in port, f"port {port['containerPort']} is bound on the node"
    assert "Service" not in kube_documents
    assert "Ingress" not in kube_documents


def test_rayjob_runs_valid_study_on_mounted_volumes(kube_documents):
    job = kube_documents["RayJob"]
    entrypoint = shlex.split(job["spec"]["entrypoint"])
    assert entrypoint[:3] == ["python", "-m", "sema_ray.study"]
    study_path, output = entrypoint[3], entrypoint[entrypoint.index("--output") + 1]

    head = job["spec"]["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    mounts = {mount["name"]: mount["mountPath"] for mount in head["containers"][0]["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in head["volumes"]}
    study_volume = next(name for name, path in mounts.items() if study_path.startswith(path + "/"))
    config_map = kube_documents["ConfigMap"]
    assert volumes[study_volume]["configMap"]["name"] == config_map["metadata"]["name"]
    file_name = study_path.rsplit("/", 1)[1]
    parse_study(yaml.safe_load(config_map["data"][file_name]), f"rayjob.yaml ConfigMap {file_name}")

    claim = kube_documents["PersistentVolumeClaim"]
    assert "ReadWriteMany" in claim["spec"]["accessModes"]
    results_volume = next(name for name, path in mounts.items() if output.startswith(path + "/"))
    claim_name = claim["metadata"]["name"]
    assert volumes[results_volume]["persistentVolumeClaim"]["claimName"] == claim_name
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        worker = group["template"]["spec"]
        claims = [volume["persistentVolumeClaim"]["claimName"] for volume in worker["volumes"]
                  if "persistentVolumeClaim" in volume]
        assert claims == [claim_name]
        worker_mounts = [mount["mountPath"] for mount in worker["containers"][0]["volumeMounts"]]
        assert mounts[results_volume] in worker_mounts
