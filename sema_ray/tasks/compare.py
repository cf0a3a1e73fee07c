"""Train one task with several averaging methods in one process, and compare the results.

A quick look at a task without Ray, for the toy experiments of the SEMA paper:

    python -m sema_ray.tasks.compare moons --plot boundary.png    # decision boundaries
    python -m sema_ray.tasks.compare noisy_quadratic --momentum 0.99

The default methods are basic, EMA and SEMA. Every method starts from the same
initial weights and gets the batches in the same order. SEMA switches every
`switch_interval` epochs, converted to optimizer steps as the study's workers do. The
evaluated weights are the averaged ones for every method but `basic`. Studies use
`sema_ray.train.worker` instead, which runs the same steps on DDP workers.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from sema_ray.averaging import build_averager
from sema_ray.tasks import get_task
from sema_ray.train.optim import build_optimizer, build_scheduler

logger = logging.getLogger(__name__)

# Tasks whose inputs are 2-D points, so their decision boundaries can be drawn.
PLOTTABLE_TASKS = ("moons", "circles")


@dataclass
class MethodResult:
    """One method's trained model (holding the evaluated weights) and its metrics."""

    method: str
    model: nn.Module
    val: dict[str, float]
    test: dict[str, float]


def train_methods(task_name: str, methods: Sequence[str] = ("basic", "ema", "sema"), *,
                  momentum: float = 0.99, switch_interval: float = 1.0,
                  method_settings: Mapping[str, Mapping[str, Any]] | None = None,
                  recipe: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None,
                  data_seed: int = 0, seed: int = 0) -> dict[str, MethodResult]:
    """Train `task_name` once per method on the CPU and evaluate val and test splits.

    `momentum` and `switch_interval` apply to `ema` and `sema`. `method_settings` maps a
    method to its settings as a study file writes them, and overrides those two:
    `momentum`, `switch_interval`, SWA's `start_epoch` and `every_epochs`, and
    Lookahead's `k` and `alpha`. `recipe` overrides the task's recipe key by key
    (`preset` picks a named one), and `options` sets task options.
    """
    task = get_task(task_name)
    resolved_recipe = task.resolve_recipe(recipe or {})
    resolved_options = task.resolve_options(options or {})
    splits = task.load_splits(data_seed, resolved_options)

    results = {}
    for method in methods:
        settings = {"momentum": momentum, "switch_interval": switch_interval}
        settings |= dict((method_settings or {}).get(method, {}))
        results[method] = train_one(task, method, splits, resolved_recipe, resolved_options,
                                    settings, seed)
    return results


def averager_arguments(method: str, settings: Mapping[str, Any], epochs: int,
                       steps_per_epoch: int) -> dict[str, Any]:
    """Convert a method's study settings (intervals in epochs) into averager arguments (in steps)."""
    # NOTE: this mirrors the conversion of sema_ray.train.worker, so change both together.
    if method in ("ema", "sema"):
        arguments = {"momentum": settings["momentum"]}
        if method == "sema":
            arguments["switch_every"] = max(1, round(settings["switch_interval"] * steps_per_epoch))
        return arguments
    if method == "swa":
        # Defaults: average the last quarter of training, one snapshot per epoch.
        start_epoch = settings.get("start_epoch", 0.75 * epochs)
        every_epochs = settings.get("every_epochs", 1.0)
        return {"start_step": max(1, round(start_epoch * steps_per_epoch)),
                "every": max(1, round(every_epochs * steps_per_epoch))}
    if method == "lookahead":
        return {key: int(settings[key]) if key == "k" else settings[key]
                for key in ("k", "alpha") if key in settings}
    return {}


def train_one(task, method, splits, recipe, options, settings, seed) -> MethodResult:
    device = torch.device("cpu")
    torch.manual_seed(seed)
    model = task.build_model(recipe, options)
    loader = DataLoader(splits.train, batch_size=recipe.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    steps_per_epoch = len(loader)
    optimizer = build_optimizer(model, recipe)
    scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)

    arguments = averager_arguments(method, settings, recipe.epochs, steps_per_epoch)
    averager = build_averager(method, model, optimizer, **arguments)

    step = 0
    for _ in range(recipe.epochs):
        model.train()
        for inputs, targets in loader:
            loss = task.loss_fn(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            scheduler.step_update(step)
            averager.update()

    # A copy with the averaged weights loaded, so a plot or a caller can use it directly.
    evaluated = copy.deepcopy(model)
    evaluated.load_state_dict(averager.averaged_state_dict())
    val_loader = DataLoader(splits.val, batch_size=512)
    test_loader = DataLoader(splits.test, batch_size=512)
    result = MethodResult(method, evaluated, task.evaluate(evaluated, val_loader, device),
                          task.evaluate(evaluated, test_loader, device))
    logger.info("%s %s: test %s", task.name, method, result.test)
    return result


def format_table(results: Mapping[str, MethodResult]) -> str:
    """Return the test metrics as an aligned text table, one row per method."""
    keys = list(next(iter(results.values())).test)
    rows = [["method", *keys]]
    rows += [[name, *(f"{result.test[key]:.6g}" for key in keys)] for name, result in results.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(keys) + 1)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows)


def parse_assignments(pairs: Sequence[str], flag: str) -> dict[str, Any]:
    """Parse KEY=VALUE pairs; a VALUE that is valid JSON is decoded, else kept as text."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} {pair!r}: expected KEY=VALUE, e.g. {flag} epochs=5")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sema_ray.tasks.compare", description=__doc__.split("\n")[0])
    parser.add_argument("task", help="a registered task name, e.g. moons, circles, noisy_quadratic")
    parser.add_argument("--methods", nargs="+", default=["basic", "ema", "sema"], help="averaging methods")
    parser.add_argument("--momentum", type=float, default=0.99, help="EMA and SEMA momentum, in (0, 1)")
    parser.add_argument("--switch-interval", type=float, default=1.0, help="epochs between SEMA switches")
    parser.add_argument("--recipe", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides")
    parser.add_argument("--option", nargs="*", default=[], metavar="KEY=VALUE", help="task options")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the data splits")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and batch order")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help=f"save the decision boundaries here ({', '.join(PLOTTABLE_TASKS)} only)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    if args.plot and args.task not in PLOTTABLE_TASKS:
        parser.error(f"--plot needs a 2-D task ({', '.join(PLOTTABLE_TASKS)}), got {args.task!r}")
    try:
        results = train_methods(args.task, args.methods, momentum=args.momentum,
                                switch_interval=args.switch_interval,
                                recipe=parse_assignments(args.recipe, "--recipe"),
                                options=parse_assignments(args.option, "--option"),
                                data_seed=args.data_seed, seed=args.seed)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_table(results))

    if args.plot:
        from sema_ray.tasks.boundary import plot_decision_boundaries

        splits = get_task(args.task).load_splits(args.data_seed, {})
        path = plot_decision_boundaries({name: result.model for name, result in results.items()},
                                        splits.train, splits.test,
                                        {name: result.test for name, result in results.items()}, args.plot)
        print(f"decision boundaries saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
