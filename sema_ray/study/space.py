"""Translate a method's search space into Ray Tune's param space and back.

Momentum ranges are searched as `log10(1 - momentum)`, so a sampler sees 0.9, 0.99,
0.999 and 0.9999 evenly spaced instead of crowded against 1.
"""

from __future__ import annotations

from typing import Any

from ray import tune

from sema_ray.study.config import MethodSpace, MomentumRange

LOG_MOMENTUM_KEY = "log10_one_minus_momentum"


def param_space(space: MethodSpace) -> dict[str, Any]:
    """Return the Tune param space for one method (empty when nothing is searched)."""
    params: dict[str, Any] = {}
    momentum = space.momentum
    if isinstance(momentum, MomentumRange):
        params[LOG_MOMENTUM_KEY] = tune.uniform(*momentum.log10_range)
    elif isinstance(momentum, list):
        params["momentum"] = tune.choice(momentum)
    elif momentum is not None:
        params["momentum"] = momentum

    interval = space.switch_interval
    if isinstance(interval, list):
        params["switch_interval"] = tune.choice(interval)
    elif interval is not None:
        params["switch_interval"] = interval
    return params


def decode(config: dict[str, Any]) -> tuple[float | None, float | None]:
    """Return (momentum, switch_interval) from a Tune trial config."""
    if LOG_MOMENTUM_KEY in config:
        momentum = 1.0 - 10.0 ** config[LOG_MOMENTUM_KEY]
    else:
        momentum = config.get("momentum")
    interval = config.get("switch_interval")
    return momentum, (float(interval) if interval is not None else None)


def is_searched(space: MethodSpace) -> bool:
    return any(not isinstance(value, (int, float)) for value in param_space(space).values())
