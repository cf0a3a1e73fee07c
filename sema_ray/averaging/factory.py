"""Build an averager from a method name, as study configurations name them."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from .base import Averager, NoAveraging
from .ema import EMA
from .lookahead import Lookahead
from .sema import SwitchEMA
from .swa import SWA

METHODS = ("basic", "ema", "sema", "swa", "lookahead")

_CLASSES: dict[str, type[Averager]] = {
    "basic": NoAveraging,
    "ema": EMA,
    "sema": SwitchEMA,
    "swa": SWA,
    "lookahead": Lookahead,
}

# Passed by build_averager itself, so not accepted in **params.
_BOUND_ARGUMENTS = {"self", "model", "optimizer"}


def method_parameters(method: str) -> tuple[str, ...]:
    """Return the keyword parameters ``build_averager`` accepts for ``method``."""
    _check_method(method)
    signature = inspect.signature(_CLASSES[method].__init__)
    return tuple(name for name in signature.parameters if name not in _BOUND_ARGUMENTS)


def _check_method(method: str) -> None:
    if method not in _CLASSES:
        raise ValueError(
            f"unknown averaging method {method!r}; valid methods: {', '.join(METHODS)}"
        )


def build_averager(
    method: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    **params: Any,
) -> Averager:
    """Build the averager for ``method`` (one of ``METHODS``) on ``model``.

    ``params`` are the method's own keyword arguments: ``momentum``,
    ``switch_every``, ``update_every``... for ``ema``/``sema``, ``start_step`` and
    ``every`` for ``swa``, ``k`` and ``alpha`` for ``lookahead``; ``basic`` takes
    none. The optimizer lets ``update()`` count only real optimizer steps, and
    ``lookahead`` requires it. Raises ValueError for an unknown method or an
    unknown parameter, listing the valid ones.
    """
    valid = method_parameters(method)
    for name in params:
        if name not in valid:
            raise ValueError(
                f"unknown parameter {name!r} for averaging method {method!r}; valid "
                f"parameters: {', '.join(valid) if valid else 'none'}"
            )

    if method == "lookahead":
        if optimizer is None:
            raise ValueError("averaging method 'lookahead' needs the optimizer")
        return Lookahead(optimizer, model=model, **params)
    return _CLASSES[method](model, optimizer=optimizer, **params)
