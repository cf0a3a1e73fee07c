"""Train, checkpoint and resume a SEMA run; executed in fresh processes by the resume test.

Usage: python resume_script.py first STEPS CHECKPOINT
       python resume_script.py resume STEPS CHECKPOINT RESULT
"""

from __future__ import annotations

import sys

import torch
from torch import nn

from sema_ray.averaging import SwitchEMA


def build():
    """Build the model, optimizer and averager; model weights come from the current RNG."""
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    averager = SwitchEMA(model, momentum=0.9, switch_every=3, optimizer=optimizer)
    return model, optimizer, averager


def run_steps(model, optimizer, averager, steps: int) -> None:
    """Train on random batches drawn from the global RNG, so the RNG state matters."""
    for _ in range(steps):
        inputs, targets = torch.randn(6, 3, 8, 8), torch.randint(0, 4, (6,))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()
        averager.update()


def final_state(model, averager) -> dict:
    return {
        "model": {k: v.clone() for k, v in model.state_dict().items()},
        "shadow": {k: v.clone() for k, v in averager.state_dict()["shadow"].items()},
        "num_switches": averager.num_switches,
    }


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    phase, steps, checkpoint = argv[0], int(argv[1]), argv[2]

    if phase == "first":
        torch.manual_seed(0)
        model, optimizer, averager = build()
        run_steps(model, optimizer, averager, steps)
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "averager": averager.state_dict(),
                "rng": torch.get_rng_state(),
            },
            checkpoint,
        )
        return

    torch.manual_seed(12345)  # deliberately different: every weight must come from the checkpoint
    model, optimizer, averager = build()
    saved = torch.load(checkpoint, weights_only=True)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    averager.load_state_dict(saved["averager"])
    torch.set_rng_state(saved["rng"])
    run_steps(model, optimizer, averager, steps)
    torch.save(final_state(model, averager), argv[3])


if __name__ == "__main__":
    main(sys.argv[1:])
