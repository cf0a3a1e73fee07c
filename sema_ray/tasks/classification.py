"""Helpers shared by the classification tasks: splitting arrays and top-1 accuracy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from sema_ray.tasks.base import Splits


def split_arrays(
    features: np.ndarray,
    labels: np.ndarray,
    sizes: tuple[int, int],
    data_seed: int,
) -> Splits:
    """Shuffle with `data_seed` and cut (train, val) sizes off the front; the rest is test."""
    order = np.random.default_rng(data_seed).permutation(len(labels))
    n_train, n_val = sizes
    parts = np.split(order, [n_train, n_train + n_val])

    def to_dataset(index: np.ndarray) -> TensorDataset:
        x = torch.as_tensor(features[index], dtype=torch.float32)
        y = torch.as_tensor(labels[index], dtype=torch.long)
        return TensorDataset(x, y)

    return Splits(*(to_dataset(index) for index in parts))


@torch.no_grad()
def evaluate_accuracy(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return top-1 accuracy in percent and mean cross-entropy over `loader`."""
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)
        loss_sum += nn.functional.cross_entropy(logits, targets, reduction="sum").item()
        correct += (logits.argmax(dim=1) == targets).sum().item()
        total += targets.numel()
    model.train()
    return {"accuracy": 100.0 * correct / total, "loss": loss_sum / total}
