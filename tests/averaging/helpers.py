"""Small models and training helpers shared by the averaging tests."""

from __future__ import annotations

import torch
from torch import nn


def make_mlp(seed: int = 0) -> nn.Module:
    """An MLP with a LayerNorm: floating parameters only, no buffers."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 4))


def make_bn_net(seed: int = 0) -> nn.Module:
    """A tiny conv net with BatchNorm: running statistics and num_batches_tracked."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


@torch.no_grad()
def perturb_(model: nn.Module, generator: torch.Generator, scale: float = 0.1) -> None:
    """Stand in for an optimizer step: add noise to every floating parameter and buffer."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.is_floating_point():
            noise = torch.randn(tensor.shape, generator=generator) * scale
            tensor.add_(noise.to(tensor.dtype))


def floating_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Return detached copies of the model's floating-point state entries."""
    return {
        name: value.detach().clone()
        for name, value in model.state_dict().items()
        if value.is_floating_point()
    }


def sgd_step(model, optimizer, inputs, targets) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()
    optimizer.step()
