"""Helpers shared by the tasks: seeded splits, top-1 accuracy and calibration error."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from sema_ray.tasks.base import Splits

# Equal-width confidence bins for the expected calibration error (ECE).
ECE_BINS = 15


def split_indices(n: int, sizes: tuple[int, ...], data_seed: int) -> list[np.ndarray]:
    """Shuffle range(n) with `data_seed` and cut parts of `sizes` off the front; the rest is last."""
    if sum(sizes) >= n:
        raise ValueError(f"split sizes {sizes} leave nothing of {n} samples for the last part")
    order = np.random.default_rng(data_seed).permutation(n)
    return np.split(order, np.cumsum(sizes))


def split_arrays(
    features: np.ndarray,
    labels: np.ndarray,
    sizes: tuple[int, int],
    data_seed: int,
) -> Splits:
    """Shuffle with `data_seed` and cut (train, val) sizes off the front; the rest is test."""

    def to_dataset(index: np.ndarray) -> TensorDataset:
        x = torch.as_tensor(features[index], dtype=torch.float32)
        y = torch.as_tensor(labels[index], dtype=torch.long)
        return TensorDataset(x, y)

    return Splits(*(to_dataset(index) for index in split_indices(len(labels), sizes, data_seed)))


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return top-1 accuracy in percent and mean cross-entropy over `loader`."""
    metrics, _ = _collect_predictions(model, loader, device)
    return metrics


@torch.no_grad()
def evaluate_calibration(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return accuracy and ECE in percent and mean cross-entropy over `loader`."""
    metrics, probabilities = _collect_predictions(model, loader, device)
    confidence, predicted, targets = probabilities
    metrics["ece"] = 100.0 * expected_calibration_error(confidence, predicted == targets)
    return metrics


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor,
                               bins: int = ECE_BINS) -> float:
    """Return the ECE as a fraction: sum over confidence bins of |accuracy - confidence|,
    each weighted by the share of samples in the bin.

    `confidence` is the max softmax probability per sample, `correct` whether the top-1
    prediction was right. Bins are (k/bins, (k+1)/bins], so a confidence of 1 falls in
    the last bin.
    """
    bin_index = (confidence * bins).ceil().long().clamp(1, bins) - 1
    counts = torch.bincount(bin_index, minlength=bins).double()
    confidence_sums = torch.bincount(bin_index, weights=confidence.double(), minlength=bins)
    correct_sums = torch.bincount(bin_index, weights=correct.double(), minlength=bins)
    return float((correct_sums - confidence_sums).abs().sum() / counts.sum())


def _collect_predictions(model: nn.Module, loader, device: torch.device):
    """Run `model` over `loader`; return accuracy/loss and (confidence, predicted, target)."""
    model.eval()
    loss_sum = 0.0
    confidences, predictions, all_targets = [], [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)
        loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        confidence, predicted = logits.float().softmax(dim=1).max(dim=1)
        confidences.append(confidence.cpu())
        predictions.append(predicted.cpu())
        all_targets.append(targets.cpu())
    model.train()

    confidence, predicted, targets = (torch.cat(parts) for parts in (confidences, predictions, all_targets))
    total = targets.numel()
    metrics = {"accuracy": 100.0 * (predicted == targets).sum().item() / total, "loss": loss_sum / total}
    return metrics, (confidence, predicted, targets)
