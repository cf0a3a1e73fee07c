"""noisy_quadratic: noise draws, the closed-form SGD variance, and what averaging does to it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sema_ray.tasks import get_task
from sema_ray.tasks.compare import train_methods
from sema_ray.tasks.noisy_quadratic import NoiseDraws

TASK = get_task("noisy_quadratic")
# Small enough to train in seconds, with enough copies to estimate a variance to ~5%.
OPTIONS = {"dim": 4, "replicas": 1024, "condition": 10.0, "train_size": 256}
RECIPE = {"epochs": 10}
MOMENTUM = 0.9


@pytest.fixture(scope="module")
def trained():
    # One thread: the tensors are too small for intra-op threads to pay off.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_methods("noisy_quadratic", ("basic", "ema", "sema"), momentum=MOMENTUM,
                             switch_interval=1.0, recipe=RECIPE, options=OPTIONS, seed=1)
    finally:
        torch.set_num_threads(threads)


def closed_form_variances(momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-coordinate steady-state variance of SGD and of its EMA, derived by hand.

    SGD: x' = (1 - eta a) x + eta a c_bar with Var(c_bar) = s / B, so
    V = eta a s / ((2 - eta a) B). The EMA with weight w = 1 - momentum on the new iterate
    has Var = V * w (1 + q) / ((2 - w) (1 - q)) with q = momentum (1 - eta a).
    """
    recipe = TASK.recipe
    curvature = np.logspace(0, -1, OPTIONS["dim"])  # max_curvature 1, condition 10
    noise = curvature  # noise_scale 1
    step = recipe.lr * curvature
    sgd = step * noise / ((2 - step) * recipe.batch_size)
    weight, q = 1 - momentum, momentum * (1 - step)
    return sgd, sgd * weight * (1 + q) / ((2 - weight) * (1 - q))


def test_closed_form_in_metrics(trained):
    sgd, _ = closed_form_variances(MOMENTUM)
    assert trained["basic"].test["sgd_variance"] == pytest.approx(sgd.sum(), rel=1e-5)


def test_sgd_reaches_closed_form(trained):
    assert trained["basic"].test["variance_ratio"] == pytest.approx(1.0, abs=0.15)


def test_ema_matches_its_closed_form(trained):
    _, ema = closed_form_variances(MOMENTUM)
    assert trained["ema"].test["variance"] == pytest.approx(ema.sum(), rel=0.15)


def test_averaging_lowers_variance(trained):
    basic = trained["basic"].test["variance"]
    assert trained["ema"].test["variance"] < 0.5 * basic
    assert trained["sema"].test["variance"] < 0.5 * basic
    assert trained["sema"].test["excess_loss"] < trained["basic"].test["excess_loss"]


def test_noise_fresh_per_visit_and_deterministic():
    draws = NoiseDraws(4, replicas=3, dim=2, seed=7, stream=0, fresh=True)
    first, second = draws[1][0], draws[1][0]
    assert not torch.equal(first, second)

    again = NoiseDraws(4, replicas=3, dim=2, seed=7, stream=0, fresh=True)
    assert torch.equal(again[1][0], first)
    assert torch.equal(again[1][0], second)
    assert not torch.equal(again[2][0], first)


def test_evaluation_noise_fixed():
    splits = TASK.load_splits(0, TASK.resolve_options(OPTIONS))
    assert torch.equal(splits.val[0][0], splits.val[0][0])
    assert not torch.equal(splits.val[0][0], splits.test[0][0])


def test_loss_is_sum_over_copies():
    options = TASK.resolve_options({"dim": 3, "replicas": 2})
    model = TASK.build_model(TASK.recipe, options)
    noise = torch.randn(5, 2, 3)
    loss = TASK.loss_fn(model(noise), torch.zeros(5))

    c = noise * model.noise_variance.sqrt()
    expected = 0.5 * ((model.x - c) ** 2 * model.curvature).sum(dim=(1, 2)).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_divergent_lr_rejected():
    options = TASK.resolve_options({})
    with pytest.raises(ValueError, match="recipe.lr=2.5 .* >= 2, so SGD diverges"):
        TASK.build_model(TASK.recipe.override(lr=2.5), options)


def test_non_plain_sgd_warns(caplog):
    options = TASK.resolve_options({"dim": 2, "replicas": 2})
    TASK.build_model(TASK.recipe.override(scheduler="cosine"), options)
    assert "closed-form SGD variance assumes plain SGD" in caplog.text
