"""Trial sizes on GPU clusters: the study file's resources, and how many trials run at once."""

from __future__ import annotations

import pytest

from sema_ray.study.config import ResourcesConfig, StudyError
from sema_ray.study.resources import plan_resources

CPU_HEAD = {"CPU": 8.0}


def gpu_node(gpus: float, cpus: float = 16.0) -> dict[str, float]:
    return {"CPU": cpus, "GPU": gpus}


def test_gpu_trial_takes_study_file_resources():
    config = ResourcesConfig(workers=2, cpus_per_worker=4, gpus_per_worker=1)
    planned = plan_resources(config, [CPU_HEAD, gpu_node(4), gpu_node(4)])
    assert planned.workers == 2
    assert planned.cpus_per_worker == 4.0
    assert planned.gpus_per_worker == 1.0


def test_fractional_gpus_share_one_gpu():
    # A quarter GPU per worker: four one-worker trials share the single GPU.
    config = ResourcesConfig(workers=1, cpus_per_worker=2, gpus_per_worker=0.25)
    planned = plan_resources(config, [gpu_node(1)])
    assert planned.gpus_per_worker == 0.25
    assert planned.trials_at_once == 4


def test_auto_cpus_on_gpu_cluster_is_one_per_worker():
    config = ResourcesConfig(workers=2, gpus_per_worker=1)
    planned = plan_resources(config, [CPU_HEAD, gpu_node(4), gpu_node(4)])
    assert planned.cpus_per_worker == 1.0
    # 8 GPUs hold four 2-GPU trials; their 8 CPUs are a fifth of the cluster's 40.
    assert planned.trials_at_once == 4


def test_explicit_cpus_fill_every_gpu():
    # Each GPU node fits two trials of 2 x (4 CPU, 1 GPU): 16 CPUs and 4 GPUs per node,
    # and the Tune trial processes (0.01 CPU each) fit on the CPU head.
    config = ResourcesConfig(workers=2, cpus_per_worker=4, gpus_per_worker=1)
    planned = plan_resources(config, [CPU_HEAD, gpu_node(4), gpu_node(4)])
    assert planned.trials_at_once == 4


def test_gpus_beyond_largest_node_fail_fast():
    config = ResourcesConfig(workers=2, cpus_per_worker=1, gpus_per_worker=2)
    with pytest.raises(StudyError, match="gpus_per_worker") as raised:
        plan_resources(config, [CPU_HEAD, gpu_node(1), gpu_node(1)])
    assert "largest node" in str(raised.value)


def test_gpu_study_on_cpu_cluster_fails_fast():
    config = ResourcesConfig(workers=2, gpus_per_worker=0.5)
    with pytest.raises(StudyError, match="0 GPUs"):
        plan_resources(config, [{"CPU": 2.0}])
