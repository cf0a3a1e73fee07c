"""Progress lines while a search runs, one per finished or failed trial."""

from __future__ import annotations

import logging
import time

from ray.tune import Callback

from sema_ray.study.space import decode

logger = logging.getLogger(__name__)


class ProgressLogger(Callback):
    """Log each trial's start, result and duration for one (task, method) search."""

    def __init__(self, task: str, method: str, phase: str, total: int, metric: str):
        self.task, self.method, self.total, self.metric = task, method, total, metric
        self.label = f"{task}/{method} {phase}"
        self.started: dict[str, float] = {}
        # Trials are numbered in the order they start, so concurrent trials keep their number.
        self.number: dict[str, int] = {}

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started[trial.trial_id] = time.perf_counter()
        self.number.setdefault(trial.trial_id, len(self.number) + 1)
        settings = decode(trial.config)
        text = " ".join(f"{key}={_fmt(value)}" for key, value in sorted(settings.items())) or "defaults"
        seed = trial.config.get("seed")
        logger.info("[%s] trial %d/%d started: %s%s", self.label, self._number(trial), self.total, text,
                    f" seed={seed}" if seed is not None else "")

    def on_trial_complete(self, iteration, trials, trial, **info):
        value = (trial.last_result or {}).get(self.metric)
        failure = (trial.last_result or {}).get("failure")
        if failure:
            logger.error("[%s] trial %d/%d failed after %.0f s: %s", self.label, self._number(trial), self.total,
                         self._elapsed(trial), failure)
            return
        logger.info("[%s] trial %d/%d finished in %.0f s: %s=%s", self.label, self._number(trial), self.total,
                    self._elapsed(trial), self.metric, _fmt(value))

    def on_trial_error(self, iteration, trials, trial, **info):
        logger.error("[%s] trial %d/%d failed after %.0f s; see %s", self.label, self._number(trial),
                     self.total, self._elapsed(trial), trial.path)

    def _number(self, trial) -> int:
        return self.number.setdefault(trial.trial_id, len(self.number) + 1)

    def _elapsed(self, trial) -> float:
        return time.perf_counter() - self.started.get(trial.trial_id, time.perf_counter())


def _fmt(value) -> str:
    if isinstance(value, (int, float)):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
