"""Every task trains a few DDP steps under one Ray Train TorchTrainer run with 2 CPU workers."""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

import pytest

STEPS = 2  # optimizer steps per task on each worker


def task_settings(cifar10_root, cifar100_root, imagenet_style_root, text_file) -> dict:
    """Return {task: (recipe overrides, options)} small enough for a few CPU steps."""
    return {
        "digits": ({"batch_size": 16}, {}),
        "moons": ({}, {}),
        "circles": ({}, {}),
        "diabetes": ({"batch_size": 16}, {"hidden_size": 16}),
        "charlm": ({"batch_size": 4}, {"corpus": str(text_file), "seq_len": 16, "embedding_dim": 8,
                                       "hidden_size": 16}),
        "cifar10": ({"batch_size": 4}, {"root": str(cifar10_root), "val_size": 6}),
        "cifar100": ({"preset": "vit", "batch_size": 4}, {"root": str(cifar100_root), "val_size": 6}),
        "imagefolder": ({"model": "resnet10t", "batch_size": 4},
                        {"root": str(imagenet_style_root), "image_size": 32, "val_fraction": 0.2}),
        "noisy_quadratic": ({}, {"dim": 4, "replicas": 64, "train_size": 64}),
    }


def train_every_task(config: dict) -> None:
    """Ray Train worker: a few DDP steps of each task, then evaluate and report."""
    import ray.train
    import ray.train.torch
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader, DistributedSampler

    from sema_ray.tasks import get_task
    from sema_ray.train.optim import build_optimizer

    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    device = ray.train.torch.get_device()
    report = {}
    for name, (overrides, given_options) in config["tasks"].items():
        task = get_task(name)
        recipe = task.resolve_recipe(overrides)
        options = task.resolve_options(given_options)
        torch.manual_seed(0)

        splits = task.load_splits(0, options)
        sampler = DistributedSampler(splits.train, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
        loader = DataLoader(splits.train, batch_size=recipe.batch_size // world_size, sampler=sampler)
        model = ray.train.torch.prepare_model(task.build_model(recipe, options))
        module = model.module if isinstance(model, DistributedDataParallel) else model
        optimizer = build_optimizer(module, recipe)

        steps, loss = 0, float("nan")
        for inputs, targets in loader:
            inputs, targets = inputs.to(device), targets.to(device)
            loss_tensor = task.loss_fn(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss_tensor.backward()
            optimizer.step()
            loss = loss_tensor.item()
            steps += 1
            if steps == STEPS:
                break

        # The weights must agree on both ranks after the all-reduced steps.
        checksum = torch.tensor([sum(p.detach().double().sum().item() for p in module.parameters())],
                                dtype=torch.float64)
        gathered = [torch.zeros(1, dtype=torch.float64) for _ in range(world_size)]
        dist.all_gather(gathered, checksum)
        metrics = task.evaluate(module, DataLoader(splits.val, batch_size=64), device)

        report[f"{name}/steps"] = steps
        report[f"{name}/loss"] = loss
        report[f"{name}/ddp"] = float(isinstance(model, DistributedDataParallel))
        report[f"{name}/rank_spread"] = max(abs(g.item() - gathered[0].item()) for g in gathered)
        report[f"{name}/{task.metric}"] = metrics[task.metric]
        report[f"{name}/finite"] = float(all(math.isfinite(value) for value in metrics.values()))

    # Ray Train keeps only metrics that come with a checkpoint, so rank 0 attaches a tiny one.
    if rank != 0:
        ray.train.report(report)
        return
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / "tasks.txt").write_text("\n".join(config["tasks"]))
        ray.train.report(report, checkpoint=ray.train.Checkpoint.from_directory(directory))


@pytest.fixture(scope="module")
def ddp_report(ray_local, tmp_path_factory, cifar10_root, cifar100_root, imagenet_style_root, text_file):
    from ray import cloudpickle
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    # Ray workers cannot import test modules, so the train function travels by value.
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    settings = task_settings(cifar10_root, cifar100_root, imagenet_style_root, text_file)
    trainer = TorchTrainer(
        train_every_task,
        train_loop_config={"tasks": settings},
        scaling_config=ScalingConfig(num_workers=2, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name="every_task", storage_path=str(tmp_path_factory.mktemp("ray"))),
    )
    result = trainer.fit()
    return settings, result.metrics


def test_ddp_run_covers_every_task(ddp_report):
    from sema_ray.tasks import task_names

    settings, _ = ddp_report
    assert sorted(settings) == task_names()


@pytest.mark.parametrize("name", ["charlm", "cifar10", "cifar100", "circles", "diabetes", "digits",
                                  "imagefolder", "moons", "noisy_quadratic"])
def test_task_trains_under_ddp(ddp_report, name):
    from sema_ray.tasks import get_task

    _, metrics = ddp_report
    assert metrics[f"{name}/steps"] == STEPS
    assert metrics[f"{name}/ddp"] == 1.0
    assert metrics[f"{name}/rank_spread"] == 0.0
    assert math.isfinite(metrics[f"{name}/loss"])
    assert metrics[f"{name}/finite"] == 1.0
    assert f"{name}/{get_task(name).metric}" in metrics
