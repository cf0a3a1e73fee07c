"""Stochastic weight averaging (SWA): an equal-weight running mean of the weights."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .base import Averager
from .batchnorm import recompute_bn_stats
from .modules import collect_model_tensors
from .policies import check_positive_int
from .shadow import ShadowWeights


class SWA(Averager):
    """Equal-weight mean of the weights at steps ``start_step, start_step + every, ...``.

    Steps are counted by ``update()`` calls from 1. The n-th averaged step moves
    the mean by ``1 / n`` toward the current weights, as
    ``torch.optim.swa_utils.AveragedModel`` does with its default average, but
    with fused kernels and without a second model. Before ``start_step`` there is
    no average, and ``averaged()`` leaves the model's own weights in place.

    BatchNorm statistics: with ``average_buffers=True`` (default) the running
    statistics are averaged like weights (AveragedModel's ``use_buffers=True``);
    with False they are copied from the model. Either way the statistics of the
    mean weights are only approximated, so call ``refresh_bn(loader)`` at the end
    of training, which recomputes them for the averaged weights.

    Args:
        model: the model, possibly wrapped in DDP or torch.compile.
        start_step: first step whose weights enter the mean, >= 1.
        every: steps between averaged steps, >= 1.
        average_buffers, shadow_dtype, optimizer, layout: as for ``EMA``.
    """

    method = "swa"

    def __init__(
        self,
        model: nn.Module,
        start_step: int = 1,
        every: int = 1,
        average_buffers: bool = True,
        shadow_dtype: torch.dtype | None = torch.float32,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        layout: str = "foreach",
    ):
        self.start_step = check_positive_int(start_step, "start_step")
        self.every = check_positive_int(every, "every")
        self.average_buffers = bool(average_buffers)

        super().__init__(model, optimizer)
        tracked = collect_model_tensors(self._module)
        self._shadow = ShadowWeights(tracked, shadow_dtype, layout, self.average_buffers)

        # Number of steps in the mean.
        self.num_averaged = 0

    def _on_step(self) -> bool:
        since_start = self.num_steps - self.start_step
        if since_start >= 0 and since_start % self.every == 0:
            self.num_averaged += 1
            if self.num_averaged == 1:
                self._shadow.copy_from_fast()  # exact first mean, no rounding from lerp
            else:
                self._shadow.lerp_(1.0 / self.num_averaged)
        return False

    def _has_average(self) -> bool:
        return self.num_averaged > 0

    def refresh_bn(
        self,
        loader: Iterable,
        num_batches: int | None = None,
        device: torch.device | str | None = None,
    ) -> int:
        """Recompute BatchNorm statistics for the averaged weights and store them in the average.

        The model's own weights and statistics are unchanged afterwards. Returns the
        number of batches used (0 for a model without BatchNorm). Raises
        RuntimeError when nothing has been averaged yet.
        """
        if not self._has_average():
            raise RuntimeError(
                f"SWA has averaged no weights yet (step {self.num_steps}, start_step "
                f"{self.start_step}); call refresh_bn after training past start_step"
            )
        with self.averaged():
            used = recompute_bn_stats(self._module, loader, num_batches, device)
            self._shadow.copy_from_fast(params=False, buffers=True)
        return used

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["num_averaged"] = self.num_averaged
        state["settings"] = {"start_step": self.start_step, "every": self.every}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.num_averaged = int(state["num_averaged"])
