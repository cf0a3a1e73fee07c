"""Argument checks and the small numeric rules that averagers share."""

from __future__ import annotations

import math
import numbers

import torch

# Choices for BatchNorm running statistics at a switch (see SwitchEMA).
BN_POLICIES = ("average", "keep", "recompute")
# Choices for the optimizer's state at a switch (see SwitchEMA).
OPTIMIZER_POLICIES = ("keep", "reset")


def check_momentum(momentum: float, name: str = "momentum") -> float:
    """Return ``momentum`` as a float, or raise ValueError unless 0 < momentum < 1."""
    if isinstance(momentum, bool) or not isinstance(momentum, numbers.Real):
        raise TypeError(f"{name} must be a number in (0, 1), got {momentum!r}")
    if not 0.0 < momentum < 1.0:
        raise ValueError(
            f"{name} must be in the open interval (0, 1), got {momentum!r}; "
            "0.999 keeps a long average, 0.9 a short one"
        )
    return float(momentum)


def check_positive_int(value: int, name: str) -> int:
    """Return ``value``, or raise unless it is an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value!r}")
    return int(value)


def check_choice(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def check_switch_every(switch_every: int | str | None) -> int | str | None:
    """Validate ``switch_every``: None, an integer number of steps >= 1, or ``"epoch"``."""
    if switch_every is None or switch_every == "epoch":
        return switch_every
    if isinstance(switch_every, float) and not switch_every.is_integer():
        raise ValueError(
            f"switch_every={switch_every!r} is a fraction, but switch_every counts "
            "optimizer steps; for a fraction of an epoch pass the step count, "
            "resolve_switch_every(interval, steps_per_epoch), since the averager "
            "cannot know the epoch length in advance"
        )
    if isinstance(switch_every, float):
        switch_every = int(switch_every)
    if isinstance(switch_every, str):
        # A string is a valid type here ("epoch"), so any other string is a bad value.
        raise ValueError(  # noqa: TRY004
            f"switch_every must be an integer number of steps, None or 'epoch'; got {switch_every!r}"
        )
    return check_positive_int(switch_every, "switch_every")


def resolve_switch_every(
    switch_interval: float | None, steps_per_epoch: int | None = None
) -> int | str | None:
    """Convert a switch interval in epochs to the ``switch_every`` an averager takes.

    With a known epoch length this is ``max(1, round(interval * steps_per_epoch))``
    steps. Without one (an iterable or bucketing loader), an interval of one epoch
    becomes ``"epoch"``, which switches at each ``end_epoch()`` call. Any other
    interval then raises ValueError asking for the step count.
    """
    if switch_interval is None:
        return None
    if not switch_interval > 0:
        raise ValueError(f"switch interval must be > 0 epochs, got {switch_interval!r}")

    if steps_per_epoch is not None:
        steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
        return max(1, round(switch_interval * steps_per_epoch))
    if switch_interval == 1:
        return "epoch"
    raise ValueError(
        f"a switch interval of {switch_interval} epochs needs the number of optimizer "
        "steps per epoch, which this loader does not provide; pass steps_per_epoch, "
        "or use an interval of 1 epoch with switch_every='epoch' and end_epoch()"
    )


def horizon_ratio(switch_every: int, momentum: float) -> float:
    """Return r = switch_every * (1 - momentum), the switch interval in EMA time constants.

    Below about 0.1 the average barely moves between switches, and SEMA behaves
    like the base optimizer with a learning rate scaled by roughly r / 2.
    """
    return switch_every * (1.0 - momentum)


def rescale_momentum(momentum: float, new_batch_size: int, reference_batch_size: int) -> float:
    """Return the momentum that keeps the same averaging horizon in samples.

    A momentum tuned at ``reference_batch_size`` averages over about
    ``reference_batch_size / (1 - momentum)`` samples. At another batch size the
    number of steps per sample changes, so the per-step momentum becomes
    ``momentum ** (new_batch_size / reference_batch_size)``.
    """
    momentum = check_momentum(momentum)
    new_batch_size = check_positive_int(new_batch_size, "new_batch_size")
    reference_batch_size = check_positive_int(reference_batch_size, "reference_batch_size")
    return math.pow(momentum, new_batch_size / reference_batch_size)


def reset_optimizer_state(optimizer: torch.optim.Optimizer) -> None:
    """Drop the optimizer's per-parameter state (moments, step counts).

    Built-in optimizers create their state lazily, so the next step starts as the
    first step of a fresh optimizer, with its bias correction. Hyperparameters and
    learning rates in ``param_groups`` are kept.
    """
    optimizer.state.clear()
