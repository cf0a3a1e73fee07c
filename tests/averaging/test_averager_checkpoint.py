"""Averager checkpoints: exact resume in a fresh process, and loading the wrong state."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from sema_ray.averaging import EMA, SWA, Lookahead, SwitchEMA

from . import resume_script
from .helpers import make_bn_net, make_mlp, perturb_

SCRIPT = Path(resume_script.__file__)


def run_script(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_resume_in_fresh_process_is_exact(tmp_path):
    first, resumed = 4, 5
    checkpoint, result = tmp_path / "step4.pt", tmp_path / "resumed.pt"
    run_script("first", str(first), str(checkpoint))
    run_script("resume", str(resumed), str(checkpoint), str(result))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(0)
        model, optimizer, averager = resume_script.build()
        resume_script.run_steps(model, optimizer, averager, first + resumed)
        expected = resume_script.final_state(model, averager)
    finally:
        torch.set_num_threads(threads)

    actual = torch.load(result, weights_only=True)
    assert actual["num_switches"] == expected["num_switches"] == 3
    for name, value in expected["model"].items():
        assert torch.equal(actual["model"][name], value), name
    for name, value in expected["shadow"].items():
        assert torch.equal(actual["shadow"][name], value), name


def test_state_dict_round_trip(generator):
    model = make_bn_net()
    averager = SwitchEMA(model, momentum=0.9, switch_every=4)
    for _ in range(6):
        perturb_(model, generator)
        averager.update()
    saved = {k: v for k, v in averager.state_dict().items() if k != "shadow"}
    saved["shadow"] = {k: v.clone() for k, v in averager.state_dict()["shadow"].items()}

    other = SwitchEMA(make_bn_net(seed=3), momentum=0.9, switch_every=4)
    other.load_state_dict(saved)
    assert (other.num_steps, other.num_updates, other.num_switches) == (6, 6, 1)
    for name, value in saved["shadow"].items():
        assert torch.equal(other.state_dict()["shadow"][name], value)


def test_load_from_other_architecture_names_tensor():
    averager = EMA(make_mlp())
    wider = nn.Sequential(nn.Linear(8, 32), nn.LayerNorm(32), nn.ReLU(), nn.Linear(32, 4))
    with pytest.raises(ValueError, match=r"'0\.weight' has shape \(32, 8\)"):
        averager.load_state_dict(EMA(wider).state_dict())

    deeper = make_mlp()
    deeper.append(nn.Linear(4, 4))
    with pytest.raises(ValueError, match=r"tensor '4\.weight', which this model does not have"):
        averager.load_state_dict(EMA(deeper).state_dict())

    with pytest.raises(ValueError, match=r"no tensor '4\.weight'"):
        EMA(deeper).load_state_dict(averager.state_dict())


def test_failed_load_changes_nothing():
    averager = EMA(make_mlp())
    before = {k: v.clone() for k, v in averager.state_dict()["shadow"].items()}
    state = EMA(make_mlp(seed=5)).state_dict()
    state["shadow"]["3.bias"] = torch.zeros(7)
    with pytest.raises(ValueError, match="3.bias"):
        averager.load_state_dict(state)
    for name, value in averager.state_dict()["shadow"].items():
        assert torch.equal(value, before[name])


def test_load_from_other_method_raises():
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="saved by method 'ema' into a 'swa'"):
        SWA(model).load_state_dict(EMA(model).state_dict())
    with pytest.raises(ValueError, match="'sema' into a 'lookahead'"):
        Lookahead(optimizer).load_state_dict(SwitchEMA(model).state_dict())


def test_changed_settings_warn_on_load():
    state = EMA(make_mlp(), momentum=0.99).state_dict()
    with pytest.warns(UserWarning, match="momentum: saved 0.99, now 0.9"):
        EMA(make_mlp(), momentum=0.9).load_state_dict(state)
