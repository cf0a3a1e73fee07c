"""Switch EMA (SEMA): an EMA that is copied back into the model at intervals."""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from .batchnorm import recompute_bn_stats
from .ema import EMA
from .policies import (
    BN_POLICIES,
    OPTIMIZER_POLICIES,
    check_choice,
    check_momentum,
    check_positive_int,
    check_switch_every,
    horizon_ratio,
    reset_optimizer_state,
)

# Below this horizon ratio the average barely moves between switches.
MIN_HORIZON_RATIO = 0.1


class SwitchEMA(EMA):
    """EMA whose averaged weights replace the model's weights every switch interval.

    This is Algorithm 1 of the Switch EMA (SEMA) paper: after each optimizer step,
    update the EMA; at the end of each interval (one epoch there), evaluate the EMA
    weights, then copy them into the model so the optimizer continues from the
    averaged point.

    Args (beyond those of ``EMA``):
        switch_every: ``update()`` calls (optimizer steps) between switches; None
            never switches on its own; ``"epoch"`` switches at every
            ``end_epoch()`` call, for loaders whose length is unknown. For a
            fraction of an epoch, pass steps (see ``resolve_switch_every``).
        bn_on_switch: BatchNorm running statistics at a switch. ``"average"``
            (default) copies the averaged statistics with the weights;
            ``"keep"`` keeps the model's own statistics (and integer buffers);
            ``"recompute"`` switches the weights, then recomputes the statistics on
            ``bn_batches`` batches of ``bn_loader`` and stores them in the average too.
        optimizer_on_switch: ``"keep"`` (default) leaves the optimizer state as
            it is, as Algorithm 1 of the SEMA paper does; ``"reset"`` drops the per-parameter state
            (momentum buffers, Adam moments and step counts) so the next step
            starts fresh, and needs ``optimizer``.

    A warning is issued when the horizon ratio ``switch_every * (1 - momentum)``
    is below 0.1 (for ``"epoch"``, at the first ``end_epoch()``, once the epoch
    length is known): the average then barely moves between switches.

    One order per epoch keeps evaluation, switching and checkpoints consistent::

        for batch in loader:
            ...; optimizer.step(); averager.update()
        with averager.averaged():          # 1. evaluate the averaged weights
            metrics = evaluate(model)
        averager.end_epoch()               # 2. switch (switch_every="epoch")
        save(model.state_dict(), averager.state_dict(), ...)   # 3. checkpoint

    The checkpoint is written after the with-block, so it holds the model's own
    weights (``model.state_dict()`` raises inside ``averaged()``), and after the
    switch, so a resumed run starts the next epoch from the switched weights.
    """

    method = "sema"

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.999,
        switch_every: int | str | None = None,
        update_every: int = 1,
        warmup: int | None = None,
        average_buffers: bool = True,
        shadow_dtype: torch.dtype | None = torch.float32,
        *,
        optimizer: torch.optim.Optimizer | None = None,
        bn_on_switch: str = "average",
        bn_loader: Iterable | None = None,
        bn_batches: int | None = None,
        optimizer_on_switch: str = "keep",
        layout: str = "foreach",
    ):
        # Checked before the shadow copy is allocated.
        momentum = check_momentum(momentum)
        self.switch_every = check_switch_every(switch_every)
        self.bn_on_switch = check_choice(bn_on_switch, BN_POLICIES, "bn_on_switch")
        self.optimizer_on_switch = check_choice(
            optimizer_on_switch, OPTIMIZER_POLICIES, "optimizer_on_switch"
        )
        if self.bn_on_switch == "recompute" and bn_loader is None:
            raise ValueError("bn_on_switch='recompute' needs bn_loader, the batches to run")
        if bn_batches is not None:
            check_positive_int(bn_batches, "bn_batches")
        if self.optimizer_on_switch == "reset" and optimizer is None:
            raise ValueError("optimizer_on_switch='reset' needs the optimizer: pass optimizer=")
        if isinstance(self.switch_every, int) and update_every > self.switch_every:
            raise ValueError(
                f"update_every={update_every} is larger than switch_every="
                f"{self.switch_every}, so some switches would copy an average that "
                "missed every step since the last switch; use update_every <= switch_every"
            )
        self._bn_loader = bn_loader
        self._bn_batches = bn_batches

        super().__init__(
            model,
            momentum,
            update_every,
            warmup,
            average_buffers,
            shadow_dtype,
            optimizer=optimizer,
            layout=layout,
        )
        self.num_switches = 0
        self._steps_at_epoch_start = 0
        if isinstance(self.switch_every, int):
            self._warn_if_short_horizon(self.switch_every)

    def _warn_if_short_horizon(self, switch_steps: int) -> None:
        ratio = horizon_ratio(switch_steps, self.momentum)
        if ratio < MIN_HORIZON_RATIO:
            warnings.warn(
                f"horizon ratio switch_every * (1 - momentum) = {switch_steps} * "
                f"(1 - {self.momentum}) = {ratio:.3g} is below {MIN_HORIZON_RATIO}: the "
                "average barely moves between switches, so SEMA acts like the base "
                "optimizer with a smaller learning rate; lower the momentum or switch "
                "less often",
                stacklevel=3,
            )

    def _on_step(self) -> bool:
        super()._on_step()
        if isinstance(self.switch_every, int) and self.num_steps % self.switch_every == 0:
            self.switch()
            return True
        return False

    def end_epoch(self) -> bool:
        """Mark the end of an epoch; with ``switch_every="epoch"`` this switches."""
        super().end_epoch()
        steps_this_epoch = self.num_steps - self._steps_at_epoch_start
        self._steps_at_epoch_start = self.num_steps
        if self.switch_every != "epoch":
            return False

        if self.num_epochs == 1:
            self._warn_if_short_horizon(steps_this_epoch)
        self.switch()
        return True

    def switch(self) -> None:
        """Copy the averaged weights (and buffers, per ``bn_on_switch``) into the model now.

        Integer buffers such as num_batches_tracked are copied with the floating
        ones. The optimizer's state is kept unless ``optimizer_on_switch="reset"``.
        """
        if self._inside_averaged:
            raise RuntimeError(
                "switch() inside averager.averaged() would be undone when the block "
                "restores the model's weights; switch after the with-block"
            )

        self._shadow.copy_to_fast(params=True, buffers=self.bn_on_switch == "average")
        if self.bn_on_switch == "recompute":
            recompute_bn_stats(self._module, self._bn_loader, self._bn_batches)
            self._shadow.copy_from_fast(params=False, buffers=True)
        if self.optimizer_on_switch == "reset":
            reset_optimizer_state(self._optimizer)
        self.num_switches += 1

    def _settings(self) -> dict[str, Any]:
        settings = super()._settings()
        settings.update(
            switch_every=self.switch_every,
            bn_on_switch=self.bn_on_switch,
            optimizer_on_switch=self.optimizer_on_switch,
        )
        return settings

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["num_switches"] = self.num_switches
        state["steps_at_epoch_start"] = self._steps_at_epoch_start
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.num_switches = int(state["num_switches"])
        self._steps_at_epoch_start = int(state["steps_at_epoch_start"])
