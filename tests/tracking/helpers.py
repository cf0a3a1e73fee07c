"""Small helpers for the tracking tests: local stores and a port nothing listens on."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

# The study that tests/tracking runs once for all its modules: a 2 x 1 grid for SEMA,
# plain training as the baseline, and 2 evaluation seeds.
STUDY = {
    "name": "records_check",
    "tasks": [{"name": "moons", "recipe": {"epochs": 2}}],
    "methods": {"basic": {}, "sema": {"momentum": [0.9, 0.99], "switch_interval": [1]}},
    "search": {"sampler": "grid", "seeds": [0]},
    "evaluation": {"seeds": 2},
}
EPOCHS = 2


def sqlite_uri(directory: Path, template: Path, name: str = "mlflow.db") -> str:
    """Copy the template database into `directory` and return its tracking URI."""
    path = (directory / name).resolve()
    shutil.copy(template, path)
    return f"sqlite:///{path}"


def closed_port() -> int:
    """Return a loopback port that was free a moment ago, so connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
