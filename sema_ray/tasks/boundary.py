"""Decision-boundary plot of 2-D classifiers side by side (basic, EMA, SEMA on moons/circles).

It redraws the decision-boundary figure of the SEMA paper (Li et al., "Switch EMA",
figures 3 and A1). Each method gets one panel. It shows the predicted probability of
class 1 as filled confidence levels and the decision boundary where that is 0.5. The
labeled training points are triangles and the test points gray, and the title gives
test accuracy and ECE.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, so it works on machines without a display

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

# Grid points per axis for the probability map; 200 x 200 draws smooth contours.
GRID_SIZE = 200
CONFIDENCE_LEVELS = np.linspace(0.0, 1.0, 11)


def plot_decision_boundaries(models: Mapping[str, nn.Module], train: TensorDataset,
                             test: TensorDataset, metrics: Mapping[str, Mapping[str, float]],
                             path: Path | str) -> Path:
    """Draw one panel per entry of `models` (label -> 2-D classifier) and save a PNG at `path`.

    `metrics[label]` may hold `accuracy` and `ece` (percent) for the panel title.
    """
    train_points, train_labels = (tensor.numpy() for tensor in train.tensors)
    test_points = test.tensors[0].numpy()
    grid_x, grid_y = make_grid(np.concatenate([train_points, test_points]))

    figure, axes = plt.subplots(1, len(models), figsize=(4.5 * len(models), 4.2), squeeze=False,
                                layout="constrained")
    for axis, (label, model) in zip(axes[0], models.items()):
        probability = class_one_probability(model, grid_x, grid_y)
        filled = axis.contourf(grid_x, grid_y, probability, levels=CONFIDENCE_LEVELS, cmap="RdYlBu_r",
                               alpha=0.55)
        axis.contour(grid_x, grid_y, probability, levels=[0.5], colors="black", linewidths=1.5)
        axis.scatter(test_points[:, 0], test_points[:, 1], s=6, c="gray", alpha=0.5, label="test")
        for value, color in ((0, "tab:red"), (1, "gold")):
            chosen = train_labels == value
            axis.scatter(train_points[chosen, 0], train_points[chosen, 1], marker="^", s=45, c=color,
                         edgecolors="black", linewidths=0.6, label=f"labeled class {value}")
        axis.set_title(panel_title(label, metrics.get(label, {})))
        axis.set_xticks([])
        axis.set_yticks([])

    axes[0][-1].legend(loc="lower right", fontsize=7)
    figure.colorbar(filled, ax=axes[0].tolist(), shrink=0.85, label="P(class 1)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def make_grid(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return a mesh over the points' bounding box, padded by a tenth of its size."""
    low, high = points.min(axis=0), points.max(axis=0)
    pad = 0.1 * (high - low)
    axes = [np.linspace(low[i] - pad[i], high[i] + pad[i], GRID_SIZE) for i in range(2)]
    return np.meshgrid(*axes)


@torch.no_grad()
def class_one_probability(model: nn.Module, grid_x: np.ndarray, grid_y: np.ndarray) -> np.ndarray:
    model.eval()
    device = next(model.parameters()).device
    inputs = torch.as_tensor(np.stack([grid_x.ravel(), grid_y.ravel()], axis=1), dtype=torch.float32)
    probability = model(inputs.to(device)).float().softmax(dim=1)[:, 1].cpu().numpy()
    return probability.reshape(grid_x.shape)


def panel_title(label: str, metrics: Mapping[str, float]) -> str:
    parts = [label]
    if "accuracy" in metrics:
        parts.append(f"acc {metrics['accuracy']:.1f}%")
    if "ece" in metrics:
        parts.append(f"ECE {metrics['ece']:.1f}%")
    return ", ".join(parts)
