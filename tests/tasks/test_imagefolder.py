"""imagefolder: class-per-folder PNG trees, with and without a val/ folder."""

from __future__ import annotations

import pytest
import torch

from sema_ray.tasks import get_task

from .conftest import write_image_tree

TASK = get_task("imagefolder")


def options_for(root, **given) -> dict:
    return TASK.resolve_options({"root": str(root), "image_size": 32, "val_fraction": 0.2} | given)


def test_imagenet_layout_uses_val_as_test(imagenet_style_root):
    splits = TASK.load_splits(0, options_for(imagenet_style_root))
    # 18 training images: 4 (a fifth, rounded) for validation, the rest for training.
    assert len(splits.val) == 4
    assert len(splits.train) == 14
    assert len(splits.test) == 6
    assert splits.test.classes == ["cat", "dog", "fox"]


def test_flat_layout_carves_test(tmp_path):
    write_image_tree(tmp_path, ("a", "b"), per_class=10, seed=3)
    splits = TASK.load_splits(0, options_for(tmp_path, test_fraction=0.1))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (14, 4, 2)

    seen = set(splits.train.indices) | set(splits.val.indices) | set(splits.test.indices)
    assert seen == set(range(20))


def test_splits_deterministic_per_seed(imagenet_style_root):
    options = options_for(imagenet_style_root)
    first, again, other = (TASK.load_splits(seed, options).val.indices for seed in (0, 0, 1))
    assert first == again
    assert first != other


def test_timm_transforms_give_image_size(imagenet_style_root):
    splits = TASK.load_splits(0, options_for(imagenet_style_root))
    train_image, label = splits.train[0]
    test_image, _ = splits.test[0]
    assert train_image.shape == (3, 32, 32)
    assert test_image.shape == (3, 32, 32)
    assert label in (0, 1, 2)


def test_model_has_one_output_per_class(imagenet_style_root):
    model = TASK.build_model(TASK.recipe.override(model="resnet10t"), options_for(imagenet_style_root))
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_missing_root_named(tmp_path):
    with pytest.raises(ValueError, match=f"directory {tmp_path / 'absent'} not found"):
        TASK.resolve_options({"root": str(tmp_path / "absent")})


def test_folder_without_classes_rejected(tmp_path):
    (tmp_path / "notes.txt").write_text("no class folders here")
    with pytest.raises(ValueError, match="has no class folders"):
        TASK.resolve_options({"root": str(tmp_path)})


def test_mismatched_val_classes_rejected(tmp_path):
    write_image_tree(tmp_path / "train", ("a", "b"), per_class=4, seed=0)
    write_image_tree(tmp_path / "val", ("a", "c"), per_class=1, seed=1)
    with pytest.raises(ValueError, match="class folders of .*val differ"):
        TASK.load_splits(0, options_for(tmp_path))


def test_fraction_checked(imagenet_style_root):
    with pytest.raises(ValueError, match="'val_fraction' must be in \\(0, 0.5\\), got 0.7"):
        options_for(imagenet_style_root, val_fraction=0.7)
