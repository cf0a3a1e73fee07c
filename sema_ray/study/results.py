"""Trial results as plain rows: collected from Tune, saved as CSV, ranked per method."""

from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrialResult:
    """The outcome of one trial, read from the last metrics it reported."""

    task: str
    method: str
    phase: str  # "search" (validation split) or "evaluation" (fresh seeds, test split)
    momentum: float | None
    switch_interval: float | None
    other_params: str  # JSON of the remaining method settings (swa, lookahead)
    seed: int
    metric: str  # name of the task's metric, e.g. "accuracy"
    mode: str  # "max" or "min"
    val_metric: float | None  # evaluated weights on the validation split, last epoch
    val_metric_fast: float | None  # fast weights, same split and epoch
    test_metric: float | None  # evaluated weights on the test split, last epoch
    epochs: int  # epochs the trial finished
    status: str  # "ok", "stopped" (by ASHA), or "failed"
    error: str = ""
    horizon_ratio: float | None = None  # switch_every_steps * (1 - momentum), sema only
    trial_id: str = ""

    def setting(self) -> tuple:
        """Return the hyperparameter setting as a hashable key (seed excluded)."""
        return (self.momentum, self.switch_interval, self.other_params)

    def settings_dict(self) -> dict:
        settings = json.loads(self.other_params) if self.other_params else {}
        if self.momentum is not None:
            settings["momentum"] = self.momentum
        if self.switch_interval is not None:
            settings["switch_interval"] = self.switch_interval
        return settings


def better(a: float, b: float, mode: str) -> bool:
    return a > b if mode == "max" else a < b


def best_per_method(results: list[TrialResult]) -> dict[tuple[str, str], TrialResult]:
    """Return the search trial with the best validation metric for every (task, method).

    Only trials that ran every epoch compete: a trial ASHA stopped early reports an
    earlier epoch, which is no fair comparison.
    """
    best: dict[tuple[str, str], TrialResult] = {}
    for result in results:
        if result.phase != "search" or result.status != "ok" or result.val_metric is None:
            continue
        key = (result.task, result.method)
        current = best.get(key)
        if current is None or better(result.val_metric, current.val_metric, result.mode):
            best[key] = result
    return best


def write_csv(results: list[TrialResult], path: Path) -> None:
    fields = [field.name for field in dataclasses.fields(TrialResult)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for result in results:
            writer.writerow(dataclasses.asdict(result))
