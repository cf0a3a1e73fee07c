"""Progress lines while a search runs, one per finished or failed trial."""

from __future__ import annotations

import logging
import time

from ray.tune import Callback

from sema_ray.study.space import decode

logger = logging.getLogger(__name__)


class ProgressLogger(Callback):
    """Log each trial's start, result and duration for one (task, method) search."""

    def __init__(self, task: str, method: str, total: int, metric: str):
        self.task, self.method, self.total, self.metric = task, method, total, metric
        self.done = 0
        self.started: dict[str, float] = {}

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started[trial.trial_id] = time.perf_counter()
        momentum, interval = decode(trial.config)
        logger.info("[%s/%s] trial %d/%d started: momentum=%s switch_interval=%s", self.task,
                    self.method, self.done + 1, self.total, _fmt(momentum), _fmt(interval))

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.done += 1
        value = (trial.last_result or {}).get(self.metric)
        logger.info("[%s/%s] trial %d/%d finished in %.0f s: %s=%s", self.task, self.method,
                    self.done, self.total, self._elapsed(trial), self.metric, _fmt(value))

    def on_trial_error(self, iteration, trials, trial, **info):
        self.done += 1
        logger.error("[%s/%s] trial %d/%d failed after %.0f s; see %s", self.task, self.method,
                     self.done, self.total, self._elapsed(trial), trial.path)

    def _elapsed(self, trial) -> float:
        return time.perf_counter() - self.started.get(trial.trial_id, time.perf_counter())


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4g}"
