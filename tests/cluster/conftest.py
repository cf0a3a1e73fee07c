"""Fixtures of the cluster tests: a real `ray start --head` on 127.0.0.1 with token auth.

The cluster tests never use the shared `ray_local` instance. Every Ray they need runs
in a child process that the test starts and ends by PID, so it cannot collide with
the other tests' Ray or with other Ray instances on the machine.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import (
    RAY_CLI,
    RAY_TEMP_DIRS,
    clean_env,
    free_port,
    kill_tree,
    log_tail,
    start,
    wait_for,
)

HEAD_START_TIMEOUT = 180  # seconds until the dashboard responds; about 15 s on an idle machine


@pytest.fixture(scope="session", autouse=True)
def remove_ray_temp_dirs():
    """Remove the private Ray temp directories of the child processes after the session."""
    yield
    for path in RAY_TEMP_DIRS:
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class RayHead:
    """A running `ray start --head --block` and how to reach it."""

    dashboard_url: str  # where `ray job submit --address` sends jobs
    env: dict[str, str]  # environment that carries the auth token to Ray's CLI
    token: str
    log_path: Path


def dashboard_answers(url: str, token: str) -> bool:
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{url}/api/jobs/", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def ray_head(tmp_path_factory):
    """Start a one-node Ray cluster with `ray start --head` on 127.0.0.1 for one test module.

    Every port is chosen free, so the head does not meet another Ray on this machine.
    Token authentication is on as Ray documents it: RAY_AUTH_MODE=token, with the
    token in a file that RAY_AUTH_TOKEN_PATH names, for the head and the clients.
    """
    # Ray's socket paths must stay under 108 bytes, so the session lives in a short
    # directory rather than in pytest's deep tmp_path.
    temp_dir = Path(tempfile.mkdtemp(prefix="sema_ray_head_", dir="/tmp"))
    tmp_path = tmp_path_factory.mktemp("ray_head")
    token = secrets.token_hex(32)
    token_path = tmp_path / "ray_auth_token"
    token_path.write_text(token, encoding="utf-8")
    env = clean_env(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path))

    dashboard_port = free_port()
    command = [
        RAY_CLI, "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address=127.0.0.1", "--dashboard-host=127.0.0.1", "--num-cpus=2",
        f"--temp-dir={temp_dir}", f"--port={free_port()}", f"--dashboard-port={dashboard_port}",
        f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}", f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]
    log_path = tmp_path / "ray_head.log"
    process = start(command, log_path, env=env)
    url = f"http://127.0.0.1:{dashboard_port}"
    try:
        wait_for(lambda: process.poll() is not None or dashboard_answers(url, token),
                 HEAD_START_TIMEOUT, interval=1.0, description="the Ray dashboard")
        if process.poll() is not None:
            pytest.fail(f"`ray start --head` exited with {process.returncode}:\n"
                        f"{log_tail(log_path)}")
        yield RayHead(url, env, token, log_path)
    finally:
        kill_tree(process)
        shutil.rmtree(temp_dir, ignore_errors=True)
