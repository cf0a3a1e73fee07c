"""cifar10 and cifar100: torchvision's pickle files, errors, timm models with the CIFAR stem."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from torch import nn

from sema_ray.tasks import get_task
from sema_ray.tasks.cifar import CIFAR_MEAN, CIFAR_STD

from .conftest import CIFAR_BATCH_IMAGES, CIFAR_TEST_IMAGES, write_cifar10


def options_for(task_name: str, root, **given) -> dict:
    return get_task(task_name).resolve_options({"root": str(root), "val_size": 6} | given)


@pytest.mark.parametrize("name, fixture", [("cifar10", "cifar10_root"), ("cifar100", "cifar100_root")])
def test_split_sizes(name, fixture, request):
    root = request.getfixturevalue(fixture)
    splits = get_task(name).load_splits(0, options_for(name, root))
    assert len(splits.train) == 5 * CIFAR_BATCH_IMAGES - 6
    assert len(splits.val) == 6
    assert len(splits.test) == CIFAR_TEST_IMAGES


def test_pixels_follow_channel_planes(cifar10_root):
    """Row i of b'data' contains the red, then green, then blue 32x32 plane of image i."""
    with (cifar10_root / "cifar-10-batches-py" / "test_batch").open("rb") as file:
        batch = pickle.load(file, encoding="bytes")
    raw = batch[b"data"][0]
    splits = get_task("cifar10").load_splits(0, options_for("cifar10", cifar10_root))
    image, label = splits.test[0]

    expected = raw.reshape(3, 32, 32).astype(np.float32) / 255.0
    expected = (expected - np.array(CIFAR_MEAN)[:, None, None]) / np.array(CIFAR_STD)[:, None, None]
    assert image.shape == (3, 32, 32)
    assert image.numpy() == pytest.approx(expected, abs=1e-5)
    assert int(label) == batch[b"labels"][0]


def test_validation_split_by_seed(cifar10_root):
    task = get_task("cifar10")
    options = options_for("cifar10", cifar10_root)
    first, again, other = (task.load_splits(seed, options).val.images for seed in (0, 0, 1))
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_augmentation_keeps_shape(cifar10_root):
    splits = get_task("cifar10").load_splits(0, options_for("cifar10", cifar10_root))
    image, _ = splits.train[0]
    assert image.shape == (3, 32, 32)
    assert image.dtype == torch.float32


def test_image_size_resizes(cifar100_root):
    splits = get_task("cifar100").load_splits(0, options_for("cifar100", cifar100_root, image_size=48))
    assert splits.test[0][0].shape == (3, 48, 48)


def test_missing_root_names_expected_file(tmp_path):
    with pytest.raises(ValueError) as error:
        get_task("cifar10").resolve_options({"root": str(tmp_path)})
    message = str(error.value)
    assert str(tmp_path / "cifar-10-batches-py" / "data_batch_1") in message


def test_root_required():
    with pytest.raises(ValueError, match="'root' must be the directory that contains cifar-100-python/"):
        get_task("cifar100").resolve_options({})


def test_missing_test_batch_named(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "test_batch").unlink()
    with pytest.raises(ValueError, match="expected the file .*test_batch"):
        get_task("cifar10").resolve_options({"root": str(tmp_path)})


def test_malformed_batch_named(tmp_path):
    folder = write_cifar10(tmp_path)
    with (folder / "data_batch_3").open("wb") as file:
        pickle.dump({b"data": np.zeros((4, 100), dtype=np.uint8), b"labels": [0, 1, 2, 3]}, file)
    options = get_task("cifar10").resolve_options({"root": str(tmp_path), "val_size": 2})
    with pytest.raises(ValueError, match="data_batch_3: expected b'data' of N x 3072"):
        get_task("cifar10").load_splits(0, options)


def test_not_a_pickle_named(tmp_path):
    folder = write_cifar10(tmp_path)
    (folder / "data_batch_2").write_bytes(b"not a pickle")
    options = get_task("cifar10").resolve_options({"root": str(tmp_path), "val_size": 2})
    with pytest.raises(ValueError, match="data_batch_2 is not a CIFAR batch"):
        get_task("cifar10").load_splits(0, options)


def test_cifar100_reads_fine_labels(cifar100_root):
    with (cifar100_root / "cifar-100-python" / "test").open("rb") as file:
        fine_labels = pickle.load(file, encoding="bytes")[b"fine_labels"]
    splits = get_task("cifar100").load_splits(0, options_for("cifar100", cifar100_root))
    assert splits.test.labels.tolist() == fine_labels


def test_resnet_gets_cifar_stem(cifar10_root):
    task = get_task("cifar10")
    model = task.build_model(task.recipe, options_for("cifar10", cifar10_root))
    assert model.conv1.kernel_size == (3, 3)
    assert model.conv1.stride == (1, 1)
    assert isinstance(model.maxpool, nn.Identity)

    features = model.forward_features(torch.zeros(2, 3, 32, 32))
    assert features.shape[-2:] == (4, 4)  # 32 / 8: only the three strided stages downsample
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_vit_preset_uses_small_patches(cifar100_root):
    task = get_task("cifar100")
    recipe = task.resolve_recipe({"preset": "vit"})
    model = task.build_model(recipe, options_for("cifar100", cifar100_root))
    assert model.patch_embed.patch_size == (4, 4)
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 100)


def test_model_kwargs_reach_timm(cifar10_root):
    task = get_task("cifar10")
    options = options_for("cifar10", cifar10_root, model_kwargs={"drop_rate": 0.3})
    model = task.build_model(task.recipe.override(model="resnet10t"), options)
    assert model.drop_rate == 0.3
