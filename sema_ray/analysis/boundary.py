"""The decision-boundary figure of a 2-D toy task (moons, circles) at the study's best settings.

The study does not keep the trained weights of its trials, so each method is trained
again in this process at its best searched setting, with one seed, by
`sema_ray.tasks.compare.train_methods` (the same steps as a study worker, without DDP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sema_ray.study.results import TrialResult

BOUNDARY_TASKS = ("moons", "circles")  # tasks whose inputs are 2-D points
# Panel titles are about 40 characters wide: m is the momentum, T the switch interval.
SHORT_NAMES = {"momentum": "m", "switch_interval": "T"}


def plot_best_boundaries(task: str, best: dict[str, TrialResult], recipe: dict[str, Any],
                         options: dict[str, Any], data_seed: int, seed: int, path: Path) -> dict[str, dict]:
    """Retrain each method of `best` (method -> best search trial) and draw its decision boundary.

    Returns `{panel label: {"method", "settings", "seed", "test"}}` with the test metrics
    of the retrained model shown in each panel's title. A label reads "sema m=0.99 T=1".
    """
    # Imported here: drawing boundaries trains models, which only this figure needs.
    from sema_ray.tasks import get_task
    from sema_ray.tasks.boundary import plot_decision_boundaries
    from sema_ray.tasks.compare import train_methods

    # NOTE: these are retrained models, not the study's own trial weights. One process
    # replaces the DDP workers, so the batch order differs and the metrics can differ
    # from the study's by about the seed-to-seed spread.
    models, metrics, drawn = {}, {}, {}
    for method, result in best.items():
        settings = result.settings_dict()
        trained = train_methods(task, [method], momentum=settings.get("momentum", 0.99),
                                switch_interval=settings.get("switch_interval", 1.0), recipe=recipe,
                                options=options, data_seed=data_seed, seed=seed)[method]
        label = method + "".join(f" {SHORT_NAMES.get(key, key)}={value:g}" for key, value in sorted(settings.items()))
        models[label] = trained.model
        metrics[label] = trained.test
        drawn[label] = {"method": method, "settings": settings, "seed": seed, "test": dict(trained.test)}

    splits = get_task(task).load_splits(data_seed, get_task(task).resolve_options(options))
    plot_decision_boundaries(models, splits.train, splits.test, metrics, path)
    return drawn
