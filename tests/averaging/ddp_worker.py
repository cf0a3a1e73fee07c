"""Per-rank body of the 2-process DDP test, spawned by test_ddp.py."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from sema_ray.averaging import SwitchEMA, unwrap_model

from .helpers import make_mlp, sgd_step

STEPS = 7
GLOBAL_BATCH = 8


def global_batches():
    """The batches of the whole job, identical on every rank and in the single-process run."""
    g = torch.Generator().manual_seed(21)
    return [
        (
            torch.randn(GLOBAL_BATCH, 8, generator=g),
            torch.randint(0, 4, (GLOBAL_BATCH,), generator=g),
        )
        for _ in range(STEPS)
    ]


def train(model, batches, wrap=lambda m: m, layout="foreach"):
    """Train SEMA on ``wrap(model)``; return averaged weights, fast weights and switch flags."""
    wrapped = wrap(model)
    optimizer = torch.optim.SGD(wrapped.parameters(), lr=0.1, momentum=0.9)
    averager = SwitchEMA(wrapped, momentum=0.6, switch_every=3, optimizer=optimizer, layout=layout)
    switched = []
    for inputs, targets in batches:
        sgd_step(wrapped, optimizer, inputs, targets)
        switched.append(averager.update())
    return {
        "averaged": averager.averaged_state_dict(),
        "fast": {k: v.clone() for k, v in model.state_dict().items()},
        "switched": switched,
    }


def shard(batches, rank, world_size):
    size = GLOBAL_BATCH // world_size
    return [
        (x[rank * size : (rank + 1) * size], y[rank * size : (rank + 1) * size]) for x, y in batches
    ]


def run_rank(rank: int, world_size: int, port: int, result_dir: str) -> None:
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        batches = shard(global_batches(), rank, world_size)
        results = {
            "ddp": train(make_mlp(), batches, DistributedDataParallel),
            "ddp_flat": train(make_mlp(), batches, DistributedDataParallel, layout="flat"),
        }

        # Both wrap orders. The eager backend keeps the test fast; test_compile.py
        # covers aot_eager, which also functionalizes the graph.
        def compile_then_ddp(m):
            return DistributedDataParallel(torch.compile(m, backend="eager"))

        def ddp_then_compile(m):
            return torch.compile(DistributedDataParallel(m), backend="eager")

        for name, wrap in (
            ("compile_then_ddp", compile_then_ddp),
            ("ddp_then_compile", ddp_then_compile),
        ):
            base = make_mlp()
            results[name] = train(base, batches, wrap)
            results[name]["unwrapped_is_base"] = unwrap_model(wrap(base)) is base
        torch.save(results, os.path.join(result_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()
