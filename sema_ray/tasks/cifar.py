"""CIFAR-10 and CIFAR-100 from torchvision's on-disk format, models from timm by name.

The option `root` is the directory that torchvision's `CIFAR10(root)` / `CIFAR100(root)`
download into: it contains `cifar-10-batches-py/` (`data_batch_1` .. `data_batch_5`,
`test_batch`, `batches.meta`) or `cifar-100-python/` (`train`, `test`, `meta`). Each
file is a pickled dict whose `b"data"` is a uint8 array of N x 3072 (the red, green and
blue 32x32 planes of each image, row by row) with labels under `b"labels"` (CIFAR-10)
or `b"fine_labels"` (CIFAR-100). Nothing is downloaded: a missing or malformed file
raises ValueError naming it.

`val_size` images of the training set (chosen by `data_seed`) form the validation
split; the official test set is the test split.
"""

from __future__ import annotations

import functools
import logging
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset
from torchvision.transforms import v2

from sema_ray.tasks.base import Recipe, Splits, Task
from sema_ray.tasks.classification import evaluate_accuracy, split_indices
from sema_ray.tasks.vision import build_timm_model, check_model_name

logger = logging.getLogger(__name__)

# Per-channel mean and standard deviation of the CIFAR-10 training images.
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class CifarFormat:
    """File names of one CIFAR variant, and the dict key that contains its labels."""

    folder: str
    train_files: tuple[str, ...]
    test_file: str
    meta_file: str
    label_key: bytes
    names_key: bytes  # the class-name list in the meta file
    num_classes: int

    def expected_files(self) -> tuple[str, ...]:
        return (*self.train_files, self.test_file, self.meta_file)


CIFAR10 = CifarFormat("cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)),
                      "test_batch", "batches.meta", b"labels", b"label_names", 10)
CIFAR100 = CifarFormat("cifar-100-python", ("train",), "test", "meta", b"fine_labels",
                       b"fine_label_names", 100)


class CifarImages(Dataset):
    """uint8 images of N x 3 x 32 x 32 with integer labels, transformed on access."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        return self.transform(self.images[index]), self.labels[index]


def find_folder(root: str | None, layout: CifarFormat) -> Path:
    """Return the folder with the CIFAR files, or raise ValueError naming the first missing one."""
    # ValueError, not TypeError: the study reports every invalid option as a ValueError.
    if not isinstance(root, str):
        raise ValueError(  # noqa: TRY004
            f"option 'root' must be the directory that contains {layout.folder}/, got {root!r}")
    base = Path(root).expanduser()
    # Accept the folder itself as well as torchvision's parent directory.
    folder = base if base.name == layout.folder else base / layout.folder
    for name in layout.expected_files():
        if not (folder / name).is_file():
            raise ValueError(f"option 'root': expected the file {folder / name} (torchvision's "
                             f"{layout.folder} format); download the dataset there first")
    return folder


def read_batch(path: Path, layout: CifarFormat) -> tuple[np.ndarray, np.ndarray]:
    """Read one pickled batch; return uint8 images of N x 3 x 32 x 32 and int64 labels."""
    try:
        with path.open("rb") as file:
            batch = pickle.load(file, encoding="bytes")
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[layout.label_key], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as error:
        raise ValueError(f"{path} is not a CIFAR batch: expected a pickled dict with b'data' and "
                         f"{layout.label_key!r} ({type(error).__name__}: {error})") from None

    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(f"{path}: expected b'data' of N x 3072 and N labels, got data of shape "
                         f"{data.shape} and {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= layout.num_classes):
        raise ValueError(f"{path}: labels must be in [0, {layout.num_classes}), got "
                         f"{labels.min()} .. {labels.max()}")
    return data.reshape(-1, 3, 32, 32), labels


def check_meta(folder: Path, layout: CifarFormat) -> None:
    path = folder / layout.meta_file
    try:
        with path.open("rb") as file:
            names = pickle.load(file, encoding="bytes")[layout.names_key]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError) as error:
        raise ValueError(f"{path} is not a CIFAR meta file: expected a pickled dict with "
                         f"{layout.names_key!r} ({type(error).__name__}: {error})") from None
    if len(names) != layout.num_classes:
        raise ValueError(f"{path}: expected {layout.num_classes} class names, got {len(names)}")


def build_transforms(image_size: int, augment: bool):
    """Return (train, eval) transforms from uint8 CHW tensors to normalized float tensors."""
    resize = [v2.Resize(image_size, antialias=True)] if image_size != 32 else []
    normalize = [v2.ToDtype(torch.float32, scale=True), v2.Normalize(CIFAR_MEAN, CIFAR_STD)]
    # The usual CIFAR augmentation: a random 32x32 crop of the 4-pixel padded image, and flips.
    augmentation = [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()] if augment else []
    return v2.Compose(augmentation + resize + normalize), v2.Compose(resize + normalize)


def load_cifar(layout: CifarFormat, data_seed: int, options: dict) -> Splits:
    folder = find_folder(options["root"], layout)
    check_meta(folder, layout)
    parts = [read_batch(folder / name, layout) for name in layout.train_files]
    train_images = np.concatenate([images for images, _ in parts])
    train_labels = np.concatenate([labels for _, labels in parts])
    test_images, test_labels = read_batch(folder / layout.test_file, layout)
    logger.info("%s: %d training and %d test images from %s", layout.folder, len(train_labels),
                len(test_labels), folder)

    if options["val_size"] >= len(train_labels):
        raise ValueError(f"option 'val_size'={options['val_size']} leaves no training images of "
                         f"the {len(train_labels)} in {folder}")
    val_index, train_index = split_indices(len(train_labels), (options["val_size"],), data_seed)
    train_transform, eval_transform = build_transforms(options["image_size"], options["augment"])

    def subset(images: np.ndarray, labels: np.ndarray, index, transform) -> CifarImages:
        return CifarImages(torch.from_numpy(images[index]), torch.from_numpy(labels[index]), transform)

    return Splits(
        train=subset(train_images, train_labels, train_index, train_transform),
        val=subset(train_images, train_labels, val_index, eval_transform),
        test=subset(test_images, test_labels, slice(None), eval_transform),
    )


def check_options(layout: CifarFormat, options: dict) -> None:
    find_folder(options["root"], layout)
    if options["val_size"] < 1:
        raise ValueError(f"option 'val_size' must be at least 1, got {options['val_size']}")
    if options["image_size"] < 8:
        raise ValueError(f"option 'image_size' must be at least 8 pixels, got {options['image_size']}")


OPTION_DEFAULTS = {
    "root": None,  # the directory that contains torchvision's cifar-*-py* folder
    "val_size": 5000,  # training images held out for validation
    "augment": True,  # random crop with 4-pixel padding and horizontal flip
    "image_size": 32,  # resize to this many pixels a side (224 for ImageNet-sized ViTs)
    "model_kwargs": {},  # extra keyword arguments for timm.create_model
}

# SGD-trained CNNs: the usual 200-epoch CIFAR ResNet recipe.
CNN_RECIPE = Recipe(model="resnet18", optimizer="sgd", lr=0.1, optimizer_momentum=0.9,
                    weight_decay=5e-4, scheduler="cosine", epochs=200, batch_size=128)
# AdamW-trained ViTs: ViT-Tiny with 4x4 patches at 32x32 (64 tokens).
VIT_RECIPE = Recipe(model="vit_tiny_patch16_224", optimizer="adamw", lr=1e-3, weight_decay=0.05,
                    scheduler="cosine", warmup_epochs=10, epochs=200, batch_size=128)


def make_task(name: str, layout: CifarFormat) -> Task:
    """Build the task for one CIFAR variant; the CNN recipe is the default, "vit" a preset."""

    def build_model(recipe: Recipe, options: dict) -> nn.Module:
        return build_timm_model(recipe.model or CNN_RECIPE.model, layout.num_classes,
                                options["image_size"], options["model_kwargs"])

    return Task(
        name=name,
        description=f"{name.upper()} from torchvision's files, timm model, top-1 accuracy (%)",
        metric="accuracy",
        mode="max",
        recipe=CNN_RECIPE,
        recipes={"cnn": CNN_RECIPE, "vit": VIT_RECIPE},
        load_splits=functools.partial(load_cifar, layout),
        build_model=build_model,
        loss_fn=nn.functional.cross_entropy,
        evaluate=evaluate_accuracy,
        # Estimate for ResNet-18 and ViT-Tiny alike: 352 steps of about 9 s on one CPU thread.
        seconds_per_epoch=3000.0,
        option_defaults=OPTION_DEFAULTS,
        check_options=functools.partial(check_options, layout),
        check_recipe=check_model_name,
    )
