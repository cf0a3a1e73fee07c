"""Averagers on a torch.compile'd model track the original module's tensors."""

from __future__ import annotations

import pytest
import torch

from sema_ray.averaging import SwitchEMA, unwrap_model

from .helpers import make_bn_net, sgd_step


def train_sema(model, module_for_optimizer, batches, layout):
    optimizer = torch.optim.SGD(module_for_optimizer.parameters(), lr=0.1, momentum=0.9)
    averager = SwitchEMA(model, momentum=0.7, switch_every=2, optimizer=optimizer, layout=layout)
    for inputs, targets in batches:
        sgd_step(model, optimizer, inputs, targets)
        averager.update()
    return {name: value.clone() for name, value in averager.averaged_state_dict().items()}


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_compiled_model_matches_eager(layout, image_batches):
    plain = make_bn_net()
    expected = train_sema(plain, plain, image_batches[:4], layout)

    # aot_eager traces and functionalizes like the default backend (BatchNorm buffer
    # updates included) but needs no C compiler, so it runs on any CPU machine.
    base = make_bn_net()
    compiled = torch.compile(base, backend="aot_eager")
    assert unwrap_model(compiled) is base
    actual = train_sema(compiled, base, image_batches[:4], layout)

    for name, value in expected.items():
        torch.testing.assert_close(actual[name], value, rtol=1e-5, atol=1e-6)
