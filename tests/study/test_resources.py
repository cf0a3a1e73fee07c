"""Trial sizing from the cluster's resources, and the error when a trial cannot fit."""

from __future__ import annotations

import pytest

from sema_ray.study.config import ResourcesConfig, StudyError
from sema_ray.study.resources import plan_resources


def test_two_cpus_give_half_cpu_workers():
    plan = plan_resources(ResourcesConfig(), [{"CPU": 2.0}])
    assert plan.workers == 2
    assert plan.cpus_per_worker == 0.5
    assert plan.trials_at_once == 1


def test_larger_cluster_runs_trials_at_once():
    plan = plan_resources(ResourcesConfig(), [{"CPU": 8.0}, {"CPU": 8.0}])
    assert plan.cpus_per_worker == 1.0
    assert plan.trials_at_once == 4


def test_fractional_gpus_share_a_gpu():
    plan = plan_resources(ResourcesConfig(gpus_per_worker=0.25), [{"CPU": 16.0, "GPU": 1.0}])
    assert plan.gpus_per_worker == 0.25
    assert plan.trials_at_once == 2


def test_trial_too_large_fails_at_once():
    config = ResourcesConfig(workers=4, cpus_per_worker=1.0)
    with pytest.raises(StudyError) as raised:
        plan_resources(config, [{"CPU": 2.0}])
    message = str(raised.value)
    assert "asks for 4 workers x (1 CPU, 0 GPU)" in message
    assert "has 2 CPUs and 0 GPUs in total" in message


def test_gpu_request_without_gpus_fails():
    with pytest.raises(StudyError) as raised:
        plan_resources(ResourcesConfig(gpus_per_worker=1.0), [{"CPU": 8.0}])
    assert "0 GPUs in total" in str(raised.value)


def test_worker_larger_than_any_node_fails():
    config = ResourcesConfig(workers=2, cpus_per_worker=3.0)
    with pytest.raises(StudyError) as raised:
        plan_resources(config, [{"CPU": 2.0}, {"CPU": 2.0}, {"CPU": 2.0}])
    assert "largest node: 2 CPUs" in str(raised.value)
