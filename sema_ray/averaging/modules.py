"""Find the module that owns the weights, and list the tensors an averager tracks."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.parallel import DataParallel, DistributedDataParallel


def unwrap_model(model: nn.Module) -> nn.Module:
    """Return the module that owns the parameters of a possibly wrapped model.

    Looks through DistributedDataParallel and DataParallel (``.module``) and
    torch.compile (``._orig_mod``) in any order and nesting, so an averager built
    on ``compile(DDP(m))`` or ``DDP(compile(m))`` tracks the same tensors as one
    built on ``m``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")

    while True:
        if isinstance(model, (DistributedDataParallel, DataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


@dataclass
class TrackedTensors:
    """The tensors of one model that an averager reads and writes, by state-dict name.

    Each tensor object appears once, under the first name the state dict gives it.
    ``aliases`` maps every other name of a tied tensor to that first name.
    """

    # Floating-point parameters, averaged and switched.
    params: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    # Floating-point buffers such as BatchNorm running statistics.
    float_buffers: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    # Integer or boolean tensors such as num_batches_tracked, copied and never averaged.
    other: list[tuple[str, torch.Tensor]] = field(default_factory=list)
    # Second and later state-dict names of tied tensors -> the name used above.
    aliases: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Return the tracked names in the order the state dict lists them."""
        return [name for name, _ in self.params + self.float_buffers + self.other]


def collect_model_tensors(module: nn.Module) -> TrackedTensors:
    """Collect the parameters and persistent buffers of ``module`` by state-dict name.

    Reading ``state_dict(keep_vars=True)`` gives the live tensor objects under the
    names that ``load_state_dict`` expects, skips non-persistent buffers (caches
    that a checkpoint does not carry either) and shows tied weights as one object.
    Raises ValueError when the module has no floating-point parameter.
    """
    tracked = TrackedTensors()
    first_name_by_id: dict[int, str] = {}

    for name, value in module.state_dict(keep_vars=True).items():
        if not isinstance(value, torch.Tensor):
            continue  # extra state (get_extra_state) is not a weight

        if id(value) in first_name_by_id:
            tracked.aliases[name] = first_name_by_id[id(value)]
            continue
        first_name_by_id[id(value)] = name

        # Keep the live objects: the flat layout re-points their .data.
        if not value.is_floating_point():
            tracked.other.append((name, value))
        elif isinstance(value, nn.Parameter):
            tracked.params.append((name, value))
        else:
            tracked.float_buffers.append((name, value))

    if not tracked.params:
        raise ValueError(
            f"{type(module).__name__} has no floating-point parameters, so there is "
            "nothing to average; build the averager on the model that the optimizer trains"
        )
    return tracked


def collect_optimizer_tensors(
    optimizer: torch.optim.Optimizer, model: nn.Module | None = None
) -> TrackedTensors:
    """Collect the floating-point parameters an optimizer updates.

    Names come from ``model`` when it is given (so exported weights load into it),
    otherwise ``param.<i>`` numbers the parameters in the order of
    ``optimizer.param_groups``, as ``optimizer.state_dict()`` does.
    """
    model_names: dict[int, str] = {}
    if model is not None:
        for name, param in unwrap_model(model).named_parameters():
            model_names[id(param)] = name

    tracked = TrackedTensors()
    seen: set[int] = set()
    index = 0
    for group in optimizer.param_groups:
        for param in group["params"]:
            if id(param) in seen or not param.is_floating_point():
                continue
            seen.add(id(param))

            if model is not None and id(param) not in model_names:
                raise ValueError(
                    f"optimizer parameter {index} (shape {tuple(param.shape)}) is not a "
                    "parameter of the given model; pass the model the optimizer trains"
                )
            name = model_names.get(id(param), f"param.{index}")
            tracked.params.append((name, param))
            index += 1

    if not tracked.params:
        raise ValueError("the optimizer has no floating-point parameters to track")
    return tracked
