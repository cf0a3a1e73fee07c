"""Synthetic study results with values from closed-form rules, so tests can recompute them."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from sema_ray.study.results import TrialResult

MOMENTA = (0.9, 0.99, 0.999)
INTERVALS = (0.5, 1.0, 2.0)
SEARCH_SEEDS = (0, 1)
EVAL_SEEDS = (1000, 1001, 1002)
STEPS_PER_EPOCH = 10
EPOCHS = 4
TASKS = {"moons": ("accuracy", "max"), "diabetes": ("mae", "min")}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PANEL_PIXELS = (500, 400)  # 5 x 4 inches at 100 dpi


def png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) from a PNG's header, after checking its signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])


def value(task: str, method: str, momentum: float | None, interval: float | None, seed: int) -> float:
    """Return a metric with a clear optimum: momentum 0.99 and interval 1 are best for sema."""
    base = {"basic": 80.0, "ema": 82.0, "sema": 84.0, "swa": 81.0}[method]
    if momentum is not None:
        base -= 3.0 * abs(math.log10(1 - momentum) + 2)  # best at 1 - momentum = 0.01
    if interval is not None:
        base -= 2.0 * abs(math.log2(interval))  # best at one epoch
    base += 0.5 * (seed % 3) - 0.3 * ((seed + len(method)) % 2)  # seed noise, differs per method
    mode = TASKS[task][1]
    return base if mode == "max" else 100.0 - base


def trial(task: str, method: str, phase: str, momentum: float | None, interval: float | None,
          seed: int, other: str = "") -> TrialResult:
    metric, mode = TASKS[task]
    val = value(task, method, momentum, interval, seed)
    ratio = None
    if method == "sema":
        ratio = max(1, round(interval * STEPS_PER_EPOCH)) * (1 - momentum)
    key = f"{task}-{method}-{phase}-{momentum}-{interval}-{seed}-{other}"
    return TrialResult(task=task, method=method, phase=phase, momentum=momentum, switch_interval=interval,
                       other_params=other, seed=seed, metric=metric, mode=mode, val_metric=val,
                       val_metric_fast=val - 1.0, test_metric=val - 0.5 if phase == "evaluation" else None,
                       epochs=EPOCHS, status="ok", horizon_ratio=ratio, trial_id=key)


def grid_results(tasks=("moons", "diabetes"), with_evaluation: bool = True) -> list[TrialResult]:
    """Return a grid study: basic, ema over MOMENTA, sema over MOMENTA x INTERVALS, swa; 2 seeds."""
    results = []
    for task in tasks:
        for seed in SEARCH_SEEDS:
            results.append(trial(task, "basic", "search", None, None, seed))
            results.append(trial(task, "swa", "search", None, None, seed, other='{"start_epoch": 3.0}'))
            for momentum in MOMENTA:
                results.append(trial(task, "ema", "search", momentum, None, seed))
                for interval in INTERVALS:
                    results.append(trial(task, "sema", "search", momentum, interval, seed))
        if with_evaluation:
            for seed in EVAL_SEEDS:
                results.append(trial(task, "basic", "evaluation", None, None, seed))
                results.append(trial(task, "ema", "evaluation", 0.99, None, seed))
                results.append(trial(task, "sema", "evaluation", 0.99, 1.0, seed))
    return results


def sampled_results(task: str = "moons") -> list[TrialResult]:
    """Return a sampler study: every sema trial a distinct (momentum, interval), one seed."""
    settings = [(0.95, 0.7), (0.985, 1.3), (0.99, 0.5), (0.992, 2.5), (0.999, 1.0), (0.9, 3.0)]
    results = [trial(task, "basic", "search", None, None, 0)]
    results += [trial(task, "sema", "search", m, t, 0) for m, t in settings]
    results += [trial(task, "ema", "search", m, None, 0) for m, _ in settings]
    return results


def histories_for(results: list[TrialResult]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Return per-epoch histories that rise linearly to each trial's final values."""
    histories = {}
    for r in results:
        name = f"val_{r.metric}"
        histories[r.trial_id] = {
            name: [(epoch, r.val_metric * epoch / EPOCHS) for epoch in range(1, EPOCHS + 1)],
            name + "_fast": [(epoch, r.val_metric_fast * epoch / EPOCHS) for epoch in range(1, EPOCHS + 1)],
        }
    return histories
