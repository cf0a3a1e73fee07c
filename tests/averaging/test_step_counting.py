"""update() counts only real optimizer steps: accumulation micro-batches and GradScaler skips."""

from __future__ import annotations

import torch
from torch import nn

from sema_ray.averaging import EMA, SwitchEMA

from .helpers import floating_state, make_mlp


def batches(count: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(4, 8, generator=g), torch.randint(0, 4, (4,), generator=g))
        for _ in range(count)
    ]


def test_gradient_accumulation_counts_optimizer_steps():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = SwitchEMA(model, momentum=0.5, switch_every=2, optimizer=optimizer)
    reference = {name: value.double() for name, value in floating_state(model).items()}
    accumulation = 4

    switched = []
    for index, (inputs, targets) in enumerate(batches(16), start=1):
        nn.functional.cross_entropy(model(inputs), targets).backward()
        if index % accumulation == 0:
            optimizer.step()
            optimizer.zero_grad()
            for name, value in floating_state(model).items():
                reference[name] = 0.5 * reference[name] + 0.5 * value.double()
        # Called on every micro-batch on purpose: only real steps may count.
        switched.append(averager.update())
        if switched[-1]:
            for name, value in floating_state(model).items():
                reference[name] = value.double()

    assert averager.num_steps == 4
    assert averager.num_updates == 4
    assert switched == [False] * 7 + [True] + [False] * 7 + [True]
    for name, value in averager.state_dict()["shadow"].items():
        torch.testing.assert_close(value.double(), reference[name], rtol=0, atol=1e-6)


def test_repeated_update_for_one_step_counts_once():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = EMA(model, optimizer=optimizer)
    inputs, targets = batches(1)[0]
    nn.functional.cross_entropy(model(inputs), targets).backward()
    optimizer.step()
    averager.update()
    assert averager.update() is False
    assert averager.num_steps == 1


def test_grad_scaler_skip_is_not_counted():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    averager = EMA(model, momentum=0.5, optimizer=optimizer)
    reference = {name: value.double() for name, value in floating_state(model).items()}

    for index, (inputs, targets) in enumerate(batches(6)):
        optimizer.zero_grad()
        scaler.scale(nn.functional.cross_entropy(model(inputs), targets)).backward()
        if index == 2:
            model[0].weight.grad[0, 0] = float("inf")  # an overflow: the scaler skips this step
        weights_before = floating_state(model)
        scaler.step(optimizer)
        scaler.update()
        averager.update()

        stepped = not torch.equal(weights_before["0.weight"], model[0].weight.detach())
        assert stepped == (index != 2)
        if stepped:
            for name, value in floating_state(model).items():
                reference[name] = 0.5 * reference[name] + 0.5 * value.double()

    assert averager.num_steps == 5
    for name, value in averager.state_dict()["shadow"].items():
        torch.testing.assert_close(value.double(), reference[name], rtol=0, atol=1e-6)


def test_without_optimizer_every_call_counts():
    averager = EMA(make_mlp())
    for _ in range(3):
        averager.update()
    assert averager.num_steps == 3
