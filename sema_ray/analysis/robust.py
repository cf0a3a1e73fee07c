"""Is one (momentum, switch interval) setting good on every task? Worst-case regret.

The regret of a setting on a task is how far its validation metric falls behind the
best setting of the same method on that task, in percent of that best value. Percent
puts tasks with different metrics (accuracy, MAE, perplexity) on one scale. The robust
setting minimises the largest regret over tasks; only settings that ran on every task
compete, so only grid or list spaces produce a result.
"""

from __future__ import annotations

from dataclasses import dataclass

from sema_ray.study.results import TrialResult


@dataclass(frozen=True)
class RobustSetting:
    method: str
    settings: dict  # e.g. {"momentum": 0.99, "switch_interval": 1.0}
    worst_regret: float
    regret_by_task: dict[str, float]
    candidates: int  # settings that ran on every task


def setting_scores(results: list[TrialResult], method: str) -> dict[tuple, dict[str, float]]:
    """Return the mean validation metric of each setting on each task (over search seeds)."""
    sums: dict[tuple, dict[str, list[float]]] = {}
    for r in results:
        if r.phase == "search" and r.method == method and r.status == "ok" and r.val_metric is not None:
            sums.setdefault(r.setting(), {}).setdefault(r.task, []).append(r.val_metric)
    return {key: {task: sum(v) / len(v) for task, v in tasks.items()} for key, tasks in sums.items()}


def relative_regret(best: float, value: float) -> float:
    """Return how far `value` is from `best`, in percent of |best|."""
    gap = abs(best - value)
    return 100.0 * gap / abs(best) if best else gap


def regret_by_setting(results: list[TrialResult], method: str = "sema") -> dict[tuple, dict[str, float]]:
    """Return, for every setting that ran on every task, its regret on each task (percent)."""
    tasks = sorted({r.task for r in results if r.method == method and r.phase == "search"})
    modes = {r.task: r.mode for r in results}
    scores = setting_scores(results, method)
    if not tasks or not scores:
        return {}

    best_by_task = {}
    for task in tasks:
        values = [s[task] for s in scores.values() if task in s]
        if not values:
            return {}  # no trial finished on this task, so no setting ran on every task
        best_by_task[task] = max(values) if modes[task] == "max" else min(values)
    complete = {key: s for key, s in scores.items() if all(task in s for task in tasks)}
    return {key: {task: relative_regret(best_by_task[task], by_task[task]) for task in tasks}
            for key, by_task in complete.items()}


def most_robust_setting(results: list[TrialResult], method: str = "sema") -> RobustSetting | None:
    """Return the setting with the smallest worst-case regret over all tasks, if any ran on all."""
    regrets = regret_by_setting(results, method)
    if not regrets:
        return None
    key, regret = min(regrets.items(), key=lambda item: max(item[1].values()))
    example = next(r for r in results if r.method == method and r.setting() == key)
    return RobustSetting(method, example.settings_dict(), max(regret.values()), regret, len(regrets))
