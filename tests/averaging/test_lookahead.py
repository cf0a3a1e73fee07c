"""Lookahead: slow weights pulled toward the fast weights every k steps."""

from __future__ import annotations

import pytest
import torch

from sema_ray.averaging import Lookahead

from .helpers import make_mlp, sgd_step


def batches(count: int):
    g = torch.Generator().manual_seed(3)
    return [
        (torch.randn(4, 8, generator=g), torch.randint(0, 4, (4,), generator=g))
        for _ in range(count)
    ]


def test_lookahead_matches_reference():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    averager = Lookahead(optimizer, k=3, alpha=0.5, model=model)
    slow = {name: p.detach().double().clone() for name, p in model.named_parameters()}

    synced = []
    for inputs, targets in batches(9):
        sgd_step(model, optimizer, inputs, targets)
        fast = {name: p.detach().double().clone() for name, p in model.named_parameters()}
        synced.append(averager.update())
        if synced[-1]:
            for name, param in model.named_parameters():
                slow[name] = slow[name] + 0.5 * (fast[name] - slow[name])
                torch.testing.assert_close(param.detach().double(), slow[name], rtol=0, atol=1e-6)

    assert synced == [False, False, True] * 3


def test_lookahead_sync_uses_fast_weights_before_reset():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = Lookahead(optimizer, k=2, alpha=0.25, model=model)
    slow = {name: p.detach().clone() for name, p in model.named_parameters()}

    data = batches(2)
    sgd_step(model, optimizer, *data[0])
    averager.update()
    sgd_step(model, optimizer, *data[1])
    fast = {name: p.detach().clone() for name, p in model.named_parameters()}
    assert averager.update() is True

    for name, param in model.named_parameters():
        torch.testing.assert_close(param.detach(), slow[name] + 0.25 * (fast[name] - slow[name]))


def test_averaged_evaluates_slow_weights():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    averager = Lookahead(optimizer, k=5, model=model)
    slow = {name: p.detach().clone() for name, p in model.named_parameters()}
    sgd_step(model, optimizer, *batches(1)[0])
    averager.update()
    fast = {name: p.detach().clone() for name, p in model.named_parameters()}

    with averager.averaged():
        for name, param in model.named_parameters():
            assert torch.equal(param.detach(), slow[name])
    for name, param in model.named_parameters():
        assert torch.equal(param.detach(), fast[name])
    assert set(averager.averaged_state_dict()) == set(model.state_dict())


def test_without_model_names_by_index():
    model = make_mlp()
    averager = Lookahead(torch.optim.SGD(model.parameters(), lr=0.1))
    assert list(averager.state_dict()["shadow"])[:2] == ["param.0", "param.1"]
    with pytest.raises(RuntimeError, match="needs the model"):
        averager.averaged_state_dict()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"k": 0}, "k must be >= 1"), ({"alpha": 0.0}, "alpha"), ({"alpha": 1.5}, "alpha")],
)
def test_invalid_arguments_raise(kwargs, message):
    model = make_mlp()
    with pytest.raises(ValueError, match=message):
        Lookahead(torch.optim.SGD(model.parameters(), lr=0.1), **kwargs)


def test_optimizer_parameter_outside_model_raises():
    model, other = make_mlp(), make_mlp(seed=1)
    optimizer = torch.optim.SGD(list(model.parameters()) + list(other.parameters()), lr=0.1)
    with pytest.raises(ValueError, match="not a parameter of the given model"):
        Lookahead(optimizer, model=model)
