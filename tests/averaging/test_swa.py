"""SWA: an equal-weight mean over the chosen steps."""

from __future__ import annotations

import pytest
import torch

from sema_ray.averaging import SWA

from .helpers import floating_state, make_bn_net, perturb_


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_swa_is_mean_of_selected_steps(layout, generator):
    model = make_bn_net()
    averager = SWA(model, start_step=3, every=4, layout=layout)
    selected = []
    for step in range(1, 20):
        perturb_(model, generator)
        averager.update()
        if step >= 3 and (step - 3) % 4 == 0:
            selected.append({name: value.double() for name, value in floating_state(model).items()})

    assert averager.num_averaged == len(selected) == 5
    shadow = averager.state_dict()["shadow"]
    for name in selected[0]:
        expected = torch.stack([state[name] for state in selected]).mean(0)
        torch.testing.assert_close(shadow[name].double(), expected, rtol=1e-6, atol=1e-6)


def test_averaged_before_start_keeps_fast_weights(generator):
    model = make_bn_net()
    averager = SWA(model, start_step=10)
    perturb_(model, generator)
    averager.update()
    fast = floating_state(model)
    with averager.averaged():
        for name, value in floating_state(model).items():
            assert torch.equal(value, fast[name])


def test_refresh_bn_before_start_raises(image_batches):
    averager = SWA(make_bn_net(), start_step=10)
    with pytest.raises(RuntimeError, match="start_step"):
        averager.refresh_bn(image_batches)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"start_step": 0}, "start_step"), ({"every": 0}, "every")]
)
def test_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SWA(make_bn_net(), **kwargs)
