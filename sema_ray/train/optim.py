"""Optimizer and learning-rate schedule from a recipe, built with timm by name."""

from __future__ import annotations

from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from torch import nn

from sema_ray.tasks import Recipe

# timm optimizers that take a `momentum` argument.
SGD_LIKE = ("sgd", "momentum", "nesterov", "lars", "larc", "nlars", "nlarc")


def build_optimizer(model: nn.Module, recipe: Recipe):
    """Create the recipe's optimizer; `optimizer_momentum` reaches only SGD-like optimizers."""
    extra = {}
    if recipe.optimizer in SGD_LIKE:
        extra["momentum"] = recipe.optimizer_momentum
    return create_optimizer_v2(
        model, opt=recipe.optimizer, lr=recipe.lr, weight_decay=recipe.weight_decay, **extra
    )


def build_scheduler(optimizer, recipe: Recipe, steps_per_epoch: int):
    """Create the recipe's schedule, stepped once per optimizer step (timm's `step_update`)."""
    scheduler, _ = create_scheduler_v2(
        optimizer,
        sched=recipe.scheduler,
        num_epochs=recipe.epochs,
        warmup_epochs=recipe.warmup_epochs,
        warmup_lr=recipe.lr * 0.01,
        min_lr=0.0,
        step_on_epochs=False,
        updates_per_epoch=steps_per_epoch,
    )
    return scheduler
