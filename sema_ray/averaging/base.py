"""The interface every averager shares, and the no-op averager for plain training."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from .modules import unwrap_model
from .shadow import ShadowWeights


class OptimizerStepCounter:
    """Counts the optimizer's completed ``step()`` calls through a step post-hook.

    ``optimizer.step()`` does not run when a GradScaler skips a step for inf/NaN
    gradients, and it runs once per accumulated batch under gradient accumulation.
    Comparing this count with the last one seen therefore separates real steps from
    skipped steps and micro-batches, without reading anything from the device.
    """

    def __init__(self, optimizer: torch.optim.Optimizer):
        if not hasattr(optimizer, "register_step_post_hook"):
            raise TypeError(
                f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        self.count = 0
        self._seen = 0

        # A weak reference keeps the optimizer from holding the averager alive.
        counter = weakref.ref(self)

        def count_step(_optimizer, _args, _kwargs):
            live = counter()
            if live is not None:
                live.count += 1

        handle = optimizer.register_step_post_hook(count_step)
        weakref.finalize(self, handle.remove)

    def take_new_step(self) -> bool:
        """Return True once for each batch of optimizer steps since the last call."""
        if self.count == self._seen:
            return False
        self._seen = self.count
        return True

    def mark_seen(self) -> None:
        self._seen = self.count


def _refuse_state_dict_while_averaged(module, prefix, keep_vars):
    raise RuntimeError(
        "model.state_dict() was called inside averager.averaged(), where the model "
        "holds the averaged weights instead of its own; save checkpoints after the "
        "with-block, or export the averaged weights with averager.averaged_state_dict()"
    )


class Averager:
    """Base class: step counting, the evaluation context and checkpoint plumbing.

    Subclasses set ``method``, create ``self._shadow`` (or override ``averaged``),
    and implement ``_on_step`` for what happens after each real optimizer step.
    """

    method = "base"

    def __init__(self, model: nn.Module | None, optimizer: torch.optim.Optimizer | None):
        self._module = unwrap_model(model) if model is not None else None
        self._optimizer = optimizer
        self._step_counter = OptimizerStepCounter(optimizer) if optimizer is not None else None
        self._shadow: ShadowWeights | None = None
        self._inside_averaged = False
        self._allow_state_dict = False

        # Optimizer steps seen by update(), and end_epoch() calls.
        self.num_steps = 0
        self.num_epochs = 0

    def update(self) -> bool:
        """Record one optimizer step; call it after every ``optimizer.step()``.

        With an optimizer given at construction, a call after which the optimizer
        did not step (a GradScaler skip, a gradient-accumulation micro-batch, or a
        second call for the same step) does nothing and returns False. Returns True
        when this step switched (SEMA) or synchronized (Lookahead) the fast weights.
        """
        if self._step_counter is not None and not self._step_counter.take_new_step():
            return False
        self.num_steps += 1
        return self._on_step()

    def _on_step(self) -> bool:
        return False

    def end_epoch(self) -> bool:
        """Mark the end of an epoch; returns True when this switched the fast weights."""
        self.num_epochs += 1
        return False

    @contextlib.contextmanager
    def averaged(self) -> Iterator[None]:
        """Put the averaged weights into the model for the with-block, then restore it.

        Meant for evaluation without a second model copy: the model's own (fast)
        weights are stashed, which costs one temporary copy of the weights, and
        written back on exit, also when the block raises. Inside the block
        ``model.state_dict()`` raises RuntimeError, so a checkpoint cannot store the
        averaged weights as the model's own by accident.
        """
        if self._inside_averaged:
            raise RuntimeError("averager.averaged() blocks cannot be nested")
        if not self._has_average():
            yield  # nothing averaged yet (SWA before start_step): evaluate the fast weights
            return

        # Integer buffers (num_batches_tracked) are left alone: averaging does not
        # change them, and the stash covers only floating-point tensors.
        stash = self._shadow.stash_fast()
        self._shadow.copy_to_fast(integer_buffers=False)
        guard = None
        if self._module is not None:
            guard = self._module.register_state_dict_pre_hook(self._state_dict_guard)
        self._inside_averaged = True
        try:
            yield
        finally:
            self._inside_averaged = False
            if guard is not None:
                guard.remove()
            self._shadow.restore_fast(stash)

    def _state_dict_guard(self, module, prefix, keep_vars):
        if not self._allow_state_dict:
            _refuse_state_dict_while_averaged(module, prefix, keep_vars)

    def _has_average(self) -> bool:
        return True

    def averaged_state_dict(self) -> dict[str, Any]:
        """Return a state dict of the averaged weights that loads into the unwrapped model.

        Keys are those of ``unwrap_model(model).state_dict()`` (no ``module.``
        prefix from DDP); averaged entries are new tensors in the model's dtypes.
        """
        self._allow_state_dict = True
        try:
            state = self._module.state_dict()
        finally:
            self._allow_state_dict = False
        if self._has_average():
            state.update(self._shadow.export())
        return state

    def state_dict(self) -> dict[str, Any]:
        """Return the averager's state for a checkpoint (shadow tensors are live views)."""
        state = {"method": self.method, "num_steps": self.num_steps, "num_epochs": self.num_epochs}
        if self._shadow is not None:
            state["shadow"] = self._shadow.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state saved by ``state_dict()`` of the same method and architecture."""
        saved_method = state.get("method")
        if saved_method != self.method:
            raise ValueError(
                f"cannot load averager state saved by method {saved_method!r} into a "
                f"{self.method!r} averager; build the averager with the saved method"
            )
        if self._shadow is not None:
            self._shadow.load_state_dict(state["shadow"])
        self.num_steps = int(state["num_steps"])
        self.num_epochs = int(state["num_epochs"])
        # Steps the optimizer took before loading are not this run's steps.
        if self._step_counter is not None:
            self._step_counter.mark_seen()


class NoAveraging(Averager):
    """Plain training behind the averager interface: every call is a no-op.

    ``averaged()`` evaluates the model's own weights and ``averaged_state_dict()``
    returns the model's state dict.
    """

    method = "basic"

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer | None = None):
        super().__init__(model, optimizer)

    def _has_average(self) -> bool:
        return False
