"""Exponential moving average of a model's weights (EMA)."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn

from .base import Averager
from .modules import collect_model_tensors
from .policies import check_momentum, check_positive_int
from .shadow import ShadowWeights


class EMA(Averager):
    """Exponential moving average of a model's weights, kept outside the model.

    After every optimizer step call ``update()``; every ``update_every``-th call does
    ``ema = m * ema + (1 - m) * param`` with ``m = momentum ** update_every`` (the
    same time constant in steps as updating every step). ``momentum`` is what timm
    calls ``decay``. The average starts from the model's weights at construction.
    It averages over about ``1 / (1 - momentum)`` steps: with N steps per epoch,
    0.999 spans 1000 / N epochs.

    Args:
        model: the model, possibly wrapped in DDP or torch.compile; the averager
            tracks the unwrapped module's parameters and persistent buffers.
            Build it after moving and casting the model.
        momentum: in (0, 1).
        update_every: optimizer steps between averaging updates, >= 1.
        warmup: None, or a number of averaging updates over which the momentum
            ramps linearly from about 0 to ``momentum``
            (``momentum * min(1, t / warmup)`` at the t-th update), so the random
            initial weights carry little weight in the average.
        average_buffers: average floating-point buffers (BatchNorm running
            statistics) like parameters; when False the shadow copies them from
            the model at every update instead.
        shadow_dtype: minimum precision of the shadow; the float32 default keeps
            an accurate average of bf16/fp16 models, where ``(1 - momentum) *
            (param - ema)`` is often below the resolution of the model's dtype.
            None keeps each tensor's dtype.
        optimizer: optional. When given, ``update()`` counts only calls that follow
            a completed ``optimizer.step()``, which makes it safe under gradient
            accumulation and GradScaler skips.
        layout: ``"foreach"`` (default, leaves the model as it is) or ``"flat"``
            (moves the model's tensors into one buffer per dtype for a single-kernel
            update); see ``sema_ray.averaging.fused``.

    ``update()`` never synchronizes with the device. Under DDP every rank updates
    its own copy; ranks hold identical weights, so their averages stay identical.
    """

    method = "ema"

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.999,
        update_every: int = 1,
        warmup: int | None = None,
        average_buffers: bool = True,
        shadow_dtype: torch.dtype | None = torch.float32,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        layout: str = "foreach",
    ):
        self.momentum = check_momentum(momentum)
        self.update_every = check_positive_int(update_every, "update_every")
        self.warmup = None if warmup is None else check_positive_int(warmup, "warmup")
        self.average_buffers = bool(average_buffers)

        super().__init__(model, optimizer)
        tracked = collect_model_tensors(self._module)
        self._shadow = ShadowWeights(tracked, shadow_dtype, layout, self.average_buffers)

        # Averaging updates done so far (every update_every-th step).
        self.num_updates = 0

    def momentum_at(self, update_index: int) -> float:
        """Return the momentum used for the ``update_index``-th averaging update (1-based)."""
        momentum = self.momentum
        if self.warmup is not None:
            momentum *= min(1.0, update_index / self.warmup)
        return momentum**self.update_every

    def _on_step(self) -> bool:
        if self.num_steps % self.update_every == 0:
            self.num_updates += 1
            self._shadow.lerp_(1.0 - self.momentum_at(self.num_updates))
        return False

    def _settings(self) -> dict[str, Any]:
        """Return the hyperparameters that a resumed run should share."""
        return {
            "momentum": self.momentum,
            "update_every": self.update_every,
            "warmup": self.warmup,
            "average_buffers": self.average_buffers,
        }

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["num_updates"] = self.num_updates
        state["settings"] = self._settings()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.num_updates = int(state["num_updates"])

        changed = {
            key: (saved, value)
            for key, value in self._settings().items()
            if (saved := state.get("settings", {}).get(key, value)) != value
        }
        if changed:
            details = ", ".join(
                f"{key}: saved {old!r}, now {new!r}" for key, (old, new) in changed.items()
            )
            message = f"resuming the {self.method} averager with changed settings ({details})"
            warnings.warn(message, stacklevel=2)
