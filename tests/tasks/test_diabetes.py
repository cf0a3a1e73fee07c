"""diabetes: standardized splits and MAE / RMSE in the target's units."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from torch import nn
from torch.utils.data import DataLoader

from sema_ray.tasks import get_task


class ConstantModel(nn.Module):
    """Predicts the same standardized value for every sample."""

    def __init__(self, value: float):
        super().__init__()
        self.value = value

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.full((len(inputs),), self.value)


def test_split_sizes_and_standardization():
    splits = get_task("diabetes").load_splits(0, {})
    assert (len(splits.train), len(splits.val), len(splits.test)) == (282, 80, 80)

    features, targets = splits.train.tensors
    assert features.shape == (282, 10)
    assert features.mean(dim=0).abs().max() < 1e-5
    assert features.std(dim=0, unbiased=False) == pytest.approx(torch.ones(10), abs=1e-4)
    assert targets.mean().abs() < 1e-5


def test_splits_cover_dataset_once():
    _, raw_targets = load_diabetes(return_X_y=True, scaled=False)
    splits = get_task("diabetes").load_splits(5, {})
    recovered = np.concatenate([
        (part.tensors[1].numpy() * part.target_std + part.target_mean)
        for part in (splits.train, splits.val, splits.test)
    ])
    assert np.sort(recovered) == pytest.approx(np.sort(raw_targets), abs=1e-3)


def test_mae_rmse_in_target_units():
    task = get_task("diabetes")
    splits = task.load_splits(0, {})
    # Predicting 0 in standardized units is predicting the training mean.
    metrics = task.evaluate(ConstantModel(0.0), DataLoader(splits.test, batch_size=32), torch.device("cpu"))

    targets = splits.test.tensors[1].numpy() * splits.test.target_std + splits.test.target_mean
    errors = splits.test.target_mean - targets
    assert metrics["mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-5)
    assert metrics["rmse"] == pytest.approx(np.sqrt((errors ** 2).mean()), rel=1e-5)
    assert metrics["loss"] == pytest.approx(metrics["mae"] / splits.test.target_std, rel=1e-5)


def test_model_output_matches_target_shape():
    task = get_task("diabetes")
    options = task.resolve_options({"hidden_size": 8})
    model = task.build_model(task.recipe, options)
    features, targets = task.load_splits(0, options).train.tensors
    output = model(features[:4])
    assert output.shape == targets[:4].shape
    assert task.loss_fn(output, targets[:4]).ndim == 0


def test_hidden_size_checked():
    with pytest.raises(ValueError, match="'hidden_size' must be at least 1, got 0"):
        get_task("diabetes").resolve_options({"hidden_size": 0})
