"""moons, circles and digits: seeded splits, accuracy, calibration error, boundary plot."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from sema_ray.tasks import get_task
from sema_ray.tasks.boundary import plot_decision_boundaries
from sema_ray.tasks.classification import evaluate_calibration, expected_calibration_error

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def ece_by_loop(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error written out bin by bin, over bins (k/bins, (k+1)/bins]."""
    total = 0.0
    for k in range(bins):
        low, high = k / bins, (k + 1) / bins
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = abs(correct[inside].mean() - confidence[inside].mean())
            total += inside.sum() / len(confidence) * gap
    return total


def test_ece_matches_binwise_definition():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, size=500)
    confidence[:3] = 1.0  # the top edge belongs to the last bin
    correct = rng.uniform(size=500) < confidence - 0.1
    expected = ece_by_loop(confidence, correct)
    measured = expected_calibration_error(torch.tensor(confidence), torch.tensor(correct))
    assert measured == pytest.approx(expected, abs=1e-12)


def test_ece_zero_when_calibrated():
    # Ten samples at confidence 0.7 with seven right: accuracy equals confidence.
    confidence = torch.full((10,), 0.7)
    correct = torch.tensor([True] * 7 + [False] * 3)
    assert expected_calibration_error(confidence, correct) == pytest.approx(0.0, abs=1e-6)


def test_evaluate_calibration_of_fixed_logits():
    # The "model" returns fixed logits per sample: confidences 0.9, 0.9, 0.6, 0.6.
    logits = torch.log(torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]]))
    targets = torch.tensor([0, 1, 1, 1])
    loader = DataLoader(TensorDataset(logits, targets), batch_size=3)
    metrics = evaluate_calibration(nn.Identity(), loader, torch.device("cpu"))

    assert metrics["accuracy"] == pytest.approx(75.0)
    # Bin of 0.9: accuracy 0.5, gap 0.4; bin of 0.6: accuracy 1.0, gap 0.4.
    assert metrics["ece"] == pytest.approx(40.0, abs=1e-4)
    expected_loss = -(np.log(0.9) + np.log(0.1) + 2 * np.log(0.6)) / 4
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-5)


@pytest.mark.parametrize("name", ["moons", "circles", "digits"])
def test_splits_deterministic_per_seed(name):
    task = get_task(name)
    first, again, other = (task.load_splits(seed, {}) for seed in (3, 3, 4))
    assert torch.equal(first.train.tensors[0], again.train.tensors[0])
    assert not torch.equal(first.train.tensors[0], other.train.tensors[0])


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_toy_task_sizes_and_metrics(name):
    task = get_task(name)
    splits = task.load_splits(0, {})
    assert (len(splits.train), len(splits.val), len(splits.test)) == (50, 475, 475)

    model = task.build_model(task.recipe, {})
    metrics = task.evaluate(model, DataLoader(splits.val, batch_size=100), torch.device("cpu"))
    assert set(metrics) == {"accuracy", "loss", "ece"}
    assert 0.0 <= metrics["ece"] <= 100.0


def test_boundary_plot_written(tmp_path):
    task = get_task("circles")
    splits = task.load_splits(0, {})
    models = {label: task.build_model(task.recipe, {}) for label in ("basic", "ema", "sema")}
    metrics = {"basic": {"accuracy": 90.0, "ece": 5.0}}
    path = plot_decision_boundaries(models, splits.train, splits.test, metrics, tmp_path / "out" / "b.png")

    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width = int.from_bytes(data[16:20], "big")
    height = int.from_bytes(data[20:24], "big")
    assert width > 2.5 * height  # three panels side by side
