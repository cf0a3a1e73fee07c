"""Translate a method's search space into Ray Tune's param space and back.

Momentum ranges are searched as `log10(1 - momentum)`, so 0.9, 0.99, 0.999 and
0.9999 are evenly spaced for the sampler instead of crowded against 1.
"""

from __future__ import annotations

from typing import Any

from ray import tune

from sema_ray.study.config import METHOD_KEYS, MethodSpace, MomentumRange

LOG_MOMENTUM_KEY = "log10_one_minus_momentum"
SEED_KEY = "seed"


def param_space(method: str, space: MethodSpace, seeds: list[int] | None = None) -> dict[str, Any]:
    """Return the Tune param space of one method; lists become choices, scalars stay fixed.

    `seeds`, when given, adds the training seed as a searched axis (grid studies).
    """
    params: dict[str, Any] = {}
    for key in METHOD_KEYS[method]:
        value = getattr(space, key)
        if isinstance(value, MomentumRange):
            params[LOG_MOMENTUM_KEY] = tune.uniform(*value.log10_range)
        elif isinstance(value, list):
            params[key] = tune.choice(value)
        elif value is not None:
            params[key] = value
    if seeds:
        params[SEED_KEY] = tune.choice(seeds)
    return params


def grid_values(method: str, space: MethodSpace, seeds: list[int]) -> dict[str, list]:
    """Return every searched axis with all its values, for Optuna's GridSampler."""
    grid = {}
    for key in METHOD_KEYS[method]:
        value = getattr(space, key)
        if isinstance(value, list):
            grid[key] = list(value)
    grid[SEED_KEY] = list(seeds)
    return grid


def decode(config: dict[str, Any]) -> dict[str, Any]:
    """Return the method settings of a Tune trial config, with momentum decoded."""
    settings = {key: value for key, value in config.items() if key not in (LOG_MOMENTUM_KEY, SEED_KEY)}
    if LOG_MOMENTUM_KEY in config:
        settings["momentum"] = 1.0 - 10.0 ** config[LOG_MOMENTUM_KEY]
    return settings


def is_searched(method: str, space: MethodSpace) -> bool:
    """Return True when any key of the method's space has more than one value."""
    return any(isinstance(getattr(space, key), (list, MomentumRange)) for key in METHOD_KEYS[method])
