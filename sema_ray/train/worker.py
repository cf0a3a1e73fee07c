"""The per-worker training loop that Ray Train runs on every DDP rank of a trial.

Order within an epoch, the same on every rank:
1. train: forward, backward, `optimizer.step()`, scheduler step, `averager.update()`
   (which switches SEMA's averaged weights into the model every `switch_every` steps);
2. evaluate the averaged weights and the fast weights on the validation split;
3. save a checkpoint of the fast weights, the averager, optimizer, scheduler and RNG;
4. `ray.train.report` the metrics, and rank 0 records them in MLflow.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import ray.train
import ray.train.torch
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler

from sema_ray.averaging import build_averager
from sema_ray.tasks import Splits, get_task
from sema_ray.train.checkpoint import (
    capture_rng,
    load_state,
    new_checkpoint_dir,
    restore_rng,
    save_state,
)
from sema_ray.train.optim import build_optimizer, build_scheduler
from sema_ray.train.spec import TrialSpec
from sema_ray.tracking.trial import TrialRecorder

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite, so the trial cannot continue."""


def train_loop_per_worker(config: dict) -> None:
    """Train one trial on this rank; Ray Train calls it with `TrialSpec.to_config()`."""
    spec = TrialSpec.from_config(config)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    seed_everything(spec.seed)

    task = get_task(spec.task)
    recipe = spec.recipe
    splits = task.load_splits(spec.data_seed, spec.task_options)
    train_loader, val_loader, test_loader = build_loaders(splits, recipe.batch_size, world_size, rank, spec.seed)
    device = ray.train.torch.get_device()

    model = ray.train.torch.prepare_model(task.build_model(recipe, spec.task_options))
    module = model.module if isinstance(model, DistributedDataParallel) else model
    optimizer = build_optimizer(module, recipe)
    steps_per_epoch = len(train_loader)
    scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
    averager = build_averager(spec.method, module, optimizer, **averager_params(spec, steps_per_epoch))

    start_epoch = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:
        state = load_state(checkpoint)
        module.load_state_dict(state["model"])
        averager.load_state_dict(state["averager"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
        start_epoch = state["epoch"] + 1
        logger.info("rank %d resumed trial at epoch %d", rank, start_epoch)

    recorder = None
    if rank == 0 and spec.tracking is not None:
        recorder = TrialRecorder(spec.tracking, spec.params() | {"world_size": world_size,
                                                                  "steps_per_epoch": steps_per_epoch})
    try:
        for epoch in range(start_epoch, recipe.epochs):
            train_loader.sampler.set_epoch(epoch)
            started = time.perf_counter()
            train_loss, samples = train_one_epoch(model, task.loss_fn, train_loader, optimizer,
                                                  scheduler, averager, epoch * steps_per_epoch, device)
            seconds = time.perf_counter() - started

            metrics = {"epoch": epoch + 1, "train_loss": train_loss, "steps_per_epoch": steps_per_epoch,
                       "samples_per_second": samples * world_size / seconds}
            metrics |= evaluate_weights(task, module, averager, val_loader, device, prefix="val_")
            last = epoch + 1 == recipe.epochs
            if last:
                # The test split is recorded for reference; searches select on validation.
                metrics |= evaluate_weights(task, module, averager, test_loader, device, prefix="test_")

            report(metrics, epoch, spec, module, averager, optimizer, scheduler, rank, last)
            if recorder is not None:
                recorder.log_metrics(metrics, step=epoch + 1)
    except Exception:
        if recorder is not None:
            recorder.finish("FAILED")
        raise
    if recorder is not None:
        recorder.finish("FINISHED")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def build_loaders(splits: Splits, global_batch: int, world_size: int, rank: int, seed: int):
    """Shard the train split over ranks; every rank evaluates the full val and test splits."""
    if global_batch % world_size:
        raise ValueError(
            f"recipe.batch_size={global_batch} does not divide over {world_size} workers; "
            f"use a multiple of {world_size}"
        )
    sampler = DistributedSampler(splits.train, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    train_loader = DataLoader(splits.train, batch_size=global_batch // world_size, sampler=sampler)
    # NOTE: evaluating the full split on every rank is cheap for the bundled datasets;
    # large datasets want a sharded evaluation with an all-reduce of the sums.
    val_loader = DataLoader(splits.val, batch_size=512)
    test_loader = DataLoader(splits.test, batch_size=512)
    return train_loader, val_loader, test_loader


def averager_params(spec: TrialSpec, steps_per_epoch: int) -> dict:
    """Convert the trial's method settings into the averager's arguments."""
    if spec.method == "basic":
        return {}
    params = {"momentum": spec.momentum}
    if spec.method == "sema":
        params["switch_every"] = max(1, round(spec.switch_interval * steps_per_epoch))
    return params


def train_one_epoch(model, loss_fn, loader, optimizer, scheduler, averager, first_update, device):
    """Train one epoch; return the mean training loss on this rank and the samples seen."""
    model.train()
    loss_sum, samples = 0.0, 0
    for step, (inputs, targets) in enumerate(loader):
        inputs, targets = inputs.to(device), targets.to(device)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step_update(first_update + step + 1)
        averager.update()

        # One host sync per step is already paid by this float(); fine at these sizes.
        value = float(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"training loss became {value} at epoch step {step}")
        loss_sum += value * len(targets)
        samples += len(targets)
    return loss_sum / samples, samples


def evaluate_weights(task, module: nn.Module, averager, loader, device, prefix: str) -> dict:
    """Evaluate the averaged weights (the reported ones) and the fast weights."""
    with averager.averaged():
        averaged = task.evaluate(module, loader, device)
    fast = task.evaluate(module, loader, device)
    metrics = {f"{prefix}{key}": value for key, value in averaged.items()}
    metrics |= {f"{prefix}{key}_fast": value for key, value in fast.items()}
    return metrics


def report(metrics, epoch, spec, module, averager, optimizer, scheduler, rank, last) -> None:
    """Report the epoch's metrics to Ray; rank 0 attaches a checkpoint when one is due."""
    due = last or (epoch + 1) % spec.checkpoint_every == 0
    if not due or rank != 0:
        ray.train.report(metrics)
        return
    state = {
        # Saved outside `averager.averaged()`, so these are always the fast weights.
        "model": module.state_dict(),
        "averager": averager.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "epoch": epoch,
        "rng": capture_rng(),
    }
    with new_checkpoint_dir() as directory:
        save_state(Path(directory), state)
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(directory))
