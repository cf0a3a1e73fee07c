"""build_averager: the method names a trainer uses, and the shared interface."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from sema_ray.averaging import (
    EMA,
    METHODS,
    SWA,
    Lookahead,
    NoAveraging,
    SwitchEMA,
    build_averager,
    method_parameters,
)

from .helpers import floating_state, make_bn_net, sgd_step


def test_methods_tuple():
    assert METHODS == ("basic", "ema", "sema", "swa", "lookahead")


@pytest.mark.parametrize(
    ("method", "params", "expected_class"),
    [
        ("basic", {}, NoAveraging),
        ("ema", {"momentum": 0.99, "update_every": 2}, EMA),
        ("sema", {"momentum": 0.99, "switch_every": 10, "update_every": 1}, SwitchEMA),
        ("swa", {"start_step": 5, "every": 2}, SWA),
        ("lookahead", {"k": 5, "alpha": 0.5}, Lookahead),
    ],
)
def test_builds_each_method(method, params, expected_class, image_batches):
    model = make_bn_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = build_averager(method, model, optimizer, **params)
    assert type(averager) is expected_class
    assert averager.method == method

    for inputs, targets in image_batches[:2]:
        sgd_step(model, optimizer, inputs, targets)
        assert isinstance(averager.update(), bool)
    assert isinstance(averager.end_epoch(), bool)
    with averager.averaged():
        model(image_batches[0][0])
    averager.load_state_dict(averager.state_dict())
    assert averager.num_steps == 2


def test_basic_evaluates_fast_weights(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = build_averager("basic", model, optimizer)
    sgd_step(model, optimizer, *image_batches[0])
    assert averager.update() is False
    fast = floating_state(model)
    with averager.averaged():
        for name, value in floating_state(model).items():
            assert torch.equal(value, fast[name])


def test_unknown_method_lists_valid_ones():
    with pytest.raises(
        ValueError, match="'polyak'; valid methods: basic, ema, sema, swa, lookahead"
    ):
        build_averager("polyak", make_bn_net(), None)


def test_unknown_parameter_lists_valid_ones():
    with pytest.raises(
        ValueError, match=r"unknown parameter 'switch_every' for averaging method 'ema'.*momentum"
    ):
        build_averager("ema", make_bn_net(), None, momentum=0.9, switch_every=5)
    with pytest.raises(
        ValueError, match="'momentum' for averaging method 'basic'; valid parameters: none"
    ):
        build_averager("basic", make_bn_net(), None, momentum=0.9)


def test_lookahead_requires_optimizer():
    with pytest.raises(ValueError, match="needs the optimizer"):
        build_averager("lookahead", make_bn_net(), None)


def test_method_parameters():
    assert "switch_every" in method_parameters("sema")
    assert {"start_step", "every"} <= set(method_parameters("swa"))
    assert {"k", "alpha"} <= set(method_parameters("lookahead"))


def test_import_needs_only_torch():
    code = (
        "import sys, sema_ray.averaging; "
        "heavy = sorted(m for m in ('ray', 'mlflow', 'optuna', 'timm') if m in sys.modules); "
        "print(','.join(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
