"""Plain helpers of the cluster tests: study files, subprocesses, process trees, MLflow."""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
RAY_CLI = str(Path(PYTHON).with_name("ray"))  # the `ray` command of this virtual environment

# Private Ray temp directories handed to child processes; conftest.py removes them.
RAY_TEMP_DIRS: list[Path] = []


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tiny_study(name: str, *, tasks: list[dict] | None = None, methods: dict | None = None,
               resources: dict | None = None, **extra) -> dict:
    """Return a study document that trains in seconds: moons, few epochs, no evaluation phase."""
    study = {
        "name": name,
        "tasks": tasks or [{"name": "moons", "recipe": {"epochs": 2}}],
        "methods": methods or {"basic": {}, "sema": {"momentum": 0.9, "switch_interval": 1}},
        "evaluation": {"seeds": 0},
        "resources": resources or {"workers": 2},
    }
    study.update(extra)
    return study


def write_study(directory: Path, study: dict) -> Path:
    path = directory / f"{study['name']}.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
    return path


def private_ray_tmpdir() -> str:
    """Create a Ray temp directory for one child process and return its path.

    `ray.init()` without an address joins the cluster recorded in
    $RAY_TMPDIR/ray/ray_current_cluster, which any `ray start` or simulated cluster
    on the machine may have written. A private directory makes the child start its
    own Ray, and keeps its own simulated cluster from capturing other processes.
    The path stays short because Ray's socket paths must fit in 107 bytes.
    """
    path = Path(tempfile.mkdtemp(prefix="sr", dir="/tmp"))
    RAY_TEMP_DIRS.append(path)
    return str(path)


def clean_env(**overrides: str) -> dict[str, str]:
    """Return the environment for a child that starts its own Ray on 127.0.0.1."""
    env = dict(os.environ)
    for name in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["PYTHONUNBUFFERED"] = "1"
    env["RAY_TMPDIR"] = private_ray_tmpdir()
    # `python` in a Ray job entrypoint must be this virtual environment's.
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(overrides)
    return env


def start(args: list[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: Path = REPO_ROOT) -> subprocess.Popen:
    """Start `args` in its own session with stdout and stderr going to `log_path`."""
    log = log_path.open("w", encoding="utf-8")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env or clean_env(),
                            cwd=cwd, start_new_session=True)


def study_command(study_path: Path, output: Path, *options: str) -> list[str]:
    return [PYTHON, "-m", "sema_ray.study", str(study_path), "--output", str(output), *options]


def parent_pids() -> dict[int, int]:
    """Return {pid: parent pid} of every process, read from /proc (Linux)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended while we looked
        # The command name in brackets may contain spaces; the fields after it do not.
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def descendants(pid: int) -> list[int]:
    """Return the PIDs of every live process below `pid`, so a test ends exactly what it started."""
    children: dict[int, list[int]] = {}
    for child, parent in parent_pids().items():
        children.setdefault(parent, []).append(child)
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def is_alive(pid: int) -> bool:
    try:
        stat = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


def signal_pids(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def kill_tree(process: subprocess.Popen, grace: float = 10.0) -> None:
    """Stop a child and everything it started: SIGTERM, then SIGKILL after `grace` seconds.

    Ray's raylet and workers can outlive their parent for a moment, so the process
    tree is collected before the parent is signalled and each member is ended by PID.
    """
    tree = descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)
    tree = sorted(set(tree) | set(descendants(process.pid)))
    signal_pids([pid for pid in tree if is_alive(pid)], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(is_alive(pid) for pid in tree):
        time.sleep(0.2)
    signal_pids([pid for pid in tree if is_alive(pid)], signal.SIGKILL)


def wait_for(condition, timeout: float, interval: float = 0.2, description: str = "condition"):
    """Poll `condition()` until it returns a true value and return that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {description}")


def read_results(output: Path) -> list[dict[str, str]]:
    with (output / "results.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def log_tail(path: Path, lines: int = 60) -> str:
    """Return the end of a child's log, to show beside a failed assertion."""
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def mlflow_runs(output: Path, experiment: str) -> dict[str, list]:
    """Return the MLflow runs of the study's local store, grouped by `sema_ray.level` tag."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{output / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    levels: dict[str, list] = {}
    for run in client.search_runs([found.experiment_id], max_results=1000):
        levels.setdefault(run.data.tags.get("sema_ray.level", ""), []).append(run)
    return levels
