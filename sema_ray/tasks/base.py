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
    valid ones with their default values.
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

    def resolve_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Return the defaults updated with `given`, rejecting unknown option names."""
        unknown = sorted(set(given) - set(self.option_defaults))
        if unknown:
            valid = ", ".join(sorted(self.option_defaults)) or "none"
            raise ValueError(f"unknown option {unknown[0]!r} for task {self.name!r}; valid options: {valid}")
        return dict(self.option_defaults) | dict(given)
