"""Provenance tags for MLflow runs: git commit, package versions and device."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import sema_ray

# MLflow's own tag for the commit; the UI shows it in the run's source details.
GIT_COMMIT_TAG = "mlflow.source.git.commit"
GIT_DIRTY_TAG = "sema_ray.git_dirty"
DEVICE_TAG = "sema_ray.device"
VERSION_TAG_PREFIX = "sema_ray.version."
PACKAGES = ("sema_ray", "torch", "ray", "optuna", "mlflow", "timm", "numpy")
GIT_TIMEOUT_S = 5


def source_checkout() -> Path | None:
    """Return the git checkout sema_ray is imported from (an editable install), else None."""
    root = Path(sema_ray.__file__).resolve().parent.parent
    return root if (root / ".git").exists() else None


def git_state() -> tuple[str, str]:
    """Return (commit, dirty) of the source checkout: ("unknown", "unknown") outside one."""
    root = source_checkout()
    if root is None:
        return "unknown", "unknown"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=GIT_TIMEOUT_S, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", "unknown"
    return commit, "true" if status.strip() else "false"


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def describe_device(device: object | None = None) -> str:
    """Describe a torch device (default: the first GPU if any, else the CPU) in one line."""
    import torch

    kind = getattr(device, "type", None) or ("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cuda":
        index = getattr(device, "index", None) or 0
        return f"cuda: {torch.cuda.get_device_name(index)} ({torch.cuda.device_count()} visible)"
    return f"cpu: {platform.machine()}, {os.cpu_count()} cores visible"


def provenance_tags(device: object | None = None) -> dict[str, str]:
    """Return the tags that identify the code, packages and hardware that produced a run."""
    commit, dirty = git_state()
    tags = {GIT_COMMIT_TAG: commit, GIT_DIRTY_TAG: dirty, DEVICE_TAG: describe_device(device)}
    tags |= {VERSION_TAG_PREFIX + name: version for name, version in package_versions().items()}
    return tags
