"""The contract every task implements, and the training recipe a study can override."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import torch
from pydantic import TypeAdapter, ValidationError
from torch import nn
from torch.utils.data import Dataset


@dataclass(frozen=True)
class Recipe:
    """Training recipe of a task; a study file overrides it key by key."""

    optimizer: str = "sgd"  # a timm optimizer name: sgd, adamw, lamb, lars, adan, ...
    lr: float = 0.1  # peak learning rate
    weight_decay: float = 0.0
    optimizer_momentum: float = 0.9  # SGD momentum; not the averaging `momentum`
    scheduler: Literal["cosine", "constant"] = "constant"
    warmup_epochs: int = 0
    epochs: int = 10
    batch_size: int = 64  # global batch size, split evenly over the DDP workers
    model: str | None = None  # model name where the task offers several (timm names)

    def override(self, **changes: Any) -> "Recipe":
        """Return a copy with `changes` applied, rejecting unknown keys."""
        known = {field.name for field in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"unknown recipe key {unknown[0]!r}; valid keys: {', '.join(sorted(known))}"
            )
        merged = dataclasses.asdict(self) | changes
        try:
            return TypeAdapter(Recipe).validate_python(merged)
        except ValidationError as error:
            first = error.errors()[0]
            key = ".".join(str(part) for part in first["loc"])
            raise ValueError(f"{key}: invalid value {first['input']!r}: {first['msg']}") from None


@dataclass(frozen=True)
class Splits:
    """Train, validation and test datasets of one task."""

    train: Dataset
    val: Dataset
    test: Dataset


@dataclass(frozen=True)
class Task:
    """A dataset, model, loss and metric bundle that a study names.

    `load_splits(data_seed, options)` must return the same splits for the same seed on
    every rank, so DDP workers agree on the data without communicating. `options` are
    task-specific settings (a data path, a model size); `option_defaults` lists the
    valid ones with their default values. A given option must have the type of its
    default, and an int is accepted for a float. A default of None accepts any value,
    so `check_options` must check it.
    """

    name: str
    description: str
    metric: str  # the metric studies optimise, one of the keys `evaluate` returns
    mode: Literal["max", "min"]
    recipe: Recipe
    load_splits: Callable[[int, dict[str, Any]], Splits]
    build_model: Callable[[Recipe, dict[str, Any]], nn.Module]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    evaluate: Callable[[nn.Module, Any, torch.device], dict[str, float]]
    option_defaults: Mapping[str, Any] = field(default_factory=dict)
    # Rough seconds per epoch of the default recipe on one CPU worker, for --dry-run.
    seconds_per_epoch: float = 1.0
    # Checks the values of the resolved options (a data path exists, a size is positive)
    # and raises ValueError naming the option. A study runs it before any worker starts.
    check_options: Callable[[dict[str, Any]], None] | None = None
    # Named alternatives to `recipe` (e.g. "vit" next to a CNN default); a study picks one
    # with the recipe key `preset`, see `resolve_recipe`.
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    # Checks a resolved recipe against the task (e.g. that `model` is a timm name) and
    # raises ValueError naming the key.
    check_recipe: Callable[[Recipe], None] | None = None

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Return the defaults updated with `given`, rejecting unknown names and bad values."""
        unknown = sorted(set(given) - set(self.option_defaults))
        if unknown:
            valid = ", ".join(sorted(self.option_defaults)) or "none"
            raise ValueError(f"unknown option {unknown[0]!r} for task {self.name!r}; valid options: {valid}")
        for name, value in given.items():
            _check_option_type(self.name, name, value, self.option_defaults[name])
        options = dict(self.option_defaults) | dict(given)
        if self.check_options is not None:
            self.check_options(options)
        return options

    def resolve_recipe(self, overrides: Mapping[str, Any]) -> Recipe:
        """Return the recipe a study asked for: a preset (or the default) with `overrides`.

        The key `preset` names one of `recipes`; every other key overrides one field.
        """
        changes = dict(overrides)
        preset = changes.pop("preset", None)
        if preset is None:
            base = self.recipe
        elif preset in self.recipes:
            base = self.recipes[preset]
        else:
            valid = ", ".join(sorted(self.recipes)) or "none"
            raise ValueError(f"unknown recipe preset {preset!r} for task {self.name!r}; valid presets: {valid}")
        recipe = base.override(**changes)
        if self.check_recipe is not None:
            self.check_recipe(recipe)
        return recipe


def _check_option_type(task: str, name: str, value: Any, default: Any) -> None:
    """Raise ValueError when `value` does not have the type of the option's default."""
    if default is None:
        return
    if isinstance(default, bool):
        valid = isinstance(value, bool)
    elif isinstance(default, float):
        valid = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif isinstance(default, int):
        valid = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, Mapping):
        valid = isinstance(value, Mapping)
    else:
        valid = isinstance(value, type(default))
    if not valid:
        raise ValueError(
            f"option {name!r} of task {task!r} must be a {type(default).__name__} like its "
            f"default {default!r}, got {value!r}"
        )
