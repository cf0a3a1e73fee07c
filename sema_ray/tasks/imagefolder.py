"""`imagefolder`: any ImageNet-style tree of one folder per class, timm model and transforms.

The option `root` is either
- a directory with `train/<class>/<image>` and optionally `val/<class>/<image>` (the
  ImageNet layout): `val/` becomes the test split; or
- a directory of class folders itself, from which a `test_fraction` of the images
  (chosen by `data_seed`) becomes the test split.
Either way a `val_fraction` of the training images (chosen by `data_seed`) becomes the
validation split. Images are read with torchvision's `ImageFolder` and transformed
to `image_size` pixels with timm's `create_transform`. For training that is a
random-resized crop, a flip and color jitter, and for evaluation a resize and a
center crop.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

from timm.data import create_transform
from torch import nn
from torch.utils.data import Subset
from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import find_classes

from sema_ray.tasks.base import Recipe, Splits, Task
from sema_ray.tasks.classification import evaluate_accuracy, split_indices
from sema_ray.tasks.vision import build_timm_model, check_model_name

logger = logging.getLogger(__name__)


def find_folders(root) -> tuple[Path, Path | None]:
    """Return (training folder, test folder or None), or raise ValueError saying what is missing."""
    # ValueError, not TypeError: the study reports every invalid option as a ValueError.
    if not isinstance(root, str):
        raise ValueError(  # noqa: TRY004
            f"option 'root' must be a directory of class folders (or with train/ and val/ "
            f"inside), got {root!r}")
    base = Path(root).expanduser()
    if not base.is_dir():
        raise ValueError(f"option 'root': directory {base} not found")
    if (base / "train").is_dir():
        test = base / "val"
        return base / "train", test if test.is_dir() else None
    return base, None


def read_folder(folder: Path, transform) -> ImageFolder:
    try:
        return ImageFolder(str(folder), transform=transform)
    except FileNotFoundError as error:
        # ImageFolder raises this for a folder without class folders or images in them.
        raise ValueError(f"option 'root': {folder} is not a class-per-folder image tree "
                         f"({error})") from None


def load_splits(data_seed: int, options: dict) -> Splits:
    train_folder, test_folder = find_folders(options["root"])
    size, augment = options["image_size"], options["auto_augment"]
    train_transform = create_transform(size, is_training=True, auto_augment=augment)
    eval_transform = create_transform(size, is_training=False)

    images = read_folder(train_folder, train_transform)
    # A shallow copy shares the scanned file list; only the transform differs.
    eval_images = copy.copy(images)
    eval_images.transform = eval_transform

    n = len(images)
    n_val = max(1, round(options["val_fraction"] * n))
    if test_folder is None:
        n_test = max(1, round(options["test_fraction"] * n))
        val_index, test_index, train_index = split_indices(n, (n_val, n_test), data_seed)
        test = Subset(eval_images, test_index.tolist())
    else:
        val_index, train_index = split_indices(n, (n_val,), data_seed)
        test = read_folder(test_folder, eval_transform)
        if test.classes != images.classes:
            raise ValueError(f"option 'root': the class folders of {test_folder} differ from "
                             f"those of {train_folder}")

    logger.info("imagefolder %s: %d classes, %d train, %d validation, %d test images", train_folder,
                len(images.classes), len(train_index), len(val_index), len(test))
    return Splits(Subset(images, train_index.tolist()), Subset(eval_images, val_index.tolist()), test)


def build_model(recipe: Recipe, options: dict) -> nn.Module:
    train_folder, _ = find_folders(options["root"])
    classes, _ = find_classes(str(train_folder))
    return build_timm_model(recipe.model or RECIPE.model, len(classes), options["image_size"],
                            options["model_kwargs"])


def check_options(options: dict) -> None:
    train_folder, _ = find_folders(options["root"])
    try:
        find_classes(str(train_folder))
    except FileNotFoundError:
        raise ValueError(f"option 'root': {train_folder} has no class folders") from None
    for name in ("val_fraction", "test_fraction"):
        if not 0.0 < options[name] < 0.5:
            raise ValueError(f"option {name!r} must be in (0, 0.5), got {options[name]}")
    if options["image_size"] < 8:
        raise ValueError(f"option 'image_size' must be at least 8 pixels, got {options['image_size']}")
    if options["auto_augment"] is not None and not isinstance(options["auto_augment"], str):
        raise ValueError(f"option 'auto_augment' must be None or a timm policy string such as "
                         f"'rand-m9-mstd0.5', got {options['auto_augment']!r}")


# ImageNet-1k ResNet-50: SGD, 90 epochs, lr 0.1 per 256 images (Goyal et al., 2017).
RECIPE = Recipe(model="resnet50", optimizer="sgd", lr=0.1, optimizer_momentum=0.9, weight_decay=1e-4,
                scheduler="cosine", warmup_epochs=5, epochs=90, batch_size=256)
# DeiT-S: AdamW, 300 epochs, lr 5e-4 per 512 images (Touvron et al., 2021).
VIT_RECIPE = Recipe(model="deit_small_patch16_224", optimizer="adamw", lr=5e-4, weight_decay=0.05,
                    scheduler="cosine", warmup_epochs=5, epochs=300, batch_size=512)

TASK = Task(
    name="imagefolder",
    description="class-per-folder images, timm model and transforms, top-1 accuracy (%)",
    metric="accuracy",
    mode="max",
    recipe=RECIPE,
    recipes={"cnn": RECIPE, "vit": VIT_RECIPE},
    load_splits=load_splits,
    build_model=build_model,
    loss_fn=nn.functional.cross_entropy,
    evaluate=evaluate_accuracy,
    option_defaults={
        "root": None,  # class folders, or train/ (and val/) with class folders inside
        "image_size": 224,  # pixels a side after the crop
        "val_fraction": 0.1,  # share of the training images held out for validation
        "test_fraction": 0.1,  # share held out for test when there is no val/ folder
        "auto_augment": None,  # a timm auto-augment policy such as "rand-m9-mstd0.5"
        "model_kwargs": {},  # extra keyword arguments for timm.create_model
    },
    check_options=check_options,
    check_recipe=check_model_name,
)
