"""Shared benchmark plumbing: device choice, interleaved timing, provenance, output."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import torch


def resolve_device(name: str) -> torch.device:
    """Return the device for ``name``; ``"auto"`` picks CUDA when it is available."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"--device {name} was requested, but CUDA is not available here; use --device cpu"
        )
    return device


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    cases: dict[str, Callable[[], object]],
    device: torch.device,
    rounds: int,
    repeat: int,
    warmup: int = 3,
) -> dict[str, list[float]]:
    """Time each case ``rounds`` times, in seconds per call, interleaving the cases.

    Each sample is the mean of ``repeat`` back-to-back calls between two device
    synchronizations. Cases run round-robin, starting one later in each round, so
    a slow spell on a shared machine lands on every case instead of one.
    """
    for run_case in cases.values():
        for _ in range(warmup):
            run_case()
    synchronize(device)

    names = list(cases)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            run_case = cases[name]
            synchronize(device)
            start = time.perf_counter()
            for _ in range(repeat):
                run_case()
            synchronize(device)
            samples[name].append((time.perf_counter() - start) / repeat)
    return samples


def summarize_ms(samples: list[float]) -> dict[str, float]:
    """Return the median, minimum and quartiles of samples given in seconds, in milliseconds."""
    ordered = sorted(value * 1e3 for value in samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median_ms": statistics.median(ordered),
        "min_ms": ordered[0],
        "p25_ms": quartiles[0],
        "p75_ms": quartiles[2],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info(device: torch.device) -> dict[str, object]:
    """Return where and with what a benchmark ran, to store beside its numbers."""
    info = {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
        "timm": _version("timm"),
        "python": platform.python_version(),
        "git_commit": _git_commit(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def write_json(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Return a Markdown table, so console output can be pasted into the docs."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
