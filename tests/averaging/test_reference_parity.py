"""Parity with the implementations users switch from: timm ModelEmaV3 and torch AveragedModel."""

from __future__ import annotations

import pytest
import torch
from torch.optim.swa_utils import AveragedModel

from sema_ray.averaging import EMA, SWA

timm = pytest.importorskip("timm")
from timm.utils.model_ema import ModelEmaV3

from .helpers import sgd_step


def make_timm_model():
    """A tiny timm ResNet with BatchNorm, randomly initialized (no download)."""
    torch.manual_seed(0)
    return timm.create_model("test_resnet", pretrained=False, num_classes=4)


def batches(count: int):
    g = torch.Generator().manual_seed(5)
    return [
        (torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 4, (4,), generator=g))
        for _ in range(count)
    ]


def assert_floating_entries_close(expected: dict, actual: dict) -> None:
    compared = 0
    for name, value in expected.items():
        if value.is_floating_point():
            torch.testing.assert_close(actual[name].float(), value.float(), rtol=1e-5, atol=1e-6)
            compared += 1
    assert compared > 0


def test_ema_matches_timm_model_ema_v3():
    model = make_timm_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    timm_ema = ModelEmaV3(model, decay=0.9)
    ours = EMA(model, momentum=0.9, optimizer=optimizer)

    for inputs, targets in batches(4):
        sgd_step(model, optimizer, inputs, targets)
        timm_ema.update(model)
        ours.update()

    expected = timm_ema.module.state_dict()
    actual = ours.averaged_state_dict()
    assert_floating_entries_close(expected, actual)
    assert torch.equal(actual["bn1.num_batches_tracked"], expected["bn1.num_batches_tracked"])


def test_swa_matches_averaged_model():
    model = make_timm_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    reference = AveragedModel(model, use_buffers=True)
    ours = SWA(model, start_step=2, every=2, optimizer=optimizer)

    for step, (inputs, targets) in enumerate(batches(7), start=1):
        sgd_step(model, optimizer, inputs, targets)
        ours.update()
        if step >= 2 and (step - 2) % 2 == 0:
            reference.update_parameters(model)

    assert ours.num_averaged == int(reference.n_averaged) == 3
    assert_floating_entries_close(reference.module.state_dict(), ours.averaged_state_dict())


def test_swa_refresh_bn_matches_update_bn():
    model = make_timm_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    reference = AveragedModel(model, use_buffers=True)
    ours = SWA(model, start_step=1, optimizer=optimizer)
    data = batches(3)
    for inputs, targets in data:
        sgd_step(model, optimizer, inputs, targets)
        ours.update()
        reference.update_parameters(model)
    fast_mean = model.bn1.running_mean.clone()

    torch.optim.swa_utils.update_bn(data, reference)
    assert ours.refresh_bn(data) == 3

    assert_floating_entries_close(reference.module.state_dict(), ours.averaged_state_dict())
    assert torch.equal(model.bn1.running_mean, fast_mean)
