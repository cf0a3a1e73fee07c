"""`diabetes`: scikit-learn's bundled diabetes regression set, an MLP trained with an L1 loss.

442 patients, 10 baseline features, and a measure of disease progression one year
later (25 to 346) as the target. Features and target are standardized with the mean
and standard deviation of the training split, and the network predicts the
standardized target. `evaluate` reports the mean absolute error (`mae`) and the root
mean squared error (`rmse`) in the target's own units.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import TensorDataset

from sema_ray.tasks.base import Recipe, Splits, Task
from sema_ray.tasks.classification import split_indices

# 442 samples: 282 train, 80 validation, 80 test.
TRAIN_SIZE, VAL_SIZE = 282, 80


class StandardizedTargets(TensorDataset):
    """(features, standardized target) pairs that remember how to undo the scaling."""

    def __init__(self, features: torch.Tensor, targets: torch.Tensor, mean: float, std: float):
        super().__init__(features, targets)
        self.target_mean = mean
        self.target_std = std


def load_splits(data_seed: int, options: dict) -> Splits:
    features, targets = load_diabetes(return_X_y=True, scaled=False)
    parts = split_indices(len(targets), (TRAIN_SIZE, VAL_SIZE), data_seed)

    # Statistics of the training split only, so validation and test stay unseen.
    train = parts[0]
    feature_mean, feature_std = features[train].mean(axis=0), features[train].std(axis=0)
    target_mean, target_std = float(targets[train].mean()), float(targets[train].std())

    def to_dataset(index: np.ndarray) -> StandardizedTargets:
        x = torch.as_tensor((features[index] - feature_mean) / feature_std, dtype=torch.float32)
        y = torch.as_tensor((targets[index] - target_mean) / target_std, dtype=torch.float32)
        return StandardizedTargets(x, y, target_mean, target_std)

    return Splits(*(to_dataset(index) for index in parts))


def build_model(recipe: Recipe, options: dict) -> nn.Module:
    width = options["hidden_size"]
    return nn.Sequential(
        nn.Linear(10, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, 1),
        nn.Flatten(0),  # (batch, 1) -> (batch,), the shape of the targets
    )


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return MAE and RMSE in target units, and the mean L1 loss on the standardized target."""
    dataset = loader.dataset
    model.eval()
    abs_sum, square_sum, total = 0.0, 0.0, 0
    for inputs, targets in loader:
        errors = model(inputs.to(device)).float() - targets.to(device)
        abs_sum += errors.abs().sum().item()
        square_sum += errors.square().sum().item()
        total += targets.numel()
    model.train()

    return {
        "mae": dataset.target_std * abs_sum / total,
        "rmse": dataset.target_std * (square_sum / total) ** 0.5,
        "loss": abs_sum / total,
    }


def check_options(options: dict) -> None:
    if options["hidden_size"] < 1:
        raise ValueError(f"option 'hidden_size' must be at least 1, got {options['hidden_size']}")


TASK = Task(
    name="diabetes",
    description="scikit-learn diabetes regression, MLP with L1 loss, MAE and RMSE",
    metric="mae",
    mode="min",
    recipe=Recipe(optimizer="adamw", lr=3e-3, weight_decay=1e-4, scheduler="cosine",
                  epochs=100, batch_size=32),
    load_splits=load_splits,
    build_model=build_model,
    loss_fn=nn.functional.l1_loss,
    evaluate=evaluate,
    seconds_per_epoch=0.3,  # estimate: 9 steps of about 2 ms, plus evaluation
    option_defaults={"hidden_size": 64},  # units in each of the two hidden layers
    check_options=check_options,
)
