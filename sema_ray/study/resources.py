"""Size each trial from what the Ray cluster offers, and fail fast when it cannot fit."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sema_ray.study.config import ResourcesConfig, StudyError

# The Tune trial itself only waits on its TorchTrainer, so it requests a sliver of a CPU.
TRIAL_DRIVER_CPUS = 0.01


@dataclass(frozen=True)
class TrialResources:
    workers: int
    cpus_per_worker: float
    gpus_per_worker: float
    trials_at_once: int

    def describe(self) -> str:
        text = f"{self.workers} workers x {self.cpus_per_worker:g} CPU"
        if self.gpus_per_worker:
            text += f" + {self.gpus_per_worker:g} GPU"
        return text


def plan_resources(config: ResourcesConfig, nodes: list[dict[str, float]]) -> TrialResources:
    """Choose per-trial resources for a cluster whose nodes offer `nodes` resources.

    With `cpus_per_worker: auto`, a trial's workers together take at most half of the
    cluster's CPUs (and at most one CPU each), so Ray Train's controller, the Tune
    trial and the data loading of each worker keep a share: on 2 CPUs that is two
    workers of half a CPU each and one trial at a time.
    """
    total_cpus = sum(node.get("CPU", 0.0) for node in nodes)
    total_gpus = sum(node.get("GPU", 0.0) for node in nodes)
    largest_cpus = max((node.get("CPU", 0.0) for node in nodes), default=0.0)
    largest_gpus = max((node.get("GPU", 0.0) for node in nodes), default=0.0)

    cpus = config.cpus_per_worker
    if cpus == "auto":
        cpus = min(1.0, total_cpus / (2 * config.workers))
    cpus = float(cpus)
    gpus = config.gpus_per_worker

    needed_cpus = config.workers * cpus + TRIAL_DRIVER_CPUS
    fits = (
        cpus > 0
        and needed_cpus <= total_cpus
        and cpus <= largest_cpus
        and config.workers * gpus <= total_gpus
        and gpus <= largest_gpus
    )
    if not fits:
        raise StudyError(
            f"resources: a trial asks for {config.workers} workers x ({cpus:g} CPU, {gpus:g} GPU), "
            f"but the Ray cluster has {total_cpus:g} CPUs and {total_gpus:g} GPUs in total "
            f"(largest node: {largest_cpus:g} CPUs, {largest_gpus:g} GPUs); "
            "lower resources.workers, cpus_per_worker or gpus_per_worker, or add nodes"
        )

    trials_at_once = config.trials_at_once
    if trials_at_once == "auto":
        if config.cpus_per_worker == "auto":
            by_cpu = math.floor(total_cpus / (2 * config.workers * cpus))
        else:
            # The study file sized the workers itself: fill the cluster with them.
            by_cpu = math.floor(total_cpus / needed_cpus)
        by_gpu = math.floor(total_gpus / (config.workers * gpus)) if gpus else by_cpu
        trials_at_once = max(1, min(by_cpu, by_gpu))
    return TrialResources(config.workers, cpus, gpus, trials_at_once)
