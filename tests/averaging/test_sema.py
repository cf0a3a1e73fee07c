"""Switching: what a switch copies, when it happens, and the user-chosen policies."""

from __future__ import annotations

import warnings

import pytest
import torch

from sema_ray.averaging import SwitchEMA

from .helpers import floating_state, make_bn_net, make_mlp, perturb_, sgd_step


def train(model, optimizer, averager, batches):
    """Run one SGD step per batch and return update()'s results."""
    switched = []
    for inputs, targets in batches:
        sgd_step(model, optimizer, inputs, targets)
        switched.append(averager.update())
    return switched


def test_switch_copies_weights_and_buffers(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    averager = SwitchEMA(model, momentum=0.5, optimizer=optimizer)
    train(model, optimizer, averager, image_batches[:4])
    shadow = {name: value.clone() for name, value in averager.state_dict()["shadow"].items()}
    assert not torch.equal(shadow["0.weight"], model[0].weight.detach())

    averager.switch()

    state = model.state_dict()
    for name in ("0.weight", "0.bias", "1.weight", "1.running_mean", "1.running_var"):
        assert torch.equal(state[name], shadow[name]), name
    assert state["1.num_batches_tracked"].item() == 4
    assert torch.equal(state["1.num_batches_tracked"], shadow["1.num_batches_tracked"])
    assert averager.num_switches == 1


def test_switch_copies_integer_buffers(image_batches):
    model = make_bn_net()
    averager = SwitchEMA(model, momentum=0.5)
    model(image_batches[0][0])
    averager.update()
    model[1].num_batches_tracked.fill_(100)

    averager.switch()
    assert model[1].num_batches_tracked.item() == 1


def test_switch_leaves_optimizer_state(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    averager = SwitchEMA(model, momentum=0.9, optimizer=optimizer)
    train(model, optimizer, averager, image_batches[:3])
    before = {
        id(param): {key: value.clone() for key, value in state.items()}
        for param, state in optimizer.state.items()
    }

    averager.switch()

    assert len(optimizer.state) == len(before)
    for param, state in optimizer.state.items():
        for key, value in state.items():
            assert torch.equal(value, before[id(param)][key]), key


def test_optimizer_reset_policy(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    averager = SwitchEMA(model, momentum=0.9, optimizer=optimizer, optimizer_on_switch="reset")
    train(model, optimizer, averager, image_batches[:3])
    assert len(optimizer.state) > 0

    averager.switch()
    assert len(optimizer.state) == 0
    sgd_step(model, optimizer, *image_batches[3])
    assert all(state["step"].item() == 1 for state in optimizer.state.values())


def test_switch_every_counts_updates(image_batches):
    model = make_mlp()
    averager = SwitchEMA(model, momentum=0.5, switch_every=3)
    results = []
    for _ in range(7):
        perturb_(model, torch.Generator().manual_seed(len(results)))
        results.append(averager.update())
    assert results == [False, False, True, False, False, True, False]
    assert averager.num_switches == 2


def test_switch_result_matches_manual_ema(generator):
    model = make_mlp()
    average = {name: value.double() for name, value in floating_state(model).items()}
    averager = SwitchEMA(model, momentum=0.8, switch_every=4)
    for step in range(1, 13):
        perturb_(model, generator)
        for name, value in floating_state(model).items():
            average[name] = 0.8 * average[name] + 0.2 * value.double()
        if averager.update():
            assert step % 4 == 0
            for name, value in floating_state(model).items():
                torch.testing.assert_close(value.double(), average[name], rtol=0, atol=1e-6)


def test_keep_bn_policy_keeps_statistics(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = SwitchEMA(model, momentum=0.5, bn_on_switch="keep", optimizer=optimizer)
    train(model, optimizer, averager, image_batches[:3])
    running_mean = model[1].running_mean.clone()
    model[1].num_batches_tracked.fill_(50)

    averager.switch()
    assert torch.equal(model[1].running_mean, running_mean)
    assert model[1].num_batches_tracked.item() == 50
    shadow_weight = averager.state_dict()["shadow"]["0.weight"]
    assert torch.equal(model[0].weight.detach(), shadow_weight)


def test_recompute_bn_policy(image_batches):
    model = make_bn_net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = SwitchEMA(
        model,
        momentum=0.5,
        optimizer=optimizer,
        bn_on_switch="recompute",
        bn_loader=image_batches,
        bn_batches=2,
    )
    train(model, optimizer, averager, image_batches[:3])
    averager.switch()

    # Expected: batch statistics of the switched weights, averaged equally over two batches.
    expected_mean = torch.stack(
        [model[0](inputs).detach().mean(dim=(0, 2, 3)) for inputs, _ in image_batches[:2]]
    ).mean(0)
    torch.testing.assert_close(model[1].running_mean, expected_mean)
    torch.testing.assert_close(averager.state_dict()["shadow"]["1.running_mean"], expected_mean)
    assert model.training


def test_epoch_mode_switches_at_end_epoch(generator):
    model = make_mlp()
    averager = SwitchEMA(model, momentum=0.5, switch_every="epoch")
    for _ in range(5):
        perturb_(model, generator)
        assert averager.update() is False
    assert averager.end_epoch() is True
    assert averager.num_switches == 1
    assert torch.equal(model[0].weight.detach(), averager.state_dict()["shadow"]["0.weight"])


def test_end_epoch_without_epoch_mode_is_noop():
    averager = SwitchEMA(make_mlp(), momentum=0.5, switch_every=10)
    assert averager.end_epoch() is False
    assert averager.num_switches == 0


def test_fractional_switch_every_asks_for_steps():
    with pytest.raises(ValueError, match="steps per epoch|step count"):
        SwitchEMA(make_mlp(), switch_every=0.5)


def test_short_horizon_warns():
    with pytest.warns(UserWarning, match="horizon ratio"):
        SwitchEMA(make_mlp(), momentum=0.9999, switch_every=100)


def test_epoch_mode_short_horizon_warns_at_first_epoch(generator):
    model = make_mlp()
    averager = SwitchEMA(model, momentum=0.999, switch_every="epoch")
    for _ in range(10):
        perturb_(model, generator)
        averager.update()
    with pytest.warns(UserWarning, match="horizon ratio"):
        averager.end_epoch()


def test_usual_horizon_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SwitchEMA(make_mlp(), momentum=0.99, switch_every=390)


def test_switch_inside_averaged_raises():
    averager = SwitchEMA(make_mlp(), momentum=0.5)
    with averager.averaged(), pytest.raises(RuntimeError, match="after the with-block"):
        averager.switch()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"momentum": 0.0}, "open interval"),
        ({"momentum": 1.0}, "open interval"),
        ({"momentum": -0.5}, "open interval"),
        ({"momentum": 1.5}, "open interval"),
        ({"switch_every": 0}, "switch_every must be >= 1"),
        ({"switch_every": -3}, "switch_every must be >= 1"),
        ({"switch_every": "weekly"}, "switch_every"),
        ({"update_every": 0}, "update_every must be >= 1"),
        ({"switch_every": 2, "update_every": 5}, "update_every <= switch_every"),
        ({"bn_on_switch": "freeze"}, "bn_on_switch must be one of average, keep, recompute"),
        ({"bn_on_switch": "recompute"}, "bn_loader"),
        ({"optimizer_on_switch": "reset"}, "optimizer"),
        ({"layout": "sparse"}, "layout must be one of"),
    ],
)
def test_invalid_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SwitchEMA(make_mlp(), **kwargs)


def test_model_without_float_parameters_raises():
    with pytest.raises(ValueError, match="no floating-point parameters"):
        SwitchEMA(torch.nn.ReLU())
