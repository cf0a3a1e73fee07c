"""Recompute BatchNorm running statistics for a model's current weights."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from .modules import unwrap_model


def _first_tensor(batch):
    """Return the input tensor of a batch that is a tensor, a tuple/list, or a dict."""
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (list, tuple)) and batch:
        return batch[0]
    if isinstance(batch, dict) and batch:
        return next(iter(batch.values()))
    raise TypeError(
        f"cannot find the model input in a batch of type {type(batch).__name__}; "
        "yield tensors, (input, target) pairs or dicts whose first value is the input"
    )


@torch.no_grad()
def recompute_bn_stats(
    model: nn.Module,
    loader: Iterable,
    num_batches: int | None = None,
    device: torch.device | str | None = None,
) -> int:
    """Recompute the running statistics of every BatchNorm layer in ``model``.

    Averaged weights no longer match the running statistics collected along the
    training path. This resets the statistics and runs ``num_batches`` batches
    (all of ``loader`` when None) through the model in training mode. Each layer's
    momentum is set to None meanwhile, so the result is an equal-weight mean over
    the batches. Layer momenta and train/eval modes are restored afterwards.
    Returns the number of batches used; a model without BatchNorm layers runs none.

    The forward passes go to the unwrapped module, so DDP does not broadcast or
    synchronize anything: under DDP, give every rank the same batches to keep the
    ranks' statistics identical.
    """
    module = unwrap_model(model)
    layers = [layer for layer in module.modules() if isinstance(layer, _BatchNorm)]
    if not layers:
        return 0
    if num_batches is not None and num_batches < 1:
        raise ValueError(f"num_batches must be >= 1 or None, got {num_batches!r}")
    if device is None:
        device = next(module.parameters()).device

    saved_momenta = [layer.momentum for layer in layers]
    saved_modes = [(sub, sub.training) for sub in module.modules()]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None

    used = 0
    try:
        module.train()
        for batch in loader:
            if num_batches is not None and used >= num_batches:
                break
            module(_first_tensor(batch).to(device))
            used += 1
    finally:
        for layer, momentum in zip(layers, saved_momenta):
            layer.momentum = momentum
        for sub, training in saved_modes:
            sub.training = training

    if used == 0:
        raise ValueError("the loader for recomputing BatchNorm statistics yielded no batches")
    return used
