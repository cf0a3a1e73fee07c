"""The plan of a study (trials, epochs, estimated worker-hours), without starting Ray."""

from __future__ import annotations

import math

from sema_ray.study.config import METHOD_KEYS, MomentumRange, StudyConfig
from sema_ray.tasks import get_task

# Measured start-up of one Ray Train run (controller and worker processes) on a
# 2-core machine; a rough figure for the estimate, not a guarantee.
TRIAL_STARTUP_SECONDS = 20.0


def search_trials(config: StudyConfig, method: str) -> int:
    """Return how many search trials `method` runs on each task."""
    space = config.methods[method]
    values = [getattr(space, key) for key in METHOD_KEYS[method]]
    if config.search.sampler == "grid":
        sizes = [len(value) for value in values if isinstance(value, list)]
        return math.prod(sizes) * len(config.search.seeds)
    if not any(isinstance(value, (list, MomentumRange)) for value in values):
        return 1
    return space.trials or config.search.trials


def format_plan(config: StudyConfig) -> str:
    """Return a table of what the study will run and an estimate of its cost."""
    rows = [("task", "method", "search trials", "evaluation trials", "epochs", "worker-hours (est.)")]
    total_trials, total_hours = 0, 0.0
    for entry in config.tasks:
        recipe = entry.resolved_recipe()
        task = get_task(entry.name)
        for method in config.methods:
            search = search_trials(config, method)
            evaluation = config.evaluation.seeds
            trials = search + evaluation
            seconds = TRIAL_STARTUP_SECONDS + recipe.epochs * task.seconds_per_epoch
            hours = trials * config.resources.workers * seconds / 3600
            total_trials += trials
            total_hours += hours
            rows.append((entry.name, method, str(search), str(evaluation), str(recipe.epochs), f"{hours:.2f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"study {config.name!r}: {len(config.tasks)} tasks, {len(config.methods)} methods, "
             f"sampler {config.search.sampler}, {config.resources.workers} workers per trial"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.append(f"total: {total_trials} trials, about {total_hours:.2f} worker-hours "
                 f"(estimate: {TRIAL_STARTUP_SECONDS:.0f} s start-up per trial plus each task's "
                 "seconds_per_epoch on a CPU worker)")
    return "\n".join(lines)
