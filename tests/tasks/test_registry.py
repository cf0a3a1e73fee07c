"""The task registry: names, lookup errors, option and recipe resolution."""

from __future__ import annotations

import pytest

from sema_ray.tasks import Recipe, get_task, task_names

EXPECTED_TASKS = ["charlm", "cifar10", "cifar100", "circles", "diabetes", "digits", "imagefolder",
                  "moons", "noisy_quadratic"]


def test_registry_lists_every_task():
    assert task_names() == EXPECTED_TASKS


@pytest.mark.parametrize("name", EXPECTED_TASKS)
def test_task_contract(name):
    task = get_task(name)
    assert task.name == name
    assert task.mode in ("max", "min")
    assert isinstance(task.recipe, Recipe)
    assert task.description


def test_unknown_task_lists_valid_names():
    with pytest.raises(ValueError) as error:
        get_task("cifar")
    message = str(error.value)
    assert "'cifar'" in message
    for name in EXPECTED_TASKS:
        assert name in message


def test_unknown_option_lists_valid_options():
    with pytest.raises(ValueError) as error:
        get_task("charlm").resolve_options({"seq_length": 64})
    message = str(error.value)
    assert "'seq_length'" in message
    assert "seq_len" in message
    assert "corpus" in message


def test_option_of_wrong_type_rejected():
    with pytest.raises(ValueError, match="'hidden_size'.*int.*'wide'"):
        get_task("diabetes").resolve_options({"hidden_size": "wide"})
    with pytest.raises(ValueError, match="'augment'"):
        get_task("cifar10").resolve_options({"root": "/data", "augment": 1})


def test_int_accepted_for_float_option():
    options = get_task("noisy_quadratic").resolve_options({"condition": 10})
    assert options["condition"] == 10


def test_option_value_checked():
    with pytest.raises(ValueError, match="'replicas' must be at least 1, got 0"):
        get_task("noisy_quadratic").resolve_options({"replicas": 0})


def test_options_default_when_not_given():
    options = get_task("diabetes").resolve_options({})
    assert options == {"hidden_size": 64}


def test_recipe_preset_and_override():
    task = get_task("cifar10")
    recipe = task.resolve_recipe({"preset": "vit", "epochs": 3})
    assert recipe.optimizer == "adamw"
    assert recipe.model.startswith("vit_")
    assert recipe.epochs == 3
    assert task.resolve_recipe({}).optimizer == "sgd"


def test_unknown_preset_lists_valid_presets():
    with pytest.raises(ValueError, match="unknown recipe preset 'deit'.*valid presets: cnn, vit"):
        get_task("cifar100").resolve_recipe({"preset": "deit"})


def test_unknown_timm_model_rejected():
    with pytest.raises(ValueError, match="'resnet_18' is not a timm model.*resnet18"):
        get_task("cifar10").resolve_recipe({"model": "resnet_18"})


def test_unknown_recipe_key_lists_valid_keys():
    with pytest.raises(ValueError, match="unknown recipe key 'learning_rate'.*lr"):
        get_task("moons").resolve_recipe({"learning_rate": 0.1})


@pytest.mark.parametrize("name", [name for name in EXPECTED_TASKS if name != "imagefolder"])
def test_recipes_build_timm_optimizer(name):
    """Every default recipe and preset names an optimizer and schedule that timm builds."""
    from sema_ray.train.optim import build_optimizer, build_scheduler

    task = get_task(name)
    # Option defaults suffice to build these models; imagefolder needs its class folders.
    options = dict(task.option_defaults)
    for recipe in [task.recipe, *task.recipes.values()]:
        model = task.build_model(recipe, options)
        optimizer = build_optimizer(model, recipe)
        scheduler = build_scheduler(optimizer, recipe, steps_per_epoch=10)
        scheduler.step_update(1)
        assert optimizer.param_groups[0]["lr"] > 0


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "lamb", "lars", "adan"])
def test_timm_optimizers_step_a_task(optimizer):
    from sema_ray.train.optim import build_optimizer

    task = get_task("moons")
    recipe = task.resolve_recipe({"optimizer": optimizer, "lr": 0.01, "weight_decay": 1e-4})
    model = task.build_model(recipe, {})
    inputs, targets = task.load_splits(0, {}).train.tensors
    before = [p.detach().clone() for p in model.parameters()]

    timm_optimizer = build_optimizer(model, recipe)
    task.loss_fn(model(inputs), targets).backward()
    timm_optimizer.step()
    assert any(not p.equal(b) for p, b in zip(model.parameters(), before))
