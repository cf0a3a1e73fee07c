"""Fixtures shared by the averaging tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def image_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Eight fixed batches of 3x8x8 images and class labels for make_bn_net."""
    g = torch.Generator().manual_seed(99)
    return [
        (torch.randn(6, 3, 8, 8, generator=g), torch.randint(0, 4, (6,), generator=g))
        for _ in range(8)
    ]
