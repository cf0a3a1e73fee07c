"""Fused kernels over one group of model tensors that share a device and a dtype.

Two layouts trade intrusiveness for speed:

- ``"foreach"`` (default) leaves the model untouched and updates the group with
  multi-tensor ``torch._foreach_*`` ops. On CUDA these launch a handful of kernels
  for the whole group. On CPU they run one kernel per tensor from C++, at a cost
  of some microseconds per tensor.
- ``"flat"`` moves the group's tensors into one contiguous buffer. Each parameter
  keeps its identity, shape and strides, and only its ``.data`` becomes a view. An
  update is then one elementwise kernel over the whole group, which is the memory
  bandwidth floor. Moving or casting the model afterwards (``model.to``,
  ``model.half``) gives it new storage and breaks this sharing; the next update
  detects that and raises.
"""

from __future__ import annotations

import torch

LAYOUTS = ("foreach", "flat")

# Segment starts in a flat buffer are rounded up to this many elements (64 bytes
# in float32) so that vectorized loads stay aligned.
_ALIGN_ELEMENTS = 16


def _dense_strides(tensor: torch.Tensor) -> tuple[int, ...]:
    """Return the tensor's strides when it is dense, else contiguous strides.

    Dense tensors (contiguous or channels-last) keep their memory format inside a
    flat buffer; other strided views are stored contiguously.
    """
    if tensor.is_contiguous():
        return tensor.stride()
    if tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last):
        return tensor.stride()
    if tensor.dim() == 5 and tensor.is_contiguous(memory_format=torch.channels_last_3d):
        return tensor.stride()
    return torch.empty(tensor.shape, device="meta").stride()


def _round_up(value: int) -> int:
    return (value + _ALIGN_ELEMENTS - 1) // _ALIGN_ELEMENTS * _ALIGN_ELEMENTS


class TensorGroup:
    """Model tensors of one device and dtype, with their shadow copies in one buffer.

    ``fast`` contains the live model tensors, and ``shadow`` contains same-shaped
    views into ``shadow_flat`` in ``shadow_dtype``. All methods run without autograd and
    without reading any tensor value on the host, so they never synchronize
    with an accelerator.
    """

    def __init__(self, tensors: list[torch.Tensor], shadow_dtype: torch.dtype, layout: str):
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")

        self.fast = tensors
        self.device = tensors[0].device
        self.dtype = tensors[0].dtype
        self.shadow_dtype = shadow_dtype
        # Mixed groups (bf16 weights, fp32 shadow) cannot use lerp, which needs one dtype.
        self.mixed = self.dtype != shadow_dtype

        strides = [_dense_strides(t) for t in tensors]
        offsets, total = [], 0
        for tensor in tensors:
            offsets.append(total)
            total = _round_up(total + tensor.numel())

        # Zeroed so that the alignment padding between segments contains finite values.
        self.shadow_flat = torch.zeros(total, dtype=shadow_dtype, device=self.device)
        self.shadow = [
            self.shadow_flat.as_strided(t.shape, stride, offset)
            for t, stride, offset in zip(tensors, strides, offsets)
        ]

        self.fast_flat = None
        if layout == "flat":
            self._move_fast_into_flat_buffer(strides, offsets, total)
        self.copy_from_fast()

    @torch.no_grad()
    def _move_fast_into_flat_buffer(self, strides, offsets, total) -> None:
        self.fast_flat = torch.zeros(total, dtype=self.dtype, device=self.device)
        for tensor, stride, offset in zip(self.fast, strides, offsets):
            view = self.fast_flat.as_strided(tensor.shape, stride, offset)
            view.copy_(tensor)
            tensor.data = view
        self._fast_data_ptrs = (self.fast[0].data_ptr(), self.fast[-1].data_ptr())

    def check_model_unchanged(self) -> None:
        """Raise RuntimeError when the model's tensors were moved, cast or replaced.

        Checks only the first and last tensor of the group, which ``model.to`` and
        ``model.half`` change along with the rest, so the check stays cheap.
        NOTE: parameters replaced by new objects (``load_state_dict(assign=True)``)
        are not detected; the averager keeps reading the old ones.
        """
        first, last = self.fast[0], self.fast[-1]
        if self.fast_flat is not None:
            moved = (first.data_ptr(), last.data_ptr()) != self._fast_data_ptrs
        else:
            moved = first.device != self.device or first.dtype != self.dtype
        if moved:
            raise RuntimeError(
                f"the model's {self.dtype} tensors on {self.device} were moved, cast or "
                "replaced after the averager was built; build the averager after "
                "model.to(...) and casting, or load its state into a new one"
            )

    @torch.no_grad()
    def lerp_(self, weight: float) -> None:
        """Move the shadow toward the model: ``shadow += weight * (fast - shadow)``."""
        self.check_model_unchanged()
        if self.fast_flat is not None:
            if self.mixed:
                self.shadow_flat.mul_(1.0 - weight).add_(self.fast_flat, alpha=weight)
            else:
                self.shadow_flat.lerp_(self.fast_flat, weight)
        elif self.mixed:
            # NOTE: torch's multi-tensor fast path needs one dtype across both lists, so
            # on CUDA this add runs one kernel per tensor. A fused mixed-precision kernel
            # (Triton) is not written, since no GPU was at hand to show that it wins.
            torch._foreach_mul_(self.shadow, 1.0 - weight)
            torch._foreach_add_(self.shadow, self.fast, alpha=weight)
        else:
            torch._foreach_lerp_(self.shadow, self.fast, weight)

    @torch.no_grad()
    def copy_to_fast(self) -> None:
        """Write the shadow into the model's tensors, rounding to the model's dtype."""
        self.check_model_unchanged()
        if self.fast_flat is not None:
            self.fast_flat.copy_(self.shadow_flat)
        else:
            torch._foreach_copy_(self.fast, self.shadow)

    @torch.no_grad()
    def copy_from_fast(self) -> None:
        """Overwrite the shadow with the model's current values."""
        if self.fast_flat is not None:
            self.shadow_flat.copy_(self.fast_flat)
        else:
            torch._foreach_copy_(self.shadow, self.fast)

    @torch.no_grad()
    def stash_fast(self) -> list[torch.Tensor]:
        """Return a copy of the model's tensors, for ``restore_fast``."""
        if self.fast_flat is not None:
            return [self.fast_flat.clone()]
        return [tensor.detach().clone() for tensor in self.fast]

    @torch.no_grad()
    def restore_fast(self, stash: list[torch.Tensor]) -> None:
        if self.fast_flat is not None:
            self.fast_flat.copy_(stash[0])
        else:
            torch._foreach_copy_(self.fast, stash)
