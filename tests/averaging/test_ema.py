"""EMA arithmetic against an independent float64 reference, and the evaluation context."""

from __future__ import annotations

import pytest
import torch

from sema_ray.averaging import EMA

from .helpers import floating_state, make_bn_net, make_mlp, perturb_


def run_against_float64(model, averager, generator, steps, momentum, update_every=1):
    """Perturb the model ``steps`` times, updating the averager and a float64 reference."""
    reference = {name: value.double() for name, value in floating_state(model).items()}
    decay = momentum**update_every
    for step in range(1, steps + 1):
        perturb_(model, generator)
        averager.update()
        if step % update_every == 0:
            for name, value in floating_state(model).items():
                reference[name] = decay * reference[name] + (1 - decay) * value.double()
    return reference


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_ema_fp32_matches_float64(layout, generator):
    model = make_bn_net()
    averager = EMA(model, momentum=0.99, layout=layout)
    reference = run_against_float64(model, averager, generator, steps=400, momentum=0.99)

    shadow = averager.state_dict()["shadow"]
    for name, expected in reference.items():
        assert shadow[name].dtype == torch.float32
        torch.testing.assert_close(shadow[name].double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_ema_bf16_model_fp32_shadow(layout, generator):
    model = make_bn_net().to(torch.bfloat16)
    averager = EMA(model, momentum=0.99, layout=layout)
    reference = run_against_float64(model, averager, generator, steps=400, momentum=0.99)

    shadow = averager.state_dict()["shadow"]
    for name, expected in reference.items():
        assert shadow[name].dtype == torch.float32
        torch.testing.assert_close(shadow[name].double(), expected, rtol=1e-5, atol=1e-5)


def test_ema_float64_model_keeps_float64_shadow():
    averager = EMA(make_mlp().double())
    assert all(t.dtype == torch.float64 for t in averager.state_dict()["shadow"].values())


def test_update_every_uses_momentum_power(generator):
    model = make_mlp()
    averager = EMA(model, momentum=0.9, update_every=3)
    reference = run_against_float64(model, averager, generator, 30, momentum=0.9, update_every=3)

    assert averager.num_steps == 30
    assert averager.num_updates == 10
    shadow = averager.state_dict()["shadow"]
    for name, expected in reference.items():
        torch.testing.assert_close(shadow[name].double(), expected, rtol=0, atol=1e-6)


def test_first_update_starts_from_construction_weights(generator):
    model = make_mlp()
    initial = floating_state(model)
    averager = EMA(model, momentum=0.75)
    perturb_(model, generator)
    averager.update()

    shadow = averager.state_dict()["shadow"]
    for name, current in floating_state(model).items():
        expected = 0.75 * initial[name] + 0.25 * current
        torch.testing.assert_close(shadow[name], expected)


def test_warmup_ramps_momentum_linearly():
    averager = EMA(make_mlp(), momentum=0.99, warmup=4)
    assert averager.momentum_at(1) == pytest.approx(0.99 / 4)
    assert averager.momentum_at(2) == pytest.approx(0.99 / 2)
    assert averager.momentum_at(4) == pytest.approx(0.99)
    assert averager.momentum_at(100) == pytest.approx(0.99)


def test_integer_buffers_follow_the_model(image_batches):
    model = make_bn_net()
    averager = EMA(model)
    for inputs, _ in image_batches[:3]:
        model(inputs)
        averager.update()
    assert averager.state_dict()["shadow"]["1.num_batches_tracked"].item() == 3


def test_averaged_swaps_in_and_restores(generator):
    model = make_bn_net()
    averager = EMA(model, momentum=0.9)
    for _ in range(5):
        perturb_(model, generator)
        averager.update()
    fast = floating_state(model)
    shadow = {name: value.clone() for name, value in averager.state_dict()["shadow"].items()}

    with averager.averaged():
        inside = {name: value.detach().clone() for name, value in model.named_parameters()}
    for name, value in inside.items():
        torch.testing.assert_close(value, shadow[name])
    for name, value in floating_state(model).items():
        assert torch.equal(value, fast[name])


def test_averaged_restores_after_exception(generator):
    model = make_mlp()
    averager = EMA(model, momentum=0.9)
    perturb_(model, generator)
    averager.update()
    fast = floating_state(model)

    with pytest.raises(KeyError), averager.averaged():
        raise KeyError("evaluation failed")
    for name, value in floating_state(model).items():
        assert torch.equal(value, fast[name])


def test_state_dict_refused_inside_averaged():
    model = make_mlp()
    wrapper = torch.nn.Sequential(model)
    averager = EMA(model)
    with averager.averaged():
        with pytest.raises(RuntimeError, match="inside averager.averaged"):
            model.state_dict()
        with pytest.raises(RuntimeError, match="inside averager.averaged"):
            wrapper.state_dict()
    assert "0.weight" in model.state_dict()


def test_averaged_blocks_cannot_nest():
    averager = EMA(make_mlp())
    with averager.averaged(), pytest.raises(RuntimeError, match="nested"), averager.averaged():
        pass


def test_averaged_state_dict_loads_into_model(generator):
    model = make_bn_net().to(torch.bfloat16)
    averager = EMA(model, momentum=0.9)
    for _ in range(5):
        perturb_(model, generator)
        averager.update()

    exported = averager.averaged_state_dict()
    fresh = make_bn_net(seed=7).to(torch.bfloat16)
    fresh.load_state_dict(exported)
    shadow = averager.state_dict()["shadow"]
    for name, value in fresh.state_dict().items():
        assert value.dtype == model.state_dict()[name].dtype
        torch.testing.assert_close(value, shadow[name].to(value.dtype), rtol=0, atol=0)


def test_averaged_state_dict_keeps_tied_names():
    tied = torch.nn.Module()
    tied.encoder = torch.nn.Linear(4, 4)
    tied.decoder = torch.nn.Linear(4, 4)
    tied.decoder.weight = tied.encoder.weight
    averager = EMA(tied)

    exported = averager.averaged_state_dict()
    assert set(exported) == set(tied.state_dict())
    torch.testing.assert_close(exported["decoder.weight"], exported["encoder.weight"])


def test_mixed_dtype_model_groups_by_dtype(generator):
    model = make_mlp()
    model[0].to(torch.bfloat16)
    model[0].register_forward_pre_hook(lambda module, args: (args[0].to(torch.bfloat16),))
    averager = EMA(model, momentum=0.9)
    assert len(averager._shadow.param_groups) == 2
    reference = run_against_float64(model, averager, generator, steps=50, momentum=0.9)

    shadow = averager.state_dict()["shadow"]
    for name, expected in reference.items():
        assert shadow[name].dtype == torch.float32
        torch.testing.assert_close(shadow[name].double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["foreach", "flat"])
def test_moving_model_after_build_raises(layout):
    model = make_mlp()
    averager = EMA(model, layout=layout)
    model.double()
    with pytest.raises(RuntimeError, match="moved, cast or replaced"):
        averager.update()


def test_flat_layout_keeps_parameter_identity_and_strides():
    model = make_bn_net().to(memory_format=torch.channels_last)
    params = list(model.parameters())
    strides = [p.stride() for p in params]
    values = [p.detach().clone() for p in params]
    EMA(model, layout="flat")

    assert all(now is before for now, before in zip(model.parameters(), params))
    for param, stride, value in zip(params, strides, values):
        assert param.stride() == stride
        assert torch.equal(param.detach(), value)


def test_averaged_leaves_integer_buffers(image_batches):
    model = make_bn_net()
    averager = EMA(model, momentum=0.9)
    model(image_batches[0][0])
    averager.update()
    model(image_batches[1][0])  # a forward pass after the last update

    with averager.averaged():
        assert model[1].num_batches_tracked.item() == 2
    assert model[1].num_batches_tracked.item() == 2
