"""Momentum and switch-interval helpers."""

from __future__ import annotations

import pytest

from sema_ray.averaging import horizon_ratio, rescale_momentum, resolve_switch_every


def test_rescale_momentum_keeps_horizon_in_samples():
    assert rescale_momentum(0.999, 256, 256) == pytest.approx(0.999)
    assert rescale_momentum(0.999, 512, 256) == pytest.approx(0.999**2)
    assert rescale_momentum(0.99, 64, 256) == pytest.approx(0.99**0.25)
    # Horizon in samples, batch / (1 - momentum), is nearly unchanged.
    doubled = rescale_momentum(0.999, 512, 256)
    assert 512 / (1 - doubled) == pytest.approx(256 / (1 - 0.999), rel=1e-3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((1.0, 64, 32), "open interval"),
        ((0.9, 0, 32), "new_batch_size"),
        ((0.9, 64, -1), "reference_batch_size"),
    ],
)
def test_rescale_momentum_rejects_invalid(args, message):
    with pytest.raises(ValueError, match=message):
        rescale_momentum(*args)


def test_horizon_ratio():
    assert horizon_ratio(390, 0.99) == pytest.approx(3.9)


def test_resolve_switch_every():
    assert resolve_switch_every(None) is None
    assert resolve_switch_every(1.0, 390) == 390
    assert resolve_switch_every(0.5, 391) == 196
    assert resolve_switch_every(0.001, 100) == 1
    assert resolve_switch_every(1.0) == "epoch"


def test_resolve_fraction_without_epoch_length_raises():
    with pytest.raises(ValueError, match="needs the number of optimizer steps per epoch"):
        resolve_switch_every(0.5)
    with pytest.raises(ValueError, match="> 0 epochs"):
        resolve_switch_every(0.0, 100)
