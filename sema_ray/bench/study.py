"""The cost of the study framework per trial, and the compute a smarter search saves.

Two measurements per task, both on the machine at hand:

1. Framework overhead. The same SEMA training (task recipe, momentum 0.99, one-epoch
   switch interval, seeds 0, 1, ...) runs twice. The plain run uses Ray Train's local
   mode, which calls the training function in this process with one rank and no Ray,
   Tune or MLflow. The study run uses Ray Tune, a Ray Train run with DDP workers per
   trial, and MLflow records. Both run the worker's training function, so the
   difference is the framework. The ratio is study seconds per trial over plain
   seconds per run. It shrinks as trials get longer, so the fixed cost per trial is
   given too.

2. Search efficiency. A grid study fills momentum x switch interval with full-length
   trials. A TPE search with ASHA early stopping then searches the same ranges (momentum
   on a log10(1 - momentum) scale). Compute is counted in trained epochs. The result is
   the share of the grid's epochs that TPE + ASHA spent until one of its finished trials
   came within `--tolerance` percent of the grid's best validation metric.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .timing import format_table, machine_info, write_json

logger = logging.getLogger(__name__)

OVERHEAD_MOMENTUM = 0.99
OVERHEAD_INTERVAL = 1.0


@dataclass(frozen=True)
class Overhead:
    """Seconds per trial of the same training in this process and as a study."""

    task: str
    epochs: int
    trials: int
    plain_seconds: float  # mean over the plain runs
    study_seconds: float  # study wall time (Tune, Train, MLflow, report) per trial
    ratio: float  # study_seconds / plain_seconds
    fixed_seconds: float  # study_seconds - plain_seconds


@dataclass(frozen=True)
class SearchCost:
    """The compute TPE + ASHA spent to come within tolerance of the grid's best."""

    task: str
    metric: str
    mode: str
    grid_cells: int
    grid_epochs: int
    grid_best: float
    tpe_trials: int
    tpe_epochs: int  # every epoch TPE + ASHA trained, stopped trials included
    tpe_best: float | None
    reached_after_trials: int | None  # None: no TPE trial came within tolerance
    reached_after_epochs: int | None
    fraction_of_grid: float | None  # reached_after_epochs / grid_epochs
    grid_seconds: float  # wall time of the grid study
    tpe_seconds: float  # wall time of the whole TPE + ASHA study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tasks", default="noisy_quadratic,digits",
                        help="comma-separated tasks (default: noisy_quadratic,digits)")
    parser.add_argument("--parts", default="overhead,search",
                        help="which measurements to run: overhead, search or both (default: both)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="trials per task for the overhead measurement (default: 3)")
    parser.add_argument("--momenta", default="0.9,0.99,0.999,0.9999",
                        help="grid momenta (default: 0.9,0.99,0.999,0.9999)")
    parser.add_argument("--intervals", default="0.5,1,2,5",
                        help="grid switch intervals in epochs (default: 0.5,1,2,5)")
    parser.add_argument("--trials", type=int, default=16, help="TPE trials per task (default: 16)")
    parser.add_argument("--grace-period", type=int, default=2,
                        help="ASHA: epochs every trial runs before it may stop (default: 2)")
    parser.add_argument("--reduction-factor", type=float, default=2.0,
                        help="ASHA: reduction factor between rungs (default: 2)")
    parser.add_argument("--tolerance", type=float, default=0.5,
                        help="percent of the grid's best metric that counts as reached (default: 0.5)")
    parser.add_argument("--workers", type=int, default=2, help="DDP workers per trial (default: 2)")
    parser.add_argument("--output", default="bench-results/study.json", help="JSON result path")


def parse_floats(text: str, option: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"{option} {text!r} is not a comma-separated list of numbers") from None
    if not values:
        raise ValueError(f"{option} {text!r} lists no value")
    return values


def study_document(name: str, task: str, method_space: dict, search: dict, workers: int,
                   output_dir: Path) -> dict:
    return {
        "name": name,
        "tasks": [{"name": task}],
        "methods": {"sema": method_space},
        "search": search,
        "evaluation": {"seeds": 0},
        "resources": {"workers": workers},
        "output": {"dir": str(output_dir)},
    }


def run_document(document: dict, output_dir: Path):
    """Run one study on the Ray this process is connected to; return (outcome, seconds)."""
    from sema_ray.study.config import parse_study
    from sema_ray.study.runner import run_study

    config = parse_study(document, f"study benchmark {document['name']}")
    started = time.perf_counter()
    outcome = run_study(config, output_dir)
    return outcome, time.perf_counter() - started


def plain_run(task: str, seed: int) -> float:
    """Train one trial in this process with Ray Train's local mode; return its seconds."""
    from ray.train import ScalingConfig
    from ray.train.torch import TorchTrainer

    from sema_ray.tasks import get_task
    from sema_ray.train import train_loop_per_worker
    from sema_ray.train.spec import TrialSpec, checkpoint_interval

    definition = get_task(task)
    recipe = definition.recipe
    spec = TrialSpec(task=task, task_options=definition.resolve_options({}), data_seed=0, recipe=recipe, method="sema",
                     momentum=OVERHEAD_MOMENTUM, switch_interval=OVERHEAD_INTERVAL, method_params={},
                     seed=seed, phase="search", tracking=None,
                     checkpoint_every=checkpoint_interval(recipe.epochs))
    trainer = TorchTrainer(train_loop_per_worker, train_loop_config=spec.to_config(),
                           scaling_config=ScalingConfig(num_workers=0))
    started = time.perf_counter()
    trainer.fit()
    return time.perf_counter() - started


def measure_overhead(task: str, args: argparse.Namespace, directory: Path) -> Overhead:
    from sema_ray.tasks import get_task

    seeds = list(range(args.repeats))
    # The first run in this process pays for imports that every Ray worker pays too,
    # so it is timed like the others.
    plain = [plain_run(task, seed) for seed in seeds]

    space = {"momentum": [OVERHEAD_MOMENTUM], "switch_interval": [OVERHEAD_INTERVAL]}
    search = {"sampler": "grid", "seeds": seeds}
    document = study_document(f"overhead_{task}", task, space, search, args.workers,
                              directory / f"overhead_{task}")
    outcome, seconds = run_document(document, directory / f"overhead_{task}")
    trials = len(outcome.results)

    plain_seconds = statistics.mean(plain)
    study_seconds = seconds / trials
    return Overhead(task, get_task(task).recipe.epochs, trials, plain_seconds, study_seconds,
                    study_seconds / plain_seconds, study_seconds - plain_seconds)


def trial_order(result) -> float:
    """Return the start order of a trial from the counter that ends Tune's trial id."""
    counter = result.trial_id.rsplit("_", 1)[-1]
    # A trial that failed before its first report has no id; count it last.
    return int(counter) if counter.isdigit() else math.inf


def within(value: float, best: float, mode: str, tolerance: float) -> bool:
    """True when `value` is at most `tolerance` percent of |best| worse than `best`."""
    gap = best - value if mode == "max" else value - best
    return gap <= tolerance / 100.0 * abs(best)


def measure_search(task: str, args: argparse.Namespace, directory: Path) -> SearchCost:
    from sema_ray.tasks import get_task

    definition = get_task(task)
    momenta = parse_floats(args.momenta, "--momenta")
    intervals = parse_floats(args.intervals, "--intervals")

    grid_space = {"momentum": momenta, "switch_interval": intervals}
    grid_document = study_document(f"grid_{task}", task, grid_space, {"sampler": "grid", "seed": 0},
                                   args.workers, directory / f"grid_{task}")
    grid, grid_seconds = run_document(grid_document, directory / f"grid_{task}")
    finished = [r for r in grid.results if r.status == "ok" and r.val_metric is not None]
    if not finished:
        raise RuntimeError(f"no grid trial of {task} finished; see {directory / f'grid_{task}'}")
    pick = max if definition.mode == "max" else min
    grid_best = pick(r.val_metric for r in finished)
    grid_epochs = sum(r.epochs for r in grid.results)

    # The search covers the grid's ranges: momentum on a log10(1 - momentum) scale.
    low, high = sorted(math.log10(1 - m) for m in (min(momenta), max(momenta)))
    tpe_space = {"momentum": {"log10_range": [low, high]}, "switch_interval": intervals,
                 "trials": args.trials}
    search = {"sampler": "tpe", "trials": args.trials, "seed": 0,
              "asha": {"grace_period": args.grace_period, "reduction_factor": args.reduction_factor}}
    tpe_document = study_document(f"tpe_{task}", task, tpe_space, search, args.workers,
                                  directory / f"tpe_{task}")
    tpe, tpe_seconds = run_document(tpe_document, directory / f"tpe_{task}")

    spent, best, reached = search_progress(tpe.results, grid_best, definition.mode, args.tolerance)
    return SearchCost(
        task, definition.metric, definition.mode, len(grid.results), grid_epochs, grid_best,
        len(tpe.results), spent, best,
        reached[0] if reached else None, reached[1] if reached else None,
        reached[1] / grid_epochs if reached else None,
        grid_seconds, tpe_seconds,
    )


def search_progress(results, target: float, mode: str, tolerance: float):
    """Walk the trials in start order; return (epochs spent, best metric, reached).

    `reached` is (trials started, epochs spent) when the best finished trial first came
    within `tolerance` percent of `target`, else None. Only trials that ran every epoch
    count as candidates, because a trial that ASHA stopped has no final metric.
    """
    pick = max if mode == "max" else min
    spent, best, reached = 0, None, None
    for position, result in enumerate(sorted(results, key=trial_order), start=1):
        spent += result.epochs
        if result.status != "ok" or result.val_metric is None:
            continue
        best = result.val_metric if best is None else pick(best, result.val_metric)
        if reached is None and within(best, target, mode, tolerance):
            reached = (position, spent)
    return spent, best, reached


def format_overhead(rows: list[Overhead]) -> str:
    header = ["task", "epochs", "trials", "plain s/run", "study s/trial", "ratio", "fixed s/trial"]
    body = [[r.task, str(r.epochs), str(r.trials), f"{r.plain_seconds:.2f}", f"{r.study_seconds:.1f}",
             f"{r.ratio:.1f}x", f"{r.fixed_seconds:.1f}"] for r in rows]
    return format_table(header, body)


def format_search(rows: list[SearchCost], tolerance: float) -> str:
    header = ["task", "metric", "grid best", "grid epochs (s)", "TPE+ASHA best", "TPE+ASHA epochs (s)",
              f"reached {tolerance:g}% after", "share of grid epochs"]
    body = []
    for r in rows:
        reached = (f"{r.reached_after_trials} trials, {r.reached_after_epochs} epochs"
                   if r.reached_after_epochs is not None else "not reached")
        share = f"{100 * r.fraction_of_grid:.0f}%" if r.fraction_of_grid is not None else "-"
        body.append([r.task, f"{r.metric} ({r.mode})", f"{r.grid_best:.5g}",
                     f"{r.grid_epochs} ({r.grid_seconds:.0f})",
                     "-" if r.tpe_best is None else f"{r.tpe_best:.5g}",
                     f"{r.tpe_epochs} ({r.tpe_seconds:.0f})",
                     reached, share])
    return format_table(header, body)


def run(args: argparse.Namespace) -> None:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    import torch

    from sema_ray.study.runner import connect_ray
    from sema_ray.tasks import get_task

    tasks = [name.strip() for name in args.tasks.split(",") if name.strip()]
    for name in tasks:
        get_task(name)  # an unknown task fails here, with the list of known ones
    parts = {part.strip() for part in args.parts.split(",") if part.strip()}
    if not parts or parts - {"overhead", "search"}:
        raise ValueError(f"--parts {args.parts!r}: use overhead, search or overhead,search")
    for name in ("repeats", "trials", "workers", "grace_period"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} {getattr(args, name)} must be at least 1")

    overheads, searches = [], []
    with tempfile.TemporaryDirectory(prefix="sema_ray_bench_study_") as name:
        directory = Path(name)
        # One Ray for every study here; the plain runs do not use it.
        owns_ray = connect_ray(None)
        try:
            for task in tasks:
                if "overhead" in parts:
                    logger.info("study bench: overhead on %s", task)
                    overheads.append(measure_overhead(task, args, directory))
                if "search" in parts:
                    logger.info("study bench: grid and TPE + ASHA on %s", task)
                    searches.append(measure_search(task, args, directory))
        finally:
            if owns_ray:
                ray.shutdown()

    settings = {key: getattr(args, key) for key in
                ("tasks", "parts", "repeats", "momenta", "intervals", "trials", "grace_period",
                 "reduction_factor", "tolerance", "workers")}
    path = write_json(args.output, {
        "benchmark": "study",
        "settings": settings,
        "machine": machine_info(torch.device("cpu")),
        "overhead": [asdict(row) for row in overheads],
        "search": [asdict(row) for row in searches],
    })
    if overheads:
        print(format_overhead(overheads))
    if searches:
        print()
        print(format_search(searches, args.tolerance))
    print(f"\nJSON: {path}")
