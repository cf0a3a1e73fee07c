"""Provenance tags: commit, dirty flag, versions and device, checked against git and metadata."""

from __future__ import annotations

import subprocess
from importlib import metadata

import pytest
import torch
from conftest import REPO_ROOT

from sema_ray.tracking.provenance import (
    DEVICE_TAG,
    GIT_COMMIT_TAG,
    GIT_DIRTY_TAG,
    VERSION_TAG_PREFIX,
    provenance_tags,
)


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.skipif(not (REPO_ROOT / ".git").exists(), reason="needs a git checkout")
def test_commit_and_dirty_flag_match_git():
    tags = provenance_tags()
    assert tags[GIT_COMMIT_TAG] == git("rev-parse", "HEAD").strip()
    dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    assert tags[GIT_DIRTY_TAG] == ("true" if dirty else "false")


@pytest.mark.parametrize("package", ["torch", "ray", "optuna", "mlflow", "sema_ray"])
def test_versions_match_installed(package):
    assert provenance_tags()[VERSION_TAG_PREFIX + package] == metadata.version(package)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU description")
def test_device_describes_cpu():
    assert provenance_tags()[DEVICE_TAG].startswith("cpu: ")
    assert provenance_tags(torch.device("cpu"))[DEVICE_TAG].startswith("cpu: ")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_names_gpu():
    assert provenance_tags(torch.device("cuda", 0))[DEVICE_TAG] == (
        f"cuda: {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible)")
