"""Shared fixtures: one local Ray instance on 127.0.0.1 for the whole test session."""

from __future__ import annotations

import os

# Ray reads these at import: keep every Ray process on the loopback address and send
# no usage statistics. They must be set before anything imports ray.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ray_local():
    """Start one 2-CPU Ray instance for every test that needs Ray, and stop it at the end."""
    import ray

    from sema_ray.study.runner import LOCAL_TRAIN_ENV

    if not ray.is_initialized():
        # address="local" starts a new instance even if another test left one running.
        ray.init(address="local", num_cpus=2, _node_ip_address="127.0.0.1", log_to_driver=False,
                 include_dashboard=True, runtime_env={"env_vars": LOCAL_TRAIN_ENV})
    yield ray
    ray.shutdown()


@pytest.fixture
def no_tracking_env(monkeypatch):
    """Make the study's default local MLflow store apply, whatever the caller's shell set."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
