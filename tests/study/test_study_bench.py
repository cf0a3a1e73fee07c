"""`python -m sema_ray.bench study`: its options, study files and compute accounting.

A full benchmark run takes tens of minutes, so docs/benchmarks.md records it. Here the
plain in-process run is real, and the search accounting runs on hand-made trials.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import replace

import pytest

from sema_ray.bench.__main__ import build_parser
from sema_ray.bench.study import (
    SearchCost,
    format_search,
    parse_floats,
    plain_run,
    search_progress,
    study_document,
    trial_order,
    within,
)
from sema_ray.study.config import parse_study
from sema_ray.study.plan import search_trials
from sema_ray.study.results import TrialResult


def bench_args(*options: str) -> argparse.Namespace:
    return build_parser().parse_args(["study", *options])


def result(counter: int, value: float | None, epochs: int, status: str = "ok") -> TrialResult:
    return TrialResult(task="digits", method="sema", phase="search", momentum=0.99, switch_interval=1.0,
                       other_params="", seed=0, metric="accuracy", mode="max", val_metric=value,
                       val_metric_fast=value, test_metric=None, epochs=epochs, status=status,
                       error="", horizon_ratio=None, trial_id=f"tpe/digits-sema-search-ab12c_{counter:05d}")


def test_study_subcommand_defaults():
    args = bench_args()
    assert args.tasks == "noisy_quadratic,digits"
    assert parse_floats(args.momenta, "--momenta") == [0.9, 0.99, 0.999, 0.9999]
    assert parse_floats(args.intervals, "--intervals") == [0.5, 1.0, 2.0, 5.0]
    assert args.tolerance == 0.5


@pytest.mark.parametrize("text", ["", "0.9,x", " , "])
def test_parse_floats_invalid(text):
    with pytest.raises(ValueError, match="--momenta"):
        parse_floats(text, "--momenta")


def test_grid_document_fills_every_cell(tmp_path):
    space = {"momentum": [0.9, 0.99, 0.999], "switch_interval": [0.5, 1.0]}
    config = parse_study(study_document("grid_digits", "digits", space, {"sampler": "grid"}, 2, tmp_path),
                         "test")
    assert search_trials(config, "sema") == 6
    assert config.evaluation.seeds == 0
    assert config.output.dir == str(tmp_path)


def test_tpe_document_uses_asha(tmp_path):
    space = {"momentum": {"log10_range": [-4, -1]}, "switch_interval": [1.0], "trials": 5}
    search = {"sampler": "tpe", "trials": 5, "asha": {"grace_period": 2, "reduction_factor": 2}}
    config = parse_study(study_document("tpe_digits", "digits", space, search, 2, tmp_path), "test")
    assert search_trials(config, "sema") == 5
    assert config.search.asha.grace_period == 2


@pytest.mark.parametrize(("value", "best", "mode", "expected"), [
    (99.5, 100.0, "max", True),   # 0.5% below the best accuracy
    (99.4, 100.0, "max", False),
    (101.0, 100.0, "max", True),  # better than the grid
    (1.005, 1.0, "min", True),    # 0.5% above the best loss
    (1.006, 1.0, "min", False),
    (0.9, 1.0, "min", True),
])
def test_within_tolerance(value, best, mode, expected):
    assert within(value, best, mode, 0.5) is expected


def test_trial_order_reads_tune_counter():
    assert trial_order(result(12, 1.0, 1)) == 12
    missing = replace(result(0, 1.0, 1), trial_id="")
    assert trial_order(missing) == math.inf


def test_search_progress_counts_stopped_epochs():
    trials = [result(2, 97.0, 8), result(0, 90.0, 8), result(1, 50.0, 2, status="stopped"),
              result(3, 99.8, 8), result(4, None, 1, status="failed")]
    spent, best, reached = search_progress(trials, target=100.0, mode="max", tolerance=0.5)
    assert spent == 8 + 2 + 8 + 8 + 1
    assert best == 99.8
    # In start order: 90 (8 epochs), stopped (2), 97 (8), 99.8 (8) is within 0.5% of 100.
    assert reached == (4, 26)


def test_search_progress_not_reached():
    spent, best, reached = search_progress([result(0, 90.0, 8)], target=100.0, mode="max",
                                           tolerance=0.5)
    assert (spent, best, reached) == (8, 90.0, None)


def test_format_search_marks_not_reached():
    row = SearchCost("digits", "accuracy", "max", 16, 128, 97.2, 16, 70, 95.0, None, None, None,
                     300.0, 280.0)
    table = format_search([row], 0.5)
    assert "not reached" in table
    assert table.splitlines()[0].startswith("| task |")


def test_plain_run_trains_in_process():
    # Ray Train's local mode calls the worker's training function here, without Ray.
    seconds = plain_run("noisy_quadratic", seed=0)
    assert 0 < seconds < 600
