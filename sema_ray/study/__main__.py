"""Command line: `python -m sema_ray.study [STUDY.yaml] [--output DIR] [--address ADDR] ...`.

With no study file it runs the embedded quickstart study. Exit codes: 0 when every task
and method produced a result, 1 when one did not, 2 for invalid input (nothing started).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
from importlib import resources
from pathlib import Path

from sema_ray.study.config import StudyError, load_study
from sema_ray.study.plan import format_plan

logger = logging.getLogger("sema_ray.study")

DEFAULT_STUDY = "quickstart.yaml"
# Room for the MLflow store, Ray checkpoints and plots of a small study; an estimate.
MIN_FREE_BYTES = 100 * 2**20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m sema_ray.study",
        description="Run a SEMA study: a Ray Tune search per task and method, Ray Train DDP "
                    "trials, MLflow records, plots and a summary table.",
    )
    parser.add_argument("study", nargs="?", help="study YAML file (default: the embedded quickstart study)")
    parser.add_argument("--output", type=Path, help="output directory (default: ./<study name>)")
    parser.add_argument("--address", help="address of an existing Ray cluster (default: RAY_ADDRESS, "
                                          "else a local Ray on 127.0.0.1 that stops at the end)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the plan (trials, epochs, estimated worker-hours) and exit")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted study from its storage path; finished "
                             "trials are not run again")
    parser.add_argument("-v", "--verbose", action="store_true", help="also log debug messages")
    return parser.parse_args(argv)


def study_path(argument: str | None) -> Path:
    if argument is not None:
        return Path(argument)
    return Path(str(resources.files("sema_ray.study").joinpath(DEFAULT_STUDY)))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    try:
        config = load_study(study_path(args.study))
        output_dir = args.output or Path(config.output.dir or config.name)
        if args.dry_run:
            print(format_plan(config))
            return 0
        check_output_dir(output_dir, config.storage_path(output_dir), args.resume)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    if not (args.address or os.environ.get("RAY_ADDRESS")):
        # Read by Ray at import: keep a local Ray's processes on the loopback address.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    from sema_ray.study.runner import run_study  # imports Ray, Optuna and MLflow

    try:
        outcome = run_study(config, output_dir, address=args.address, resume=args.resume)
    except StudyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    print()
    print(outcome.table)
    print()
    print(f"study {config.name!r} finished in {outcome.seconds:.0f} s; "
          f"{len(outcome.results)} trials, {sum(r.status != 'ok' for r in outcome.results)} failed")
    print(f"results: {outcome.csv_path}")
    print(f"report:  {outcome.report_path}")
    print(f"         {outcome.report_path.with_suffix('.html')} (self-contained, with every figure)")
    print(f"figures: {len(outcome.plotted)} PNG files in {outcome.output_dir}")
    print(f"MLflow:  {outcome.ui_command}")
    if outcome.missing:
        print(f"error: no finished trial for {', '.join(outcome.missing)}; see {outcome.report_path}",
              file=sys.stderr)
        return 1
    return 0


def check_output_dir(path: Path, storage: str, resume: bool) -> None:
    """Fail before any training when the output directory is not writable or contains a study."""
    # Remote storage (s3://...) is not listed here; Tune finds its state when resuming.
    started = "://" in storage or Path(storage).exists()
    if started and not resume and "://" not in storage:
        raise StudyError(f"output directory {path} already contains a study in {storage}; pass "
                         "--resume to continue it, or --output with a new directory")
    if resume and not started:
        raise StudyError(f"--resume: no study found in {storage} to resume; run without --resume "
                         "to start one")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
        free = shutil.disk_usage(path).free
    except OSError as error:
        raise StudyError(f"output directory {path} is not writable ({error.strerror}); "
                         "pass --output with a writable directory") from None
    if free < MIN_FREE_BYTES:
        raise StudyError(f"output directory {path} has only {free / 2**20:.1f} MiB free; a study needs "
                         f"at least {MIN_FREE_BYTES // 2**20} MiB for its MLflow store, checkpoints and "
                         "plots, so free space or pass --output on another disk")


if __name__ == "__main__":
    sys.exit(main())
