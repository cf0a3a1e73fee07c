"""Fixtures for the task tests: tiny datasets written in each dataset's real on-disk format."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Images per CIFAR training batch file, and in the test file, of the tiny copies.
CIFAR_BATCH_IMAGES = 8
CIFAR_TEST_IMAGES = 10


def write_pickle(path: Path, content: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as file:
        pickle.dump(content, file)


def cifar_batch(rng: np.random.Generator, n: int, label_key: bytes, num_classes: int) -> dict:
    """A batch dict as in the CIFAR files: uint8 rows of 3072 values and a list of labels."""
    return {
        b"batch_label": b"tiny batch",
        b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
        label_key: rng.integers(0, num_classes, size=n).tolist(),
    }


def write_cifar10(root: Path, seed: int = 0) -> Path:
    """Write cifar-10-batches-py/ under `root` with five small training batches and a test batch."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-10-batches-py"
    for index in range(1, 6):
        write_pickle(folder / f"data_batch_{index}", cifar_batch(rng, CIFAR_BATCH_IMAGES, b"labels", 10))
    write_pickle(folder / "test_batch", cifar_batch(rng, CIFAR_TEST_IMAGES, b"labels", 10))
    write_pickle(folder / "batches.meta", {b"label_names": [f"class{i}".encode() for i in range(10)],
                                           b"num_cases_per_batch": CIFAR_BATCH_IMAGES})
    return folder


def write_cifar100(root: Path, seed: int = 0) -> Path:
    """Write cifar-100-python/ under `root` with `train`, `test` and `meta`."""
    rng = np.random.default_rng(seed)
    folder = root / "cifar-100-python"
    for name, n in (("train", 5 * CIFAR_BATCH_IMAGES), ("test", CIFAR_TEST_IMAGES)):
        batch = cifar_batch(rng, n, b"fine_labels", 100)
        batch[b"coarse_labels"] = rng.integers(0, 20, size=n).tolist()
        write_pickle(folder / name, batch)
    write_pickle(folder / "meta", {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
                                   b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]})
    return folder


def write_image_tree(folder: Path, classes: tuple[str, ...], per_class: int, seed: int) -> None:
    """Write `per_class` random RGB PNG images of 40x48 pixels into one folder per class."""
    rng = np.random.default_rng(seed)
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(0, 256, size=(40, 48, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / name / f"img_{index:03d}.png")


@pytest.fixture(scope="session")
def cifar10_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar10")
    write_cifar10(root)
    return root


@pytest.fixture(scope="session")
def cifar100_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar100")
    write_cifar100(root)
    return root


@pytest.fixture(scope="session")
def imagenet_style_root(tmp_path_factory) -> Path:
    """train/ and val/ with three classes, as ImageNet is laid out."""
    root = tmp_path_factory.mktemp("imagenet_style")
    classes = ("cat", "dog", "fox")
    write_image_tree(root / "train", classes, per_class=6, seed=0)
    write_image_tree(root / "val", classes, per_class=2, seed=1)
    return root


@pytest.fixture(scope="session")
def text_file(tmp_path_factory) -> Path:
    """A UTF-8 text file of numbered lines with a few non-ASCII characters."""
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    lines = (f"{i}: the quick brown fox jumps over the lazy dog; naïve café, 10 € — done.\n"
             for i in range(60))
    path.write_text("".join(lines), encoding="utf-8")
    return path
