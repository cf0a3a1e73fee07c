"""Trial results as plain rows: collected from Tune, saved as CSV, ranked per method."""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one trial, read from the last metrics it reported."""

    task: str
    method: str
    momentum: float | None
    switch_interval: float | None
    seed: int
    metric: str  # name of the task's metric, e.g. "accuracy"
    mode: str  # "max" or "min"
    val_metric: float | None  # averaged weights on the validation split, last epoch
    val_metric_fast: float | None  # fast weights, same split and epoch
    test_metric: float | None  # averaged weights on the test split; never used to select
    epochs: int
    status: str  # "ok" or "failed"
    error: str = ""
    horizon_ratio: float | None = None  # switch_every_steps * (1 - momentum)


def best_per_method(results: list[TrialResult]) -> dict[tuple[str, str], TrialResult]:
    """Return the trial with the best validation metric for every (task, method)."""
    best: dict[tuple[str, str], TrialResult] = {}
    for result in results:
        if result.status != "ok" or result.val_metric is None:
            continue
        key = (result.task, result.method)
        current = best.get(key)
        sign = 1.0 if result.mode == "max" else -1.0
        if current is None or sign * result.val_metric > sign * current.val_metric:
            best[key] = result
    return best


def write_csv(results: list[TrialResult], path: Path) -> None:
    fields = [field.name for field in dataclasses.fields(TrialResult)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow(dataclasses.asdict(result))
