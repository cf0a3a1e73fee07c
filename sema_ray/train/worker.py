"""The per-worker training loop that Ray Train runs on every DDP rank of a trial.

Order within an epoch, the same on every rank:
1. train: forward, backward, `optimizer.step()`, scheduler step, `averager.update()`
   (which switches SEMA's averaged weights into the model every `switch_every` steps);
2. evaluate the averaged weights and the fast weights on the validation split;
3. every `checkpoint_every` epochs, save a checkpoint of the fast weights, the averager,
   optimizer, scheduler and RNG;
4. every `report_every` epochs (and with each checkpoint) `ray.train.report` the
   metrics; rank 0 records every epoch's metrics in MLflow.
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

logger = logging.getLogger(__name__)


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite, so the trial cannot continue."""


def run_worker(config: dict) -> None:
    """Train one trial on this rank; Ray Train calls it with `TrialSpec.to_config()`."""
    spec = TrialSpec.from_config(config)
    context = ray.train.get_context()
    rank, world_size = context.get_world_rank(), context.get_world_size()
    seed_everything(spec.seed)

    task = get_task(spec.task)
    recipe = spec.recipe
    splits = task.load_splits(spec.data_seed, spec.task_options)
    loaders = build_loaders(splits, recipe.batch_size, world_size, rank, spec.seed)
    train_loader = loaders[0]
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
        # Only rank 0 writes to MLflow, so only rank 0 pays for importing it.
        from sema_ray.tracking.trial import TrialRecorder

        recorder = TrialRecorder(spec.tracking, spec.params() | {"world_size": world_size,
                                                                  "steps_per_epoch": steps_per_epoch})
    try:
        failure = train_epochs(spec, task, model, module, averager, optimizer, scheduler, loaders,
                               start_epoch, steps_per_epoch, world_size, rank, recorder, device)
    except Exception:
        if recorder is not None:
            recorder.finish("FAILED")
        raise
    if recorder is not None:
        recorder.finish("FAILED" if failure else "FINISHED")


def train_epochs(spec, task, model, module, averager, optimizer, scheduler, loaders,
                 start_epoch, steps_per_epoch, world_size, rank, recorder, device) -> str | None:
    """Run the remaining epochs; return why the trial failed, or None.

    A non-finite loss ends the trial with a `failure` metric instead of an exception,
    because Ray Train would restart an exception from the last checkpoint and the loss
    would diverge again.
    """
    recipe = spec.recipe
    train_loader, val_loader, test_loader = loaders
    for epoch in range(start_epoch, recipe.epochs):
        train_loader.sampler.set_epoch(epoch)
        started = time.perf_counter()
        try:
            train_loss, samples = train_one_epoch(model, task.loss_fn, train_loader, optimizer,
                                                  scheduler, averager, epoch * steps_per_epoch, device)
        except NonFiniteLossError as error:
            # Retrying would diverge again: report the reason and end the trial cleanly.
            logger.warning("rank %d: %s; the trial is marked failed", rank, error)
            # Tune checks that every report carries the search metric; NaN lets the
            # search record the trial as failed and go on with the next one.
            ray.train.report({"epoch": epoch, "failure": str(error), f"val_{task.metric}": math.nan,
                              "trial_id": spec.tracking.trial_key if spec.tracking else ""})
            if recorder is not None:
                recorder.set_tags({"sema_ray.failure": str(error)})
            return str(error)
        seconds = time.perf_counter() - started

        metrics = {"epoch": epoch + 1, "train_loss": train_loss, "steps_per_epoch": steps_per_epoch,
                   "samples_per_second": samples * world_size / seconds,
                   "trial_id": spec.tracking.trial_key if spec.tracking else ""}
        metrics |= evaluate_weights(task, module, averager, val_loader, device, prefix="val_")
        last = epoch + 1 == recipe.epochs
        if last:
            # Searches select on validation; the evaluation phase reports the test split.
            metrics |= evaluate_weights(task, module, averager, test_loader, device, prefix="test_")

        report(metrics, epoch, spec, module, averager, optimizer, scheduler, rank, last)
        if recorder is not None:
            recorder.log_metrics(metrics, step=epoch + 1)
    return None


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
    # NOTE: evaluating the full split on every rank is cheap for the bundled datasets.
    # Large datasets need a sharded evaluation with an all-reduce of the sums.
    val_loader = DataLoader(splits.val, batch_size=512)
    test_loader = DataLoader(splits.test, batch_size=512)
    return train_loader, val_loader, test_loader


def averager_params(spec: TrialSpec, steps_per_epoch: int) -> dict:
    """Convert the trial's method settings (in epochs) into the averager's arguments (in steps)."""
    extra = spec.method_params
    if spec.method in ("ema", "sema"):
        params = {"momentum": spec.momentum}
        if spec.method == "sema":
            params["switch_every"] = max(1, round(spec.switch_interval * steps_per_epoch))
        return params
    if spec.method == "swa":
        # Defaults: average the last quarter of training, one snapshot per epoch.
        start_epoch = extra.get("start_epoch", 0.75 * spec.recipe.epochs)
        every_epochs = extra.get("every_epochs", 1.0)
        # The averager counts steps from 1, so "from the start" is step 1.
        return {"start_step": max(1, round(start_epoch * steps_per_epoch)),
                "every": max(1, round(every_epochs * steps_per_epoch))}
    if spec.method == "lookahead":
        return {key: (int(value) if key == "k" else value) for key, value in extra.items()}
    return {}


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

        # Every rank must agree to stop on a non-finite loss, or the others would hang in
        # the next all-reduce: average the loss over ranks and decide on the result.
        value = global_mean(loss.detach())
        if not math.isfinite(value):
            raise NonFiniteLossError(f"training loss became {value} at step {first_update + step + 1}")
        loss_sum += value * len(targets)
        samples += len(targets)
    return loss_sum / samples, samples


def global_mean(value: torch.Tensor) -> float:
    """Return the mean of a scalar over all ranks (the value itself without DDP)."""
    if not torch.distributed.is_initialized():
        return float(value)
    total = value.reshape(1).float().clone()
    torch.distributed.all_reduce(total)
    return float(total) / torch.distributed.get_world_size()


def evaluate_weights(task, module: nn.Module, averager, loader, device, prefix: str) -> dict:
    """Evaluate the averaged weights (the reported ones) and the fast weights."""
    with averager.averaged():
        averaged = task.evaluate(module, loader, device)
    fast = task.evaluate(module, loader, device)
    metrics = {f"{prefix}{key}": value for key, value in averaged.items()}
    metrics |= {f"{prefix}{key}_fast": value for key, value in fast.items()}
    return metrics


def report(metrics, epoch, spec, module, averager, optimizer, scheduler, rank, last) -> None:
    """Report the epoch's metrics to Ray when due; rank 0 attaches a checkpoint when one is due.

    Every rank takes the same decision, because a report waits for all ranks.
    """
    checkpoint_due = last or (epoch + 1) % spec.checkpoint_every == 0
    if not checkpoint_due and (epoch + 1) % spec.report_every:
        return
    if not checkpoint_due or rank != 0:
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
