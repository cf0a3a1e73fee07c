"""`digits`: scikit-learn's bundled 8x8 handwritten digits, classified by a small CNN."""

from __future__ import annotations

from sklearn.datasets import load_digits
from torch import nn

from sema_ray.tasks.base import Recipe, Splits, Task
from sema_ray.tasks.classification import evaluate_accuracy, split_arrays

# 1797 images: 1078 train, 359 validation, 360 test.
TRAIN_SIZE, VAL_SIZE = 1078, 359


def load_splits(data_seed: int, options: dict) -> Splits:
    digits = load_digits()
    # Pixel values are 0..16; scale to 0..1 and add the channel axis.
    images = (digits.images / 16.0).reshape(-1, 1, 8, 8)
    return split_arrays(images, digits.target, (TRAIN_SIZE, VAL_SIZE), data_seed)


def build_model(recipe: Recipe, options: dict) -> nn.Module:
    # BatchNorm is there on purpose: its running statistics are floating-point
    # buffers that the averagers must average and switch with the weights.
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.BatchNorm2d(16),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


TASK = Task(
    name="digits",
    description="scikit-learn 8x8 digits, small CNN, top-1 accuracy (%)",
    metric="accuracy",
    mode="max",
    recipe=Recipe(optimizer="sgd", lr=0.05, weight_decay=5e-4, scheduler="cosine",
                  epochs=8, batch_size=64),
    load_splits=load_splits,
    build_model=build_model,
    loss_fn=nn.functional.cross_entropy,
    evaluate=evaluate_accuracy,
)
