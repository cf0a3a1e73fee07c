"""Registry of the tasks a study file can name.

A task module defines a `TASK` (see `sema_ray.tasks.base.Task`) and is listed in
`_TASK_MODULES`; modules load on first lookup so `import sema_ray.tasks` stays cheap.
"""

from __future__ import annotations

import importlib

from sema_ray.tasks.base import Recipe, Splits, Task

_TASK_MODULES = {
    "charlm": "sema_ray.tasks.charlm",
    "cifar10": "sema_ray.tasks.cifar10",
    "cifar100": "sema_ray.tasks.cifar100",
    "circles": "sema_ray.tasks.circles",
    "diabetes": "sema_ray.tasks.diabetes",
    "digits": "sema_ray.tasks.digits",
    "imagefolder": "sema_ray.tasks.imagefolder",
    "moons": "sema_ray.tasks.moons",
    "noisy_quadratic": "sema_ray.tasks.noisy_quadratic",
}


def task_names() -> list[str]:
    """Return the registered task names, sorted."""
    return sorted(_TASK_MODULES)


def get_task(name: str) -> Task:
    """Return the task registered as `name`, or raise ValueError listing the valid names."""
    if name not in _TASK_MODULES:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(task_names())}")
    return importlib.import_module(_TASK_MODULES[name]).TASK


__all__ = ["Recipe", "Splits", "Task", "get_task", "task_names"]
