"""Time a training step of resnet18 at CIFAR size (32x32) with and without SEMA.

Both variants share one model and optimizer and run in alternating blocks of
steps on a fixed random batch, so data loading is excluded and machine noise
hits both alike. The SEMA variant adds ``SwitchEMA.update()`` after each
``optimizer.step()``. Switches (one weight copy per switch interval) do not fall
in the timed window with the default settings. The ratio target is <= 1.02.
"""

from __future__ import annotations

import argparse
import logging
import statistics

import torch
from torch import nn

from sema_ray.averaging import LAYOUTS, SwitchEMA

from .timing import (
    format_table,
    machine_info,
    resolve_device,
    summarize_ms,
    time_interleaved,
    write_json,
)

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when available)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--batch-size", type=int, default=128, help="images per step")
    parser.add_argument("--momentum", type=float, default=0.999, help="SEMA momentum")
    parser.add_argument(
        "--switch-every", type=int, default=390, help="steps between switches (CIFAR epoch)"
    )
    parser.add_argument(
        "--layout", choices=LAYOUTS, default="foreach", help="SwitchEMA tensor layout"
    )
    parser.add_argument("--steps", type=int, default=5, help="training steps in one timed block")
    parser.add_argument("--rounds", type=int, default=6, help="timed blocks per variant")
    parser.add_argument("--output", default="bench-results/step.json", help="JSON result path")


def run_step_benchmark(
    device: str = "auto",
    batch_size: int = 128,
    momentum: float = 0.999,
    switch_every: int = 390,
    layout: str = "foreach",
    steps: int = 5,
    rounds: int = 6,
) -> dict:
    """Run the training-step benchmark and return its results (importable entry point)."""
    import timm

    resolved = resolve_device(device)
    torch.manual_seed(0)
    model = timm.create_model("resnet18", pretrained=False, num_classes=10).to(resolved)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    averager = SwitchEMA(model, momentum, switch_every, optimizer=optimizer, layout=layout)
    inputs = torch.randn(batch_size, 3, 32, 32, device=resolved)
    targets = torch.randint(0, 10, (batch_size,), device=resolved)

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()

    def train_step_with_sema():
        train_step()
        averager.update()

    samples = time_interleaved(
        {"baseline": train_step, "with SEMA": train_step_with_sema},
        resolved,
        rounds=rounds,
        repeat=steps,
        warmup=2,
    )
    # Each round times both variants back to back, so the per-round ratio cancels slow drift.
    paired = [sema / base for sema, base in zip(samples["with SEMA"], samples["baseline"])]
    baseline, with_sema = summarize_ms(samples["baseline"]), summarize_ms(samples["with SEMA"])
    return {
        "benchmark": "step",
        "machine": machine_info(resolved),
        "settings": {
            "model": "timm resnet18, 10 classes, 3x32x32 input",
            "batch_size": batch_size,
            "momentum": momentum,
            "switch_every": switch_every,
            "layout": layout,
            "steps_per_block": steps,
            "rounds": rounds,
        },
        "baseline": {**baseline, "samples_ms": [v * 1e3 for v in samples["baseline"]]},
        "with_sema": {**with_sema, "samples_ms": [v * 1e3 for v in samples["with SEMA"]]},
        "ratio_of_medians": with_sema["median_ms"] / baseline["median_ms"],
        "median_paired_ratio": statistics.median(paired),
        "ratio_of_minima": with_sema["min_ms"] / baseline["min_ms"],
    }


def format_results(payload: dict) -> str:
    rows = [
        [
            name,
            f"{payload[key]['median_ms']:.1f}",
            f"{payload[key]['p25_ms']:.1f}-{payload[key]['p75_ms']:.1f}",
        ]
        for name, key in (("baseline", "baseline"), ("with SEMA", "with_sema"))
    ]
    table = format_table(["variant", "median ms/step", "p25-p75 ms"], rows)
    return (
        f"{table}\n\nratio of medians: {payload['ratio_of_medians']:.3f}, "
        f"median paired ratio: {payload['median_paired_ratio']:.3f}, "
        f"ratio of minima: {payload['ratio_of_minima']:.3f} (target <= 1.02)"
    )


def run(args: argparse.Namespace) -> dict:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    payload = run_step_benchmark(
        args.device,
        args.batch_size,
        args.momentum,
        args.switch_every,
        args.layout,
        args.steps,
        args.rounds,
    )
    print(format_results(payload))
    path = write_json(args.output, payload)
    logger.info("wrote %s", path)
    return payload
