"""A grid study through real Ray Tune, Ray Train and MLflow; its table is checked cell by cell.

The study runs once for tests/tracking (the `study` fixture in conftest.py).
"""

from __future__ import annotations

import csv
import math
import statistics

import pytest


@pytest.fixture
def grid_run(study):
    """Return the outcome and trial runs of the package's grid study (see conftest.py)."""
    return study["outcome"], study["levels"]["trial"]


def trial_runs(runs, method: str, phase: str):
    return [run for run in runs if run.data.params["method"] == method and run.data.params["phase"] == phase]


def test_grid_fills_every_cell(grid_run):
    outcome, runs = grid_run
    assert not outcome.missing
    cells = sorted((float(run.data.params["momentum"]), float(run.data.params["switch_interval"]),
                    int(run.data.params["seed"])) for run in trial_runs(runs, "sema", "search"))
    assert cells == [(0.9, 1.0, 0), (0.99, 1.0, 0)]
    assert len(trial_runs(runs, "basic", "search")) == 1


def test_evaluation_seeds_are_fresh(grid_run):
    _, runs = grid_run
    search_seeds = {int(run.data.params["seed"]) for run in runs if run.data.params["phase"] == "search"}
    for method in ("basic", "sema"):
        seeds = sorted(int(run.data.params["seed"]) for run in trial_runs(runs, method, "evaluation"))
        assert seeds == [1000, 1001]
        assert not set(seeds) & search_seeds


def test_table_matches_recorded_runs(grid_run):
    outcome, runs = grid_run
    rows = {(row[0], row[1]): row for row in _table_rows(outcome)}

    for method in ("basic", "sema"):
        searched = trial_runs(runs, method, "search")
        best = max(searched, key=lambda run: run.data.metrics["val_accuracy"])
        row = rows[("moons", method)]
        assert row[2] == str(len(searched))
        assert row[7] == f"{best.data.metrics['val_accuracy']:.2f} accuracy"
        if method == "sema":
            assert float(row[3]) == pytest.approx(float(best.data.params["momentum"]))
            assert float(row[4]) == float(best.data.params["switch_interval"])

        evaluated = trial_runs(runs, method, "evaluation")
        # The evaluation re-runs the chosen setting, and reports only those runs.
        for run in evaluated:
            assert run.data.params["momentum"] == best.data.params["momentum"]
        test_values = [run.data.metrics["test_accuracy"] for run in evaluated]
        mean = statistics.mean(test_values)
        assert row[8].startswith(f"{mean:.2f} ± ")
        assert row[8].endswith("(2)")


def test_csv_and_report_written(grid_run):
    outcome, runs = grid_run
    with outcome.csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(runs) == 7
    report = outcome.report_path.read_text()
    assert "paired two-sided Student t-test" in report
    assert "## SEMA against each baseline" in report
    comparison = [c for c in _comparisons(outcome)]
    assert comparison and comparison[0].n == 2
    assert not math.isnan(comparison[0].mean_diff)


def _table_rows(outcome):
    from sema_ray.analysis.table import summary_rows

    return summary_rows(outcome.results)[1:]


def _comparisons(outcome):
    from sema_ray.analysis.stats import compare_paired

    return compare_paired(outcome.results)
