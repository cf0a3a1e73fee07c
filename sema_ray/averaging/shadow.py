"""Shadow weights: the averaged copy of a model's tensors that an averager owns."""

from __future__ import annotations

import torch

from .fused import TensorGroup
from .modules import TrackedTensors


def resolve_shadow_dtype(model_dtype: torch.dtype, shadow_dtype: torch.dtype | None) -> torch.dtype:
    """Return the dtype of the shadow copy of a tensor in ``model_dtype``.

    ``shadow_dtype`` is a minimum precision: a float64 model keeps a float64 shadow
    under the default float32, and None keeps each tensor's own dtype.
    """
    if shadow_dtype is None:
        return model_dtype
    if not shadow_dtype.is_floating_point:
        raise ValueError(f"shadow_dtype must be a floating-point dtype or None, got {shadow_dtype}")
    return torch.promote_types(model_dtype, shadow_dtype)


def _make_groups(
    named: list[tuple[str, torch.Tensor]], shadow_dtype: torch.dtype | None, layout: str
) -> tuple[list[TensorGroup], dict[str, tuple[int, int]]]:
    """Group tensors by (device, dtype) and return the groups and name -> (group, index)."""
    by_key: dict[tuple, list[tuple[str, torch.Tensor]]] = {}
    for name, tensor in named:
        by_key.setdefault((tensor.device, tensor.dtype), []).append((name, tensor))

    groups, where = [], {}
    for members in by_key.values():
        dtype = resolve_shadow_dtype(members[0][1].dtype, shadow_dtype)
        groups.append(TensorGroup([tensor for _, tensor in members], dtype, layout))
        for index, (name, _) in enumerate(members):
            where[name] = (len(groups) - 1, index)
    return groups, where


class ShadowWeights:
    """Averaged copies of a model's parameters and buffers, updated by fused kernels.

    Parameters are always averaged. Floating-point buffers are averaged when
    ``average_buffers`` is true and otherwise copied from the model on every update,
    so the shadow always carries a complete, consistent set of statistics. Integer
    buffers (num_batches_tracked) are always copied. The shadow starts as a copy of
    the model.
    """

    def __init__(
        self,
        tracked: TrackedTensors,
        shadow_dtype: torch.dtype | None = torch.float32,
        layout: str = "foreach",
        average_buffers: bool = True,
    ):
        self.tracked = tracked
        self.average_buffers = average_buffers
        self.param_groups, param_where = _make_groups(tracked.params, shadow_dtype, layout)
        self.buffer_groups, buffer_where = _make_groups(tracked.float_buffers, shadow_dtype, layout)

        self._other_fast = [tensor for _, tensor in tracked.other]
        self._other_shadow = [tensor.detach().clone() for tensor in self._other_fast]

        # name -> shadow tensor, in state-dict order, for checkpoints and export.
        self._by_name: dict[str, torch.Tensor] = {}
        for name, _ in tracked.params:
            group, index = param_where[name]
            self._by_name[name] = self.param_groups[group].shadow[index]
        for name, _ in tracked.float_buffers:
            group, index = buffer_where[name]
            self._by_name[name] = self.buffer_groups[group].shadow[index]
        for (name, _), shadow in zip(tracked.other, self._other_shadow):
            self._by_name[name] = shadow

    @torch.no_grad()
    def lerp_(self, weight: float) -> None:
        """Move the shadow a fraction ``weight`` of the way to the model's weights."""
        for group in self.param_groups:
            group.lerp_(weight)
        for group in self.buffer_groups:
            if self.average_buffers:
                group.lerp_(weight)
            else:
                group.copy_from_fast()
        if self._other_fast:
            torch._foreach_copy_(self._other_shadow, self._other_fast)

    @torch.no_grad()
    def copy_to_fast(
        self, params: bool = True, buffers: bool = True, integer_buffers: bool | None = None
    ) -> None:
        """Write the shadow into the model.

        ``buffers`` covers floating-point buffers, and integer buffers too unless
        ``integer_buffers`` says otherwise.
        """
        if integer_buffers is None:
            integer_buffers = buffers
        if params:
            for group in self.param_groups:
                group.copy_to_fast()
        if buffers:
            for group in self.buffer_groups:
                group.copy_to_fast()
        if integer_buffers and self._other_fast:
            torch._foreach_copy_(self._other_fast, self._other_shadow)

    @torch.no_grad()
    def copy_from_fast(self, params: bool = True, buffers: bool = True) -> None:
        """Overwrite the shadow with the model's current values."""
        groups = []
        if params:
            groups += self.param_groups
        if buffers:
            groups += self.buffer_groups
        for group in groups:
            group.copy_from_fast()
        if buffers and self._other_fast:
            torch._foreach_copy_(self._other_shadow, self._other_fast)

    def stash_fast(self) -> list[list[torch.Tensor]]:
        """Copy the model's floating-point tensors, for ``restore_fast``."""
        return [group.stash_fast() for group in self.param_groups + self.buffer_groups]

    def restore_fast(self, stash: list[list[torch.Tensor]]) -> None:
        for group, saved in zip(self.param_groups + self.buffer_groups, stash):
            group.restore_fast(saved)

    def numel(self) -> int:
        """Return the number of averaged elements (parameters and floating buffers)."""
        groups = self.param_groups + self.buffer_groups
        return sum(shadow.numel() for group in groups for shadow in group.shadow)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Return the shadow tensors by state-dict name.

        The values are views into the averager's buffers, as ``nn.Module.state_dict``
        returns live tensors; clone them to keep a snapshot.
        """
        return dict(self._by_name)

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Copy saved shadow tensors in, after checking every name and shape.

        Raises ValueError naming the first missing, unexpected or mis-shaped
        tensor, before anything is copied.
        """
        for name, shadow in self._by_name.items():
            if name not in state:
                raise ValueError(
                    f"averager state has no tensor {name!r}, which this model has; "
                    "the state was saved from a different architecture"
                )
            saved = state[name]
            if not isinstance(saved, torch.Tensor) or saved.shape != shadow.shape:
                saved_shape = tuple(saved.shape) if isinstance(saved, torch.Tensor) else saved
                raise ValueError(
                    f"averager state tensor {name!r} has shape {saved_shape}, but this "
                    f"model's has {tuple(shadow.shape)}; the state was saved from a "
                    "different architecture"
                )
        for name in state:
            if name not in self._by_name:
                raise ValueError(
                    f"averager state has tensor {name!r}, which this model does not "
                    "have; the state was saved from a different architecture"
                )

        for name, shadow in self._by_name.items():
            shadow.copy_(state[name])

    @torch.no_grad()
    def export(self) -> dict[str, torch.Tensor]:
        """Return new tensors holding the shadow in the model's dtypes, by state-dict name.

        Tied weights appear under each of their names, as in the model's state dict.
        """
        fast_by_name = dict(self.tracked.params + self.tracked.float_buffers + self.tracked.other)
        exported = {
            name: shadow.to(dtype=fast_by_name[name].dtype, copy=True)
            for name, shadow in self._by_name.items()
        }
        for alias, name in self.tracked.aliases.items():
            exported[alias] = exported[name]
        return exported
