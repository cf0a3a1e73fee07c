"""Lookahead: slow weights pulled toward the fast weights every k optimizer steps."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .base import Averager
from .modules import collect_optimizer_tensors
from .policies import check_positive_int
from .shadow import ShadowWeights


class Lookahead(Averager):
    """Lookahead (Zhang et al., 2019) around an existing optimizer, as an averager.

    The optimizer takes k steps with the fast weights. Then the slow weights move
    a fraction ``alpha`` toward them (``slow += alpha * (fast - slow)``), and the
    fast weights restart from the slow ones. The optimizer's state is kept. The
    SEMA paper compares against k=100, alpha=0.5. ``update()`` returns True at the
    steps where the fast weights were reset, and ``averaged()`` evaluates the slow
    weights. Only the optimizer's parameters are tracked; buffers stay as they are.

    Args:
        optimizer: the optimizer that updates the fast weights.
        k: optimizer steps between synchronizations, >= 1.
        alpha: slow-weight step size in (0, 1].
        model: optional, the model that owns the parameters: it names them in
            checkpoints and enables ``averaged()``'s state-dict guard and
            ``averaged_state_dict()``.
        shadow_dtype, layout: as for ``EMA``.
    """

    method = "lookahead"

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        k: int = 100,
        alpha: float = 0.5,
        *,
        model: nn.Module | None = None,
        shadow_dtype: torch.dtype | None = torch.float32,
        layout: str = "foreach",
    ):
        self.k = check_positive_int(k, "k")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}; the SEMA paper uses 0.5")
        self.alpha = float(alpha)

        super().__init__(model, optimizer)
        tracked = collect_optimizer_tensors(optimizer, model)
        self._shadow = ShadowWeights(tracked, shadow_dtype, layout)

        # Times the fast weights were reset to the slow ones.
        self.num_syncs = 0

    def _on_step(self) -> bool:
        if self.num_steps % self.k != 0:
            return False
        self._shadow.lerp_(self.alpha)
        self._shadow.copy_to_fast(params=True, buffers=False)
        self.num_syncs += 1
        return True

    def averaged_state_dict(self) -> dict[str, Any]:
        if self._module is None:
            raise RuntimeError(
                "averaged_state_dict() needs the model: build Lookahead(..., model=model)"
            )
        return super().averaged_state_dict()

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["num_syncs"] = self.num_syncs
        state["settings"] = {"k": self.k, "alpha": self.alpha}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.num_syncs = int(state["num_syncs"])
